"""Loading, previewing and pricing one stack, and its policy config: the steps `gpucluster preview` and `gpucluster
ci` share. Each step says what went wrong on standard error and returns an exit code instead of raising."""

from __future__ import annotations

import json
import os
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import pulumi

from . import policyconfig
from .cost import estimate
from .preview.engine import PreviewResult, run_program
from .preview.render import as_json
from .preview.stackfile import Project, StackConfig, StackFileError, find_project, load_project, read_stack
from .problems import Problem, Skipped, SpecError, format_problems, quote
from .spec import CONFIG_KEY, CONFIG_NAMESPACE, ClusterSpec
from .validate import CheckedSpec, load_spec

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
ORG_POLICY_ENV = "GPUCLUSTER_ORG_POLICY_CONFIG"


def _progress(count: int) -> None:
    if count % 500 == 0:
        print(f"\r  registered {count} resources...", end="", file=sys.stderr, flush=True)


@dataclass
class StackRun:
    result: PreviewResult
    spec: ClusterSpec | None
    stack: StackConfig
    project: Project
    skipped: list[Skipped] = field(default_factory=list)  # the spec's skipped checks (skipChecks)


def provider_problems(spec: ClusterSpec, config: dict[str, str]) -> list[Problem]:
    """The stack program's provider checks (components/program.py), made here too so that a mismatch is
    invalid input, refused before anything runs."""
    problems = []
    if spec.cloud == "kubernetes":  # no cloud provider; the site's kubeconfig secret, when it says so
        if spec.site.kubeconfig == "stack-secret" and f"{CONFIG_NAMESPACE}:kubeconfig" not in config:
            problems.append(Problem(f"{CONFIG_NAMESPACE}:kubeconfig", "not set, but site.kubeconfig is stack-secret; "
                                    f"`pulumi config set --secret {CONFIG_NAMESPACE}:kubeconfig < kubeconfig.yaml`",
                                    code="GPC-KUBECONFIG-SECRET"))
        return problems
    region_key = f"{spec.cloud}:region"
    configured = config.get(region_key)
    if configured != spec.region:
        shown = "not set" if configured is None else quote(configured)
        problems.append(Problem(region_key, f"{shown}, but the cluster spec says region {spec.region!r}; set them equal",
                                code="GPC-PROVIDER-REGION"))
    if spec.cloud == "gcp" and not config.get("gcp:project"):
        problems.append(Problem("gcp:project", "not set; the RoCE network profile and the KMS grants need it",
                                code="GPC-PROVIDER-PROJECT"))
    return problems


def load_stack(project_dir: str | None, name: str) -> tuple[Project, StackConfig, CheckedSpec | None] | int:
    """The project, the stack's config and its validated spec (None for a program that does not read a cluster
    spec); a usage exit code (after saying why) when not. The program shows the spec's warnings itself."""
    try:
        project = load_project(Path(project_dir)) if project_dir else find_project(Path.cwd())
        stack = read_stack(project, name)
    except StackFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for warning in stack.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    config, key = stack.values, f"{CONFIG_NAMESPACE}:{CONFIG_KEY}"
    if key not in config:  # a program of the user's own: previewed as it is, with no spec to check first
        return project, stack, None
    try:
        raw = json.loads(config[key])  # a YAML mapping arrives as JSON; a string may be anything
    except (ValueError, RecursionError) as exc:
        print(f"error: {stack.at(key)}: {key} is a string, but not valid JSON: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        checked = load_spec(raw)  # every spec error at once, before anything runs
    except SpecError as exc:
        print(format_problems(exc.problems, lambda path: stack.at(key, path)), file=sys.stderr)
        return EXIT_USAGE
    if problems := provider_problems(checked.spec, config):
        print(format_problems(problems, stack.at), file=sys.stderr)
        return EXIT_USAGE
    return project, stack, checked


def spec_stack(project_dir: str | None, name: str, command: str) -> tuple[Project, StackConfig, ClusterSpec] | int:
    """As `load_stack`, for commands that work from the cluster spec and so need one."""
    loaded = load_stack(project_dir, name)
    if isinstance(loaded, int):
        return loaded
    project, stack, checked = loaded
    if checked is None:
        key = f"{CONFIG_NAMESPACE}:{CONFIG_KEY}"
        print(f"error: {stack.file} has no '{key}'; `gpucluster {command}` works from a cluster spec "
              "(see README, 'Cluster spec')", file=sys.stderr)
        return EXIT_USAGE
    return project, stack, checked.spec


def preview_stack(project_dir: str | None, name: str, quiet: bool) -> StackRun | int:
    """Run the offline preview of the stack `name`; an exit code (after saying why) when it cannot."""
    loaded = load_stack(project_dir, name)
    if isinstance(loaded, int):
        return loaded
    project, stack, checked = loaded
    if not project.main.is_file():
        print(f"error: no program to preview: {project.main} does not exist (Pulumi.yaml 'main')", file=sys.stderr)
        return EXIT_USAGE

    show_progress = sys.stderr.isatty() and not quiet
    try:
        result = run_program(
            str(project.main), project.name, name, stack.values, on_register=_progress if show_progress else None
        )
        if checked is None:  # a program of the user's own
            return StackRun(result, None, stack, project)
        return StackRun(result, checked.spec, stack, project, checked.skipped)
    except pulumi.RunError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:  # a bug in the program or a component: say where, and how to see more
        print(f"error: preview failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        if os.environ.get("GPUCLUSTER_DEBUG"):
            traceback.print_exc()
        else:
            print("  (set GPUCLUSTER_DEBUG=1 for the traceback)", file=sys.stderr)
        return EXIT_FAILED
    finally:
        if show_progress:
            print("\r" + " " * 40 + "\r", end="", file=sys.stderr)


def with_cost(result: PreviewResult) -> dict:
    document = as_json(result)
    document["cost"] = estimate(document["resources"])
    return document


def policy_layers(spec: ClusterSpec | None, stack: StackConfig, policy_config_file: str | None = None,
                  org_policy_config_file: str | None = None) -> list:
    """The layers of a stack's policy config, in order: what the spec implies, the organisation's file,
    `gpucluster:policy` from the stack, then the --policy-config file (gpucluster.policies.waivers)."""
    from .policies.waivers import ORGANISATION, Layer

    layers = [Layer("spec", policyconfig.from_spec(spec))] if spec else []
    organisation = org_policy_config_file or os.environ.get(ORG_POLICY_ENV)
    if organisation:
        layers.append(Layer(f"{ORGANISATION} ({organisation})", json.loads(Path(organisation).read_text())))
    key = f"{CONFIG_NAMESPACE}:policy"
    if key in stack.values:
        layers.append(Layer(f"{key} ({stack.at(key)})", json.loads(stack.values[key])))
    if policy_config_file:
        layers.append(Layer(f"--policy-config ({policy_config_file})", json.loads(Path(policy_config_file).read_text())))
    return layers


def policy_config(spec: ClusterSpec | None, stack: StackConfig, policy_config_file: str | None = None,
                  org_policy_config_file: str | None = None):
    """Every pack's config and the built-in packs' waivers, from `policy_layers`."""
    from .policies.waivers import combine

    return combine(policy_layers(spec, stack, policy_config_file, org_policy_config_file))


@dataclass
class Evaluated:
    """A previewed stack with its cost, its findings from every pack and its waivers."""

    run: StackRun
    document: dict  # the preview JSON (README, "Preview JSON"), with cost, policies and waivers
    violations: list  # harness.Violation
    waivers: list  # waivers.Waiver
    packs: list  # external.PackRun, one per --policy-pack


def evaluate_stack(run: StackRun, policy_config_file: str | None = None, org_policy_config_file: str | None = None,
                   pack_dirs: tuple[str, ...] = (), log=None) -> Evaluated | int:
    """Cost, the built-in packs and the user's own packs (by folder: their settings in the policy config under the
    folder's name) on a previewed stack; an exit code (after saying why) when a config or a pack is unusable."""
    from .policies.harness import PolicyConfigError, evaluate  # pulumi_policy only when evaluating
    from .policies.waivers import combine, pack_waivers

    document = with_cost(run.result)
    try:
        layers = policy_layers(run.spec, run.stack, policy_config_file, org_policy_config_file)
        config, waivers = combine(layers)
        violations = evaluate(run.result, config)
    except (PolicyConfigError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    packs = _external_packs(pack_dirs, run, config, log)
    if isinstance(packs, int):
        return packs
    for pack in packs:
        violations += pack.violations
        waivers += pack_waivers(layers, pack.name, pack.policies, pack.effective)
    document["policies"] = [v.as_dict() for v in violations]
    document["waivers"] = [w.as_dict() for w in waivers]
    document["skippedChecks"] = [s.as_dict() for s in run.skipped]
    return Evaluated(run, document, violations, waivers, packs)


def _external_packs(pack_dirs: tuple[str, ...], run: StackRun, config: dict, log) -> list | int:
    """Each user pack's run (its settings under its folder's name); an exit code when one cannot be used."""
    if not pack_dirs:
        return []
    from .policies import PACKS
    from .policies.external import PackError, run_pack
    from .policies.harness import AnalyzerRequests, PolicyConfigError

    folders = [Path(folder).resolve() for folder in pack_dirs]
    names = [folder.name for folder in folders]
    if clash := sorted({name for name in names if names.count(name) > 1 or name in PACKS}):
        print(f"error: --policy-pack: two packs, or a pack and a built-in one, share the folder name {clash[0]!r}, "
              "which keys their settings in the policy config; rename one folder", file=sys.stderr)
        return EXIT_USAGE
    requests = AnalyzerRequests(run.result)  # built once, sent to every pack
    try:
        return [run_pack(folder, run.result, config.get(folder.name), run.stack.values, log=log, requests=requests)
                for folder in folders]
    except (PackError, PolicyConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
