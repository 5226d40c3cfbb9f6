"""Which changed inputs force a resource to be replaced rather than updated, per resource type.

The facts are in `data/replacements.yaml`, each with the provider source it was read from: Terraform's `ForceNew`
and `RequiresReplace` for the bridged AWS and GCP providers, pulumi-kubernetes' own force-new table for
Kubernetes. A type with no rule there has no documented list, so its changes are updates.

Paths are Pulumi input paths without list indices (`cidrBlock`, `nodeConfig.machineType`, `spec.selector`). A
listed `replace` path matches itself and anything under it (`placement` matches `placement.groupName`); a listed
`blocks` path (a Terraform block that is ForceNew itself) matches only itself, which is how the diff names a block
that is added or removed or whose number of items changes: a change inside an item replaces only through the
item's own ForceNew attributes, as Terraform's SDK plans it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from ..yamlio import safe_load


@dataclass(frozen=True)
class Rule:
    type: str
    paths: tuple[str, ...]  # a change at or under one of these replaces
    source: str  # repository, release, file and commit the facts were read from
    blocks: tuple[str, ...] = ()  # ForceNew blocks: replaced when the block itself changes (added, removed, resized)
    conditional: tuple[tuple[str, str], ...] = field(default=())  # (path, condition): replaced only sometimes


@cache
def data() -> dict[str, Any]:
    return safe_load(resources.files(__package__).joinpath("data/replacements.yaml").read_text())


def _source_text(entry: dict[str, Any]) -> str:
    src = data()["sources"][entry["source"]]
    files = ", ".join([entry["file"], *entry.get("also", [])])
    where = f"(read from {src['read_from']} @{src['commit'][:10]})" if src.get("read_from") else f"@{src['commit'][:10]}"
    return f"{src['repository']} {src['release']} {files} {where}: {entry.get('rule', src['rule'])}"


def _rule(type_: str, entry: dict[str, Any]) -> Rule:
    return Rule(type=type_, paths=tuple(entry.get("replace", [])), source=_source_text(entry),
                blocks=tuple(entry.get("blocks", [])),
                conditional=tuple((str(k), str(v)) for k, v in (entry.get("conditional") or {}).items()))


@cache
def replacement_rule(resource_type: str) -> Rule | None:
    """The rule of a resource type, or None when the type has no documented list (a change is an update)."""
    entry = data()["types"].get(resource_type)
    if entry is None:
        entry = next((e for prefix, e in data().get("fallback", {}).items() if resource_type.startswith(prefix)), None)
    return _rule(resource_type, entry) if entry is not None else None


def forces_replacement(rule: Rule, path: str) -> bool:
    """Whether a change at `path` (a Pulumi input path without list indices) replaces the resource."""
    return path in rule.blocks or any(path == p or path.startswith(f"{p}.") for p in rule.paths)


def conditional_replacement(rule: Rule, path: str) -> str | None:
    """The condition under which a change at `path` replaces the resource, when the provider decides it from the
    values (shrinking a range, one direction of a setting), which an offline diff does not judge."""
    return next((condition for p, condition in rule.conditional if path == p or path.startswith(f"{p}.")), None)
