"""Continued-pretraining curation: `python -m priming.curate CORPUS... --budget-tokens N --out DIR`.

The paper's second priming route: continue pretraining on math text that is rich in the four behaviors, and
compare with text that has almost none, at the same token budget. This reads any local corpus (JSONL /
JSON / parquet / CSV rows with a text column, or .txt/.md files, one document per file, or folders of
those), labels every document with the general-text behavior judge (rules offline, or the LLM judge), keeps
(as the paper did) only documents that pose a problem and give its solution (the judge's has_problem and
has_solution: a rule check, or the LLM's answer with --judge llm), then writes two disjoint sets of exactly
the same token count:

    OUT/rich.{jsonl,parquet}     documents with the most behaviors per token, best first
    OUT/minimal.{jsonl,parquet}  documents with no behaviors (then the fewest)
    OUT/labels.jsonl             every document's counts + has_problem/has_solution (reused on re-runs)
    OUT/manifest.json            budget, sizes, and the behavior frequency of the corpus and of each set
                                 (the corpus behavior-frequency figure: analysis.figures --corpus-manifests)

Rows have a `text` column (what `python -m rl.sft --text` trains on). --reformat-qa rewrites each chosen
document into question -> thinking -> answer, as the paper did with an LLM: through rl.client.ChatClient with
--rewrite-model (the rich set keeps its checks, mistakes and other behaviors; the minimal set becomes plain
forward steps), or offline by a rule-based split of the document into question and worked solution. Such
rows also have `prompt` (the question, ending in <think>) and `completion` (the thinking and the answer), so
`rl.sft --text` puts the loss on the completion only.
"""
from __future__ import annotations

import hashlib
import math
import random
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from behaviors.judges import Judge, JudgeOptions, label_rows
from countdown.cli import CommandConfig, Options, option, positional, run_cli
from countdown.io import FORMATS, InputError, read_numbered, read_rows, write_json, write_rows
from countdown.prompts import THINK_OPEN, completion_text
from countdown.records import BEHAVIORS

TEXT_SUFFIXES = (".txt", ".md", ".tex")
FLAGS = ("has_problem", "has_solution")
LABELS = "labels.jsonl"


@dataclass
class Doc:
    id: str
    text: str
    counts: dict[str, int] | None = None
    tokens: int = 0
    prompt: str | None = None    # a rewritten question/answer document: text = prompt + completion
    rewrite: str | None = None   # who rewrote it: llm or rules

    @property
    def key(self) -> str:
        return hashlib.sha1(self.text.encode("utf-8")).hexdigest()

    @property
    def behaviors(self) -> int:
        return sum(self.counts.get(b) or 0 for b in BEHAVIORS) if self.counts else 0

    @property
    def has_problem_and_solution(self) -> bool:
        return bool(self.counts and self.counts.get("has_problem") and self.counts.get("has_solution"))


# ---------------------------------------------------------------- reading a corpus
def read_corpus(paths: Sequence[str], text_field: str = "text") -> list[Doc]:
    """Documents from files and folders, in a stable order; empty documents are skipped."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and _readable(p))
            if not found:
                raise InputError(f"{path}: no .jsonl/.json/.parquet/.csv/.txt/.md files in this folder")
            files.extend(found)
        elif path.is_file():
            if not _readable(path):
                raise InputError(f"{path}: unsupported corpus file (use .jsonl/.json/.parquet/.csv/.txt/.md)")
            files.append(path)
        else:
            raise InputError(f"{path}: no such file or folder")
    docs: list[Doc] = []
    for path in files:
        if path.suffix.lower() in TEXT_SUFFIXES:
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(f"{path}: not UTF-8 text ({exc.reason})") from None
            if text.strip():
                docs.append(Doc(str(path), text))
            continue
        for lineno, row in read_numbered(path):
            if text_field not in row:
                raise InputError(f"{path}:{lineno}: no {text_field!r} column (choose one with --text-field)")
            text = row[text_field]
            if text is None:
                continue
            if not isinstance(text, str):
                raise InputError(f"{path}:{lineno}: {text_field!r} is {type(text).__name__}, not text")
            if text.strip():
                docs.append(Doc(str(row.get("id", f"{path}:{lineno}")), text))
    if not docs:
        raise InputError(f"{', '.join(paths)}: the corpus has no non-empty documents")
    return docs


def _readable(path: Path) -> bool:
    suffix = path.suffix.lower()
    return suffix in TEXT_SUFFIXES or suffix.lstrip(".") in FORMATS


# ---------------------------------------------------------------- counting tokens
class TokenCounter:
    """Token counting and exact truncation, by a tokenizer or (default) by whitespace-separated words."""

    def __init__(self, tokenizer: Any = None):
        self.tokenizer = tokenizer
        self.unit = "tokens" if tokenizer is not None else "words"

    def count(self, text: str) -> int:
        if self.tokenizer is None:
            return len(text.split())
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def truncate(self, text: str, n: int) -> str:
        """A prefix of text that counts exactly n units (or the closest below, for odd tokenizers)."""
        if self.tokenizer is None:  # cut after the n-th word, keeping the text's own spacing
            words = list(re.finditer(r"\S+", text))
            return text if n >= len(words) else text[:words[n - 1].end()] if n > 0 else ""
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        best = ""
        for k in range(n, max(0, n - 8), -1):
            cut = self.tokenizer.decode(ids[:k])
            got = self.count(cut)
            if got == n:
                return cut
            if got < n and not best:
                best = cut
        return best


# ---------------------------------------------------------------- judging
def judge_counts(docs: Sequence[Doc], judge: Judge) -> list[dict[str, int] | None]:
    """The general-text variant's counts and has_problem/has_solution per document; None where any failed."""
    judged = label_rows([{"text": d.text, "id": d.id} for d in docs], judge, text_field="text", variant="text",
                        progress=sys.stderr.isatty(), source="corpus")
    out: list[dict[str, int] | None] = []
    for j in judged:
        counts = {**j.label.counts(), **{k: j.extras.get(k) for k in FLAGS}}
        out.append(None if any(v is None for v in counts.values()) else counts)
    return out


def label_docs(docs: list[Doc], judge: str, labels_path: Path,
               run_judge: Callable[[list[Doc]], list[dict[str, int] | None]]) -> int:
    """Fill doc.counts, reusing labels.jsonl from an earlier run; returns how many were judged now."""
    known: dict[str, dict[str, int]] = {}
    if labels_path.is_file():
        for row in read_rows(labels_path):
            if row.get("judge") == judge and row.get("counts") is not None:
                known[row["key"]] = row["counts"]
    todo = [d for d in docs if d.key not in known]
    if todo:
        for doc, counts in zip(todo, run_judge(todo)):
            if counts is not None:
                known[doc.key] = counts
    for doc in docs:
        doc.counts = known.get(doc.key)
    rows = [{"key": d.key, "id": d.id, "judge": judge, "counts": d.counts} for d in docs]
    write_rows(rows, labels_path)
    return len(todo)


# ---------------------------------------------------------------- question -> thinking -> answer
_ANSWER_MARK = re.compile(r"(?im)^\s*(?:\*\*)?(?:solution|answer|proof|sol)\b\.?(?:\*\*)?\s*[:.]?\s*"
                          r"|\b(?:solution|answer|proof)\s*:\s*")
_STATED = re.compile(r"(?i)\b(?:the (?:final )?answer is|answer\s*:)\s*([^\n]+?)\s*(?:\.(?:\s|$)|\n|$)")
_EQUATION = re.compile(r"([A-Za-z]\w*\s*=\s*-?[\w./^()+\-*\\{} ]+?)\s*(?:[,;]|\.(?:\s|$)|\n|$)")
REWRITE_VERSION = "curate-qa-v1"   # bump when the rewrite prompts or the rule rewrite change


def split_qa(text: str) -> tuple[str, str] | None:
    """(question, solution) of a document that poses a problem and then solves it, else None.

    The split is at the first "Solution:"/"Answer:"/"Proof:" (or a line opening with one of those words),
    otherwise after the first paragraph, or after the first question mark of a one-paragraph document."""
    text = text.strip()
    mark = _ANSWER_MARK.search(text)
    if mark and mark.start() > 0:
        question, answer = text[:mark.start()], text[mark.end():]
    else:
        paras = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
        if len(paras) < 2:
            sentences = re.split(r"(?<=\?)\s+", text, maxsplit=1)
            if len(sentences) < 2:
                return None
            question, answer = sentences
        else:
            question, answer = paras[0], "\n\n".join(paras[1:])
    question = re.sub(r"(?i)^\s*(?:problem|question|exercise)\s*\d*\s*[:.]\s*", "", question.strip())
    answer = answer.strip()
    return (question, answer) if question and answer else None


def rule_rewrite(text: str) -> tuple[str, str, str] | None:
    """(question, thinking, answer) by rule: the question and the worked solution as the document has them
    (mistakes and behaviors untouched), and as the answer the last stated answer ("the answer is ..."), else
    the last equation "x = ..." of the solution, else the last clause of its last sentence that states a
    result ("... = 15", "... is 15"), else its last sentence."""
    parts = split_qa(text)
    if parts is None:
        return None
    question, solution = parts
    stated, equations = _STATED.findall(solution), _EQUATION.findall(solution)
    sentences = [x for x in re.split(r"(?<=[.!?])\s+", solution) if x.strip()]
    results = [x.split(", ")[-1] for x in sentences if re.search(r"=|\bis\b", x)]
    answer = (stated or equations or results or sentences or [solution])[-1].strip().rstrip(".")
    return question, solution, answer


_REWRITE_TASK = ("Rewrite the math text below as one worked problem: the question it poses, the reasoning that "
                 "solves it, and the final answer. Use only what the text contains; do not solve anything it does "
                 "not solve. Reply in exactly this form and nothing else:\n<question>the question</question>\n"
                 "<thinking>the reasoning</thinking>\n<result>the final answer only</result>")
REWRITE_STYLES = {   # set name -> how its reasoning is to be written (the paper's two rewrites)
    "rich": "Keep the reasoning as the text works it out, including every check of a result, every mistake and "
            "its correction, every abandoned approach, every intermediate goal it sets and every step it works "
            "backwards from the goal, written as someone thinking aloud.",
    "minimal": "Write the reasoning as plain forward steps that lead straight to the answer: no checking of "
               "results, no mistakes or corrections, no abandoned approaches, no stated intermediate goals and no "
               "working backwards from the goal.",
}


def rewrite_messages(text: str, style: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": f"{_REWRITE_TASK}\n{REWRITE_STYLES[style]}"},
            {"role": "user", "content": text}]


def parse_rewrite(reply: str | None) -> tuple[str, str, str] | None:
    """(question, thinking, answer) from a <question>/<thinking>/<result> reply (the last of each), else None."""
    found = [re.findall(rf"<{tag}>(.*?)</{tag}>", reply or "", re.S) for tag in ("question", "thinking", "result")]
    parts = tuple(f[-1].strip() if f else "" for f in found)
    return parts if all(parts) else None


def qa_doc(doc: Doc, parts: tuple[str, str, str], rewrite: str, counter: "TokenCounter") -> Doc:
    """The document in question -> thinking -> answer form: prompt ends in <think>, the completion continues
    it in the completion format of countdown.prompts (thinking, </think>, <answer> ... </answer>)."""
    question, thinking, answer = parts
    prompt = f"Question: {question}\n{THINK_OPEN}"
    text = prompt + completion_text(thinking, answer)
    return Doc(doc.id, text, doc.counts, counter.count(text), prompt, rewrite)


@dataclass(kw_only=True)
class RewriteOptions(Options):
    """The writer model for --reformat-qa (without --rewrite-model, the offline rule-based rewrite)."""

    rewrite_model: str | None = option(None, "model that rewrites documents into question -> thinking -> answer "
                                       "(default: the rule-based rewrite, offline)", group="--reformat-qa writer")
    rewrite_base_url: str = option("https://api.openai.com/v1", "its OpenAI-compatible endpoint",
                                   group="--reformat-qa writer")
    rewrite_api_key_env: str = option("OPENAI_API_KEY", "environment variable holding its API key",
                                      group="--reformat-qa writer")
    rewrite_temperature: float = option(0.0, "its sampling temperature", group="--reformat-qa writer")
    rewrite_max_tokens: int = option(2048, "token limit per rewritten document", group="--reformat-qa writer")
    rewrite_concurrency: int = option(8, "parallel requests", group="--reformat-qa writer")
    rewrite_cache: str | None = option(None, "SQLite cache of rewrites (default OUT/.rewrite_cache/rewrite.sqlite)",
                                       group="--reformat-qa writer")

    def validate(self) -> None:
        if self.rewrite_concurrency < 1 or self.rewrite_max_tokens < 1 or \
                not (self.rewrite_temperature >= 0 and math.isfinite(self.rewrite_temperature)):
            raise InputError("--rewrite-concurrency and --rewrite-max-tokens must be >= 1, --rewrite-temperature "
                             f"a finite number >= 0 (got {self.rewrite_concurrency}, {self.rewrite_max_tokens}, "
                             f"{self.rewrite_temperature})")
        super().validate()


class Rewriter:
    """Rewrites documents into question -> thinking -> answer: by the LLM (each reply cached), falling back to
    the rule rewrite for a document whose request failed or whose reply lacks the three parts; by rule alone
    without a model. `counts` says how many each way, and how many could not be rewritten (dropped)."""

    def __init__(self, options: RewriteOptions, counter: "TokenCounter", default_cache: str | Path, seed: int = 0):
        self.options, self.counter = options, counter
        self.client = None
        if options.rewrite_model:
            from rl.client import ChatClient

            self.client = ChatClient(model=options.rewrite_model, base_url=options.rewrite_base_url,
                                     api_key_env=options.rewrite_api_key_env, concurrency=options.rewrite_concurrency,
                                     cache=str(options.rewrite_cache or default_cache), seed=seed,
                                     temperature=options.rewrite_temperature, max_tokens=options.rewrite_max_tokens)
            self.client.check_server()   # a missing key or a server that is down fails here, before any judging
        self.counts = {"llm": 0, "rules": 0, "dropped": 0}

    @property
    def name(self) -> str:
        return f"llm:{self.options.rewrite_model}" if self.client else "rules"

    def __call__(self, docs: Sequence[Doc], style: str) -> list[Doc]:
        """The rewritten documents, in order; those that cannot be rewritten are left out."""
        from rl.cache import cache_key, text_hash

        parsed: list[tuple[str, str, str] | None] = [None] * len(docs)
        if self.client is not None:
            o = self.options
            jobs = [(cache_key(REWRITE_VERSION, o.rewrite_model, style, f"t{o.rewrite_temperature:g}",
                               f"max{o.rewrite_max_tokens}", text_hash(d.text)), rewrite_messages(d.text, style))
                    for d in docs]
            replies = self.client.run(jobs, progress=sys.stderr.isatty(), desc=f"rewrite {style}")
            parsed = [parse_rewrite(r) if isinstance(r, str) else None for r in replies]
        out = []
        for doc, parts in zip(docs, parsed):
            how = "llm" if parts else "rules"
            parts = parts or rule_rewrite(doc.text)
            if parts is None:
                self.counts["dropped"] += 1
                continue
            self.counts[how] += 1
            out.append(qa_doc(doc, parts, how, self.counter))
        return out


def rewrite_pool(pool: Sequence[Doc], budget: int, rewrite: Callable[[Sequence[Doc], str], list[Doc]], style: str,
                 batch: int = 64) -> list[Doc]:
    """Rewrite a pool in its order, a batch at a time, until the rewritten documents hold `budget` units
    (so an LLM rewrites only about what the set will use) or the pool is used up."""
    out: list[Doc] = []
    for start in range(0, len(pool), batch):
        if sum(d.tokens for d in out) >= budget:
            break
        out.extend(rewrite(pool[start:start + batch], style))
    return out


# ---------------------------------------------------------------- selection
def pools(docs: Sequence[Doc], rng: random.Random, require_problem_solution: bool = True
          ) -> tuple[list[Doc], list[Doc]]:
    """(rich pool, minimal pool) of the judged documents (with a problem and its solution, if required).

    Rich: documents with behaviors, by behaviors per token (densest first). Minimal: documents with none, in a
    seeded random order (so the minimal set is not biased to any length)."""
    judged = [d for d in docs if d.counts is not None and (d.has_problem_and_solution or not require_problem_solution)]
    rich = sorted((d for d in judged if d.behaviors > 0), key=lambda d: (-d.behaviors / max(d.tokens, 1), d.id))
    minimal = [d for d in judged if d.behaviors == 0]
    rng.shuffle(minimal)
    return rich, minimal


def _cut(doc: Doc, room: int, counter: TokenCounter) -> Doc | None:
    """The document cut to `room` units; a question/answer document only inside its completion (None if the
    question alone does not fit)."""
    cut = counter.truncate(doc.text, room)
    if doc.prompt is not None and not (cut.startswith(doc.prompt) and cut[len(doc.prompt):].strip()):
        return None
    return Doc(doc.id, cut, doc.counts, counter.count(cut), doc.prompt, doc.rewrite)


def fill(pool: Sequence[Doc], budget: int, counter: TokenCounter) -> list[Doc]:
    """Documents of the pool in order up to `budget` units: whole while they fit, then the next one that can
    be cut to the remaining room, cut."""
    chosen, used = [], 0
    for doc in pool:
        if used >= budget:
            break
        room = budget - used
        if doc.tokens > room:
            doc = _cut(doc, room, counter)
            if doc is None:
                continue
        chosen.append(doc)
        used += doc.tokens
    return chosen


def select(rich_pool: Sequence[Doc], minimal_pool: Sequence[Doc], budget: int, counter: TokenCounter
           ) -> tuple[list[Doc], list[Doc], int]:
    """(rich, minimal, budget used): disjoint sets of exactly the same size in counter units. The budget
    shrinks to what both sides can fill, and again while the two come out unequal (a question that does not
    fit the last bit of room); the last document of each set is cut to hit the budget exactly."""
    budget = min(budget, sum(d.tokens for d in rich_pool), sum(d.tokens for d in minimal_pool))
    while True:
        rich, minimal = fill(rich_pool, budget, counter), fill(minimal_pool, budget, counter)
        sizes = (sum(d.tokens for d in rich), sum(d.tokens for d in minimal))
        if sizes[0] == sizes[1]:
            return rich, minimal, sizes[0]
        budget = min(sizes)


def frequency(docs: Sequence[Doc]) -> dict[str, Any]:
    """Share of documents showing each behavior, mean count per document and per 1,000 units."""
    judged = [d for d in docs if d.counts is not None]
    n = max(len(judged), 1)
    units = max(sum(d.tokens for d in judged), 1)
    out: dict[str, Any] = {"documents": len(judged)}
    for name in BEHAVIORS + FLAGS:
        total = sum(d.counts.get(name) or 0 for d in judged)
        out[name] = {"share": round(sum(1 for d in judged if (d.counts.get(name) or 0) > 0) / n, 4),
                     "mean": round(total / n, 4)}
        if name in BEHAVIORS:
            out[name]["per_1k"] = round(1000 * total / units, 3)
    out["any_behavior_share"] = round(sum(1 for d in judged if d.behaviors > 0) / n, 4)
    return out


# ---------------------------------------------------------------- CLI
@dataclass(kw_only=True)
class CurateConfig(RewriteOptions, JudgeOptions, CommandConfig):
    """Split a local text corpus into a behavior-rich and a behavior-minimal continued-pretraining set of equal
    token budget, judged by the general-text behavior judge, from the documents that pose a problem and solve
    it; optionally rewritten into question -> thinking -> answer."""

    epilog = """examples:
  python -m priming.curate corpus.jsonl --budget-tokens 1000000 --out runs/cpt
  python -m priming.curate docs/ --judge rules --tokenizer runs/tiny-model --budget-tokens 50000 --reformat-qa \\
      --out runs/cpt                                       # rule-based rewrite, offline
  python -m priming.curate owm.parquet --judge llm --judge-base-url http://localhost:8000/v1 \\
      --judge-model judge --reformat-qa --rewrite-model judge --rewrite-base-url http://localhost:8000/v1 \\
      --budget-tokens 8300000 --out runs/cpt-llm           # the paper's route: LLM judge and LLM rewrite
then: python -m rl.sft --text --data runs/cpt/rich.jsonl ...   (rewritten rows: loss on the completion only)
The judge labels every document (--judge-sample does not apply)."""

    corpus: list[str] = positional("corpus files or folders (.jsonl/.json/.parquet/.csv/.txt/.md)")
    budget_tokens: int = option(help="size of each set")
    out: str = option(help="output folder", output="dir")
    text_field: str = option("text", "text column of table files")
    tokenizer: str | None = option(None, "local tokenizer folder to count tokens (default: whitespace words)")
    require_problem_solution: bool = option(True, "use only documents that pose a problem and give its solution "
                                            "(the judge's has_problem and has_solution), as the paper did")
    reformat_qa: bool = option(False, "rewrite the chosen documents into question -> thinking -> answer (with "
                               "--rewrite-model through that LLM, else by rule); rows get prompt/completion")
    seed: int = option(0, "order of the minimal set")

    def validate(self) -> None:
        if self.budget_tokens < 1:
            raise InputError(f"--budget-tokens must be >= 1, got {self.budget_tokens}")
        super().validate()


def _row(doc: Doc) -> dict[str, Any]:
    row = {"text": doc.text, "id": doc.id, "tokens": doc.tokens,
           **{b: (doc.counts or {}).get(b) for b in BEHAVIORS + FLAGS}}
    if doc.prompt is not None:
        row.update(prompt=doc.prompt, completion=doc.text[len(doc.prompt):], rewrite=doc.rewrite)
    return row


def main(argv: list[str] | None = None) -> int:
    config = CurateConfig.parse(argv)
    out = Path(config.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder")
    docs = read_corpus(config.corpus, config.text_field)
    tokenizer = None
    if config.tokenizer:
        from rl.models import load_tokenizer

        tokenizer = load_tokenizer(config.tokenizer)
    counter = TokenCounter(tokenizer)
    judge = config.make_judge(config.seed, default_cache=out / ".judge_cache" / "judge.sqlite")
    rewriter = Rewriter(config, counter, out / ".rewrite_cache" / "rewrite.sqlite", config.seed) \
        if config.reformat_qa else None
    out.mkdir(parents=True, exist_ok=True)
    judged_now = label_docs(docs, config.judge, out / LABELS, lambda todo: judge_counts(todo, judge))
    failed = sum(1 for d in docs if d.counts is None)
    config.check_failures(failed, len(docs), "a document's judgment failed (its counts are null in labels.jsonl)")
    for doc in docs:
        doc.tokens = counter.count(doc.text)

    rich_pool, minimal_pool = pools(docs, random.Random(config.seed), config.require_problem_solution)
    if rewriter is not None:   # rewrite (about) what each set will use, then fill both from the rewritten text
        rich_pool = rewrite_pool(rich_pool, config.budget_tokens, rewriter, "rich")
        minimal_pool = rewrite_pool(minimal_pool, config.budget_tokens, rewriter, "minimal")
    rich, minimal, budget = select(rich_pool, minimal_pool, config.budget_tokens, counter)
    if budget == 0:
        eligible = [d for d in docs if d.counts is not None
                    and (d.has_problem_and_solution or not config.require_problem_solution)]
        which = (" that pose a problem and give its solution (see --no-require-problem-solution)"
                 if config.require_problem_solution else "")
        raise InputError(f"{', '.join(config.corpus)}: needs documents both with and without behaviors{which} "
                         f"({sum(d.behaviors > 0 for d in eligible)} with, "
                         f"{sum(d.behaviors == 0 for d in eligible)} without, {failed} not judged)")
    if budget < config.budget_tokens:
        print(f"warning: the corpus fills only {budget} {counter.unit} per set (asked {config.budget_tokens})",
              file=sys.stderr)
    sets = {"rich": rich, "minimal": minimal}
    manifest: dict[str, Any] = {
        "corpus": list(config.corpus), "judge": config.judge, "unit": counter.unit,
        "tokenizer": config.tokenizer, "budget_requested": config.budget_tokens, "budget": budget,
        "require_problem_solution": config.require_problem_solution,
        "reformat_qa": config.reformat_qa, "seed": config.seed,
        "documents": len(docs), "judged_now": judged_now, "judge_failed": failed,
        "with_problem_and_solution": sum(d.has_problem_and_solution for d in docs),
        "corpus_frequency": frequency(docs), "sets": {},
    }
    if rewriter is not None:
        manifest["rewrite"] = {"writer": rewriter.name, "version": REWRITE_VERSION, **rewriter.counts}
    for name, chosen in sets.items():
        rows = [_row(d) for d in chosen]
        write_rows(rows, out / f"{name}.parquet")
        write_rows(rows, out / f"{name}.jsonl")
        manifest["sets"][name] = {"documents": len(chosen), "size": sum(d.tokens for d in chosen),
                                  "frequency": frequency(chosen), "files": [f"{name}.parquet", f"{name}.jsonl"]}
    write_json(manifest, out / "manifest.json")
    for name in sets:
        info = manifest["sets"][name]
        per_1k = sum(info["frequency"][b]["per_1k"] for b in BEHAVIORS)
        print(f"{name}: {info['documents']} documents, {info['size']} {counter.unit}, "
              f"{per_1k:.2f} behaviors per 1k {counter.unit} -> {out / (name + '.parquet')}")
    if rewriter is not None:
        print(f"rewritten by {rewriter.name}: " + ", ".join(f"{k} {v}" for k, v in rewriter.counts.items()))
    return 0


if __name__ == "__main__":
    run_cli(main)
