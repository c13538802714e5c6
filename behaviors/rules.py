"""Offline rule judge: counts the four behaviors with phrase patterns plus a little arithmetic.

It is a fast, deterministic stand-in for the LLM judge (no network, thousands of traces per second), and the
checker the priming synthesizer uses for traces written with chosen behaviors. So its rules are precise and
keep the behaviors apart; each is documented in docs/behaviors.md.

How counting works. The completion is lower-cased, arithmetic words are normalised ("times" -> *, "×" -> *,
"20 plus 4 is 24" -> "20 + 4 = 24") and it is cut into sentences (at . ! ? followed by space, at line breaks
and semicolons). Each behavior counts sentences that show it, at most one per sentence:

- verification: the sentence states a check. Check words (check, verify, confirm, make sure, ✓); a value
  compared with the target ("not 22", "less than 22", "≠ 22", "22 = 22", "exactly 22", "got 22" for target
  22; "not the target", "which is our target", "target reached") or with an intermediate value the trace
  named as a goal or derived from the target ("7, not 12" after "first reach 12"); a value judged too big/small
  ("too large", "overshoots", "falls short"); a verdict ("that's correct", "this works", "is wrong"); a
  number-use constraint ("used 7 twice", "haven't used 3", "all numbers used"). Writing "25 - 1 = 24" alone
  is a computation, not a check. A sentence with a check word followed directly by another checking sentence
  ("Let me verify: 3 * 8 = 24. Yes, that is the target.") counts once.
- backtracking: an abandon/retry phrase ("try again", "a different/another approach|combination|way|...",
  "go back", "start over", "scratch that", "dead end", "doesn't work|help|lead", "leads nowhere", "instead",
  "alternatively", "reconsider", "on second thought") or, arithmetically, a new equation that starts again
  from input numbers the previous unfinished line had already spent (a restart). Adjacent sentences with
  these signs are one episode ("That doesn't work. Let's try another way." counts 1).
- subgoal_setting: an intermediate number, other than the target, named as something to reach ("first get
  12", "if we can make 5", "aim for 30", "we need 12 from 5 and 7", "step 1: make 6"), or a subgoal word
  ("subgoal", "intermediate target", "break it down"). A subgoal in (or right after) a backward-chaining
  sentence is part of that backward step and is not counted again.
- backward_chaining: reasoning from the target: an equation that starts from the target ("24 / 2 = 12" for
  target 24 when 24 is not an input), a decomposition of the target with a non-input part ("24 = 2 * 12"),
  "to get 24 we need ...", "what times 3 gives 24", or words ("working backwards", "start from the target").

count_text_behaviors applies the general-text variant (math documents without numbers/target): the same
phrase rules minus the target arithmetic, plus proof-style backward phrases ("it suffices to show") and the
has_problem / has_solution flags.
"""
from __future__ import annotations

import re
from bisect import bisect_right
from typing import Sequence

from countdown.records import BEHAVIORS

RULES_VERSION = "rules-v1"   # recorded as prompt_version in rule-judge labels; bump when the rules change

# ---------------------------------------------------------------- normalisation and sentences
# Patterns here start with a literal or a character class where possible: Python's regex engine then skips
# quickly to candidate positions, which is most of what makes the judge fast.
_TRANSLATE = str.maketrans({"×": "*", "·": "*", "÷": "/", "−": "-", "–": "-", "’": "'", "‘": "'", "\u00a0": " "})
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

# backtracking
_rule("b_mark", ("try", "trying", "attempt", "another", "different", "new ", "alternative", "other", "back",
                 "start", "scratch", "restart", "dead", "abandon", "discard", "drop", "ditch", "n't", "not", "can",
                 "luck", "no good", "lead", "nowhere", "reconsider", "rethink", "revisit", "second thought",
                 "instead", "think again"),
      r"""\b(?:try|trying|attempt)\s+(?:again|another|a\ different|something\ else|a\ new|different)\b
      |\b(?:another|a\ different|different|new|alternative|other)\s+(?:approach|way|combination|combo|strategy|idea
        |option|attempt|path|route|order|ordering|sequence|method|possibility|pairing|grouping|operation|plan|tack)s?\b
      |\b(?:go|going|went|step|stepping|head|heading)\s+back\b
      |\bback\ to\ (?:the\ )?(?:start|beginning|drawing\ board|original|square\ one)
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
        |can\ we|could\ we|should|hope\ to|then)\s*,?\s+(?:\w+\s+){0,2}?
      (?:get|reach|make|obtain|produce|create|build|form|hit|arrive\ at|get\ to|end\ up\ with|come\ up\ with|find)\s+
      (?:a\ |an\ |to\ |the\ number\ |exactly\ )?""" + _NUM + r"""\b(?!\s*[-+*/=])
      |\b(?:aim|aiming|shoot|shooting|go|going)\s+for\s+""" + _NUM + r"""\b(?!\s*[-+*/=])
      |\b(?:need|needs|want)\s+(?:a\s+|an\s+|to\ have\s+)?""" + _NUM + r"""\s+(?:from|out\ of|using|with)\b""")
_rule("s_text", ("first", "step"),
      r"""\bfirst,?\s+(?:we|let's|let\ us|i)\s+(?:\w+\s+)?(?:need\ to\s+|must\s+|should\s+|will\s+|'ll\s+)?
      (?:find|compute|calculate|determine|show|prove|establish|solve|simplify|evaluate|get)\b
      |\bstep\ (?:1|one)\b|\bwe\ first\b|\bfirst\ we\b|\bfirst\ (?:find|compute|calculate|determine)\b""")

# backward chaining
_rule("bw_word", ("backward", "back from", "from the", "with the", "at the", "reverse", "undo", "inverse"),
      r"""\bwork(?:ing|ed|s)?\ (?:it\ )?backwards?\b|\bbackwards?\ from\b|\breason(?:ing)?\ backwards?\b
      |\bwork(?:ing)?\ back\ from\b|\bstart(?:ing)?\ (?:from|with|at)\ the\ (?:target|goal|end|answer|result)\b
      |\bfrom\ the\ target\b|\bgoing\ backwards?\b|\breverse\ (?:the\ )?(?:operations?|engineer\w*|direction)
      |\bundo(?:ing)?\ the\b|\binverse\ operations?\b""")
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

_INTENT = re.compile(r"\b(?:need|needs|must|should|want|wants|to|can|could|will|would|try|trying|aim|goal is|if|how)"
                     r"\s+(?:\w+\s+){0,2}$")

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


_TRIGGER = re.compile(_trie_regex(_TRIGGER_RULES))

# arithmetic: an expression with at least one operator, then "= result"
_OPERAND = r"[ \t]*\d+(?:\.\d+)?[ \t)]*"
_EQ = re.compile(r"([(\d][( \t]*\d*(?:\.\d+)?[ \t)]*(?:[-+*/][ \t(]*" + _OPERAND + r")+)=[ \t]*(-?\d+(?:\.\d+)?)")
_INT = re.compile(r"\d+(?:\.\d+)?")


# what may follow an occurrence of the target: "= 24" (a stated match, T = T) or "= 2 * 12" (a decomposition)
_SAME_AFTER = re.compile(r"[ \t]*==?[ \t]*(\d+(?:\.\d+)?)(?!\.?\d)(?!\s*[-+*/])")
_DECOMP_AFTER = re.compile(r"[ \t]*=([( \t]*" + _OPERAND + r"(?:[-+*/][ \t(]*" + _OPERAND + r")+)")


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


class _Scan:
    """A normalised text, its sentences and the candidate sentences of each rule."""

    def __init__(self, raw: str):
        self.text = text = _normalise(raw or "")
        self.starts = _sentence_starts(text)
        self.candidates: dict[str, set[int]] = {}
        self._equations: list | None = None
        self.target_at: list[int] = []   # where the target is written (countdown variant)
        candidates = self.candidates
        starts = self.starts
        for m in _TRIGGER.finditer(text):
            sentence = bisect_right(starts, m.start()) - 1
            for name in _TRIGGER_RULES[m.group()]:
                if name in candidates:
                    candidates[name].add(sentence)
                else:
                    candidates[name] = {sentence}

    def sentence(self, pos: int) -> int:
        return bisect_right(self.starts, pos) - 1

    def matches(self, name: str):
        """(sentence index, match) for every match of a rule, searched only in its candidate sentences."""
        pattern = _RULES[name][1]
        ends = self.starts[1:] + [len(self.text)]
        for i in sorted(self.candidates.get(name, ())):
            for m in pattern.finditer(self.text, self.starts[i], ends[i]):
                yield i, m

    def hits(self, *names: str) -> set[int]:
        """Candidate sentences in which any of the named rules matches."""
        ends = self.starts[1:] + [len(self.text)]
        out = set()
        for name in names:
            search = _RULES[name][1].search
            out.update(i for i in self.candidates.get(name, ()) if i not in out and search(self.text, self.starts[i], ends[i]))
        return out

    def numbers(self, name: str) -> list[tuple[int, float | None]]:
        """(sentence, captured number or None) for each match of a rule."""
        out = []
        for i, m in self.matches(name):
            token = next((g for g in m.groups() if g is not None), None)
            out.append((i, None if token is None else _value(token)))
        return out

    @property
    def equations(self) -> list[tuple[int, list[float], float, str]]:
        """(sentence, operands, result, compact text) of each 'a op b ... = r' in the text, computed once."""
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
                out.append((bisect_right(starts, at) - 1, operands, result, left + written))
            self._equations = out
        return self._equations


# ---------------------------------------------------------------- the judge
def _episodes(indices: set[int]) -> int:
    """Runs of consecutive sentence indices count once."""
    ordered = sorted(indices)
    return sum(1 for k, i in enumerate(ordered) if k == 0 or ordered[k - 1] != i - 1)


def _verification(scan: _Scan, target: float | None, goals: set[float] = frozenset()) -> int:
    """Checking sentences. A number compared with (`not 12`, `less than 12`) counts when it is the target or
    an intermediate value the trace set out to reach (`goals`); target None is the general-text variant."""
    check = scan.hits("v_check")
    found = check | scan.hits("v_other", "v_target_word")
    for i, m in scan.matches("v_target_pos"):
        if not _INTENT.search(scan.text, max(0, m.start() - 30), m.start()):
            found.add(i)
    if target is None:
        found |= scan.hits("v_text")
    else:
        found |= {i for i, v in scan.numbers("v_target_num") if v == target or v in goals}
        for at in scan.target_at:   # "24 = 24", but not the operand in "40 - 20 = 20"
            m = _SAME_AFTER.match(scan.text, at + len(str(target)))
            if m and _value(m.group(1)) == target and not _follows(scan.text, at, "+-*/("):
                found.add(scan.sentence(at))
    # "Let me verify: 3 * 8 = 24. Yes, that is the target." is one check, not two
    return sum(1 for i in found if not (i in check and i + 1 in found))


def _restarts(scan: _Scan, numbers: Sequence[int], target: float, skip: set[int]) -> set[int]:
    """Sentences whose equation starts over from inputs that the previous unfinished line already spent."""
    inputs: dict[float, int] = {}
    for n in numbers:
        inputs[n] = inputs.get(n, 0) + 1
    spent: dict[float, int] = {}
    results: set[float] = set()
    last_eq, last_result = None, None
    out = set()
    for sentence, operands, result, expr in scan.equations:
        if expr == last_eq or sentence in skip:   # re-computing inside a check is not a new attempt
            continue
        fresh = [v for v in operands if v not in results and v in inputs]
        if (len(fresh) == len(operands) and spent and last_result != target
                and any(fresh.count(v) > inputs[v] - spent.get(v, 0) for v in fresh)):
            out.add(sentence)
            spent, results = {}, set()
        for v in operands:
            if v in inputs and v not in results:
                spent[v] = spent.get(v, 0) + 1
        results.add(result)
        last_eq, last_result = expr, result
    return out


def _backward(scan: _Scan, numbers: Sequence[int], target: float) -> tuple[set[int], set[float]]:
    """Backward-chaining sentences and the values they derive from the target."""
    found = scan.hits("bw_word") | {i for i, v in scan.numbers("bw_need") if v is None or v == target}
    derived = set()
    inputs = set(numbers)
    if target not in inputs:
        for sentence, operands, result, _ in scan.equations:   # "24 / 2 = 12": an operation on the target
            if operands and operands[0] == target:
                found.add(sentence)
                derived.add(result)
    for at in scan.target_at:   # "24 = 2 * 12" with a part that is not an input
        m = _DECOMP_AFTER.match(scan.text, at + len(str(target)))
        if not m:
            continue
        if _follows(scan.text, at, "+-*/=("):
            continue
        if any(_value(t) not in inputs for t in _INT.findall(m.group(1))):
            found.add(scan.sentence(at))
    return found, derived


def count_behaviors(completion: str, numbers: Sequence[int], target: int) -> dict[str, int]:
    """Counts of the four behaviors in a Countdown completion (see the module docstring for the rules)."""
    scan = _Scan(completion)
    goal = int(target)
    scan.target_at = _occurrences(scan.text, goal)
    backward, derived = _backward(scan, numbers, goal)
    named = [(i, v) for i, v in scan.numbers("s_goal") if v != goal]
    subgoals = scan.hits("s_word") | {i for i, _ in named}
    return {
        "verification": _verification(scan, goal, derived | {v for _, v in named}),
        "backtracking": _episodes(scan.hits("b_mark") | _restarts(scan, numbers, goal, scan.hits("v_check"))),
        # a goal derived in (or right after) a backward step is part of that step
        "subgoal_setting": len(subgoals - backward - {i + 1 for i in backward}),
        "backward_chaining": len(backward),
    }


def count_text_behaviors(text: str) -> dict[str, int]:
    """The four counts for general text (e.g. a math web page) plus has_problem / has_solution as 0/1."""
    scan = _Scan(text)
    backward = scan.hits("bw_word", "bw_text")
    subgoals = scan.hits("s_word", "s_text")
    counts = {
        "verification": _verification(scan, None),
        "backtracking": _episodes(scan.hits("b_mark", "b_text")),
        "subgoal_setting": len(subgoals - backward - {i + 1 for i in backward}),
        "backward_chaining": len(backward),
        "has_problem": int(bool(scan.hits("t_problem"))),
        "has_solution": int(bool(scan.hits("t_solution"))),
    }
    assert all(b in counts for b in BEHAVIORS)
    return counts
