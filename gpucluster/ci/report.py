"""The pull-request report: one Markdown document for every stack, disruptive changes and failing policies first."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..cost.render import render_diff, signed_usd, usd
from ..diff.render import render_diff_markdown, summary_text, table_cell
from ..policies.render import count_text

MARKER = "<!-- gpucluster-ci -->"  # lets a workflow find and update its own comment instead of adding another


@dataclass
class StackReport:
    stack: str
    head_error: str | None = None  # the head does not preview: why
    base_note: str | None = None  # new stack, or why the base could not be previewed
    diff: dict[str, Any] | None = None
    cost_change: dict[str, Any] | None = None
    violations: list = field(default_factory=list)
    waivers: list = field(default_factory=list)

    @property
    def mandatory(self) -> int:
        return sum(v.enforcement == "mandatory" for v in self.violations)

    @property
    def failed(self) -> bool:
        return bool(self.head_error) or self.mandatory > 0


def _policies(report: StackReport) -> list[str]:
    lines = [f"#### Policies: {count_text(report.violations)}"]
    if report.violations:
        lines += ["", "| level | policy | code | resource | finding |", "|---|---|---|---|---|"]
        for v in sorted(report.violations, key=lambda v: (v.enforcement != "mandatory", v.pack, v.policy, v.resource or "")):
            where = v.resource.rsplit("::", 1)[-1] if v.resource else "stack"
            level = "**mandatory**" if v.enforcement == "mandatory" else "advisory"
            code = f"`{v.code}`" if v.code else ""
            lines.append(f"| {level} | `{v.pack}/{v.policy}` | {code} | {table_cell(where)} | "
                         f"{table_cell(v.message.split(chr(10))[-1])} |")
    if report.waivers:
        lines += ["", f"Waivers ({len(report.waivers)}): policies run below their pack's own level"]
        lines += [f"- `{w.pack}/{w.policy}`: {w.default} -> {w.effective}, set by {table_cell(w.source)}" for w in report.waivers]
    return lines


def _stack_section(report: StackReport) -> list[str]:
    lines = [f"### `{report.stack}`"]
    if report.head_error:
        return [*lines, "", f"**Does not preview at the head:** {table_cell(report.head_error)}"]
    if report.base_note:
        lines += ["", f"_Base: {report.base_note}_"]
    if report.diff:
        lines += ["", render_diff_markdown(report.diff, heading="####")]
    if report.cost_change:
        change = report.cost_change
        lines += ["", f"#### Cost: {signed_usd(change['total']['min'])} at min, {signed_usd(change['total']['max'])} at max per month",
                  "", f"From {usd(change['before']['min'])} to {usd(change['after']['min'])} at min, "
                  f"{usd(change['before']['max'])} to {usd(change['after']['max'])} at max."]
        if change["lines"]:
            lines += ["", "<details><summary>Cost lines that change</summary>", "",
                      render_diff(change, markdown=True).split("\n", 1)[1], "", "</details>"]
    lines += ["", *_policies(report)]
    return lines


def render_report(reports: list[StackReport], base: str) -> str:
    failing = [r for r in reports if r.failed]
    disruptive = [r for r in reports if r.diff and r.diff["disruptive"]]
    title = (f"## Stack previews: {len(reports)} stack(s), {len(disruptive)} with disruptive changes, "
             f"{len(failing)} failing")
    lines = [MARKER, title, "",
             f"Offline previews (no cloud credentials, no Pulumi CLI) of the head, compared with {base}. Costs are "
             "list prices from gpucluster's price book, both sides priced alike.", "",
             "| stack | changes | disruptive | cost change at min | at max | policies |", "|---|---|---|---|---|---|"]
    for r in reports:
        if r.head_error:
            lines.append(f"| `{r.stack}` | **does not preview** | | | | |")
            continue
        changes = summary_text(r.diff["summary"]).split(" (")[0] if r.diff else ""
        cost = r.cost_change["total"] if r.cost_change else {"min": 0, "max": 0}
        policies = f"**{r.mandatory} mandatory**" if r.mandatory else "pass"
        if others := [v for v in r.violations if v.enforcement != "mandatory"]:
            policies += f", {count_text(others).split(', ', 1)[1]}"
        lines.append(f"| `{r.stack}` | {changes} | {r.diff['disruptive'] if r.diff else 0} | {signed_usd(cost['min'])} | "
                     f"{signed_usd(cost['max'])} | {policies} |")
    for report in sorted(reports, key=lambda r: (not r.failed, not (r.diff and r.diff["disruptive"]), r.stack)):
        lines += ["", *_stack_section(report)]
    return "\n".join(lines) + "\n"
