"""Continued-pretraining curation: `python -m priming.curate CORPUS... --budget-tokens N --out DIR`.

The paper's second priming route: continue pretraining on math text that is rich in the four behaviors, and
compare with text that has almost none, at the same token budget. This reads any local corpus (JSONL /
JSON / parquet / CSV rows with a text column, or .txt/.md files, one document per file, or folders of
those), labels every document with the general-text behavior judge (rules offline, or the LLM judge), then
writes two disjoint sets of exactly the same token count:

    OUT/rich.{jsonl,parquet}     documents with the most behaviors per token, best first
    OUT/minimal.{jsonl,parquet}  documents with no behaviors (then the fewest)
    OUT/labels.jsonl             every document's counts + has_problem/has_solution (reused on re-runs)
    OUT/manifest.json            budget, sizes, and the behavior frequency of the corpus and of each set

Rows have a `text` column (what `python -m rl.sft --text` trains on). --reformat-qa rewrites documents that
pose a problem and give its solution as "Question: ...\\nAnswer: ..." text.
"""
from __future__ import annotations

import hashlib
import random
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from behaviors.judges import Judge, JudgeOptions, label_rows
from countdown.cli import CommandConfig, option, positional, run_cli
from countdown.io import FORMATS, InputError, read_numbered, read_rows, write_json, write_rows
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

    @property
    def key(self) -> str:
        return hashlib.sha1(self.text.encode("utf-8")).hexdigest()

    @property
    def behaviors(self) -> int:
        return sum(self.counts.get(b) or 0 for b in BEHAVIORS) if self.counts else 0


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


# ---------------------------------------------------------------- question/answer reformatting
_ANSWER_MARK = re.compile(r"(?im)^\s*(?:\*\*)?(?:solution|answer|proof|sol)\b\.?(?:\*\*)?\s*[:.]?\s*"
                          r"|\b(?:solution|answer|proof)\s*:\s*")


def reformat_qa(text: str) -> str | None:
    """'Question: ...\\nAnswer: ...' for a document that poses a problem and then solves it, else None.

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
    if not question or not answer:
        return None
    return f"Question: {question}\nAnswer: {answer}"


# ---------------------------------------------------------------- selection
def select(docs: list[Doc], budget: int, counter: TokenCounter, rng: random.Random
           ) -> tuple[list[Doc], list[Doc], int]:
    """(rich, minimal, budget used): disjoint sets of exactly the same size in counter units.

    Rich: documents with behaviors, by behaviors per token (densest first). Minimal: documents with none,
    in a seeded random order (so the minimal set is not biased to any length). The budget shrinks to what
    both sides can fill; the last document of each set is cut to hit the budget exactly."""
    judged = [d for d in docs if d.counts is not None]
    rich_pool = sorted((d for d in judged if d.behaviors > 0),
                       key=lambda d: (-d.behaviors / max(d.tokens, 1), d.id))
    minimal_pool = [d for d in judged if d.behaviors == 0]
    rng.shuffle(minimal_pool)
    budget = min(budget, sum(d.tokens for d in rich_pool), sum(d.tokens for d in minimal_pool))

    def fill(pool: list[Doc]) -> list[Doc]:
        chosen, used = [], 0
        for doc in pool:
            if used >= budget:
                break
            room = budget - used
            if doc.tokens > room:
                cut = counter.truncate(doc.text, room)
                doc = Doc(doc.id, cut, doc.counts, counter.count(cut))
            chosen.append(doc)
            used += doc.tokens
        return chosen

    return fill(rich_pool), fill(minimal_pool), budget


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
class CurateConfig(JudgeOptions, CommandConfig):
    """Split a local text corpus into a behavior-rich and a behavior-minimal continued-pretraining set of equal
    token budget, judged by the general-text behavior judge."""

    epilog = """examples:
  python -m priming.curate corpus.jsonl --budget-tokens 1000000 --out runs/cpt
  python -m priming.curate docs/ --judge rules --tokenizer runs/tiny-model --budget-tokens 50000 --reformat-qa \\
      --out runs/cpt
  python -m priming.curate owm.parquet --judge llm --judge-base-url http://localhost:8000/v1 \\
      --judge-model judge --budget-tokens 8300000 --out runs/cpt-llm
then: python -m rl.sft --text --data runs/cpt/rich.jsonl ..."""

    corpus: list[str] = positional("corpus files or folders (.jsonl/.json/.parquet/.csv/.txt/.md)")
    budget_tokens: int = option(help="size of each set")
    out: str = option(help="output folder", output="dir")
    text_field: str = option("text", "text column of table files")
    tokenizer: str | None = option(None, "local tokenizer folder to count tokens (default: whitespace words)")
    reformat_qa: bool = option(False, "rewrite documents with a problem and a solution as Question:/Answer: text")
    seed: int = option(0, "order of the minimal set")

    def validate(self) -> None:
        if self.budget_tokens < 1:
            raise InputError(f"--budget-tokens must be >= 1, got {self.budget_tokens}")
        super().validate()


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
    out.mkdir(parents=True, exist_ok=True)
    judged_now = label_docs(docs, config.judge, out / LABELS, lambda todo: judge_counts(todo, judge))
    failed = sum(1 for d in docs if d.counts is None)
    config.check_failures(failed, len(docs), "a document's judgment failed (its counts are null in labels.jsonl)")
    if config.reformat_qa:
        for doc in docs:
            if doc.counts and doc.counts.get("has_problem") and doc.counts.get("has_solution"):
                doc.text = reformat_qa(doc.text) or doc.text
    for doc in docs:
        doc.tokens = counter.count(doc.text)

    rich, minimal, budget = select(docs, config.budget_tokens, counter, random.Random(config.seed))
    if budget == 0:
        judged = [d for d in docs if d.counts is not None]
        raise InputError(f"{', '.join(config.corpus)}: needs documents both with and without behaviors "
                         f"({sum(d.behaviors > 0 for d in judged)} with, {sum(d.behaviors == 0 for d in judged)} "
                         f"without, {failed} not judged)")
    if budget < config.budget_tokens:
        print(f"warning: the corpus fills only {budget} {counter.unit} per set (asked {config.budget_tokens})",
              file=sys.stderr)
    sets = {"rich": rich, "minimal": minimal}
    manifest: dict[str, Any] = {
        "corpus": list(config.corpus), "judge": config.judge, "unit": counter.unit,
        "tokenizer": config.tokenizer, "budget_requested": config.budget_tokens, "budget": budget,
        "reformat_qa": config.reformat_qa, "seed": config.seed,
        "documents": len(docs), "judged_now": judged_now, "judge_failed": failed,
        "corpus_frequency": frequency(docs), "sets": {},
    }
    for name, chosen in sets.items():
        rows = [{"text": d.text, "id": d.id, "tokens": d.tokens, **{b: (d.counts or {}).get(b) for b in BEHAVIORS + FLAGS}}
                for d in chosen]
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
    return 0


if __name__ == "__main__":
    run_cli(main)
