"""Policy results as text."""

from __future__ import annotations


def count_text(violations) -> str:
    """"2 mandatory, 3 advisory", with remediations (a pack's `remediate` policies) counted apart."""
    counts = {level: sum(v.enforcement == level for v in violations) for level in ("mandatory", "advisory", "remediate")}
    text = f"{counts['mandatory']} mandatory, {counts['advisory']} advisory"
    return text + (f", {counts['remediate']} remediated" if counts["remediate"] else "")


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
    lines.append(f"Policy violations: {count_text(violations)}")
    for v in sorted(violations, key=lambda v: (v.enforcement != "mandatory", v.pack, v.policy)):
        where = v.resource.rsplit("::", 1)[-1] if v.resource else "stack"
        message = v.message.replace("\n", " - ")
        code = f" [{v.code}]" if v.code else ""
        lines.append(f"  [{v.enforcement}] {v.pack}/{v.policy}{code} on {where}: {message}")
    return "\n".join(lines)
