"""`gpucluster`: offline preview, cost estimates, spec schema and catalog listing.

Exit codes: 0 ok; 1 the preview failed; 2 invalid input or usage (nothing was run).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

import pulumi
import yaml

from . import catalog
from .cost import estimate
from .cost.render import diff, render_cost, render_diff
from .preview.engine import PreviewResult, run_program
from .preview.render import as_json, render_text
from .preview.stackfile import Project, StackConfig, StackFileError, find_project, load_project, read_stack
from . import policyconfig
from .policies.render import render_policies
from .problems import Problem, SpecError, format_problems, quote
from .spec import CONFIG_KEY, CONFIG_NAMESPACE, ClusterSpec
from .validate import load_spec

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
ORG_POLICY_ENV = "GPUCLUSTER_ORG_POLICY_CONFIG"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse exits 2 on usage errors too; keep its message short
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _progress(count: int) -> None:
    if count % 500 == 0:
        print(f"\r  registered {count} resources...", end="", file=sys.stderr, flush=True)


@dataclass
class _Run:
    result: PreviewResult
    spec: ClusterSpec
    stack: StackConfig


def _provider_problems(spec: ClusterSpec, config: dict[str, str]) -> list[Problem]:
    """The stack program's provider checks (components/program.py), made here too so that a mismatch is
    invalid input, refused before anything runs."""
    problems = []
    if spec.cloud == "kubernetes":  # no cloud provider; the site's kubeconfig secret, when it says so
        if spec.site.kubeconfig == "stack-secret" and f"{CONFIG_NAMESPACE}:kubeconfig" not in config:
            problems.append(Problem(f"{CONFIG_NAMESPACE}:kubeconfig", "not set, but site.kubeconfig is stack-secret; "
                                    f"`pulumi config set --secret {CONFIG_NAMESPACE}:kubeconfig < kubeconfig.yaml`"))
        return problems
    region_key = f"{spec.cloud}:region"
    configured = config.get(region_key)
    if configured != spec.region:
        shown = "not set" if configured is None else quote(configured)
        problems.append(Problem(region_key, f"{shown}, but the cluster spec says region {spec.region!r}; set them equal"))
    if spec.cloud == "gcp" and not config.get("gcp:project"):
        problems.append(Problem("gcp:project", "not set; the RoCE network profile and the KMS grants need it"))
    return problems


def _load_stack(args: argparse.Namespace) -> tuple[Project, StackConfig, ClusterSpec] | int:
    """The project, the stack's config and its validated spec; a usage exit code (after saying why) when not."""
    try:
        project = load_project(Path(args.project)) if args.project else find_project(Path.cwd())
        stack = read_stack(project, args.stack)
    except StackFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for warning in stack.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    config, key = stack.values, f"{CONFIG_NAMESPACE}:{CONFIG_KEY}"
    if key not in config:
        print(f"error: {stack.file} has no '{key}' (see README, 'Cluster spec')", file=sys.stderr)
        return EXIT_USAGE
    try:
        raw = json.loads(config[key])  # a YAML mapping arrives as JSON; a string may be anything
    except (ValueError, RecursionError) as exc:
        print(f"error: {stack.at(key)}: {key} is a string, but not valid JSON: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        spec, _ = load_spec(raw)  # every spec error at once, before anything runs
    except SpecError as exc:
        print(format_problems(exc.problems, lambda path: stack.at(key, path)), file=sys.stderr)
        return EXIT_USAGE
    if problems := _provider_problems(spec, config):
        print(format_problems(problems, stack.at), file=sys.stderr)
        return EXIT_USAGE
    return project, stack, spec


def _preview(args: argparse.Namespace, quiet: bool) -> _Run | int:
    """Run the offline preview of `args.stack`; an exit code when it cannot."""
    loaded = _load_stack(args)
    if isinstance(loaded, int):
        return loaded
    project, stack, spec = loaded

    show_progress = sys.stderr.isatty() and not quiet
    try:
        result = run_program(
            str(project.main), project.name, args.stack, stack.values, on_register=_progress if show_progress else None
        )
        return _Run(result, spec, stack)
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


def _with_cost(result: PreviewResult) -> dict:
    document = as_json(result)
    document["cost"] = estimate(document["resources"])
    return document


def _policy_config(args: argparse.Namespace, spec: ClusterSpec, stack: StackConfig):
    """Every pack's config and its waivers, from the layers in order: what the spec implies, the organisation's
    file, `gpucluster:policy` from the stack, then the --policy-config file (gpucluster.policies.waivers)."""
    from .policies.waivers import ORGANISATION, Layer, combine

    layers = [Layer("spec", policyconfig.from_spec(spec))]
    organisation = getattr(args, "org_policy_config", None) or os.environ.get(ORG_POLICY_ENV)
    if organisation:
        layers.append(Layer(f"{ORGANISATION} ({organisation})", json.loads(Path(organisation).read_text())))
    key = f"{CONFIG_NAMESPACE}:policy"
    if key in stack.values:
        layers.append(Layer(f"{key} ({stack.at(key)})", json.loads(stack.values[key])))
    if getattr(args, "policy_config", None):
        layers.append(Layer(f"--policy-config ({args.policy_config})", json.loads(Path(args.policy_config).read_text())))
    return combine(layers)


def cmd_preview(args: argparse.Namespace) -> int:
    output = "json" if args.json else args.format
    run = _preview(args, quiet=output != "text")
    if isinstance(run, int):
        return run
    from .policies.harness import PolicyConfigError, evaluate  # pulumi_policy only when evaluating
    from .policies.sarif import to_sarif

    document = _with_cost(run.result)
    try:
        policy_config, waivers = _policy_config(args, run.spec, run.stack)
        violations = evaluate(run.result, policy_config)
    except (PolicyConfigError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    document["policies"] = [v.as_dict() for v in violations]
    document["waivers"] = [w.as_dict() for w in waivers]
    if output == "json":
        json.dump(document, sys.stdout, indent=2, sort_keys=True)
        print()
    elif output == "sarif":
        json.dump(to_sarif(violations, waivers), sys.stdout, indent=2)
        print()
    elif output == "tfplan":
        from .preview.tfplan import to_tfplan

        json.dump(to_tfplan(document), sys.stdout, indent=2)
        print()
    else:
        print(render_text(run.result))
        print()
        print(render_cost(document["cost"]))
        print()
        print(render_policies(violations, waivers))
    return EXIT_FAILED if any(v.enforcement == "mandatory" for v in violations) else EXIT_OK


def cmd_cost(args: argparse.Namespace) -> int:
    markdown = args.format == "markdown"
    if args.diff:
        try:
            base, head = (json.loads(Path(p).read_text())["cost"] for p in args.diff)
            change = diff(base, head)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            print(f"error: --diff needs two preview JSON files (gpucluster preview STACK --json): {exc}", file=sys.stderr)
            return EXIT_USAGE
        print(json.dumps(change, indent=2) if args.format == "json" else render_diff(change, markdown))
        return EXIT_OK
    if not args.stack:
        print("error: give a STACK, or --diff BASE.json HEAD.json", file=sys.stderr)
        return EXIT_USAGE
    run = _preview(args, quiet=True)
    if isinstance(run, int):
        return run
    cost = _with_cost(run.result)["cost"]
    print(json.dumps(cost, indent=2, sort_keys=True) if args.format == "json" else render_cost(cost, markdown))
    return EXIT_OK


def cmd_prices_refresh(args: argparse.Namespace) -> int:
    from .cost import refresh  # boto3 clients only when asked for

    book = refresh.parse(refresh.price_file(args.cloud).read_text())
    regions = args.region or sorted(book.instances)
    try:
        if args.cloud == "aws":
            import boto3

            # The Price List API answers from us-east-1 for every region.
            refresh.refresh_aws(regions, boto3.client("pricing", region_name="us-east-1"),
                                lambda region: boto3.client("ec2", region_name=region))
        else:
            from google.cloud import billing_v1

            refresh.refresh_gcp(regions, billing_v1.CloudCatalogClient())
    except refresh.RefreshError as exc:
        print(f"error: {exc}; the price file is unchanged", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:  # credentials, network: botocore says which
        print(f"error: {type(exc).__name__}: {exc}; the price file is unchanged", file=sys.stderr)
        return EXIT_FAILED
    print(f"refreshed {refresh.price_file(args.cloud)} for {', '.join(regions)}")
    return EXIT_OK


def cmd_policy_config(args: argparse.Namespace) -> int:
    """The config file `pulumi preview --policy-pack policies/PACK --policy-pack-config FILE` needs for a stack."""
    loaded = _load_stack(args)
    if isinstance(loaded, int):
        return loaded
    _, stack, spec = loaded
    from .policies.harness import PolicyConfigError

    try:
        policy_config, waivers = _policy_config(args, spec, stack)
    except (PolicyConfigError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for waiver in waivers:
        if waiver.pack == args.pack:
            print(f"waiver: {waiver}", file=sys.stderr)
    print(json.dumps(policy_config.get(args.pack, {}), indent=2, sort_keys=True))
    return EXIT_OK


def cmd_job_template(args: argparse.Namespace) -> int:
    """A JobSet for a multi-node training job on the stack's cluster, as YAML for `kubectl apply -f -`."""
    import shlex

    from .kube.jobset import DEFAULT_COMMAND, DEFAULT_IMAGE, JobTemplateError, job_template

    try:
        command = shlex.split(args.command) if args.command is not None else list(DEFAULT_COMMAND)
    except ValueError as exc:  # unbalanced quotes
        print(f"error: --command {args.command!r}: {exc}; give the script and its arguments as one shell word list",
              file=sys.stderr)
        return EXIT_USAGE
    loaded = _load_stack(args)
    if isinstance(loaded, int):
        return loaded
    try:
        job = job_template(loaded[2], pool=args.pool, nodes=args.nodes, team=args.team, name=args.name,
                           image=args.image or DEFAULT_IMAGE, command=command, within=args.within)
    except JobTemplateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(yaml.safe_dump(job, sort_keys=False), end="")
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    schema = ClusterSpec.model_json_schema(by_alias=True)
    schema["title"] = f"gpucluster cluster spec (stack config key {CONFIG_NAMESPACE}:{CONFIG_KEY})"
    text = json.dumps(schema, indent=2, sort_keys=True)
    if args.output:
        Path(args.output).write_text(text + "\n")
    else:
        print(text)
    return EXIT_OK


def cmd_catalog(args: argparse.Namespace) -> int:
    clouds = [args.cloud] if args.cloud else ["aws", "gcp", "kubernetes"]
    rows = [("type", "accelerator", "vcpu", "mem GiB", "fabric", "local disks", "regions")]
    for cloud in clouds:
        for t in catalog.load(cloud):
            fabric = t.fabric
            if cloud == "aws":
                fabric_text = f"{fabric.max_efa_interfaces} EFA"
            elif cloud == "gcp":
                fabric_text = f"{fabric.gpu_nics} GPU NIC ({fabric.transport})"
            else:
                nic = fabric.compute_nics[0]
                fabric_text = f"{nic.ports} x {nic.rate_gbps}G {nic.model} {nic.link_type}"
            if not t.fabric_capable:
                fabric_text = "-"
            disks = f"{t.local_disks.count} x {t.local_disks.size_gb}" if t.local_disks.count else "-"
            rows.append(
                (t.name, f"{t.accelerator.count} x {t.accelerator.model}", str(t.vcpus or "?"),
                 f"{t.memory_gib:g}" if t.memory_gib else "?", fabric_text, disks, str(len(t.regions)) if t.regions else "-")
            )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gpucluster", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    preview = sub.add_parser("preview", help="offline preview of a stack (no CLI, no credentials)")
    preview.add_argument("stack", help="stack name: reads stacks/Pulumi.STACK.yaml")
    preview.add_argument("--json", action="store_true", help="print the preview as JSON (README, 'Preview JSON')")
    preview.add_argument("--format", choices=["text", "json", "sarif", "tfplan"], default="text",
                         help="sarif: the policy violations as SARIF 2.1.0, for code-scanning tools; tfplan: the preview "
                         "as Terraform plan JSON, for Terraform scanners (Checkov, Trivy, OPA)")
    preview.add_argument("--policy-config", help="policy config file: {pack: {policy: level | {enforcementLevel, ...}}}")
    preview.add_argument("--org-policy-config", help=f"the organisation's policy config file (default: ${ORG_POLICY_ENV}); "
                         "a policy marked \"locked\": true there cannot be changed by a stack")
    preview.add_argument("--project", help="project folder (default: the nearest Pulumi.yaml at or above here)")
    preview.set_defaults(func=cmd_preview)

    cost = sub.add_parser("cost", help="cost estimate of a stack, or the change between two previews")
    cost.add_argument("stack", nargs="?", help="stack name: previews it offline and prices the result")
    cost.add_argument("--diff", nargs=2, metavar=("BASE.json", "HEAD.json"), help="two `preview --json` outputs")
    cost.add_argument("--format", choices=["text", "markdown", "json"], default="text")
    cost.add_argument("--project", help="project folder (default: the nearest Pulumi.yaml at or above here)")
    cost.set_defaults(func=cmd_cost)

    prices_cmd = sub.add_parser("prices", help="price books")
    prices_sub = prices_cmd.add_subparsers(dest="prices_command", required=True, parser_class=_Parser)
    refresh_cmd = prices_sub.add_parser("refresh", help="rewrite instance prices from the cloud's pricing APIs")
    refresh_cmd.add_argument("--cloud", choices=["aws", "gcp"], required=True)
    refresh_cmd.add_argument("--region", action="append", help="region to refresh (repeatable; default: those in the file)")
    refresh_cmd.set_defaults(func=cmd_prices_refresh)

    policy_config = sub.add_parser("policy-config", help="a stack's policy config file for one pack, for the Pulumi CLI")
    policy_config.add_argument("stack")
    policy_config.add_argument("--pack", choices=["cost", "sovereignty", "security"], required=True)
    policy_config.add_argument("--policy-config", help="extra settings, as for preview")
    policy_config.add_argument("--org-policy-config", help=f"the organisation's policy config file (default: ${ORG_POLICY_ENV})")
    policy_config.add_argument("--project", help="project folder (default: the nearest Pulumi.yaml at or above here)")
    policy_config.set_defaults(func=cmd_policy_config)

    job = sub.add_parser("job-template", help="print a JobSet for a multi-node PyTorch job on a Kubernetes stack")
    job.add_argument("stack")
    job.add_argument("--pool", help="pin the job to this pool (default: the first GPU pool the queue tries, and any "
                     "pool of its instance type after it)")
    job.add_argument("--nodes", type=int, help="how many nodes, one pod each (default: 2, at most the pool's maximum)")
    job.add_argument("--team", help="the team whose namespace and queue take the job (default: the first team)")
    job.add_argument("--name", default="train", help="the JobSet's name (default: train)")
    job.add_argument("--image", help="the training image (default: NVIDIA's PyTorch container from NGC)")
    job.add_argument("--command", help="what torchrun starts on every GPU, as one string: the script and its "
                     "arguments (default: train.py)")
    job.add_argument("--within", help="existing clusters with a topology: the level (node label) all pods must share, "
                     "such as the scalable unit's (default: as close together as free nodes allow)")
    job.add_argument("--project", help="project folder (default: the nearest Pulumi.yaml at or above here)")
    job.set_defaults(func=cmd_job_template)

    schema = sub.add_parser("schema", help="print the JSON Schema of the cluster spec")
    schema.add_argument("--output", "-o", help="write to this file instead of standard output")
    schema.set_defaults(func=cmd_schema)

    listing = sub.add_parser("catalog", help="list the instance types the catalog knows")
    listing.add_argument("--cloud", choices=["aws", "gcp", "kubernetes"])
    listing.set_defaults(func=cmd_catalog)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:  # output piped into `head` and friends
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
