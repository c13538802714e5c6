"""The structure docs/architecture.md promises, checked on the source: one-way imports, configs not
Namespaces, countdown/ free of model access, the completion format and presets each in one place."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("countdown", "behaviors", "priming", "rl", "analysis")


def _modules() -> dict[str, Path]:
    return {".".join(p.relative_to(ROOT).with_suffix("").parts): p
            for pkg in PACKAGES for p in sorted((ROOT / pkg).glob("*.py")) if p.name != "__init__.py"}


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Project modules `name` imports anywhere (top level, inside functions, under TYPE_CHECKING)."""
    package = name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = f"{package}.{base}" if base else package
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {t for t in targets if t in MODULES and t != name}
    return found


def test_the_module_graph_has_no_cycles():
    graph = {name: _imports(name, path) for name, path in MODULES.items()}
    state: dict[str, int] = {}   # 1 = on the current path, 2 = done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [nxt] if nxt in path else [node, nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for name in graph:
        if name not in state:
            visit(name, [name])
    assert graph["rl.evaluate"] >= {"rl.rollout", "behaviors.judges"}   # the walk does see real edges


def test_the_task_package_depends_on_nothing_above_it():
    for name, path in MODULES.items():
        if name.startswith("countdown."):
            above = {m for m in _imports(name, path) if not m.startswith("countdown.")}
            assert not above, f"{name} imports {above}: countdown/ is the task and stands on nothing else"


def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_no_model_access_in_the_task_package():
    for name, path in MODULES.items():
        if name.startswith("countdown."):
            assert not _imported_roots(path) & {"vllm", "openai", "torch"}, name


def test_library_code_never_sees_an_argparse_namespace():
    """Commands parse into config dataclasses (countdown.cli); argparse lives only there."""
    for name, path in MODULES.items():
        text = path.read_text(encoding="utf-8")
        if name != "countdown.cli":
            assert "argparse" not in _imported_roots(path), f"{name} imports argparse"
            assert "Namespace" not in text, f"{name} mentions an argparse Namespace"


def test_every_command_has_one_config_dataclass_and_presets_are_yaml_files():
    from countdown.cli import CommandConfig, preset_names

    commands = {}
    for name, path in MODULES.items():
        if "def main(" in path.read_text(encoding="utf-8"):
            module = __import__(name, fromlist=["main"])
            configs = [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, CommandConfig)
                       and v is not CommandConfig and v.__module__ == name]
            assert len(configs) == 1, f"{name}: expected one CommandConfig, found {configs}"
            commands[name] = configs[0]
    assert len(commands) >= 15
    with_presets = {c.command for c in commands.values() if c.command}
    assert with_presets == {"generate", "sft", "train", "evaluate", "reproduce"}
    for command in with_presets:
        assert preset_names(command), f"configs/{command}/ has no preset"


def test_the_completion_format_is_written_in_one_place():
    """Only countdown/prompts.py writes the tags (countdown/reward.py reads them and must stay standalone)."""
    from countdown import prompts, reward

    for name, path in MODULES.items():
        if name in ("countdown.prompts", "countdown.reward"):
            continue
        code = ast.parse(path.read_text(encoding="utf-8"))
        literals = [n.value for n in ast.walk(code) if isinstance(n, ast.Constant) and isinstance(n.value, str)
                    and n not in {d for f in ast.walk(code) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module))
                                  for d in _docstring_nodes(f)}]
        assert not [s for s in literals if "</answer>" in s or "</think>" in s], name
    assert (prompts.ANSWER_OPEN, prompts.ANSWER_CLOSE) == (reward._ANSWER_OPEN, reward._ANSWER_CLOSE)


def _docstring_nodes(node: ast.AST) -> list[ast.AST]:
    body = getattr(node, "body", [])
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        return [body[0].value]
    return []


def test_docstrings_point_to_the_repository_architecture_doc():
    assert (ROOT / "docs" / "architecture.md").is_file()
    for name, path in MODULES.items():
        assert "DESIGN.md" not in path.read_text(encoding="utf-8"), f"{name} cites a file not in the repository"
