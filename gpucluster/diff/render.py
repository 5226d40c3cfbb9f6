"""A preview diff as text for a terminal, or as Markdown for a pull-request comment."""

from __future__ import annotations

import json
from typing import Any

from ..preview.render import short_type

SYMBOLS = {"create": "+", "update": "~", "replace": "+-", "delete": "-", "same": " "}
FLAG_TITLES = {"data-loss": "DATA LOSS", "orphan": "ORPHANED", "blocked": "BLOCKED", "replace": "REPLACE",
               "rollout": "NODES ROLL"}


def summary_text(summary: dict[str, int]) -> str:
    parts = [f"{summary[op]} to {op}" for op in ("create", "update", "replace", "delete") if summary.get(op)]
    return (", ".join(parts) or "no changes") + f" ({summary.get('same', 0)} unchanged)"


def _value(value: Any, width: int = 60) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
    return text if len(text) <= width else text[: width - 3] + "..."


def _flag_text(flag: dict[str, Any]) -> str:
    title = FLAG_TITLES.get(flag["kind"], flag["kind"].upper())
    when = f", {flag['when']}" if flag.get("when") else ""
    return f"[{title}{when}] {flag['message']}"


def render_diff_text(diff: dict[str, Any]) -> str:
    lines = [f"Changes from {diff['base']} to {diff['head']}: {summary_text(diff['summary'])}"]
    if diff["disruptive"]:
        lines.append(f"{diff['disruptive']} disruptive change(s), listed first")
    for change in diff["changes"]:
        lines.append(f" {SYMBOLS[change['op']]:<3}{short_type(change['type'])}  {change['name']}  {change['op']}")
        if change.get("renamedFrom"):
            lines.append(f"      renamed from {change['renamedFrom']}")
        for flag in change["flags"]:
            lines.append(f"      ! {_flag_text(flag)}")
            if flag.get("source"):
                lines.append(f"        source: {flag['source']}")
        for path, values in (change.get("changed") or {}).items():
            lines.append(f"      {path}: {_value(values['before'])} => {_value(values['after'])}")
    return "\n".join(lines)


def table_cell(text: str) -> str:
    """Text that stays in one Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def render_diff_markdown(diff: dict[str, Any], heading: str = "####") -> str:
    lines = [f"{heading} Changes: {summary_text(diff['summary'])}"]
    disruptive = [c for c in diff["changes"] if c["flags"]]
    if disruptive:
        lines += ["", f"**{len(disruptive)} disruptive change(s)**", ""]
        for change in disruptive:
            for flag in change["flags"]:
                source = f" <sub>Source: {table_cell(flag['source'])}</sub>" if flag.get("source") else ""
                lines.append(f"- **{FLAG_TITLES.get(flag['kind'], flag['kind'])}**"
                             f"{' (' + flag['when'] + ')' if flag.get('when') else ''} `{change['name']}` "
                             f"({short_type(change['type'])}, {change['op']}): {table_cell(flag['message'])}.{source}")
    rest = [c for c in diff["changes"] if c["op"] != "same"]
    if rest:
        lines += ["", "<details><summary>All changes</summary>", "", "| | type | name | inputs changed |", "|---|---|---|---|"]
        for change in rest:
            changed = ", ".join(f"`{p}`" for p in (change.get("changed") or {})) or ""
            lines.append(f"| {SYMBOLS[change['op']]} | {short_type(change['type'])} | {table_cell(change['name'])} | {changed} |")
        lines += ["", "</details>"]
    return "\n".join(lines)
