"""Offline rule judge: counts the four behaviors with phrase patterns plus a little arithmetic.

It is a fast, deterministic stand-in for the LLM judge (no network, thousands of traces per second), and the
checker the priming synthesizer uses for traces written with chosen behaviors. Its rules follow the definitions
in behaviors/taxonomy.py (the paper's meanings) and are measured against the hand-labelled gold set
(behaviors/gold/, `python benchmarks/gold_agreement.py`); each rule is documented in docs/behaviors.md.

How counting works. The completion is lower-cased, arithmetic words are normalised ("times", "×", "\\times" ->
*, "≈" -> =, "20 plus 4 is 24" -> "20 + 4 = 24") and it is cut into sentences (at . ! ? followed by space, at
line breaks and semicolons). One scan finds the trigger words of every rule (overlapping ones too); each rule's
pattern then runs only in the sentences holding its triggers. "T" is the target.

- verification: one per evaluation of a result. Explicit checks: check words (check, verify, confirm, make
  sure, ✓), a value compared with T or with a goal value ("not 22", "less than 22", "≠ 22", "22 = 22", "exactly
  22", "got 22", "that's 22", "this equals 22"; "not the target", "which is our target"), a verdict ("that's
  correct", "this works"), a number-use rule ("used 7 twice", "3 is left over", "we don't have 2", "all numbers
  used once"). Implicit verdicts: size ("too high", "way over", "over by 2", "a bit under", "2 short", "close
  but", "not quite", "off by one", "not enough"), hits and misses ("that's it", "there we go", "bingo", "spot
  on", "not it", "52 again", "same thing", "not an integer", "doesn't match", ✅/❌), and one-word verdict
  sentences ("Yes!", "No.", "nope", "Correct.", "... = 43, no"). Goal values are the intermediate values the
  trace named or derived from T. Comparisons after an intent word ("get a number close to 81", "we need it to
  equal the target") do not count. Consecutive checking sentences judge one result and count once, unless a
  sentence brings new arithmetic or starts a deliberate check ("Let me verify: ..."). "25 - 1 = 24" alone is a
  computation, not a check.
- backtracking: one per switch to a fresh attempt. An equation starts a fresh attempt when it starts over from
  input numbers the current attempt has already spent (a restart without words), or when it follows a verdict
  or an abandon phrase without building on the latest result (after "45 + 23 = 68, too big." comes "45 - 23";
  "Back to 6: 6 * 8"; searching on after reaching T also counts). Not a switch: re-computing inside a check,
  restating an earlier result, writing the whole solution out again. Abandon phrases ("try again", "a different
  approach|combination|way|...", "go back", "start over", "scratch that", "dead end", "doesn't work|help",
  "instead", "alternatively", "that branch fails", ...) and the switch they announce count once; a phrase with no
  switch after it counts on its own, except one that only opens the first attempt ("Let me start over. 46 + 17").
- subgoal_setting: one per distinct intermediate goal: a number other than T named as something to reach
  ("first get 12", "if we can make 5", "aim for 30", "I want 35 first", "make 66 from 22 and ...", "goal: 44",
  "my first subgoal is 10", "intermediate target 9"), or a goal without a number ("get a number close to 81",
  "turn 10 and 5 into something small"). Naming the same goal again ("Subgoal 12 reached") is not a new one. A
  goal stated in (or right after) a backward-chaining sentence, or a value a backward step derived, belongs to
  that step, unless the text later calls it a goal on its own ("Subgoal: make 18 first").
- backward_chaining: one per sentence with a step back from T or from a value still to be produced: an equation
  that starts from T or a derived value ("24 / 2 = 12" when 24 is not an input and not yet computed); a
  decomposition of T with a part that is not an input ("24 = 2 * 12", "23 as 22 + 1"), or of a derived value or
  a named subgoal ("12 = 3 * 4" after "24 = 2 * 12"); an equation that reaches T or a derived value with an
  operand that is neither given nor computed yet ("40 / 5 = 8" before 5 exists), unless that operand is a goal
  the text just named ("make 28 first, since 28 + 14 = 42" is forward); "to get 24 we need ...", "what times 3
  gives 24"; words ("working backwards", "think about it backwards", "start from the target"). A "working
  backwards" sentence followed by its first step counts once.

count_text_behaviors applies the general-text variant (math documents without numbers/target): the explicit
phrase rules minus the target arithmetic and the implicit Countdown verdicts, plus proof-style backward phrases
("it suffices to show") and the has_problem / has_solution flags.
"""
from __future__ import annotations

import re
from bisect import bisect_right
from typing import NamedTuple, Sequence

from countdown.records import BEHAVIORS

RULES_VERSION = "rules-v2"   # recorded as prompt_version in rule-judge labels; bump when the rules change

# ---------------------------------------------------------------- normalisation and sentences
# Patterns here start with a literal or a character class where possible: Python's regex engine then skips
# quickly to candidate positions, which is most of what makes the judge fast.
_TRANSLATE = str.maketrans({"≈": "=", "×": "*", "·": "*", "÷": "/", "−": "-", "–": "-", "’": "'", "‘": "'", "\u00a0": " "})
_WORD_OPS = re.compile(r"(?:plus|minus|times|multiplied by|divided by|over|x)(?= ?\(?\d)")
_OP_OF = {"plus": "+", "minus": "-", "times": "*", "multiplied by": "*", "divided by": "/", "over": "/", "x": "*"}
_WORD_EQ = re.compile(r" (?:equals|is equal to|is|gives us|gives|makes|yields|results in) (?=\(?\d)")
_SENTENCE_END = re.compile(r"[\n.!?;](?:(?<=[\n;])|(?!\S))")
_NUM = r"(\d+(?:\.\d+)?)"


def _after_number(text: str, pos: int) -> bool:
    before = text[max(0, pos - 2):pos].rstrip()
    return bool(before) and (before[-1].isdigit() or before[-1] == ")")


def _normalise(text: str) -> str:
    text = text.lower().translate(_TRANSLATE)
    if "\\" in text:   # LaTeX operators
        text = text.replace("\\times", "*").replace("\\cdot", "*").replace("\\div", "/")
    text = _WORD_OPS.sub(lambda m: _OP_OF[m.group(0)] if _after_number(m.string, m.start()) else m.group(0), text)
    return _WORD_EQ.sub(lambda m: " = " if _after_number(m.string, m.start()) else m.group(0), text)


def _sentence_starts(text: str) -> list[int]:
    return [0] + [m.end() for m in _SENTENCE_END.finditer(text)]


def _value(token: str) -> float:
    # numbers in traces are small; int/float compare exactly with the integer targets and inputs
    return int(token) if token.isdigit() else float(token)


# ---------------------------------------------------------------- rules
# A rule is a precise pattern plus the literal trigger words it cannot match without. One scan for all
# triggers finds the candidate sentences; each pattern then runs only inside those sentences.
_RULES: dict[str, tuple[tuple[str, ...], re.Pattern[str]]] = {}


def _rule(name: str, triggers: tuple[str, ...], pattern: str) -> None:
    _RULES[name] = (triggers, re.compile(pattern, re.VERBOSE))


_COMPARE = r"""not|isn't|is\ not|not\ equal\ to|doesn't\ equal|does\ not\ equal|short\ of|away\ from|above|below
    |more\ than|less\ than|greater\ than|bigger\ than|smaller\ than|higher\ than|lower\ than|exceeds?|exceeding
    |close\ to|closer\ to|far\ from|further\ from"""
_COMPARE_WORDS = ("not", "n't", "short", "away", "above", "below", "than", "exceed", "close", "far")

# verification
_rule("v_check", ("check", "verif", "confirm", "make sure", "sanity", "✓", "✔", " see "),
      r"""\b(?:check(?:s|ed|ing)?|verif(?:y|ies|ied|ying|ication)|double[- ]check\w*|re-?check\w*
      |confirm(?:s|ed|ing|ation)?|make\ sure|sanity)\b|✓|✔|\blet(?:'s|\ me|\ us)\ see\ (?:if|whether)\b""")
_rule("v_target_word", ("target", "goal"),
      r"""\b(?:""" + _COMPARE + r""")\s+(?:the|our|my)\s+(?:target|goal)\b
      |\b(?:reached|achieved|hit|found|got|matched|met)\s+(?:exactly\s+)?(?:the|our|my)\s+(?:target|goal)\b
      |\b(?:target|goal)\s+(?:is\s+|has\s+been\s+)?(?:reached|achieved|hit|met|matched)\b""")
# positive comparisons only count without an intent word before them ("we need it to equal the target")
_rule("v_target_pos", ("target", "goal"),
      r"""\b(?:equals?|equal\ to|matches|match|is|was|'s|reaches|hits)\s+(?:exactly\s+|precisely\s+|indeed\s+|just\s+)?
      (?:the|our|my)\s+(?:target|goal)\b|\d\s*,\s*(?:the|our)\s+target\b""")
_rule("v_target_num", _COMPARE_WORDS + ("exactly", "precisely", "reached", "got", "hit", "achieved", "arrived",
                                        "≠", "!=", "=/="),
      r"""(?:\b(?:""" + _COMPARE + r"""|exactly|precisely|reached|got|hit|achieved|arrived\ at)|≠|!=|=/=)\s*
      (?:the\ target\s+(?:of\s+)?|our\ target\s+(?:of\s+)?)?""" + _NUM + r"\b(?!\s*[-+*/])")
_rule("v_other", ("too", "shoot", "short", "correct", "right", "wrong", "valid", "works", "twice", "once", "used",
                  "use"),
      r"""\b(?:too|way\ too|much\ too|far\ too)\s+(?:big|large|high|small|low|much|little|far)\b
      |\bovershoot\w*|\bundershoot\w*|\bfalls?\ short\b
      |\b(?:that|this|it|which|so|and)\s*(?:'s|is|was)\s+(?:not\s+)?(?:correct|right|wrong|incorrect|valid|invalid)\b
      |\b(?:isn't|wasn't)\s+(?:correct|right|valid)\b|\b(?:that|this|it|which)\s+works\b
      |\bused?\s+(?:\w+\s+){0,2}?(?:twice|more\ than\ once)\b
      |\b(?:haven't|have\ not|hasn't|has\ not|didn't|did\ not|never)\s+(?:been\s+)?used?\b
      |\b(?:each|every|all)(?:\ of)?(?:\ the)?(?:\ \w+)?\ numbers?\s+(?:is\s+|are\s+|was\s+|were\s+|has\ been\s+|have\ been\s+)used\b
      |\bused\s+(?:each|every|all)(?:\ of)?(?:\ the)?(?:\ \w+)?\ numbers?\b""")
_rule("v_text", ("expected", "which ", "consistent", "plug", "substitut"),
      r"""\bas\ expected\b|\bwhich\ (?:matches|agrees)\b|\bconsistent\ with\b|\bplug(?:ging)?\s+(?:\w+\s+)?(?:back\s+)?in(?:to)?\b
      |\bsubstitut\w+\s+(?:\w+\s+)?back\b""")
# implicit verdicts on a result (Countdown variant only): its size against the target, a hit or a miss in so many
# words, or a rule about using the numbers (v_rule; not a sign that an attempt was given up)
_rule("v_size", ("over", "under", "short", "off", "high", "low", "further", "enough", "close", "quite", "too"),
      r"""\b(?:way|far|much|a\ bit|a\ little|slightly|just|still|now|even)\s+(?:over|under|off|short|high|low|higher|lower
        |further)\b
      |\b(?:over|under|short|off)\s+by\b|\b(?:over|under)\ again\b|\b(?:over|under)(?:shot|shoots?|shooting)\b
      |\b(?:\d+(?:\.\d+)?|one|two|three)\s+(?:short|over|under|off|too\ (?:high|low|big|small|many|much|few|large))\b
      |\bnot\ enough\b|\bclose,?\s+but\b|\bnot\ quite\b|\bfar\ off\b
      |\b(?:that's|that\ is|thats|it's|it\ is|which\ is|this\ is)\s+(?:way\s+|a\ bit\s+|slightly\s+|still\s+)?
        (?:over|under|short|off|close)\b
      |\bstill\s+(?:over|under|short|too\ \w+)\b""")
_rule("v_hit", ("that's it", "thats it", "that is it", "got it", "nailed it", "not it", "there", "bingo", "spot on", "right on", "lands", "perfect", "not right", "✅", "❌", "✗", "✘",
                "same ", "again", "also ", "integer", "whole", "useful", "helpful", "match", "equal", "what we",
                "what i", "target", "wrong sign", ", no", ",no", "; no", ": no", ", nah", "; nah"),
      r"""\b(?:that's|thats|that\ is)\ it\b|\bthere\ it\ is\b|\bthere\ we\ go\b|\bgot\ it\b|\bbingo\b|\bnailed\ it\b
      |\bspot\ on\b|\bright\ on\b|\blands\b|\bperfect\b|\bnot\ it\b|\b(?:that's|that\ is|it's|it\ is)\ not\ right\b
      |✅|❌|✗|✘|\bsame\ (?:thing|result|value|number)\b|\b\d+(?:\.\d+)?\ again\b|\balso\ \d+(?:\.\d+)?\b(?!\s*[-+*/=])
      |\bnot\ (?:an\ integer|a\ whole\ number|whole|useful|helpful)\b|\b(?:does\ not|doesn't|do\ not|don't)\ match\b
      |\bnot\ equal\b|\b(?:exactly|which\ is|that's|that\ is|just)\ what\ (?:we|i)\ (?:need|needed|want|wanted)\b
      |(?:=|<-|->|←|→)\s*(?:the\ |our\ )?target\b|\bwrong\ sign\b|[,;:]\s*(?:no|nope|nah)\s*[.!]?\s*$""")
# "that's 14", "this equals 56": a positive statement; the number must be the target or a goal
_rule("v_val", ("that's", "that is", "thats", "it's", "it is", "this is", "equals", "hits", "lands on"),
      r"""\b(?:that's|that\ is|thats|it's|it\ is|this\ is|(?:this|that|it|which)(?:\ also)?\ equals|equals|hits|lands\ on)
      \s+(?:exactly\s+|also\s+|indeed\s+|now\s+)?""" + _NUM + r"\b(?!\s*[-+*/]|\.\d)")
_rule("v_rule", ("left", "unused", "still have", "still need", "n't have", "not have", "n't use", "not use", "no ",
                 "uses ", "used", "satisf"),
      r"""\bleft\ over\b|\bleftover\b|\bunused\b|(?<!what\ )\b(?:is|are)\ (?:still\ )?left\b|\b\d+(?:\.\d+)?\ (?:is\ |are\ )?left\b
      |\bstill\ (?:have|need\ to\ use)\b|\b(?:don't|do\ not|doesn't|does\ not|didn't)\ (?:have|use)\s+(?:a\ |an\ |the\ )?
        (?:\d|all\b|every\b|each\b)|\bno\ \d+\ to\ use\b|\buses\ (?:all|every|each)\b|\ball\ used\b
      |\bused\s+(?:exactly\s+)?once\b|\bsatisf\w*\ the\ rules?\b""")

# backtracking
_rule("b_mark", ("try", "trying", "attempt", "another", "different", "new ", "alternative", "other", "back",
                 "start", "scratch", "restart", "dead", "abandon", "discard", "drop", "ditch", "n't", "not", "can",
                 "luck", "no good", "lead", "nowhere", "reconsider", "rethink", "revisit", "second thought",
                 "instead", "think again", "fails"),
      r"""\b(?:try|trying|attempt)\s+(?:again|another|a\ different|something\ else|a\ new|different)\b
      |\b(?:another|a\ different|different|new|alternative|other)\s+(?:approach|way|combination|combo|strategy|idea
        |option|attempt|path|route|order|ordering|sequence|method|possibility|pairing|grouping|operation|plan|tack)s?\b
      |\b(?:go|going|went|step|stepping|head|heading)\s+back\b
      |\bback\ to\ (?:the\ )?(?:start|beginning|drawing\ board|original|square\ one|\d)
      |\b(?:branch|path|approach|idea|attempt|that|this|it)\s+fails\b
      |\bstart(?:ing)?\ (?:over|again|afresh)\b|\bfrom\ scratch\b|\brestart\w*|\bbacktrack\w*|\bscratch\ that\b
      |\bdead[- ]end\b|\b(?:abandon|discard|drop|ditch)(?:s|ed|ing)?\s+(?:this|that|it|the)\b
      |\b(?:doesn't|does\ not|didn't|did\ not|won't|will\ not|isn't\ going\ to|is\ not\ going\ to|not\ going\ to
        |can't|cannot)\s+(?:work|help|lead|get\ us)\b
      |\bnot\ working\b|\bno\ luck\b|\bno\ good\b|\bleads?\ (?:nowhere|to\ nothing)\b|\bgoes\ nowhere\b
      |\b(?:reconsider|rethink|revisit)\w*|\bon\ second\ thought\b|\binstead\b|\balternatively\b
      |\blet\ me\ think\ again\b""")
_rule("b_text", ("mistake", "oops", "wrong"),
      r"""\b(?:a|my|our)\ mistake\b|\boops\b|\bthat\ was\ wrong\b|\bwrong\ approach\b""")

# subgoal setting (the captured number is the goal; it must differ from the target)
_rule("s_word", ("goal", "intermediate", "stepping", "milestone", "break", "split"),
      r"""\bsub-?goals?\b|\bintermediate\ (?:goal|target)s?\b|\bstepping\ stone|\bmilestone
      |\bbreak\ (?:it|this|the\ problem|the\ task|things)\ (?:down|into)\b|\bsplit\ (?:it|this|the\ problem)\ into\b""")
_rule("s_goal", ("get", "reach", "make", "obtain", "produce", "create", "build", "form", "hit", "arrive",
                 "end up", "come up", "find", "for ", "need", "want"),
      r"""\b(?:first|firstly|to\ start|step\ \d+:?|need\ to|needs\ to|try\ to|trying\ to|aim\ to|want\ to|goal\ is\ to
        |plan\ is\ to|let's|let\ me|let\ us|we\ can|we\ could|i\ can|i\ could|if\ we\ can|if\ i\ can|if\ we\ could
        |can\ we|could\ we|should|hope\ to|like\ to|then)\s*,?\s+(?:\w+\s+){0,2}?
      (?:get|reach|make|obtain|produce|create|build|form|hit|arrive\ at|get\ to|end\ up\ with|come\ up\ with|find)\s+
      (?:a\ |an\ |to\ |the\ number\ |exactly\ )?""" + _NUM + r"""\b(?!\s*[-+*/=])
      |\b(?:aim|aiming|shoot|shooting|go|going)\s+for\s+""" + _NUM + r"""\b(?!\s*[-+*/=])
      |\b(?:need|needs|want)\s+(?:a\s+|an\s+|to\ have\s+)?""" + _NUM + r"""\s+(?:from|out\ of|using|with)\b
      |\b(?:want|need|like)\s+(?:a\s+|an\s+)?""" + _NUM + r"""\s+first\b
      |\b(?:make|get|reach|produce|build|form)\s+""" + _NUM + r"""\s+(?:from|out\ of|using|with)\b""")
_rule("s_label", ("goal", "target"),
      r"""\b(?:sub-?goal|goal|intermediate\ (?:goal|target))\s*:\s*(?:make\s+|get\s+|reach\s+)?""" + _NUM
      + r"""\b(?!\s*[-+*/=])""")
# a goal without a number: "get a number close to 81", "turn 10 and 5 into something small"
_rule("s_qual", ("a number", "something", "a value", "a small", "a big", "a multiple", "a round"),
      r"""\b(?:get|reach|make|aim\ for|go\ for|turn|find|want|need)\b[^.;\n]{0,25}?\b(?:a\ number|something|a\ value
        |a\ small\ number|a\ big\ number|a\ multiple\ of|a\ round\ number)\s*(?:close|near|around|like|small|big|bigger
        |smaller|of|out\ of)\b""")
_rule("s_text", ("first", "step"),
      r"""\bfirst,?\s+(?:we|let's|let\ us|i)\s+(?:\w+\s+)?(?:need\ to\s+|must\s+|should\s+|will\s+|'ll\s+)?
      (?:find|compute|calculate|determine|show|prove|establish|solve|simplify|evaluate|get)\b
      |\bstep\ (?:1|one)\b|\bwe\ first\b|\bfirst\ we\b|\bfirst\ (?:find|compute|calculate|determine)\b""")

# backward chaining
_rule("bw_word", ("backward", "back from", "from the", "with the", "at the", "reverse", "undo", "inverse"),
      r"""\bwork(?:ing|ed|s)?\ (?:it\ )?backwards?\b|\bbackwards?\ from\b|\breason(?:ing)?\ backwards?\b
      |\bwork(?:ing)?\ back\ from\b|\bstart(?:ing)?\ (?:from|with|at)\ the\ (?:target|goal|end|answer|result)\b
      |\bfrom\ the\ target\b|\bgoing\ backwards?\b|\breverse\ (?:the\ )?(?:operations?|engineer\w*|direction)
      |\bundo(?:ing)?\ the\b|\binverse\ operations?\b
      |\b(?:think|thinking|reason|reasoning|work|working|go|going)\b[^.;\n]{0,20}?\bbackwards?\b|\bbackwards?\s*:""")
# group 1/2 (when present) is the number reached; it must be the target
_rule("bw_need", ("to ", "what"),
      r"""\b(?:to|in\ order\ to)\s+(?:get|reach|make|obtain|hit|end\ up\ with|arrive\ at|produce)\s+
      (?:the\ target|(?:the\ target\ (?:of\ )?)?""" + _NUM + r""")\s*,?\s*(?:we|i|you|one)\s*(?:'d|would|will|'ll)?\s*
      (?:need|needs|must|have\ to|has\ to|require)\b
      |\bwhat\s+(?:number\s+|value\s+)?(?:\*|\+|-|/|times|plus|minus|multiplied\ by|divided\ by|added\ to|subtracted\ from)\s*\d+\s*(?:=|gives|makes)\s*""" + _NUM + r"\b")
_rule("bw_text", ("suffices", "enough to show", "need to show", "start", "want to"),
      r"""\bit\ suffices\ to\b|\bsuffices\ to\ show\b|\benough\ to\ show\b|\bwe\ need\ to\ show\b
      |\bstart(?:ing)?\ from\ the\ (?:conclusion|desired)\b|\bwhat\ we\ want\ to\ (?:prove|show)\b""")

_rule("t_problem", ("problem", "exercise", "question", "example", "?", "how many", "what is", "find", "compute",
                    "calculate", "determine", "evaluate", "solve", "prove", "show"),
      r"""\b(?:problem|exercise|question|example)\s*\d*\s*[:.]|\?|\bhow\ many\b|\bwhat\ is\b
      |\b(?:find|compute|calculate|determine|evaluate|solve|prove|show)\s+(?:that|the|all|a|an|how|whether)\b""")
_rule("t_solution", ("solution", "answer", "proof", "therefore", "thus", "hence", "q.e.d", "qed", "∎", "we get",
                     "we obtain", "so the result"),
      r"""\b(?:solution|answer|proof)\s*[:.]|\btherefore\b|\bthus\b|\bhence\b|\bthe\ answer\ is\b
      |\bq\.?e\.?d\b|∎|\bwe\ get\b|\bwe\ obtain\b|\bso\ the\ result\b""")

_INTENT = re.compile(r"\b(?:need|needs|must|should|want|wants|to|can|could|will|would|try|trying|aim|goal is|if|how"
                     r"|get|make|reach|find)"
                     r"\s+(?:\w+\s+){0,3}$")

# One scan finds every trigger; a longer trigger also fires the rules of the triggers it contains.
_TRIGGER_RULES: dict[str, tuple[str, ...]] = {}
for _t in {t for triggers, _ in _RULES.values() for t in triggers}:
    _TRIGGER_RULES[_t] = tuple(n for n, (ts, _) in _RULES.items() if any(t in _t for t in ts))


def _trie_regex(words) -> str:
    """An alternation of literals as a prefix tree ('ab|ac' -> 'a(?:b|c)'): the engine then tries one branch per
    position instead of every word, which keeps the trigger scan cheap. Longer words win over their prefixes."""
    tree: dict = {}
    for word in words:
        node = tree
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict) -> str:
        ends = "" in node
        branches = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if ends else body

    return build(tree)


# a lookahead, so that overlapping triggers are all found ("not useful" holds "not use" and "useful")
_TRIGGER = re.compile("(?=(" + _trie_regex(_TRIGGER_RULES) + "))")

# arithmetic: an expression with at least one operator, then "= result". A result followed by another operator is
# not one ("a = b - c = d": the first "=" opens the next expression of the chain).
_OPERAND = r"[ \t]*\d+(?:\.\d+)?[ \t)]*"
_EQ = re.compile(r"([(\d][( \t]*\d*(?:\.\d+)?[ \t)]*(?:[-+*/][ \t(]*" + _OPERAND + r")+)=[ \t]*(-?\d+(?:\.\d+)?)"
                 r"(?!\.?\d)(?![ \t]*[-+*/])")
_INT = re.compile(r"\d+(?:\.\d+)?")
_EXPR = re.compile(r"\d[ \t)]*[-+*/][ \t(]*\d")   # any arithmetic in a sentence (a new result to judge)


# what may follow an occurrence of the target: "= 24" (a stated match, T = T) or "= 2 * 12" / "as 22 + 1" (a
# decomposition)
_SAME_AFTER = re.compile(r"[ \t]*==?[ \t]*(\d+(?:\.\d+)?)(?!\.?\d)(?!\s*[-+*/])")
_DECOMP_AFTER = re.compile(r"[ \t]*(?:=|as\b)([( \t]*" + _OPERAND + r"(?:[-+*/][ \t(]*" + _OPERAND + r")+)")
# a sentence that is itself a verdict: "Yes!", "No.", "nope", "Correct.", "Works."
_VERDICT_START = re.compile(r"[\s\-*•>#]*(?:(?:yes|yep|yeah|correct|also\ correct|incorrect|wrong|works|bingo|perfect"
                            r"|great|nope|nah)\b|no(?=\s*(?:[.!,;:)]|$))|good(?=[\s.!]*$))", re.VERBOSE)
_VERDICT_FIRST = set("ycinwbpg")
# a number written before "= ..." or "as ...": where a decomposition may start
_BEFORE_EQ = re.compile(r"\d+(?:\.\d+)?(?=[ \t]*(?:=|as\b))")
# the first number after a subgoal word ("my first subgoal is 10"); None when it starts an expression
_NEXT_NUMBER = re.compile(r"[^\d\n]{0,40}?(\d+(?:\.\d+)?)(?!\.?\d)(\s*[-+*/=])?")


def _occurrences(text: str, number: float) -> list[int]:
    """Positions where `number` is written as a whole number (str.find is far cheaper than a regex here)."""
    token, out = str(number), []
    at = text.find(token)
    while at >= 0:
        end = at + len(token)
        if not (at and (text[at - 1].isdigit() or text[at - 1] == ".")) and not (end < len(text) and text[end].isdigit()):
            out.append(at)
        at = text.find(token, end)
    return out


def _follows(text: str, at: int, chars: str) -> bool:
    """True when the number written at `at` comes right after one of `chars` (spaces aside)."""
    before = text[max(0, at - 3):at].rstrip()
    return bool(before) and before[-1] in chars


class _Eq(NamedTuple):
    sentence: int
    operands: list
    result: float
    expr: str
    start: int
    end: int
    chained: bool   # "= 77 - 63 = 14": the continuation of a chain, its operands were computed inline


class _Scan:
    """A normalised text, its sentences and the candidate sentences of each rule."""

    def __init__(self, raw: str):
        self.text = text = _normalise(raw or "")
        self.starts = _sentence_starts(text)
        self.ends = self.starts[1:] + [len(text)]
        self.candidates: dict[str, set[int]] = {}
        self._equations: list[_Eq] | None = None
        self.target_at: list[int] = []   # where the target is written (countdown variant)
        candidates = self.candidates
        starts, last, sentence = self.starts, len(self.starts) - 1, 0
        by_trigger: dict[str, set[int]] = {}
        for m in _TRIGGER.finditer(text):   # in text order, so the sentence index only moves forward
            at = m.start()
            while sentence < last and starts[sentence + 1] <= at:
                sentence += 1
            found = by_trigger.get(m.group(1))
            if found is None:
                by_trigger[m.group(1)] = {sentence}
            else:
                found.add(sentence)
        for trigger, sentences in by_trigger.items():
            for name in _TRIGGER_RULES[trigger]:
                if name in candidates:
                    candidates[name] |= sentences
                else:
                    candidates[name] = set(sentences)

    def sentence(self, pos: int) -> int:
        return bisect_right(self.starts, pos) - 1

    def end_of(self, i: int) -> int:
        return self.ends[i]

    def matches(self, name: str):
        """(sentence index, match) for every match of a rule, searched only in its candidate sentences."""
        finditer, text, starts, ends = _RULES[name][1].finditer, self.text, self.starts, self.ends
        for i in sorted(self.candidates.get(name, ())):
            for m in finditer(text, starts[i], ends[i]):
                yield i, m

    def hits(self, *names: str) -> set[int]:
        """Candidate sentences in which any of the named rules matches."""
        out, text, starts, ends = set(), self.text, self.starts, self.ends
        for name in names:
            search = _RULES[name][1].search
            out.update(i for i in self.candidates.get(name, ()) if i not in out and search(text, starts[i], ends[i]))
        return out

    def numbers(self, name: str) -> list[tuple[int, float | None]]:
        """(sentence, captured number or None) for each match of a rule."""
        out = []
        for i, m in self.matches(name):
            token = next((g for g in m.groups() if g is not None), None)
            out.append((i, None if token is None else _value(token)))
        return out

    def verdict_sentences(self) -> set[int]:
        """Sentences that open with a one-word verdict ("Yes!", "No.", "nope", "Correct.")."""
        match, text, out = _VERDICT_START.match, self.text, set()
        for i, at in enumerate(self.starts):
            if text[at:at + 12].lstrip(" \t\n-*•>#")[:1] in _VERDICT_FIRST and match(text, at, self.end_of(i)):
                out.add(i)
        return out

    def has_expression(self, i: int) -> bool:
        return _EXPR.search(self.text, self.starts[i], self.ends[i]) is not None

    @property
    def equations(self) -> list[_Eq]:
        """Each 'a op b ... = r' in the text, in order, computed once."""
        if self._equations is None:
            text, starts, out = self.text, self.starts, []
            for m in _EQ.finditer(text):
                at = m.start()
                if at and text[at - 1] in "0123456789.":
                    continue
                left, written = m.groups()
                tokens = _INT.findall(left)
                try:
                    operands = list(map(int, tokens))
                except ValueError:   # a decimal operand
                    operands = list(map(float, tokens))
                result = int(written) if "." not in written else float(written)
                chained = text[max(0, at - 3):at].rstrip().endswith("=")
                out.append(_Eq(bisect_right(starts, at) - 1, operands, result, left + written, at, m.end(), chained))
            self._equations = out
        return self._equations


# ---------------------------------------------------------------- the judge
def _episodes(indices: set[int]) -> int:
    """Runs of consecutive sentence indices count once."""
    ordered = sorted(indices)
    return sum(1 for k, i in enumerate(ordered) if k == 0 or ordered[k - 1] != i - 1)


def _verification(scan: _Scan, target: float | None, goals: set[float] = frozenset()) -> tuple[int, list[int]]:
    """(number of checks, positions of the verdicts that can end an attempt). A number compared with (`not 12`,
    `less than 12`, `that's 12`) counts when it is the target or a value the trace set out to reach (`goals`).
    target None is the general-text variant, which keeps to explicit checks."""
    check = scan.hits("v_check")
    found = set(check)
    signals = []
    for name in ("v_other", "v_target_word"):
        for i, m in scan.matches(name):
            found.add(i)
            signals.append(m.start())
    for i, m in scan.matches("v_target_pos"):
        if not _INTENT.search(scan.text, max(0, m.start() - 30), m.start()):
            found.add(i)
            signals.append(m.start())
    if target is None:
        found |= scan.hits("v_text")
        # "Let me verify: 3 * 8 = 24. Yes, that is the target." is one check, not two
        return sum(1 for i in found if not (i in check and i + 1 in found)), []
    wanted = {target} | set(goals)
    for name in ("v_target_num", "v_val"):
        for i, m in scan.matches(name):
            if _value(m.group(1)) in wanted and not _INTENT.search(scan.text, max(0, m.start() - 30), m.start()):
                found.add(i)
                signals.append(m.start())
    for name in ("v_size", "v_hit"):
        for i, m in scan.matches(name):
            found.add(i)
            signals.append(m.start())
    found |= scan.hits("v_rule")            # a rule check, not a verdict that ends an attempt
    verdicts = scan.verdict_sentences()
    found |= verdicts
    signals += [scan.starts[i] for i in verdicts]
    for at in scan.target_at:   # "24 = 24", but not the operand in "40 - 20 = 20"
        m = _SAME_AFTER.match(scan.text, at + len(str(target)))
        if m and _value(m.group(1)) == target and not _follows(scan.text, at, "+-*/("):
            found.add(scan.sentence(at))
            signals.append(at)
    # consecutive checking sentences judge one result ("That's not 39. Too small." is 1), unless a sentence brings
    # a new result (arithmetic) or starts a deliberate check ("Let me verify: ...")
    return (sum(1 for i in found if i - 1 not in found or i in check or scan.has_expression(i)),
            sorted(signals))


def _switches(scan: _Scan, numbers: Sequence[int], target: float, signals: list[int], skip: set[int]) -> set[int]:
    """Sentences where a fresh attempt begins: an equation that starts over from input numbers the current attempt
    has already spent, or one that follows a verdict or an abandon phrase (`signals`) without building on the
    latest result. Re-computing inside a check (`skip`), restating a result, or writing out the full solution is
    no new attempt."""
    inputs: dict[float, int] = {}
    for n in numbers:
        inputs[n] = inputs.get(n, 0) + 1
    everything = sorted(numbers)
    spent: dict[float, int] = {}
    results: set[float] = set()
    last: _Eq | None = None
    out = set()
    for eq in scan.equations:
        if eq.sentence in skip or (last is not None and eq.expr == last.expr):
            continue
        ops = eq.operands
        if last is not None and spent:
            k = bisect_right(signals, last.end - 1)
            signalled = k < len(signals) and signals[k] < eq.start
            # the whole solution written out once more ("So (26 * 16 + 79) / 5 = 99") after reaching the target or
            # with nothing given up in between
            summary = eq.result == target and sorted(ops) == everything and (target in results or not signalled)
            from_inputs = all(v in inputs and v not in results for v in ops)
            reuse = from_inputs and any(ops.count(v) > inputs[v] - spent.get(v, 0) for v in set(ops))
            fresh_after_verdict = (signalled and last.result not in ops and not eq.chained
                                   and any(v in inputs for v in ops))
            if not summary and ((reuse and eq.result not in results) or fresh_after_verdict):
                out.add(eq.sentence)
                spent, results = {}, set()
        for v in ops:
            if v in inputs and v not in results:
                spent[v] = spent.get(v, 0) + 1
        results.add(eq.result)
        last = eq
    return out


def _backtracking(scan: _Scan, numbers: Sequence[int], target: float, signals: list[int]) -> int:
    """One per switch to a fresh attempt; an abandon phrase ("let me try another way") and the fresh attempt it
    announces are one switch, a phrase with no fresh equation after it counts on its own."""
    phrases, phrase_at = set(), []
    for i, m in scan.matches("b_mark"):
        phrases.add(i)
        phrase_at.append(m.start())
    skip = scan.hits("v_check")
    switches = _switches(scan, numbers, target, sorted(signals + phrase_at), skip)
    equations = [eq for eq in scan.equations if eq.sentence not in skip]
    eq_starts = [eq.start for eq in equations]
    count = len(switches)
    ordered = sorted(phrases)
    for k, i in enumerate(ordered):
        if k and ordered[k - 1] == i - 1:
            continue   # adjacent phrase sentences are one episode
        j = bisect_right(eq_starts, scan.starts[i] - 1)
        after = equations[j] if j < len(equations) else None
        if after is not None and (after.sentence in switches or j == 0):
            continue   # the phrase announces that switch, or the first attempt ("Let me start over. 46 + 17 = 63")
        count += 1
    return count


def _goal_mentions(scan: _Scan, target: float) -> list[tuple[int, float | None, str]]:
    """(sentence, goal value or None, kind) for every intermediate goal the text names. Kind: "phrase" ("first get
    12"), "word" (the text calls it a goal: "subgoal: 16", "intermediate target 9"), "quality" ("a number close to
    81")."""
    out = [(i, v, "phrase") for i, v in scan.numbers("s_goal") if v != target]
    out += [(i, v, "word") for i, v in scan.numbers("s_label") if v != target]
    for i, m in scan.matches("s_word"):
        n = _NEXT_NUMBER.match(scan.text, m.end(), scan.end_of(i))
        value = None if n is None or n.group(2) else _value(n.group(1))
        if value != target:
            out.append((i, value, "word"))
    out += [(i, None, "quality") for i in scan.hits("s_qual")]
    return out


def _backward(scan: _Scan, numbers: Sequence[int], target: float,
              goals: list[tuple[int, float | None, str]]) -> tuple[set[int], set[float]]:
    """Backward-chaining sentences and the values they derive. In text order: an equation that starts from the
    target or a derived value not yet computed ("24 / 2 = 12"); a decomposition of one ("24 = 2 * 12",
    "12 = 3 * 4", or of a named subgoal) with a part that is not an input (any part, below the target); an equation
    that reaches one with an operand that is neither given nor computed yet ("40 / 5 = 8" before 5 exists),
    unless that operand is a goal named just before ("make 28 first, since 28 + 14 = 42" is forward)."""
    text, inputs = scan.text, set(numbers)
    words = scan.hits("bw_word")
    steps = {i for i, v in scan.numbers("bw_need") if v is None or v == target}
    goal_values = {v for _, v, _ in goals if v is not None}
    near_goals: dict[int, set] = {}
    for i, v, _ in goals:
        if v is not None:
            near_goals.setdefault(i, set()).add(v)
            near_goals.setdefault(i + 1, set()).add(v)
    events: list[tuple[int, object]] = [(eq.start, eq) for eq in scan.equations]
    for m in _BEFORE_EQ.finditer(text):   # decompositions "v = a op b"
        d = _DECOMP_AFTER.match(text, m.end())
        if d and not _follows(text, m.start(), "+-*/=(") and not (m.start() and text[m.start() - 1] in "0123456789."):
            events.append((m.start(), (_value(m.group()), [_value(t) for t in _INT.findall(d.group(1))])))
    events.sort(key=lambda e: e[0])
    derived: set[float] = set()
    forward: set[float] = set()

    def open_value(v: float) -> bool:   # still to be produced: the target or a derived value, not given or computed
        return v not in inputs and v not in forward and (v == target or v in derived)

    for at, ev in events:
        sentence = scan.sentence(at)
        if not isinstance(ev, _Eq):
            value, parts = ev
            unknown = {p for p in parts if p not in inputs}
            if open_value(value) and (unknown or value != target):
                steps.add(sentence)
                derived |= {p for p in unknown if p not in forward}
            elif value in goal_values and value != target and value not in forward and value not in inputs and unknown:
                steps.add(sentence)
                derived |= {p for p in unknown if p not in forward}
            continue
        eq: _Eq = ev
        if not eq.chained and eq.operands and open_value(eq.operands[0]):
            steps.add(sentence)
            derived.add(eq.result)
            continue
        if not eq.chained and open_value(eq.result):
            unknown = [v for v in eq.operands if v not in inputs and v not in forward and v not in derived]
            if unknown and any(v in inputs for v in eq.operands) and not set(unknown) & near_goals.get(sentence, set()):
                steps.add(sentence)
                derived |= set(unknown)
                continue
        forward.add(eq.result)
    found = steps | words
    # "Working backwards from 22." followed by its first step is one instance
    headers = {i for i in words - steps if i + 1 in steps}
    return found - headers, derived


def _subgoals(goals: list[tuple[int, float | None, str]], backward: set[int], derived: set[float]) -> int:
    """Distinct intermediate goals. A goal stated in (or right after) a backward step, or a value a backward step
    derived, belongs to that step, unless the text calls it a goal on its own later on; naming a goal again
    ("Subgoal 12 reached") is not a new one. A goal without a number counts once per sentence ("get a number close
    to 81"); a bare "the subgoal" refers to a numbered goal when the text has one."""
    inside = backward | {i + 1 for i in backward}
    valued = {i for i, v, _ in goals if v is not None}
    seen: set[float] = set()
    unnamed: set[int] = set()
    for i, v, kind in sorted(goals, key=lambda g: g[0]):
        if i in inside:
            continue
        if v is None:
            if i not in valued and (kind == "quality" or not valued):
                unnamed.add(i)
        elif v not in seen and (v not in derived or kind == "word"):
            seen.add(v)
    return len(seen) + len(unnamed)


def count_behaviors(completion: str, numbers: Sequence[int], target: int) -> dict[str, int]:
    """Counts of the four behaviors in a Countdown completion (see the module docstring for the rules)."""
    scan = _Scan(completion)
    goal = int(target)
    scan.target_at = _occurrences(scan.text, goal)
    goals = _goal_mentions(scan, goal)
    backward, derived = _backward(scan, numbers, goal, goals)
    verification, signals = _verification(scan, goal, derived | {v for _, v, _ in goals if v is not None})
    return {
        "verification": verification,
        "backtracking": _backtracking(scan, numbers, goal, signals),
        "subgoal_setting": _subgoals(goals, backward, derived),
        "backward_chaining": len(backward),
    }


def count_text_behaviors(text: str) -> dict[str, int]:
    """The four counts for general text (e.g. a math web page) plus has_problem / has_solution as 0/1."""
    scan = _Scan(text)
    backward = scan.hits("bw_word", "bw_text")
    subgoals = scan.hits("s_word", "s_text")
    counts = {
        "verification": _verification(scan, None)[0],
        "backtracking": _episodes(scan.hits("b_mark", "b_text")),
        "subgoal_setting": len(subgoals - backward - {i + 1 for i in backward}),
        "backward_chaining": len(backward),
        "has_problem": int(bool(scan.hits("t_problem"))),
        "has_solution": int(bool(scan.hits("t_solution"))),
    }
    assert all(b in counts for b in BEHAVIORS)
    return counts
