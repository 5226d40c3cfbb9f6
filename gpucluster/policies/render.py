"""Policy results as text."""

from __future__ import annotations


def render_policies(violations) -> str:
    if not violations:
        return "Policies: every policy of the cost, sovereignty and security packs passed"
    mandatory = sum(v.enforcement == "mandatory" for v in violations)
    lines = [f"Policy violations: {mandatory} mandatory, {len(violations) - mandatory} advisory"]
    for v in sorted(violations, key=lambda v: (v.enforcement != "mandatory", v.pack, v.policy)):
        where = v.resource.rsplit("::", 1)[-1] if v.resource else "stack"
        message = v.message.replace("\n", " - ")
        lines.append(f"  [{v.enforcement}] {v.pack}/{v.policy} on {where}: {message}")
    return "\n".join(lines)
