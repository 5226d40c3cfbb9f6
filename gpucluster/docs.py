"""The spec's inputs as Markdown tables, generated from its JSON Schema (as terraform-docs documents a module).

One table per model: the spec itself (`ClusterSpec`) first, then the nested types in the order a reader meets them
(breadth first, in field order). Columns: the key as it is written in YAML (camelCase), its type (nested types link
to their table), default, whether it is required, and its description. README.md carries the tables between
`<!-- spec-inputs:begin -->` and `<!-- spec-inputs:end -->`; `gpucluster docs --check README.md` fails when that
region differs from what the schema gives, `--write README.md` rewrites it. Pulumi-free: it reads the pydantic
models only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic.json_schema import GenerateJsonSchema

from .spec import CONFIG_KEY, CONFIG_NAMESPACE, ClusterSpec

BEGIN = "<!-- spec-inputs:begin -->"
END = "<!-- spec-inputs:end -->"
ROOT = "ClusterSpec"
HEADING = "### Spec reference"
TABLE_LEVEL = "####"
COLUMNS = "| Name | Type | Default | Required | Description |\n|------|------|---------|:--------:|-------------|"


class _WithFactoryDefaults(GenerateJsonSchema):
    """The schema `gpucluster schema` prints, plus the defaults pydantic leaves out because a factory makes them
    (`zones: []`, `kubernetes.teams: [{name: training}]`): a table should say what a key left out means."""

    def get_default_value(self, schema: Any) -> Any:
        factory = schema.get("default_factory")
        if factory is not None and not schema.get("default_factory_takes_data"):
            return factory()
        return super().get_default_value(schema)


def spec_schema() -> dict[str, Any]:
    return ClusterSpec.model_json_schema(by_alias=True, schema_generator=_WithFactoryDefaults)


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lowercase, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[1]


def _refs(node: Any, path: str) -> Iterator[tuple[str, str]]:
    """(model name, where it sits) for each model a property's schema names, `[]` for list items, `.*` for map
    values."""
    if not isinstance(node, dict):
        return
    if "$ref" in node:
        yield _ref_name(node["$ref"]), path
    for key in ("anyOf", "oneOf", "allOf"):
        for option in node.get(key, []):
            yield from _refs(option, path)
    if isinstance(node.get("items"), dict):
        yield from _refs(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from _refs(node["additionalProperties"], f"{path}.*")
    for value in node.get("patternProperties", {}).values():
        yield from _refs(value, f"{path}.*")


@dataclass(frozen=True)
class Model:
    name: str
    path: str  # where the model sits in the spec, as users write it
    node: dict[str, Any]

    @property
    def heading(self) -> str:
        return f"{self.name} (`{self.path}`)"

    @property
    def anchor(self) -> str:
        return slug(self.heading)


def models(schema: dict[str, Any]) -> list[Model]:
    """Every model reachable from the spec, the spec first, then breadth first in field order."""
    defs = schema.get("$defs", {})
    found = [Model(ROOT, f"{CONFIG_NAMESPACE}:{CONFIG_KEY}", schema)]
    seen = {ROOT}
    i = 0
    while i < len(found):
        model = found[i]
        prefix = "" if model.name == ROOT else f"{model.path}."
        for key, prop in model.node.get("properties", {}).items():
            for name, path in _refs(prop, f"{prefix}{key}"):
                if name not in seen:
                    seen.add(name)
                    found.append(Model(name, path, defs[name]))
        i += 1
    return found


def _escape(text: str) -> str:
    """Text for a table cell: pipes escaped (also in code spans, as GFM tables want), `<` and `>` outside code
    spans as entities (else `<cluster>` would be read as an HTML tag), one line."""
    parts = text.replace("\n", " ").split("`")
    for i in range(0, len(parts), 2):  # outside code spans
        parts[i] = parts[i].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts).replace("|", "\\|")


def _sentence(text: str) -> str:
    """One line, ending with a full stop (descriptions are written without one, as pydantic's are)."""
    text = " ".join(text.split())
    return text if not text or text[-1] in ".!?" else f"{text}."


class _Renderer:
    def __init__(self, schema: dict[str, Any]):
        self.schema = schema
        self.defs = schema.get("$defs", {})
        self.models = models(schema)
        self.anchors = {model.name: model.anchor for model in self.models}

    def link(self, name: str) -> str:
        return f"[{name}](#{self.anchors[name]})"

    def type_of(self, node: dict[str, Any]) -> str:
        if "$ref" in node:
            return self.link(_ref_name(node["$ref"]))
        for key in ("anyOf", "oneOf"):
            if key in node:
                options = [option for option in node[key] if option.get("type") != "null"]
                return " or ".join(self.type_of(option) for option in options) if options else "null"
        if len(node.get("allOf", [])) == 1:
            return self.type_of(node["allOf"][0])
        if "enum" in node:
            return " | ".join(f"`{value}`" for value in node["enum"])
        if "const" in node:
            return f"`{node['const']}`"
        kind = node.get("type")
        if kind == "array":
            return f"list of {self.type_of(node.get('items') or {})}"
        values = node.get("additionalProperties")
        if values is None and len(node.get("patternProperties", {})) == 1:
            (values,) = node["patternProperties"].values()
        if isinstance(values, dict) and values:
            return f"map of {self.type_of(values)}"
        if kind == "object":
            return "object"
        if kind == "string" and node.get("format"):
            return f"string ({node['format']})"
        return kind or "any"

    def _model_of(self, prop: dict[str, Any]) -> str | None:
        for option in [prop, *prop.get("anyOf", [])]:
            if "$ref" in option:
                return _ref_name(option["$ref"])
        return None

    def default_of(self, prop: dict[str, Any], required: bool) -> str:
        if required or "default" not in prop:
            return "n/a"
        value = prop["default"]
        name = self._model_of(prop)
        if name and isinstance(value, dict):
            fields = self.defs[name].get("properties", {})
            if set(value) == set(fields) and all("default" in fields[k] and fields[k]["default"] == v for k, v in value.items()):
                return f"the defaults of {self.link(name)}"
        return f"`{json.dumps(value, ensure_ascii=False)}`"

    def table(self, model: Model) -> str:
        required = set(model.node.get("required", []))
        lines = [f"{TABLE_LEVEL} {model.heading}", ""]
        if model.node.get("description"):
            lines += [_escape(_sentence(model.node["description"])), ""]
        lines.append(COLUMNS)
        for key, prop in model.node.get("properties", {}).items():
            cells = [f"`{key}`", self.type_of(prop), self.default_of(prop, key in required),
                     "yes" if key in required else "no", _sentence(prop.get("description", ""))]
            lines.append("| " + " | ".join(_escape(cell) for cell in cells) + " |")
        return "\n".join(lines) + "\n"

    def render(self) -> str:
        intro = (
            f"{HEADING}\n\n"
            f"Every key of `{CONFIG_NAMESPACE}:{CONFIG_KEY}`, from the JSON Schema `gpucluster schema` prints: one table "
            "per type, the spec itself first; a nested type's keys are in its own table. Defaults are JSON; a key left "
            "out takes its default. Generated by `gpucluster docs --write README.md` from the descriptions in "
            "`gpucluster/spec.py`; edit those, not this.\n"
        )
        return "\n".join([intro, *(self.table(model) for model in self.models)])


def render(schema: dict[str, Any] | None = None) -> str:
    """The region's Markdown: the section heading, an introduction, and the tables."""
    return _Renderer(schema if schema is not None else spec_schema()).render()


class RegionError(ValueError):
    """The file has no region, or a broken one."""


def region_bounds(text: str) -> tuple[int, int]:
    """Offsets of the region's content: just after the begin marker's line, and where the end marker starts."""
    if text.count(BEGIN) != 1 or text.count(END) != 1:
        raise RegionError(f"needs one {BEGIN} and one {END} line (found {text.count(BEGIN)} and {text.count(END)})")
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    if end < start:
        raise RegionError(f"{END} comes before {BEGIN}")
    return start + (1 if text[start:start + 1] == "\n" else 0), end


def region(text: str) -> str:
    start, end = region_bounds(text)
    return text[start:end]


def replace_region(text: str, content: str) -> str:
    start, end = region_bounds(text)
    return text[:start] + content + text[end:]


def _sections(content: str) -> dict[str, str]:
    """The region cut at its table headings; the text before the first under "introduction"."""
    sections: dict[str, str] = {}
    name = "introduction"
    for line in content.splitlines():
        if line.startswith(f"{TABLE_LEVEL} "):
            name = line[len(TABLE_LEVEL) + 1:].strip()
        sections.setdefault(name, "")
        sections[name] += line.rstrip() + "\n"
    return {name: text.strip() + "\n" for name, text in sections.items()}


def _rows(section: str) -> dict[str, str]:
    rows = {}
    for line in section.splitlines():
        match = re.match(r"^\| `([^`]+)` \|", line)
        if match:
            rows[match.group(1)] = line
    return rows


def differences(actual: str, expected: str) -> list[str]:
    """What differs between a region and what the schema gives, table by table; [] when they are the same."""
    if actual == expected:
        return []
    have, want = _sections(actual), _sections(expected)
    found = []
    for name in want:
        if name not in have:
            found.append(f"table {name}: missing")
        elif have[name] != want[name]:
            rows_have, rows_want = _rows(have[name]), _rows(want[name])
            details = [f"+{k}" for k in rows_want if k not in rows_have]
            details += [f"-{k}" for k in rows_have if k not in rows_want]
            details += [k for k in rows_want if k in rows_have and rows_have[k] != rows_want[k]]
            if [line for line in have[name].splitlines() if not line.startswith("|")] != \
                    [line for line in want[name].splitlines() if not line.startswith("|")]:
                details.insert(0, "heading or description")
            found.append(f"table {name}: differs" + (f" ({', '.join(details)})" if details else " (layout)"))
    found += [f"table {name}: not in the schema" for name in have if name not in want]
    return found or ["whitespace around the tables"]
