"""`gpucluster ci`: preview every stack at the head and the base, diff them, price both, run every pack, write the
report, SARIF and Terraform-plan JSON, and fail when a mandatory policy fails or a stack no longer previews."""

from __future__ import annotations

import contextlib
import io
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .. import stackrun
from ..cost import estimate
from ..cost.render import diff as cost_diff
from ..diff.changes import diff_previews
from ..preview.stackfile import StackFileError, find_project, load_project
from ..preview.tfplan import to_tfplan
from ..stackrun import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from .base import BaseError, from_folder, from_ref
from .locate import locator, repo_root
from .report import StackReport, render_report


@dataclass
class CiOptions:
    project: str | None = None
    stacks: tuple[str, ...] = ()  # none: every stack of the project
    base_dir: str | None = None
    base_ref: str | None = None
    out: str = "gpucluster-ci"
    policy_config: str | None = None
    org_policy_config: str | None = None
    policy_packs: tuple[str, ...] = ()


def _write(path: Path, document) -> None:
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")


class _Unusable(Exception):
    """A policy config or a policy pack that cannot be used: the same for every stack, so the run stops."""


def _head(options: CiOptions, stack: str, log: Callable[[str], None]):
    """The head's evaluated preview, or why the stack does not preview (what the preview said on standard error)."""
    said = io.StringIO()
    with contextlib.redirect_stderr(said):
        run = stackrun.preview_stack(options.project, stack, quiet=True)
        evaluated = run if isinstance(run, int) else stackrun.evaluate_stack(
            run, options.policy_config, options.org_policy_config, options.policy_packs, log=log)
    lines = said.getvalue().strip().splitlines()
    if isinstance(evaluated, int):
        reason = lines[-1].removeprefix("error: ") if lines else f"exit code {evaluated}"
        if not isinstance(run, int):
            raise _Unusable(reason)
        return None, "\n".join(line.removeprefix("error: ") for line in lines) or reason
    for line in lines:  # warnings, kept visible
        log(f"  {line}")
    return evaluated, None


def run_ci(options: CiOptions, log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True)) -> int:
    try:
        project = load_project(Path(options.project)) if options.project else find_project(Path.cwd())
    except StackFileError as exc:
        log(f"error: {exc}")
        return EXIT_USAGE
    options.project = str(project.root)
    stacks = list(options.stacks) or project.stacks()
    unknown = [s for s in stacks if not project.stack_file(s).is_file()]
    if unknown or not stacks:
        log(f"error: no stack {', '.join(unknown)} in {project.stack_config_dir}" if unknown
            else f"error: no stacks in {project.stack_config_dir}")
        return EXIT_USAGE
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        if options.base_ref:
            bases = from_ref(project.root, options.base_ref, stacks, log)
            base_name = f"the base `{options.base_ref}`"
        elif options.base_dir:
            bases = {s: from_folder(Path(options.base_dir), s) for s in stacks}
            base_name = f"the base previews in `{options.base_dir}`"
        else:
            bases, base_name = {s: None for s in stacks}, "nothing (no base given: every resource is new)"
    except BaseError as exc:
        log(f"error: {exc}")
        return EXIT_USAGE

    root = repo_root(project.root)
    reports, findings, extra_rules = [], [], {}
    from ..policies.sarif import StackFindings, pack_rules, to_sarif

    for i, stack in enumerate(stacks, 1):
        log(f"[{i}/{len(stacks)}] previewing {stack}")
        try:
            evaluated, error = _head(options, stack, log)
        except _Unusable as exc:
            log(f"error: {exc}")
            return EXIT_USAGE
        if error:
            log(f"  {stack} does not preview: {error}")
            reports.append(StackReport(stack, head_error=error))
            continue
        head = evaluated.document
        base = bases.get(stack)
        report = StackReport(stack, violations=evaluated.violations, waivers=evaluated.waivers)
        if isinstance(base, str):
            report.base_note = f"does not preview ({base}); compared with nothing"
            base = None
        elif base is None and (options.base_ref or options.base_dir):
            report.base_note = "new stack"
        base = base or {"stack": stack, "resources": []}
        report.diff = diff_previews(base, head)
        # Both sides priced by this version's price book, so the delta is the change's, not the prices'.
        report.cost_change = cost_diff(estimate(base["resources"]), head["cost"])
        reports.append(report)
        _write(out / f"{stack}.json", head)
        _write(out / f"{stack}.diff.json", report.diff)
        _write(out / f"{stack}.tfplan.json", to_tfplan(head))
        findings.append(StackFindings(stack, evaluated.violations, evaluated.waivers, locator(evaluated.run, root)))
        for pack in evaluated.packs:
            extra_rules.update({rule.id: rule for rule in pack_rules(pack)})
        log(f"  {stack}: {report.diff['summary']['create']} to create, {report.diff['summary']['update']} to update, "
            f"{report.diff['summary']['replace']} to replace, {report.diff['summary']['delete']} to delete; "
            f"{report.diff['disruptive']} disruptive; {report.mandatory} mandatory finding(s)")

    (out / "report.md").write_text(render_report(reports, base_name))
    _write(out / "results.sarif", to_sarif(findings, list(extra_rules.values())))
    failing = [r.stack for r in reports if r.failed]
    log(f"wrote {out}/report.md, results.sarif and per-stack JSON; "
        + (f"failing: {', '.join(failing)}" if failing else "no stack fails"))
    return EXIT_FAILED if failing else EXIT_OK
