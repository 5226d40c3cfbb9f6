"""Reads Pulumi.yaml and Pulumi.<stack>.yaml the way the CLI does, into the engine's flat config map."""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from ..problems import clip, clip_quoted, path_of, quote

try:
    from yaml.cyaml import CParser as _LibyamlParser
except ImportError:  # PyYAML built without libyaml
    _LibyamlParser = None


class _PythonParser(Reader, Scanner, Parser):
    """PyYAML's own scanner and parser: what reads the files where PyYAML was built without libyaml."""

    def __init__(self, stream: io.BytesIO):
        try:
            Reader.__init__(self, stream.getvalue())
        except yaml.reader.ReaderError as exc:  # a character it refuses, met before the name was set
            exc.name = stream.name
            raise
        self.name = stream.name
        Scanner.__init__(self)
        Parser.__init__(self)


class _Stream(io.BytesIO):
    """The file's bytes under its name, which the parser puts in the marks of its errors."""

    def __init__(self, data: bytes, name: str):
        super().__init__(data)
        self.name = name


MAX_FILE_BYTES = 8 * 1024 * 1024
"""The largest project or stack file read. Real ones are a few KB; with MAX_NODES this bounds parsing to
seconds, and a mistaken 5 MB value still reaches validation, which names its field."""

MAX_NODES = 100_000
"""The most YAML nodes a file may stand for once its aliases are followed. A "billion laughs" file nests
aliases of aliases so that 1 KB expands to gigabytes; it is refused before anything is expanded."""


class StackFileError(Exception):
    """A project or stack file is missing or malformed (a usage error: exit 2)."""


class _Loader(Composer, SafeConstructor, BaseResolver):
    """YAML as the Pulumi CLI reads it (Go's yaml.v3 decoding into interface{}, not YAML 1.1): booleans are
    only true/false in three spellings, so yes/no/on/off stay strings, and timestamps stay the string as
    written. Decimal, 0x, 0o, 0b and 0-prefixed octal integers, and floats such as 1e3, are numbers."""

    yaml_implicit_resolvers: dict = {}  # filled below; SafeLoader's YAML 1.1 set is not inherited
    composed = 0
    # Bytes and sets have no JSON form for the engine: without a constructor they are a YAML error at their line.
    yaml_constructors = {
        tag: construct
        for tag, construct in SafeConstructor.yaml_constructors.items()
        if tag not in ("tag:yaml.org,2002:binary", "tag:yaml.org,2002:set")
    }

    def __init__(self, data: bytes | str, name: str = "<string>", parser: type | None = None):
        # libyaml scans and parses when PyYAML has it (a file with a 5 MB value in 0.07 s, not 2.4 s); composing stays
        # here, in Python, where nodes are counted and nesting is bounded by the recursion limit.
        stream = _Stream(data.encode() if isinstance(data, str) else data, name)
        self.parser = (parser or _LibyamlParser or _PythonParser)(stream)
        self.check_event, self.peek_event, self.get_event = (self.parser.check_event, self.parser.peek_event,
                                                             self.parser.get_event)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        BaseResolver.__init__(self)
        self.name = name

    def dispose(self) -> None:
        self.parser.dispose()

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        # Counted as they are composed, so that a file of a million small values stops early, not after a long
        # parse; an alias counts once here (its expansion is counted by _expanded_size).
        self.composed += 1
        if self.composed > MAX_NODES:
            raise _too_many(self.name, self.peek_event().start_mark)
        return super().compose_node(parent, index)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        # A scalar its constructor cannot read (`!!int abc`, `!!bool maybe`), or an integer past 64 bits (the
        # CLI's limit, and past 4300 digits Python cannot print it), is a YAML error at its line, not a crash.
        try:
            value = super().construct_object(node, deep)
            if type(value) is int and not -(2**63) <= value < 2**63:
                raise ValueError
        except (ValueError, KeyError):
            raise ConstructorError(None, None, f"cannot read {quote(node.value)} as {node.tag}", node.start_mark) from None
        return value


for _tag, _pattern, _first in [
    ("bool", r"true|True|TRUE|false|False|FALSE", "tTfF"),
    ("null", r"~|null|Null|NULL|", ["~", "n", "N", ""]),
    ("int", r"[-+]?(?:0b[01][01_]*|0o?[0-7][0-7_]*|0x[0-9a-fA-F][0-9a-fA-F_]*|[1-9][0-9_]*|0)", "-+0123456789"),
    ("float", r"[-+]?(?:\.[0-9][0-9_]*|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
     "-+.0123456789"),
    ("merge", r"<<", "<"),
]:
    _Loader.add_implicit_resolver(f"tag:yaml.org,2002:{_tag}", re.compile(f"^(?:{_pattern})$"), list(_first))
# An explicitly tagged `!!timestamp` too: a datetime has no JSON form, and the spec parses the string.
_Loader.add_constructor("tag:yaml.org,2002:timestamp", SafeConstructor.construct_yaml_str)

_MERGE = "tag:yaml.org,2002:merge"


def _too_many(file: str, mark: yaml.Mark) -> StackFileError:
    return StackFileError(
        f"{file}:{mark.line + 1}: more than {MAX_NODES} YAML nodes once its aliases are expanded; refused "
        "before expanding them (a stack file has a few hundred)"
    )


@dataclass
class _Doc:
    """A parsed YAML file, with the line of every key and list item (by location: ("config", "aws:region"))."""

    file: str
    data: Any
    lines: dict[tuple[str | int, ...], int]
    warnings: list[str]

    def at(self, *loc: str | int) -> str:
        """'file:line' of what is at `loc`; the file alone when it is not written there."""
        line = self.lines.get(loc)
        return f"{self.file}:{line}" if line else self.file


def _shown(path: Path) -> str:
    """A path as messages show it: relative to the working directory when under it, as editors link them."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list"}.get(type(value), quote(value))


def _expanded_size(node: yaml.Node, file: str, sizes: dict[int, int | None]) -> int:
    """How many nodes `node` stands for once aliases are followed, counted over the composed graph, where an
    alias is a reference to its anchor's node, each node once (memoised): nothing is expanded."""
    if isinstance(node, yaml.ScalarNode):
        return 1
    if id(node) in sizes:
        if sizes[id(node)] is None:  # met again while counting its own children
            raise StackFileError(f"{file}:{node.start_mark.line + 1}: this value contains itself (an alias to its own anchor)")
        return sizes[id(node)]
    sizes[id(node)] = None
    size = 1
    children = [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else node.value
    for child in children:
        size += _expanded_size(child, file, sizes)
    if size > MAX_NODES:
        raise _too_many(file, node.start_mark)
    sizes[id(node)] = size
    return size


def _walk(node: yaml.Node, loc: tuple[str | int, ...], doc: _Doc, checked: set[int]) -> None:
    """Record the line of every key and list item under `loc`, and warn of keys a mapping repeats."""
    if isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            doc.lines[(*loc, i)] = item.start_mark.line + 1
            _walk(item, (*loc, i), doc, checked)
    elif isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key, value in node.value:
            if key.tag == _MERGE:  # `<<: *base` (or a list of them) brings in the anchored mapping's keys
                for merged in value.value if isinstance(value, yaml.SequenceNode) else [value]:
                    _walk(merged, loc, doc, checked)
                continue
            if not isinstance(key, yaml.ScalarNode):
                continue  # a list or mapping as a key: construction refuses it
            line = key.start_mark.line + 1
            if key.value in first and id(node) not in checked:  # an aliased mapping warns once
                doc.warnings.append(f"{doc.file}:{line}: key {quote(key.value)} repeats line {first[key.value]}; the last one wins")
            first.setdefault(key.value, line)
            doc.lines[(*loc, key.value)] = line
            _walk(value, (*loc, key.value), doc, checked)
        checked.add(id(node))


def _explained(text: bytes, file: str, error: yaml.YAMLError) -> str:
    """What is wrong with the YAML, as PyYAML's own parser says it: with the line and a caret under the place, which
    libyaml's errors lack. libyaml's words where the two parsers disagree."""
    if _LibyamlParser is None:
        return str(error)
    try:
        loader = _Loader(text, file, _PythonParser)
        root = loader.get_single_node()
        if root is not None:
            _expanded_size(root, file, {})  # bounded as the first reading was: nothing is expanded before it is counted
            loader.construct_document(root)
    except yaml.YAMLError as exc:
        return str(exc)
    except (RecursionError, StackFileError):
        pass
    return str(error)


def _read_yaml(path: Path) -> _Doc:
    file = _shown(path)
    try:
        with path.open("rb") as stream:
            text = stream.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise StackFileError(f"{file}: no such file") from None
    except OSError as exc:
        raise StackFileError(f"{file}: cannot read it: {exc.strerror}") from None
    if len(text) > MAX_FILE_BYTES:
        raise StackFileError(f"{file}: larger than {MAX_FILE_BYTES // 2**20} MiB; refused (a stack file is a few KB)")
    doc = _Doc(file, None, {}, [])
    try:
        loader = _Loader(text, file)  # YAML errors name the file
        root = loader.get_single_node()  # composed, not constructed: aliases are still references
        if root is not None:
            _expanded_size(root, file, {})
            doc.lines[()] = root.start_mark.line + 1
            _walk(root, (), doc, set())
            doc.data = loader.construct_document(root)
    except yaml.YAMLError as exc:
        raise StackFileError(f"{file}: not valid YAML: {clip_quoted(_explained(text, file, exc))}") from None
    except RecursionError:  # the composer recurses once per level of nesting
        raise StackFileError(f"{file}:{loader.peek_event().start_mark.line + 1}: nested too deeply") from None
    return doc


def _section(doc: _Doc, raw: dict, key: str) -> dict:
    """The mapping under the top-level `key` (empty when absent or null); anything else is refused."""
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise StackFileError(f"{doc.at(key)}: '{key}' must be a mapping of key: value, not {_kind(value)}")
    return value


@dataclass(frozen=True)
class Project:
    root: Path
    name: str
    main: Path
    stack_config_dir: Path
    defaults: dict[str, Any]
    warnings: tuple[str, ...] = ()

    def stack_file(self, stack: str) -> Path:
        return self.stack_config_dir / f"Pulumi.{stack}.yaml"

    def stacks(self) -> list[str]:
        return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in self.stack_config_dir.glob("Pulumi.*.yaml"))


def find_project(start: Path) -> Project:
    """The nearest Pulumi.yaml at or above `start`."""
    for folder in [start.resolve(), *start.resolve().parents]:
        if (folder / "Pulumi.yaml").is_file():
            return load_project(folder)
    raise StackFileError(f"no Pulumi.yaml in {start.resolve()} or above it; run from the project or pass --project")


def load_project(root: Path) -> Project:
    doc = _read_yaml(root / "Pulumi.yaml")
    raw = doc.data
    if not isinstance(raw, dict):
        raise StackFileError(f"{doc.at()}: expected a mapping of project settings, not {_kind(raw)}")
    if "name" not in raw:
        raise StackFileError(f"{doc.at()}: needs at least a 'name'")
    for key in ("name", "main", "stackConfigDir"):
        if key in raw and not isinstance(raw[key], str):
            raise StackFileError(f"{doc.at(key)}: '{key}' must be a string, not {_kind(raw[key])}")
    defaults = {}
    for key, decl in _section(doc, raw, "config").items():
        value = decl.get("value", decl.get("default")) if isinstance(decl, dict) else decl
        if value is not None:
            defaults[str(key)] = value
    main = root / raw.get("main", "")
    return Project(
        root=root,
        name=raw["name"],
        main=main if main.is_file() else main / "__main__.py",
        stack_config_dir=root / raw.get("stackConfigDir", "."),
        defaults=defaults,
        warnings=tuple(doc.warnings),
    )


def _namespaced(project: str, key: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def _engine_string(value: Any) -> str:
    """The engine hands every config value to the program as a string; objects and lists as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


@dataclass(frozen=True)
class StackConfig:
    """A stack's config as the engine hands it to the program, and where each key is written."""

    file: str
    values: dict[str, str]
    lines: dict[tuple[str, str], int]  # (config key, path inside its value such as "pools[1].size", or "") -> line
    warnings: list[str]  # repeated keys, in this file and in Pulumi.yaml

    def at(self, key: str, path: str = "") -> str:
        """'file:line' where `key` (or `path` inside its value) is written; the file alone when not found."""
        line = self.lines.get((key, path))
        return f"{self.file}:{line}" if line else self.file


def read_stack(project: Project, stack: str) -> StackConfig:
    path = project.stack_file(stack)
    if not path.is_file():
        known = ", ".join(project.stacks()) or "none"
        raise StackFileError(f"no stack '{stack}': {path} does not exist (stacks here: {known})")
    doc = _read_yaml(path)
    raw = {} if doc.data is None else doc.data
    if not isinstance(raw, dict):
        raise StackFileError(f"{doc.at()}: expected a mapping with a 'config' key, not {_kind(raw)}")
    merged = {_namespaced(project.name, k): v for k, v in project.defaults.items()}
    for key, value in _section(doc, raw, "config").items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            raise StackFileError(
                f"{doc.at('config', str(key))}: {clip(str(key))} is a secret; the offline preview cannot decrypt it. "
                "Use a plain value in a preview stack, or run the Pulumi CLI"
            )
        merged[_namespaced(project.name, str(key))] = value
    lines = {
        (_namespaced(project.name, loc[1]), path_of(loc[2:]) if loc[2:] else ""): line
        for loc, line in doc.lines.items()
        if loc[:1] == ("config",) and len(loc) > 1
    }
    values = {key: _engine_string(value) for key, value in merged.items()}
    return StackConfig(doc.file, values, lines, [*project.warnings, *doc.warnings])


def stack_config(project: Project, stack: str) -> dict[str, str]:
    """The engine's flat config map of `stack` (see `read_stack` for where each key is written)."""
    return read_stack(project, stack).values
