"""`gpucluster`: offline preview, cost estimates, spec schema and catalog listing.

Exit codes: 0 ok; 1 the preview failed; 2 invalid input or usage (nothing was run).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import yaml

from . import catalog
from .cost.render import diff, render_cost, render_diff
from .gctune import collect_less_often
from .preview.render import render_text
from .policies.render import render_policies
from .spec import CONFIG_KEY, CONFIG_NAMESPACE, ClusterSpec
from . import stackrun
from .stackrun import EXIT_FAILED, EXIT_OK, EXIT_USAGE, ORG_POLICY_ENV


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse exits 2 on usage errors too; keep its message short
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def cmd_preview(args: argparse.Namespace) -> int:
    output = "json" if args.json else args.format
    run = stackrun.preview_stack(args.project, args.stack, quiet=output != "text")
    if isinstance(run, int):
        return run
    log = (lambda line: print(line, file=sys.stderr, flush=True)) if sys.stderr.isatty() else None
    evaluated = stackrun.evaluate_stack(run, args.policy_config, args.org_policy_config, tuple(args.policy_pack), log=log)
    if isinstance(evaluated, int):
        return evaluated
    document, violations, waivers = evaluated.document, evaluated.violations, evaluated.waivers
    if output == "json":
        json.dump(document, sys.stdout, indent=2, sort_keys=True)
        print()
    elif output == "sarif":
        from .ci.locate import locator, repo_root
        from .policies.sarif import StackFindings, pack_rules, to_sarif

        findings = StackFindings(run.result.stack, violations, waivers, locator(run, repo_root(run.project.root)))
        json.dump(to_sarif([findings], [rule for pack in evaluated.packs for rule in pack_rules(pack)]), sys.stdout, indent=2)
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
        print(render_policies(violations, waivers, [pack.name for pack in evaluated.packs]))
    return EXIT_FAILED if any(v.enforcement == "mandatory" for v in violations) else EXIT_OK


def cmd_diff(args: argparse.Namespace) -> int:
    from .diff.changes import diff_previews
    from .diff.render import render_diff_markdown, render_diff_text

    documents = []
    for path in (args.base, args.head):
        try:
            document = json.loads(Path(path).read_text())
            if not isinstance(document, dict) or not isinstance(document.get("resources"), list):
                raise ValueError("no 'resources' list")
        except (OSError, ValueError) as exc:
            print(f"error: {path}: not a preview JSON file (write one with `gpucluster preview STACK --json`): {exc}",
                  file=sys.stderr)
            return EXIT_USAGE
        documents.append(document)
    change = diff_previews(*documents)
    if args.json or args.format == "json":
        print(json.dumps(change, indent=2, sort_keys=True))
    elif args.format == "markdown":
        print(render_diff_markdown(change))
    else:
        print(render_diff_text(change))
    return EXIT_OK


def cmd_ci(args: argparse.Namespace) -> int:
    from .ci.run import CiOptions, run_ci

    if args.base_dir and args.base_ref:
        print("error: give --base-dir or --base-ref, not both", file=sys.stderr)
        return EXIT_USAGE
    return run_ci(CiOptions(project=args.project, stacks=tuple(args.stacks), base_dir=args.base_dir,
                            base_ref=args.base_ref, out=args.out, policy_config=args.policy_config,
                            org_policy_config=args.org_policy_config, policy_packs=tuple(args.policy_pack)))


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
    run = stackrun.preview_stack(args.project, args.stack, quiet=True)
    if isinstance(run, int):
        return run
    cost = stackrun.with_cost(run.result)["cost"]
    print(json.dumps(cost, indent=2, sort_keys=True) if args.format == "json" else render_cost(cost, markdown))
    return EXIT_OK


def _refresh(unchanged: str, run) -> int:
    """Run a refresh from a cloud's API (all or nothing): on any failure say why, and that the file is unchanged."""
    from .refresh_io import RefreshError

    try:
        run()
    except RefreshError as exc:
        print(f"error: {exc}; the {unchanged} is unchanged", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:  # credentials, network: botocore says which
        print(f"error: {type(exc).__name__}: {exc}; the {unchanged} is unchanged", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def cmd_prices_refresh(args: argparse.Namespace) -> int:
    from .cost import refresh  # boto3 clients only when asked for

    book = refresh.parse(refresh.price_file(args.cloud).read_text())
    regions = args.region or sorted(book.instances)

    def run() -> None:
        if args.cloud == "aws":
            import boto3

            # The Price List API answers from us-east-1 for every region.
            refresh.refresh_aws(regions, boto3.client("pricing", region_name="us-east-1"),
                                lambda region: boto3.client("ec2", region_name=region))
        else:
            from google.cloud import billing_v1

            refresh.refresh_gcp(regions, billing_v1.CloudCatalogClient())

    if (code := _refresh("price file", run)) != EXIT_OK:
        return code
    print(f"refreshed {refresh.price_file(args.cloud)} for {', '.join(regions)}")
    return EXIT_OK


def cmd_catalog_refresh(args: argparse.Namespace) -> int:
    """The AWS catalog from EC2 (DescribeInstanceTypes, DescribeInstanceTypeOfferings), curated figures merged in."""
    from .catalog import refresh  # boto3 clients only when asked for

    types = []

    def run() -> None:
        import boto3

        types.extend(refresh.refresh_aws(args.regions, lambda region: boto3.client("ec2", region_name=region)))

    if (code := _refresh("catalog file", run)) != EXIT_OK:
        return code
    where = ", ".join(args.regions) if args.regions else "every region DescribeRegions lists"
    print(f"refreshed {refresh.catalog_file()} from {where}: {len(types)} accelerated types")
    return EXIT_OK


def cmd_preflight(args: argparse.Namespace) -> int:
    """Ask the stack's cloud whether quotas, zones, capacity and the node image are there (README, "Preflight")."""
    loaded = stackrun.spec_stack(args.project, args.stack, "preflight")
    if isinstance(loaded, int):
        return loaded
    _, stack, spec = loaded
    if spec.cloud not in ("aws", "gcp"):
        print(f"error: preflight asks AWS or GCP; stack {args.stack} is cloud {spec.cloud}", file=sys.stderr)
        return EXIT_USAGE
    from .preflight import preflight
    from .preflight.model import exit_code
    from .preflight.render import as_json, render_table
    from .refresh_io import progress_bar

    if spec.cloud == "aws":
        import boto3
        from botocore.config import Config

        # One attempt per call: preflight's own backoff retries throttling. Timeouts turn a silent endpoint into an
        # "error" check rather than a hang.
        config = Config(connect_timeout=5, read_timeout=30, retries={"total_max_attempts": 1})

        def client_for(service: str, region: str):
            return boto3.client(service, region_name=region, config=config)
    else:
        from .preflight.gcp import default_compute

        def client_for(service: str, region: str):
            return default_compute()

    checks = preflight(spec, client_for, gcp_project=stack.values.get("gcp:project"), progress=progress_bar)
    if args.json:
        print(json.dumps(as_json(args.stack, spec.cloud, spec.region, checks), indent=2))
    else:
        print(render_table(checks))
    return exit_code(checks)


def cmd_policy_config(args: argparse.Namespace) -> int:
    """The config file `pulumi preview --policy-pack policies/PACK --policy-pack-config FILE` needs for a stack."""
    loaded = stackrun.spec_stack(args.project, args.stack, "policy-config")
    if isinstance(loaded, int):
        return loaded
    _, stack, spec = loaded
    from .policies.harness import PolicyConfigError

    try:
        config, waivers = stackrun.policy_config(spec, stack, args.policy_config, args.org_policy_config)
    except (PolicyConfigError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for waiver in waivers:
        if waiver.pack == args.pack:
            print(f"waiver: {waiver}", file=sys.stderr)
    print(json.dumps(config.get(args.pack, {}), indent=2, sort_keys=True))
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
    loaded = stackrun.spec_stack(args.project, args.stack, "job-template")
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


def cmd_docs(args: argparse.Namespace) -> int:
    """The spec's inputs as Markdown tables; or check or rewrite a file's generated region (README, "Spec reference")."""
    from . import docs

    content = docs.render()
    target = args.check or args.write
    if not target:
        print(content, end="")
        return EXIT_OK
    try:
        text = Path(target).read_text()
        current = docs.region(text)
    except (OSError, docs.RegionError) as exc:
        print(f"error: {target}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.write:
        if current != content:
            Path(target).write_text(docs.replace_region(text, content))
            print(f"wrote the spec reference in {target}", file=sys.stderr)
        return EXIT_OK
    found = docs.differences(current, content)
    if found:
        print(f"{target}: the spec reference differs from the spec's schema; run `gpucluster docs --write {target}`",
              file=sys.stderr)
        for line in found:
            print(f"  {line}", file=sys.stderr)
        return EXIT_FAILED
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
            share = f" (1/{round(1 / t.accelerator.fraction)} each)" if t.accelerator.fraction else ""
            rows.append(
                (t.name, f"{t.accelerator.count} x {t.accelerator.model}{share}", str(t.vcpus or "?"),
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
    preview.add_argument("--policy-pack", action="append", default=[], metavar="DIR",
                         help="also run this CrossGuard policy pack (Python or TypeScript/JavaScript), started as the "
                         "Pulumi CLI starts it; repeatable. Its settings go in the policy config under its folder's name")
    preview.add_argument("--project", help="project folder (default: the nearest Pulumi.yaml at or above here)")
    preview.set_defaults(func=cmd_preview)

    diff_cmd = sub.add_parser("diff", help="what changes between two previews (JSON): created, updated, replaced and "
                              "deleted resources, disruptive changes first")
    diff_cmd.add_argument("base", help="the base's preview JSON (gpucluster preview STACK --json)")
    diff_cmd.add_argument("head", help="the head's preview JSON")
    diff_cmd.add_argument("--json", action="store_true", help="the same as --format json")
    diff_cmd.add_argument("--format", choices=["text", "json", "markdown"], default="text")
    diff_cmd.set_defaults(func=cmd_diff)

    ci = sub.add_parser("ci", help="preview every stack at the head and the base: one Markdown report (changes, cost "
                        "delta, policies), SARIF and Terraform-plan JSON; exit 1 when a mandatory policy fails")
    ci.add_argument("stacks", nargs="*", metavar="STACK", help="stacks to preview (default: every stack of the project)")
    ci.add_argument("--base-ref", help="git ref of the base (such as origin/main): checked out into a temporary work tree "
                    "and previewed there")
    ci.add_argument("--base-dir", help="folder of the base's preview JSON files, one STACK.json per stack")
    ci.add_argument("--out", default="gpucluster-ci", help="folder for report.md, results.sarif and per-stack JSON "
                    "(default: gpucluster-ci)")
    ci.add_argument("--policy-config", help="policy config file, as for preview")
    ci.add_argument("--org-policy-config", help=f"the organisation's policy config file (default: ${ORG_POLICY_ENV})")
    ci.add_argument("--policy-pack", action="append", default=[], metavar="DIR", help="an extra policy pack, as for preview")
    ci.add_argument("--project", help="project folder (default: the nearest Pulumi.yaml at or above here)")
    ci.set_defaults(func=cmd_ci)

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

    preflight_text = ("ask the stack's cloud (read-only) whether its quotas at max size, instance type offerings, "
                      "spot scores, reservations and capacity blocks, FSx and VPC quotas and node image are there; "
                      "exit 0 when every check passes or warns, 1 when one fails, 3 when none fails but one could not "
                      "be asked (credentials, permissions, network); README, 'Preflight'")
    preflight_cmd = sub.add_parser("preflight", help=preflight_text, description=preflight_text)
    preflight_cmd.add_argument("stack", help="stack name: reads stacks/Pulumi.STACK.yaml")
    preflight_cmd.add_argument("--json", action="store_true", help="print the checks as JSON")
    preflight_cmd.add_argument("--project", help="project folder (default: the nearest Pulumi.yaml at or above here)")
    preflight_cmd.set_defaults(func=cmd_preflight)

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

    docs_cmd = sub.add_parser("docs", help="print the spec's inputs as Markdown tables, one per type (README, 'Spec "
                              "reference')")
    docs_target = docs_cmd.add_mutually_exclusive_group()
    docs_target.add_argument("--check", metavar="README.md", help="exit 1 when the file's region between "
                             "<!-- spec-inputs:begin --> and <!-- spec-inputs:end --> differs from the tables; "
                             "names the tables that differ")
    docs_target.add_argument("--write", metavar="README.md", help="rewrite that region of the file with the tables")
    docs_cmd.set_defaults(func=cmd_docs)

    listing = sub.add_parser("catalog", help="list the instance types the catalog knows (`catalog refresh`: rebuild the "
                             "AWS catalog from EC2)")
    listing.add_argument("--cloud", choices=["aws", "gcp", "kubernetes"])
    listing.set_defaults(func=cmd_catalog)
    catalog_sub = listing.add_subparsers(dest="catalog_command", parser_class=_Parser)
    catalog_refresh = catalog_sub.add_parser("refresh", help="rebuild the catalog from EC2's DescribeInstanceTypes and "
                                             "DescribeInstanceTypeOfferings, every accelerated type, curated figures "
                                             "merged in; all or nothing")
    catalog_refresh.add_argument("--cloud", choices=["aws"], required=True)
    catalog_refresh.add_argument("--regions", nargs="+", metavar="REGION", help="regions to read (default: every region "
                                 "DescribeRegions lists); the zones the file records for other regions are kept")
    catalog_refresh.set_defaults(func=cmd_catalog_refresh)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:  # output piped into `head` and friends
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def run() -> None:
    """The `gpucluster` command: main() in a process of its own, collecting garbage as a previewing process should."""
    collect_less_often()
    sys.exit(main())


if __name__ == "__main__":
    run()
