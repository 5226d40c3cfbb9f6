"""Cost pack: budgets priced through the one cost model, GPU caps, on-demand guard, spot or scale-to-zero for
training and dev pools, cost-allocation tags, file system tier within budget."""

from __future__ import annotations

from dataclasses import dataclass

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    Severity,
    StackValidationArgs,
)

from ..cost.model import EKS_NODE_GROUP, GKE_CLUSTER, GKE_NODE_POOL, node_group_nodes, node_pool_nodes
from ..graph import group_nodes, tags_of
from .common import ASG, REQUIRED_TAGS, as_graph, declare, stack_estimate

NAME = "gpucluster-cost"
SCALE = {"type": "string", "enum": ["min", "desired", "max"], "default": "max"}


def _estimate(args: StackValidationArgs) -> dict:
    return stack_estimate(args.resources)


def _budget(args: StackValidationArgs, report: ReportViolation) -> None:
    config = args.get_config()
    monthly, hourly = config.get("maxMonthlyUsd"), config.get("maxHourlyUsd")
    if monthly is None and hourly is None:
        args.not_applicable("no maxMonthlyUsd or maxHourlyUsd configured")
    cost = _estimate(args)
    scale = config["scale"]
    for limit, key, label in ((monthly, "monthly", "month"), (hourly, "hourly", "hour")):
        spent = cost["total"][key][scale]
        if limit is not None and spent > limit:
            top = sorted(cost["lines"], key=lambda line: -line[key][scale])[:3]
            biggest = ", ".join(f"{line['name']} ${line[key][scale]:,.2f}" for line in top)
            unpriced = f"; {len(cost['unpriced'])} unpriced resource(s) not included" if cost["unpriced"] else ""
            report(f"estimated ${spent:,.2f} per {label} at {scale} size exceeds the budget of ${limit:,.2f} "
                   f"(largest: {biggest}){unpriced}", top[0]["resource"] if top else None)


stack_budget = declare(
    stack=True,
    name="stack-budget",
    description="The stack's estimated cost stays within its hourly and monthly budget.",
    validate=_budget,
    settings={
        "maxMonthlyUsd": {"type": "number", "exclusiveMinimum": 0},
        "maxHourlyUsd": {"type": "number", "exclusiveMinimum": 0},
        "scale": SCALE,
    },
    severity=Severity.HIGH,
    remediation="Lower pool max sizes, move pools to spot or reserved capacity, or raise the budget (spec budget).",
)


def _everything_priced(args: StackValidationArgs, report: ReportViolation) -> None:
    for item in _estimate(args)["unpriced"]:
        if not item["usageBilled"]:  # usage no preview can know is listed in the estimate, not a gap to fix
            report(f"not in any cost total: {item['reason']}", item["resource"])


everything_priced = declare(
    stack=True,
    name="everything-priced",
    description="Every resource is priced, so budgets see the whole stack.",
    validate=_everything_priced,
    level=EnforcementLevel.ADVISORY,
    severity=Severity.LOW,
    remediation="Refresh prices (gpucluster prices refresh), give buckets an expected size, or accept the gap.",
)


def _gpus_per_group(args: StackValidationArgs, report: ReportViolation) -> None:
    limit = args.get_config()["maxGpusPerPool"]
    cost = _estimate(args)
    for name, pool in cost["pools"].items():
        if pool["gpus"]["max"] > limit:
            report(f"pool '{name}' can grow to {pool['gpus']['max']} GPUs, above the cap of {limit:g} per pool", pool["resource"])


gpus_per_pool = declare(
    stack=True,
    name="gpus-per-pool",
    description="No pool can grow past the GPU cap.",
    validate=_gpus_per_group,
    settings={"maxGpusPerPool": {"type": "integer", "minimum": 1, "default": 512}},
    severity=Severity.MEDIUM,
    remediation="Lower the pool's size.max or raise maxGpusPerPool.",
)


def _gpus_per_stack(args: StackValidationArgs, report: ReportViolation) -> None:
    limit = args.get_config().get("maxGpus")
    if limit is None:
        args.not_applicable("no maxGpus configured")
    total = sum(pool["gpus"]["max"] for pool in _estimate(args)["pools"].values())
    if total > limit:
        report(f"the stack can grow to {total} GPUs, above the cap of {limit:g}")


gpus_per_stack = declare(
    stack=True,
    name="gpus-per-stack",
    description="The whole stack stays under its GPU cap at maximum size.",
    validate=_gpus_per_stack,
    settings={"maxGpus": {"type": "integer", "minimum": 1}},
    severity=Severity.MEDIUM,
    remediation="Lower pool max sizes or raise maxGpus (spec budget.maxGpus).",
)


@dataclass(frozen=True)
class _Pool:
    """A group of GPU nodes as these policies see it: an auto scaling group, an EKS node group or a GKE node pool."""

    urn: str
    instance_type: str | None
    nodes: dict[str, int]
    on_demand: dict[str, int]  # bought on demand: neither spot, flex-start nor a capacity block
    reserved: bool
    tags: dict[str, str]  # gpucluster:pool and gpucluster:purpose, from tags or (GKE) labels


def _pools(args: StackValidationArgs):
    """Each auto scaling group with the launch template it launches, each EKS node group with the launch template it
    links to, each GKE node pool: the same readings the cost model prices them by (links, never names)."""
    graph = as_graph(args.resources)
    for group in graph.of_type(ASG):
        template = graph.template_of(group)
        launched = group_nodes(group["inputs"], template["inputs"] if template else None)
        yield _Pool(group["urn"], launched.instance_type, launched.nodes, launched.on_demand, launched.reserved,
                    tags_of(group["inputs"]) or {})
    for group in graph.of_type(EKS_NODE_GROUP):
        template = graph.template_of(group)
        kube = node_group_nodes(group["inputs"], template["inputs"] if template else None)
        tags = group["inputs"].get("tags") if isinstance(group["inputs"].get("tags"), dict) else {}
        if not kube.problem:
            yield _Pool(group["urn"], kube.instance_type, kube.nodes, kube.nodes if kube.market == "on-demand" else _NONE,
                        kube.reserved, tags)
    for pool in graph.of_type(GKE_NODE_POOL):
        clusters = graph.linked(pool, "cluster", type_=GKE_CLUSTER)
        kube = node_pool_nodes(pool["inputs"], clusters[0]["inputs"] if clusters else None)
        labels = (pool["inputs"].get("nodeConfig") or {}).get("resourceLabels") or {}
        if not kube.problem:
            yield _Pool(pool["urn"], kube.instance_type, kube.nodes, kube.nodes if kube.market == "on-demand" else _NONE,
                        kube.reserved, {f"gpucluster:{k.removeprefix('gpucluster-')}": v for k, v in labels.items()
                                        if k.startswith("gpucluster-")})


_NONE = {"min": 0, "desired": 0, "max": 0}


def _family(instance_type: str) -> str:
    """p5 of p5.48xlarge (AWS); a3 of a3-megagpu-8g (GCP)."""
    return instance_type.split(".")[0] if "." in instance_type else instance_type.split("-")[0]


def _on_demand_large(args: StackValidationArgs, report: ReportViolation) -> None:
    config = args.get_config()
    for pool in _pools(args):
        instance_type = pool.instance_type
        if not instance_type or _family(instance_type) not in config["families"]:
            continue
        if pool.reserved or pool.tags.get("gpucluster:pool") in config["allowPools"]:
            continue
        on_demand = pool.on_demand["max"]
        if on_demand:
            report(f"{on_demand} on-demand {instance_type} node(s) without a reservation or capacity block; "
                   f"reserve the capacity, use spot, or list the pool in allowPools", pool.urn)


on_demand_large_types = declare(
    stack=True,
    name="no-unreserved-on-demand-large-gpus",
    description="Large GPU types run on reserved capacity or spot, not plain on demand, unless allowed (auto scaling groups, EKS node groups, GKE node pools).",
    validate=_on_demand_large,
    level=EnforcementLevel.ADVISORY,
    settings={
        "families": {"type": "array", "items": {"type": "string"},
                     "default": ["p4d", "p4de", "p5", "p5e", "p5en", "p6-b200", "p6-b300", "trn1", "trn1n"]},
        "allowPools": {"type": "array", "items": {"type": "string"}, "default": []},
    },
    severity=Severity.MEDIUM,
    remediation="Use capacity type reservation or capacity-block, add spot above an on-demand base, or allow the pool.",
)


def _spot_or_zero(args: StackValidationArgs, report: ReportViolation) -> None:
    purposes = set(args.get_config()["purposes"])
    for pool in _pools(args):
        purpose = pool.tags.get("gpucluster:purpose")
        if purpose not in purposes:
            continue
        all_on_demand = all(pool.on_demand[s] == pool.nodes[s] for s in pool.nodes)
        if all_on_demand and not pool.reserved and pool.nodes["min"] > 0:
            report(f"a {purpose} pool on on-demand capacity keeps {pool.nodes['min']} node(s) running "
                   "at all times; use spot or let it scale to zero (size.min: 0)", pool.urn)


spot_or_scale_to_zero = declare(
    stack=True,
    name="training-pools-spot-or-scale-to-zero",
    description="Pools marked for training or dev (auto scaling groups, EKS node groups, GKE node pools) use spot or can scale to zero.",
    validate=_spot_or_zero,
    level=EnforcementLevel.ADVISORY,
    settings={
        "purposes": {"type": "array", "items": {"type": "string"}, "default": ["training", "dev"]}},
    severity=Severity.LOW,
    remediation="Set capacity.type: spot, or size.min: 0 so idle pools cost nothing.",
)


# Kubernetes resources whose cost-allocation labels sit elsewhere than in `tags`/`labels`: a GKE cluster's resource
# labels, a node pool's node config resource labels (on every node VM); an EKS node group's `labels` are Kubernetes
# node labels, its tags are its `tags` (given or not).
_KUBE_TAGS = {
    GKE_CLUSTER: lambda props: props.get("resourceLabels") or {},
    GKE_NODE_POOL: lambda props: (props.get("nodeConfig") or {}).get("resourceLabels") or {},
    EKS_NODE_GROUP: lambda props: props.get("tags") or {},
}


def _tags(args: ResourceValidationArgs, report: ReportViolation) -> None:
    kube = _KUBE_TAGS.get(args.resource_type)
    tags = dict(kube(args.props)) if kube else tags_of(args.props)
    if tags is None:
        return  # the resource takes no tags
    missing = [t for t in args.get_config()["required"] if not tags.get(t)]
    if missing:
        report(f"missing cost-allocation tag(s) {missing}")


cost_allocation_tags = declare(
    name="cost-allocation-tags",
    description="Every taggable resource carries the cost-allocation tags.",
    validate=_tags,
    settings={
        "required": {"type": "array", "items": {"type": "string"}, "default": list(REQUIRED_TAGS)}},
    severity=Severity.MEDIUM,
    remediation="Set tags.owner, tags.costCenter and tags.project in the spec; components tag every resource.",
)


def _lustre_tier(args: StackValidationArgs, report: ReportViolation) -> None:
    config = args.get_config()
    cost = _estimate(args)
    for line in cost["lines"]:
        if line["kind"] != "file system":
            continue
        monthly = line["monthly"]["max"]
        if config.get("maxMonthlyUsd") is not None and monthly > config["maxMonthlyUsd"]:
            report(f"{line['description']} costs ${monthly:,.2f}/month, above ${config['maxMonthlyUsd']:,.2f}", line["resource"])
    for resource in args.resources:
        tier = resource.props.get("perUnitStorageThroughput") if resource.resource_type.startswith("aws:fsx/lustre") else None
        if tier is not None and tier > config["maxPerUnitThroughput"]:
            report(f"throughput tier {tier:g} MB/s/TiB is above the allowed {config['maxPerUnitThroughput']:g}", resource.urn)


shared_fs_tier = declare(
    stack=True,
    name="shared-fs-within-budget",
    description="The shared file system's throughput tier and monthly cost stay within budget.",
    validate=_lustre_tier,
    level=EnforcementLevel.ADVISORY,
    settings={
        "maxMonthlyUsd": {"type": "number", "exclusiveMinimum": 0},
        "maxPerUnitThroughput": {"type": "integer", "enum": [125, 250, 500, 1000], "default": 1000},
    },
    severity=Severity.LOW,
    remediation="Lower storage.shared's throughput target, or raise the file system budget.",
)

def _prices_fresh(args: StackValidationArgs, report: ReportViolation) -> None:
    limit = args.get_config().get("maxPriceAgeDays")
    if limit is None:
        args.not_applicable("no maxPriceAgeDays configured")
    prices = _estimate(args)["prices"]
    oldest = prices["oldest"]
    if oldest and prices["oldestAgeDays"] > limit:
        report(f"the estimate uses prices {prices['oldestAgeDays']:,} day(s) old ({oldest['cloud']}/{oldest['source']}, dated "
               f"{oldest['date']}), older than maxPriceAgeDays {limit:g}")


prices_fresh = declare(
    stack=True,
    name="prices-fresh",
    description="The prices the cost estimate uses are no older than maxPriceAgeDays.",
    validate=_prices_fresh,
    level=EnforcementLevel.ADVISORY,
    settings={"maxPriceAgeDays": {"type": "integer", "minimum": 1}},
    severity=Severity.LOW,
    remediation="Refresh the price book (gpucluster prices refresh, or re-import the SkyPilot catalog), or raise maxPriceAgeDays.",
)

POLICIES = [stack_budget, everything_priced, gpus_per_pool, gpus_per_stack, on_demand_large_types, spot_or_scale_to_zero,
            cost_allocation_tags, shared_fs_tier, prices_fresh]
