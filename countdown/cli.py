"""How every command is configured and run: one typed config per command, presets as YAML, one parser.

A command's options are the fields of one dataclass (a subclass of `CommandConfig`), each declared with
`option(default, help)`, so the name, type, default and help of every flag live in one place. Shared
groups of options (sampling, generation backend, judge) are dataclasses too, mixed in by inheritance.
The dataclass validates itself (`validate`, run on construction), so a config built in library code is
checked exactly like one parsed from the command line.

Values come from four layers, each overriding the one before:

    dataclass defaults  <  configs/<command>/<preset>.yaml  <  --config FILE.yaml  <  flags

A preset is a plain YAML file of field values (`--preset NAME`, or `CommandConfig.from_preset(NAME)` in
code); `--help` shows the defaults after the preset and config file are applied. Parsing is done by
transformers' `HfArgumentParser`, extended here with positionals, repeatable list options, `--x/--no-x`
pairs for every boolean, and argument groups. See docs/architecture.md.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import os
import re
import sys
import textwrap
import types
import typing
from pathlib import Path
from typing import Any, Callable, ClassVar, TypeVar

from countdown.io import InputError, brief

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"

C = TypeVar("C", bound="CommandConfig")


# ---------------------------------------------------------------------------------------------- fields

def option(default: Any = dataclasses.MISSING, help: str = "", *, aliases: tuple[str, ...] = (),
           choices: typing.Sequence[Any] | None = None, metavar: str | None = None, group: str | None = None,
           output: str | None = None, default_factory: Any = dataclasses.MISSING) -> Any:
    """A config field that is also a flag `--name-with-dashes`. No default: required. `output="file"` or
    `"dir"` marks a path the command writes: it is checked before any work (see CommandConfig.outputs)."""
    metadata: dict[str, Any] = {"help": help.replace("%", "%%")}
    if output:
        metadata["output"] = output
    if aliases:
        metadata["aliases"] = list(aliases)
    if choices is not None:
        metadata["choices"] = list(choices)
    if metavar:
        metadata["metavar"] = metavar
    if group:
        metadata["group"] = group
    return dataclasses.field(default=default, default_factory=default_factory, metadata=metadata)


def positional(help: str, *, default: Any = dataclasses.MISSING, metavar: str | None = None) -> Any:
    """A config field given by position on the command line (a list field takes one or more values)."""
    metadata = {"help": help.replace("%", "%%"), "positional": True, "metavar": metavar}
    return dataclasses.field(default=default, metadata=metadata)


# ---------------------------------------------------------------------------------------------- configs

@dataclasses.dataclass(kw_only=True)
class Options:
    """Base of every config and option group: construction runs `validate`."""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise InputError for values no run can use. Subclasses check their fields, then call super()."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(kw_only=True)
class CommandConfig(Options):
    """One command's options. `command` names its preset folder under configs/ (None: no presets)."""

    command: ClassVar[str | None] = None
    epilog: ClassVar[str] = ""   # examples and notes after the options in --help; the docstring is the description

    def outputs(self) -> dict[str, tuple[Path, str]]:
        """Every path this run will write, as {flag: (path, "file" | "dir")}: the fields marked `output=`
        that are set. Commands add the outputs they derive (e.g. a default file name beside --out)."""
        return {f"--{f.name.replace('_', '-')}": (Path(getattr(self, f.name)), f.metadata["output"])
                for f in dataclasses.fields(self) if f.metadata.get("output") and getattr(self, f.name)}

    def validate(self) -> None:
        """After the fields' own checks: every output can be written, and no two outputs are one file."""
        from countdown.io import check_distinct, check_output

        seed = getattr(self, "seed", None)
        if isinstance(seed, int) and not 0 <= seed < 2 ** 32:   # numpy's and the trainers' seeds are 32-bit
            raise InputError(f"--seed must be in 0..{2 ** 32 - 1} (got {seed})")
        outputs = self.outputs()
        for flag, (path, kind) in outputs.items():
            check_output(path, kind, flag)
        check_distinct({flag: path for flag, (path, kind) in outputs.items() if kind == "file"})
        super().validate()

    @classmethod
    def prog(cls) -> str:
        """`python -m package.module` of the command (also when the module runs as __main__)."""
        spec = getattr(sys.modules.get(cls.__module__), "__spec__", None)
        return f"python -m {spec.name if spec else cls.__module__}"

    @classmethod
    def description(cls) -> str:
        return textwrap.fill(" ".join((cls.__doc__ or "").split()), 110)

    @classmethod
    def from_preset(cls: type[C], preset: str | None = None, config_file: str | Path | None = None,
                    **values: Any) -> C:
        """The config of preset `preset` (default: the class default), then `config_file`, then `values`
        (checked and converted like a file's values)."""
        base = layered_values(cls, preset, config_file)
        base.update(checked_values(cls, values, f"{cls.__name__}.from_preset"))
        return cls(**base)

    @classmethod
    def parse(cls: type[C], argv: typing.Sequence[str] | None = None) -> C:
        """The config from command-line arguments (sys.argv when None); --help prints and exits."""
        argv = list(sys.argv[1:] if argv is None else argv)
        pre = argparse.ArgumentParser(add_help=False)
        pre.add_argument("--config")
        if cls.command:
            pre.add_argument("--preset")
        known, _ = pre.parse_known_args(argv)
        base = layered_values(cls, getattr(known, "preset", None), known.config)
        parser = make_parser(cls, prog=cls.prog(), description=cls.description(), epilog=cls.epilog)
        parser.add_argument("--config", metavar="FILE.yaml",
                            help="read option values from a YAML file; flags on the command line override them")
        parser.set_defaults(**base)
        for action in parser._actions:
            if action.dest in base:
                action.required = False
                if not action.option_strings:   # a positional with a value from the file may be left out
                    action.nargs = "?" if action.nargs is None else "*"
        namespace = parser.parse_args(argv)
        return cls(**{f.name: getattr(namespace, f.name) for f in dataclasses.fields(cls) if f.init})


def preset_names(command: str) -> list[str]:
    """The presets of a command: the YAML files in configs/<command>/."""
    return sorted(p.stem for p in (CONFIG_DIR / command).glob("*.yaml"))


def preset_path(command: str, name: str) -> Path:
    path = CONFIG_DIR / command / f"{name}.yaml"
    if not path.is_file():
        raise InputError(f"unknown {command} preset {name!r} (choose from {', '.join(preset_names(command))}; "
                         f"presets are the YAML files in {CONFIG_DIR / command})")
    return path


@functools.cache
def _yaml_loader() -> type:
    """yaml.SafeLoader that also reads 5e-4 as a number: YAML 1.1 wants a dot (5.0e-4) and reads 5e-4 as
    text, which a learning rate in a stage mapping (`--train lr=5e-4`, `train: {lr: 5e-4}`) then stays."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$"),
                                 list("-+.0123456789"))
    return Loader


def load_yaml(text: str) -> Any:
    import yaml

    return yaml.load(text, Loader=_yaml_loader())


def read_yaml(path: str | Path) -> dict[str, Any]:
    import yaml

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: {'is a folder, not a config file' if path.is_dir() else 'no such config file'}")
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid YAML ({brief(exc)})") from None
    except RecursionError:   # nesting deeper than the parser's stack: no option value looks like that
        raise InputError(f"{path}: YAML nested too deeply") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping of option names to values, got {type(data).__name__}")
    return {str(k).replace("-", "_"): v for k, v in data.items()}


def preset_sources(command: str, name: str, seen: tuple[str, ...] = ()) -> list[tuple[Path, dict[str, Any]]]:
    """A preset's (file, values), after those of the preset it names in `extends:`, the oldest first: a child
    preset states only what it changes, and each key it gives replaces the parent's value whole."""
    if name in seen:
        raise InputError(f"{command} preset {name!r} extends itself ({' -> '.join(seen + (name,))})")
    path = preset_path(command, name)
    data = read_yaml(path)
    parent = data.pop("extends", None)
    if parent is None:
        return [(path, data)]
    if not isinstance(parent, str):
        raise InputError(f"{path}: extends: must name a preset, got {brief(repr(parent), 80)}")
    return preset_sources(command, parent, seen + (name,)) + [(path, data)]


def layered_values(cls: type[CommandConfig], preset: str | None, config_file: str | Path | None
                   ) -> dict[str, Any]:
    """Values from the preset file and the config file (the later wins), checked against the fields."""
    from_file = read_yaml(config_file) if config_file else {}
    values: dict[str, Any] = {}
    sources: list[tuple[Path, dict[str, Any]]] = []
    if cls.command:
        preset = preset or from_file.get("preset") or cls.__dataclass_fields__["preset"].default
        sources += preset_sources(cls.command, preset)
        values["preset"] = preset
    if config_file:
        sources.append((Path(config_file), from_file))
    for path, data in sources:
        values.update(checked_values(cls, data, path))
    return values


def checked_values(cls: type, data: dict[str, Any], source: Any) -> dict[str, Any]:
    """`data` with every key a field of `cls` (else InputError naming `source`) and every value of the field's
    type (converted where the conversion is exact: "1e-6" -> 1e-6, 3 -> 3.0, one value -> a one-item list)
    and among the field's choices."""
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        command = cls.prog() if issubclass(cls, CommandConfig) else cls.__name__
        raise InputError(f"{source}: unknown option(s) {', '.join(unknown)} for {command}")
    hints = typing.get_type_hints(cls)
    values = {}
    for name, value in data.items():
        values[name] = value = _coerce(hints[name], value, name, source)
        choices = fields[name].metadata.get("choices")
        for item in (value if isinstance(value, list) else [value]):
            if choices is not None and item is not None and item not in choices:
                raise InputError(f"{source}: option {name!r} must be one of {', '.join(map(str, choices))}, "
                                 f"got {brief(repr(item), 80)}")
    return values


_KIND_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def _coerce(kind: Any, value: Any, name: str, source: Any) -> Any:
    """A YAML (or library) value as the field's type, or InputError naming `source` and the option. YAML reads
    1e-6 as a string, so numbers may come as text; a list field may be given one value."""
    if value is None:
        return None
    base = _unwrap(kind)
    origin = typing.get_origin(base)
    if origin is list:
        element = (typing.get_args(base) or (Any,))[0]
        items = value if isinstance(value, (list, tuple)) else [value]
        return [_scalar(element, item, name, source) for item in items]
    if origin is dict:
        if not isinstance(value, dict):
            raise InputError(f"{source}: option {name!r} must be a mapping of KEY: VALUE, got {brief(repr(value), 80)}")
        return dict(value)
    return _scalar(base, value, name, source)


def _scalar(kind: Any, value: Any, name: str, source: Any) -> Any:
    if kind not in _KIND_NAMES:   # Any and other free-form fields
        return value
    converted: Any = None
    if isinstance(value, bool):
        converted = value if kind is bool else None
    elif kind is int:
        if isinstance(value, int) or isinstance(value, float) and value.is_integer():
            converted = int(value)
        elif isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
            converted = int(value)
    elif kind is float:
        if isinstance(value, (int, float)):
            converted = float(value)
        elif isinstance(value, str):
            with contextlib.suppress(ValueError):
                converted = float(value)
    elif kind is str:
        if isinstance(value, (str, os.PathLike)):
            converted = str(value)
        elif isinstance(value, (int, float)):   # `condition: 1`, `model: 7` read as numbers by YAML
            converted = str(value)
    if converted is None:
        raise InputError(f"{source}: option {name!r} must be {_KIND_NAMES[kind]}, got {brief(repr(value), 80)}")
    return converted


def _unwrap(kind: Any) -> Any:
    """X for `X | None`, else kind."""
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    if typing.get_origin(kind) in (typing.Union, types.UnionType) and len(args) == 1:
        return args[0]
    return kind


# ---------------------------------------------------------------------------------------------- parser

class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Examples in the epilog keep their lines; a flag's help ends with its default when it has one."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if not action.option_strings or "%(default)" in text or default is argparse.SUPPRESS:
            return text
        if action.nargs == 0:   # a --x / --no-x pair: say which one is in force
            return text + (" (on by default)" if default is True and action.const is True else "")
        if default not in (None, [], ""):
            text += " (default: %(default)s)"
        return text


class _ListOption(argparse.Action):
    """`--x a b --x c` -> [a, b, c]; the first use replaces the default (a preset's list) instead of adding."""

    def __call__(self, parser, namespace, values, option_string=None):
        current = getattr(namespace, self.dest, None)
        if current is self.default or current is None:
            current = []
        setattr(namespace, self.dest, list(current) + list(values))


class _MappingOption(argparse.Action):
    """`--x key=value key2=value2` updates the mapping (the preset's) key by key; values are read as YAML."""

    def __call__(self, parser, namespace, values, option_string=None):
        current = dict(getattr(namespace, self.dest, None) or {})
        for item in values:
            key, sep, value = item.partition("=")
            if not sep or not key:
                parser.error(f"{option_string} takes KEY=VALUE items, got {item!r}")
            current[key.replace("-", "_")] = load_yaml(value)
        setattr(namespace, self.dest, current)


def _dashed(name: str) -> list[str]:
    return [f"--{name}"] + ([f"--{name.replace('_', '-')}"] if "_" in name else [])


def _shape(kind: Any) -> tuple[str, Any]:
    """('bool' | 'list' | 'mapping' | 'scalar', element type) of a field type."""
    base = _unwrap(kind)
    if base is bool:
        return "bool", bool
    if typing.get_origin(base) is dict:
        return "mapping", str
    if typing.get_origin(base) is list:
        return "list", (typing.get_args(base) or (str,))[0]
    return "scalar", base


@functools.lru_cache(maxsize=None)
def _parser_class() -> type:
    """transformers.HfArgumentParser (imported on first use: it loads transformers) extended for our fields."""
    from transformers import HfArgumentParser

    class ConfigParser(HfArgumentParser):
        def _add_dataclass_arguments(self, dtype):
            hints = typing.get_type_hints(dtype)
            groups: dict[str, Any] = {}
            for f in dataclasses.fields(dtype):
                if f.init:
                    name = f.metadata.get("group")
                    target = self if name is None else groups.setdefault(name, self.add_argument_group(name))
                    _add_field(target, f, hints[f.name])
            for action in self._actions:   # flags are spelled with dashes, as in every other CLI here
                for spelling in [s for s in action.option_strings if "_" in s]:
                    if spelling.replace("_", "-") in action.option_strings:
                        action.option_strings.remove(spelling)
                        self._option_string_actions.pop(spelling, None)

    return ConfigParser


def make_parser(config_type: type, **kwargs: Any) -> argparse.ArgumentParser:
    """The argparse parser of a config dataclass (what `CommandConfig.parse` uses)."""
    return _parser_class()(config_type, formatter_class=_Formatter, **kwargs)


def _add_field(parser: Any, f: dataclasses.Field, kind: Any) -> None:
    meta = dict(f.metadata)
    has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
    default = f.default if f.default is not dataclasses.MISSING else (
        f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
    shape, element = _shape(kind)
    common = {"help": meta.get("help"), "metavar": meta.get("metavar")}
    if meta.get("positional"):
        nargs = ("*" if has_default else "+") if shape == "list" else ("?" if has_default else None)
        parser.add_argument(f.name, nargs=nargs, type=element, default=default, **common)
        return
    flags = _dashed(f.name) + list(meta.get("aliases", []))
    if shape == "bool":
        parser.add_argument(*flags, dest=f.name, action="store_const", const=True, default=default,
                            help=common["help"])
        parser.add_argument(f"--no-{f.name.replace('_', '-')}", dest=f.name, action="store_const", const=False,
                            help=f"turn off --{f.name.replace('_', '-')}")
    elif shape == "list":
        parser.add_argument(*flags, dest=f.name, nargs="+", type=element, action=_ListOption, default=default,
                            required=not has_default, choices=meta.get("choices"), **common)
    elif shape == "mapping":
        parser.add_argument(*flags, dest=f.name, nargs="+", action=_MappingOption, default=default,
                            metavar=meta.get("metavar") or "KEY=VALUE", help=common["help"])
    else:   # int / float / str / Literal, optional or not: transformers' own handling
        clone = dataclasses.field(default=f.default, default_factory=f.default_factory,
                                  metadata={k: v for k, v in meta.items() if k not in ("group", "output")})
        clone.name, clone.type = f.name, kind
        from transformers import HfArgumentParser

        HfArgumentParser._parse_dataclass_field(parser, clone)


# ---------------------------------------------------------------------------------------------- running

def run_cli(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> None:
    """Run a CLI main; InputError becomes one `error: ...` line on stderr and exit code 2."""
    try:
        code = main(argv)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted: finished work is kept; re-run the same command to resume", file=sys.stderr)
        sys.exit(130)
    sys.exit(code or 0)
