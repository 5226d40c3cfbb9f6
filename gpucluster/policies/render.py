"""Policy results as text."""

from __future__ import annotations


def render_policies(violations, waivers=(), extra_packs=()) -> str:
    """Findings, then every waiver: a policy the config runs below its pack's own level is shown, never silent."""
    lines = []
    if waivers:
        lines += [f"Waivers: {len(waivers)} polic{'y runs' if len(waivers) == 1 else 'ies run'} below the pack's own level"]
        lines += [f"  [waiver] {w}" for w in waivers]
        lines.append("")
    if not violations:
        passed = "every enabled policy" if waivers else "every policy"
        packs = ", ".join(["cost", "sovereignty", "security", *extra_packs])
        return "\n".join([*lines, f"Policies: {passed} of the packs passed ({packs})"])
    mandatory = sum(v.enforcement == "mandatory" for v in violations)
    lines.append(f"Policy violations: {mandatory} mandatory, {len(violations) - mandatory} advisory")
    for v in sorted(violations, key=lambda v: (v.enforcement != "mandatory", v.pack, v.policy)):
        where = v.resource.rsplit("::", 1)[-1] if v.resource else "stack"
        message = v.message.replace("\n", " - ")
        lines.append(f"  [{v.enforcement}] {v.pack}/{v.policy} on {where}: {message}")
    return "\n".join(lines)
