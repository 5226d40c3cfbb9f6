"""How a preview is shown: a tree like `pulumi preview`, or the stable JSON contract (README, "Preview JSON")."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from .engine import PreviewResult, Registration


def short_type(type_: str) -> str:
    """`aws:ec2/vpc:Vpc` -> `aws:ec2:Vpc`, as the Pulumi CLI displays types."""
    parts = type_.split(":")
    if len(parts) == 3 and "/" in parts[1]:
        parts[1] = parts[1].split("/")[0]
    return ":".join(parts)


def _tree_rows(result: PreviewResult) -> list[tuple[str, Registration]]:
    children: dict[str | None, list[Registration]] = defaultdict(list)
    stack = result.resources[0]
    for reg in [*result.resources[1:], *result.reads]:
        children[reg.parent or stack.urn].append(reg)
    rows: list[tuple[str, Registration]] = [("", stack)]

    def walk(urn: str, prefix: str) -> None:
        kids = children.get(urn, [])
        for i, reg in enumerate(kids):
            last = i == len(kids) - 1
            rows.append((prefix + ("└─ " if last else "├─ "), reg))
            walk(reg.urn, prefix + ("   " if last else "│  "))

    walk(stack.urn, "")
    return rows


def render_text(result: PreviewResult) -> str:
    rows = _tree_rows(result)
    type_width = max(len(indent) + len(short_type(r.type)) for indent, r in rows) + 2
    name_width = max(len(r.name) for _, r in rows) + 2
    lines = [
        f"Previewing stack {result.stack} (offline: Pulumi mocks, no cloud calls, no credentials)",
        "",
        f"     {'Type':<{type_width}}{'Name':<{name_width}}Plan",
    ]
    reads = {id(r) for r in result.reads}
    for indent, reg in rows:
        mark, plan = (">", "read") if id(reg) in reads else ("+", "create")
        lines.append(f" {mark}   {indent + short_type(reg.type):<{type_width}}{reg.name:<{name_width}}{plan}")
    if result.diagnostics:
        lines += ["", "Diagnostics:"]
        lines += [f"  {level}: {message}" for level, message in result.diagnostics]
    if result.outputs:
        lines += ["", "Outputs:"]
        width = max(len(k) for k in result.outputs)
        for key in sorted(result.outputs):
            value = json.dumps(result.outputs[key], indent=4, sort_keys=True).replace("\n", "\n    ")
            lines.append(f"    {key:<{width}}: {value}")
    lines += ["", "Resources:", f"    + {len(result.resources)} to create"]
    if result.reads:
        lines.append(f"    > {len(result.reads)} to read")
    return "\n".join(lines)


def resource_json(reg: Registration) -> dict[str, Any]:
    """One resource of the preview JSON: its links (parent, provider, property dependencies) as the engine records them."""
    return {
        "urn": reg.urn, "type": reg.type, "name": reg.name, "custom": reg.custom, "parent": reg.parent,
        "provider": reg.provider.rsplit("::", 1)[0] if reg.provider else None,
        "inputs": reg.inputs, "dependencies": reg.dependencies, "dependsOn": reg.depends_on, "options": reg.options,
    }


def as_json(result: PreviewResult, policies: list[Any] | None = None, cost: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "stack": result.stack,
        "resources": [resource_json(r) for r in result.resources],
        "outputs": result.outputs,
        "policies": policies or [],
        "cost": cost or {},
    }
