"""Writes `args.py`, the typed inputs of the package's components, from the cluster spec's JSON Schema.

The pydantic models in gpucluster/spec.py stay the one source of the spec's shape: every model becomes a TypedDict
(`Pool` -> `PoolArgs`, the spec itself -> `ClusterArgs`, and with their own inputs `GcpClusterArgs` and
`KubernetesClusterArgs`), every field a `pulumi.Input` key with the field's description as its docstring, every
string enum a `str` Enum. Pulumi's component analyzer reads these to infer the
package schema (types, optional keys, descriptions), so the schema documents every input the spec has.
`tests/test_package.py` fails when args.py differs from what this writes: run `python -m components.package.generate`.
"""

from __future__ import annotations

import json
import keyword
import re
import sys
import textwrap
from pathlib import Path
from typing import Any

from .keys import schema, snake

TARGET = Path(__file__).with_name("args.py")
ROOT_NAME = "ClusterArgs"
LEFT_OUT = {"cloud"}  # each cluster component is for one cloud and sets it itself
# The cluster components' inputs beyond the spec's: (description, (field, type, docstring) ...). The analyzer reads a
# field's docstring in the class that declares it, not in a base class, so each is written whole, the spec's fields
# with these.
CLUSTER_INPUTS = {
    "GcpClusterArgs": ("The cluster spec, and the GCP project to build it in.", (
        ("project", "str", "The GCP project; default: the gcp:project config of the stack, as the provider reads it"),)),
    "KubernetesClusterArgs": ("The cluster spec of an existing cluster, and how to reach it.", (
        ("kubeconfig", "str", "The cluster's kubeconfig (kept secret); default: the local kubeconfig at site.context"),)),
}
WIDTH = 116


class _Writer:
    def __init__(self, document: dict[str, Any]):
        self.defs = document.get("$defs", {})
        self.enums: dict[tuple, str] = {}  # values -> enum class name
        self.enum_blocks: list[str] = []
        self.class_blocks: list[str] = []

    def type_of(self, node: dict[str, Any], owner: str, field: str) -> str:
        if "$ref" in node:
            return f'{node["$ref"].rsplit("/", 1)[1]}Args'
        if "anyOf" in node:
            (inner,) = [n for n in node["anyOf"] if n.get("type") != "null"]
            return self.type_of(inner, owner, field)
        if "enum" in node:
            if all(isinstance(v, str) for v in node["enum"]):
                return self.enum(tuple(node["enum"]), owner, field)
            return "int"  # a numeric choice: its values are in the description
        kind = node.get("type")
        if kind == "array":
            return f"list[{self.type_of(node.get('items', {}), owner, field)}]"
        if kind == "object" or "additionalProperties" in node or "patternProperties" in node:
            values = node.get("additionalProperties")
            if values is None and "patternProperties" in node:
                (values,) = node["patternProperties"].values()
            if values is None or values is True or values == {}:
                return "dict[str, Any]"
            return f"dict[str, {self.type_of(values, owner, field)}]"
        return {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}.get(kind, "Any")

    def enum(self, values: tuple, owner: str, field: str) -> str:
        if values in self.enums:
            return self.enums[values]
        name = owner.removesuffix("Args") + field[:1].upper() + field[1:]
        self.enums[values] = name
        members = []
        for value in values:
            member = re.sub(r"\W", "_", value).upper()
            member = f"V{member}" if member[0].isdigit() or keyword.iskeyword(member) else member
            members.append(f"    {member} = {value!r}")
        self.enum_blocks.append(f"class {name}(str, Enum):\n    \"\"\"The values `{owner.removesuffix('Args')}."
                                f"{field}` takes.\"\"\"\n\n" + "\n".join(members))
        return name

    def field_text(self, prop: dict[str, Any]) -> str:
        """The field's description; for a field of a model type without one, the model's."""
        text = prop.get("description")
        if not text:
            refs = [prop] + prop.get("anyOf", [])
            ref = next((r["$ref"].rsplit("/", 1)[1] for r in refs if "$ref" in r), None)
            text = self.defs.get(ref, {}).get("description", "") if ref else ""
        if "enum" in prop and not all(isinstance(v, str) for v in prop["enum"]):
            text += f" One of {', '.join(map(str, prop['enum']))}."
        return text

    def model(self, name: str, node: dict[str, Any], own: tuple[tuple[str, str, str], ...] = (), owner: str = "") -> None:
        """A TypedDict of the model's fields; for a cluster's inputs (`own`: its fields beyond the spec's), the spec's
        fields but those left out, typed as `owner`'s (the spec's root class) name them."""
        required = set(node.get("required", []))
        lines = [f"class {name}(TypedDict):", _docstring(node.get("description") or name, 4)]
        for alias, prop in node.get("properties", {}).items():
            if owner and alias in LEFT_OUT:
                continue
            typed = f"pulumi.Input[{self.type_of(prop, owner or name, alias)}]"
            lines.append(f"    {snake(alias)}: {typed if alias in required else f'NotRequired[{typed}]'}")
            lines.append(_docstring(self.field_text(prop), 4))
        for field, type_name, text in own:
            lines += [f"    {field}: NotRequired[pulumi.Input[{type_name}]]", _docstring(text, 4)]
        self.class_blocks.append("\n".join(lines))




def _docstring(text: str, indent: int) -> str:
    """A docstring on one line, or as adjacent literals in parentheses (one string to Python and to the analyzer,
    without the continuation lines' indentation a triple-quoted string would carry into the schema)."""
    pad = " " * indent
    wrapped = textwrap.wrap(text.strip(), WIDTH - indent - 4, drop_whitespace=False) or [""]
    if len(wrapped) == 1:
        return f"{pad}{wrapped[0]!r}" if '"""' in wrapped[0] else f'{pad}"""{wrapped[0]}"""'
    return "\n".join(f"{pad}{'(' if i == 0 else ' '}{json.dumps(line)}{')' if i == len(wrapped) - 1 else ''}"
                     for i, line in enumerate(wrapped))


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"].rsplit("/", 1)[1]} if "$ref" in node else set()
        return found.union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


def _in_dependency_order(defs: dict[str, Any]) -> list[str]:
    """Each model after the models it holds, so that annotations name defined classes (the analyzer reads them
    unevaluated: no `from __future__ import annotations` in args.py)."""
    ordered: list[str] = []

    def visit(name: str) -> None:
        if name not in ordered:
            for dependency in sorted(_refs(defs[name]) - {name}):
                visit(dependency)
            ordered.append(name)

    for name in defs:
        visit(name)
    return ordered


def render() -> str:
    document = schema()
    writer = _Writer(document)
    defs = document.get("$defs", {})
    for name in _in_dependency_order(defs):
        writer.model(f"{name}Args", defs[name])
    writer.model(ROOT_NAME, document, owner=ROOT_NAME)
    for name, (text, own) in CLUSTER_INPUTS.items():
        writer.model(name, {**document, "description": text}, own, owner=ROOT_NAME)
    head = ('"""The typed inputs of the package\'s cluster components, generated from the cluster spec by\n'
            "components/package/generate.py: do not edit.\"\"\"\n\n"
            "from enum import Enum\nfrom typing import Any, NotRequired, TypedDict\n\n"
            "import pulumi\n")
    return "\n\n\n".join([head.rstrip("\n"), *writer.enum_blocks, *writer.class_blocks]) + "\n"


def main() -> int:
    TARGET.write_text(render())
    print(f"wrote {TARGET}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
