"""Mutation testing of the core modules with mutmut: how many planted bugs do the fast tests catch?

For each module, mutmut (the `mutation` extra) writes every small variant of its functions it can make (an
operator swapped, a comparison loosened, a constant moved by one, an argument dropped, a string changed) and
runs the tests that exercise the mutated function against each one. A mutant is killed when a test fails
(or it runs past mutmut's timeout); the kill rate is killed / all mutants, and every survivor is printed as
the line it changes. docs/testing.md lists the survivors of the last run, equivalent or left, and why.

Each module runs in its own copy of the working tree (tracked and untracked, not ignored, files) under a
temporary folder, so the checkout is never touched. Two things are done to that copy before mutmut sees it:
- a [tool.mutmut] section in its pyproject.toml: the module to mutate and the test files that matter for it
  (seconds per mutant, not the whole suite);
- top-level functions under `@lru_cache(...)` or `@contextmanager` are rewritten as `f = decorator(f)` after
  the definition (the same code: the decorator syntax is sugar for that), because mutmut leaves decorated
  functions alone and these are the solver's tables and the atomic writer.
Mutants run in processes forked from mutmut's own, which has run the tests once to see which test calls which
function; for the solver they are forked from mutmut's fork server instead, which has imported the tests but
run none, so no memoized table of the unmutated code can hide a mutant.

Not part of CI: a module takes minutes on 2 cores (solver and rules the longest).

    .venv/bin/pip install -e '.[mutation]'
    .venv/bin/python benchmarks/mutation.py                  # every module
    .venv/bin/python benchmarks/mutation.py reward parse     # some modules
    .venv/bin/python benchmarks/mutation.py --keep runs/mut  # keep the work folders; later, without running:
    .venv/bin/python benchmarks/mutation.py --report runs/mut
"""
from __future__ import annotations

import argparse
import ast
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Target:
    path: str                 # the module mutated
    tests: tuple[str, ...]    # the test files run against its mutants
    goal: float               # the kill rate issue 15 asks for
    isolation: str = "fork"   # mutmut's process_isolation: "forkserver" where memoized results would leak


MODULES = {
    "reward": Target("countdown/reward.py", ("tests/test_reward.py", "tests/test_reward_numbers.py",
                                            "tests/test_reward_grammar.py"), 0.90),
    "solver": Target("countdown/solver.py", ("tests/test_solver_units.py", "tests/test_solver.py"), 0.80,
                     isolation="forkserver"),
    "parse": Target("behaviors/parse.py", ("tests/test_behaviors_parse.py",), 0.90),
    "rules": Target("behaviors/rules.py", ("tests/test_behaviors_rules.py", "tests/test_behaviors_rules_cases.py",
                                          "tests/test_behaviors_rules_exact.py", "tests/test_behaviors_gold.py"), 0.80),
    "io": Target("countdown/io.py", ("tests/test_records_io.py", "tests/test_atomic_writes.py", "tests/test_io.py"),
                 0.90),
}
PACKAGES = ("countdown/", "behaviors/")        # copied into mutmut's work folder (the tests import both)
DECORATORS = re.compile(r"(?:functools\.)?lru_cache\b.*|(?:contextlib\.)?contextmanager")
# a mutant that hangs the tests past mutmut's timeout, or kills their process (a signal: "segfault" in mutmut's
# words, e.g. a loop that eats all memory), is caught too: the tests did not pass
KILLED = {"killed", "timeout", "segfault"}


def copy_tree(dest: Path) -> None:
    """The working tree's files (tracked, and untracked but not ignored) into dest."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


def undecorate(source: str) -> str:
    """`@lru_cache(...) def f` -> `def f ... f = lru_cache(...)(f)`, for top-level functions (same semantics)."""
    lines = source.splitlines(keepends=True)
    edits = []   # (first decorator line, last decorator line, end of function, rebinding), 1-based
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.decorator_list:
            texts = [ast.get_source_segment(source, d) for d in node.decorator_list]
            if all(DECORATORS.fullmatch(t) for t in texts):
                wrapped = node.name
                for text in reversed(texts):   # the innermost decorator applies first
                    wrapped = f"{text}({wrapped})"
                first = node.decorator_list[0].lineno
                edits.append((first, node.lineno - 1, node.end_lineno, f"{node.name} = {wrapped}\n"))
    for first, last, end, rebinding in reversed(edits):
        lines[end:end] = [rebinding]
        del lines[first - 1:last]
    return "".join(lines)


def prepare(work: Path, target: Target) -> None:
    missing = [t for t in target.tests if not (ROOT / t).is_file()]
    if missing:
        raise SystemExit(f"error: {missing[0]}: no such test file (benchmarks/mutation.py MODULES)")
    copy_tree(work)
    module = work / target.path
    module.write_text(undecorate(module.read_text(encoding="utf-8")), encoding="utf-8")
    sources = ", ".join(f'"{p}"' for p in PACKAGES)
    tests = ", ".join(f'"{t}"' for t in target.tests)
    with open(work / "pyproject.toml", "a", encoding="utf-8") as fh:
        fh.write(f"""
[tool.mutmut]
source_paths = [{sources}]
only_mutate = ["{target.path}"]
also_copy = ["configs/"]
pytest_add_cli_args_test_selection = [{tests}]
pytest_add_cli_args = ["-x", "-q", "-p", "no:cacheprovider"]
process_isolation = "{target.isolation}"
""")


def mutmut(work: Path, *args: str, log=None) -> str:
    done = subprocess.run([sys.executable, "-m", "mutmut", *args], cwd=work, text=True,
                          stdout=log or subprocess.PIPE, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise SystemExit(f"error: mutmut {' '.join(args)} failed in {work} (exit {done.returncode}); see its log")
    return done.stdout or ""


def changed_lines(work: Path, name: str) -> str:
    """The mutant as `old -> new`, from mutmut's diff of it."""
    diff = mutmut(work, "show", name).splitlines()
    old = [line[1:].strip() for line in diff if line.startswith("-") and not line.startswith("---")]
    new = [line[1:].strip() for line in diff if line.startswith("+") and not line.startswith("+++")]
    return f"{' / '.join(old)}  ->  {' / '.join(new)}"


def run_module(target: Target, work: Path, max_children: int) -> None:
    prepare(work, target)
    start = time.perf_counter()
    with open(work / "mutmut-run.log", "w", encoding="utf-8") as log:
        mutmut(work, "run", "--max-children", str(max_children), log=log)
    (work / "seconds.txt").write_text(f"{time.perf_counter() - start:.0f}\n")


def collect(name: str, target: Target, work: Path) -> dict:
    """A finished module's numbers and survivors, read back from mutmut's results in its work folder."""
    seconds = float((work / "seconds.txt").read_text())
    status = {}
    for line in mutmut(work, "results", "--all", "true").splitlines():
        key, sep, value = line.strip().rpartition(": ")
        if sep and "__mutmut_" in key:
            status[key] = value
    killed = sum(s in KILLED for s in status.values())
    survivors = [(key, status[key], changed_lines(work, key)) for key in sorted(status, key=_natural)
                 if status[key] not in KILLED]
    return {"module": name, "path": target.path, "mutants": len(status), "killed": killed,
            "rate": killed / len(status) if status else 0.0, "goal": target.goal, "seconds": seconds,
            "survivors": survivors}


def _natural(key: str) -> tuple:
    function, _, number = key.rpartition("__mutmut_")
    return function, int(number) if number.isdigit() else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("modules", nargs="*", metavar="MODULE",
                        help=f"modules to mutate (default: all): {', '.join(MODULES)}")
    parser.add_argument("--max-children", type=int, default=2, help="mutants tested at once (default 2)")
    parser.add_argument("--keep", type=Path, help="keep the work folders under this folder (default: removed)")
    parser.add_argument("--report", type=Path, metavar="DIR",
                        help="print the results of an earlier run kept with --keep DIR, without running anything")
    args = parser.parse_args(argv)
    unknown = [m for m in args.modules if m not in MODULES]
    if unknown:
        parser.error(f"unknown module {unknown[0]!r} (choose from {', '.join(MODULES)})")
    try:
        import mutmut  # noqa: F401
    except ImportError:
        raise SystemExit("error: mutmut is not installed; .venv/bin/pip install -e '.[mutation]'") from None
    names = args.modules or list(MODULES)
    results = []
    if args.report is not None:
        missing = [n for n in names if not (args.report / n / "seconds.txt").is_file()]
        if missing:
            raise SystemExit(f"error: {args.report / missing[0]}: no finished run of {missing[0]} kept there")
        results = [collect(n, MODULES[n], args.report / n) for n in names]
    else:
        base = Path(tempfile.mkdtemp(prefix="cogbehave-mutation-")) if args.keep is None else args.keep
        try:
            for name in names:
                work = base / name
                if work.exists():
                    shutil.rmtree(work)
                work.mkdir(parents=True)
                print(f"mutating {MODULES[name].path} ...", file=sys.stderr, flush=True)
                run_module(MODULES[name], work, args.max_children)
                results.append(collect(name, MODULES[name], work))
                r = results[-1]
                print(f"  {r['killed']}/{r['mutants']} killed in {r['seconds']:.0f} s", file=sys.stderr, flush=True)
        finally:
            if args.keep is None:
                shutil.rmtree(base, ignore_errors=True)
    print("| module | mutants | killed | survived | kill rate | goal | time |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| `{r['path']}` | {r['mutants']} | {r['killed']} | {r['mutants'] - r['killed']} | "
              f"{r['rate']:.1%} | {r['goal']:.0%} | {r['seconds']:.0f} s |")
    for r in results:
        if r["survivors"]:
            print(f"\nsurvivors in {r['path']}:")
            for key, state, change in r["survivors"]:
                print(f"  {key.rpartition('.')[2]} [{state}]: {change}")
    return 0 if all(r["rate"] >= r["goal"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
