"""Preflight results as a table for people and as JSON for scripts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from .model import STATUSES, Check, exit_code

_HEADER = ("status", "check", "found", "needed")


def summary(checks: Sequence[Check]) -> dict[str, int]:
    counts = Counter(c.status for c in checks)
    return {status: counts.get(status, 0) for status in STATUSES}


def render_table(checks: Sequence[Check]) -> str:
    """One row per check; under each that is not a pass, what to do (->) and why."""
    rows = [_HEADER] + [(c.status.upper() if c.status != "pass" else c.status, c.check, c.found, c.needed)
                        for c in checks]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADER))]
    lines = []
    for row, check in zip(rows, [None, *checks]):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
        if check is not None and check.status != "pass":
            indent = " " * (widths[0] + 2)
            if check.action:
                lines.append(f"{indent}-> {check.action}")
            if check.detail:
                lines.append(f"{indent}   {check.detail}")
    counts = summary(checks)
    lines.append("")
    lines.append(", ".join(f"{counts[s]} {s}" for s in STATUSES))
    return "\n".join(lines)


def as_json(stack: str, cloud: str, region: str, checks: Sequence[Check]) -> dict[str, Any]:
    return {"stack": stack, "cloud": cloud, "region": region, "checks": [c.as_dict() for c in checks],
            "summary": summary(checks), "exitCode": exit_code(checks)}
