"""Checks that need the hardware catalog, run before anything touches a cloud.

Each check returns problems, each with its check's code (gpucluster.codes); `load_spec` runs the structural
(pydantic) checks, then all of these, and raises one `SpecError` carrying every error at once. Warnings are returned
for the caller to show, apart from those of the checks the spec skips (`skipChecks`).
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import botocore.loaders
from pydantic import ValidationError

from .catalog import GcpFabric, InstanceType, load
from .fabric import aws_interfaces
from .images import default_image, why_no_image
from .kube.checks import check_cloud_fields, check_existing_cluster
from .kube.nodes import SYSTEM_POOL
from .limits import limit_problems
from .plan import FLEX_COMPACT_SERIES, address_plan, fabric_enabled, managed_lustre_plan, offered_zones, plan_pool, pool_zones
from .sizing import GIB_PER_TIB, MANAGED_LUSTRE_TIERS
from .codes import CODES, ERRORS, WARNINGS
from .problems import Problem, Skipped, SpecError, from_validation_error
from .regions import COUNTRY, SETS as REGION_SETS
from .spec import ClusterSpec, Pool

_GCP_REGION = re.compile(r"^[a-z]+-[a-z]+\d+$")


@cache
def aws_regions() -> frozenset[str]:
    """Every region of every partition in botocore's endpoint data (read directly: a session costs more)."""
    endpoints = botocore.loaders.Loader().load_data("endpoints")
    return frozenset(region for partition in endpoints["partitions"] for region in partition["regions"])


def known_regions(cloud: str) -> frozenset[str]:
    return aws_regions() if cloud == "aws" else frozenset(load("gcp").regions())


def _listing(values: list[str] | tuple[str, ...] | set[str], limit: int = 10) -> str:
    values = sorted(values)
    more = f" and {len(values) - limit} more" if len(values) > limit else ""
    return ", ".join(values[:limit]) + more


def _closest(value: str, candidates: set[str] | list[str]) -> str:
    close = difflib.get_close_matches(value, sorted(candidates), n=3, cutoff=0.6)
    return f"; did you mean {' or '.join(close)}?" if close else ""


def check_region(spec: ClusterSpec) -> Iterator[Problem]:
    regions = known_regions(spec.cloud)
    if spec.region not in regions:
        shape = "" if spec.cloud == "aws" or _GCP_REGION.match(spec.region) else " (GCP regions look like us-central1)"
        yield Problem("region", f"'{spec.region}' is not a known {spec.cloud} region{shape}{_closest(spec.region, regions)}", code="GPC-REGION-UNKNOWN")


def _zone_matches_region(cloud: str, zone: str, region: str) -> bool:
    pattern = rf"^{re.escape(region)}[a-z]$" if cloud == "aws" else rf"^{re.escape(region)}-[a-z]$"
    return re.match(pattern, zone) is not None


def check_zones(spec: ClusterSpec) -> Iterator[Problem]:
    for i, zone in enumerate(spec.zones):
        if not _zone_matches_region(spec.cloud, zone, spec.region):
            example = f"{spec.region}a" if spec.cloud == "aws" else f"{spec.region}-a"
            yield Problem(f"zones[{i}]", f"'{zone}' is not a zone of region {spec.region} (zones look like {example})", code="GPC-ZONE-REGION")
    for zone, count in Counter(spec.zones).items():
        if count > 1:
            yield Problem("zones", f"'{zone}' is listed {count} times", code="GPC-ZONE-DUPLICATE")


def check_network(spec: ClusterSpec) -> Iterator[Problem]:
    for zone in spec.network.private_subnets:
        if zone not in spec.zones:
            yield Problem(f"network.privateSubnets.{zone}", f"'{zone}' is not one of the cluster zones {spec.zones}",
                          code="GPC-SUBNET-ZONE")
    plan = address_plan(spec)
    vpc = ipaddress.IPv4Network(plan.vpc)
    named = [(f"network.privateSubnets.{z}", c) for z, c in plan.private.items()] + [("network.publicSubnet", plan.public)]
    for path, cidr in named:
        net = ipaddress.IPv4Network(cidr)
        if not net.subnet_of(vpc):
            yield Problem(path, f"{cidr} is outside the VPC range network.cidr={plan.vpc}", code="GPC-SUBNET-OUTSIDE")
        elif net.prefixlen > 28:
            yield Problem(path, f"{cidr} is smaller than /28, the smallest subnet AWS allows", code="GPC-SUBNET-SIZE")
    for i, (path_a, a) in enumerate(named):
        for path_b, b in named[i + 1 :]:
            if ipaddress.IPv4Network(a).overlaps(ipaddress.IPv4Network(b)):
                yield Problem(path_b, f"{b} overlaps {a} ({path_a}); subnets must not overlap", code="GPC-SUBNET-OVERLAP")


def check_pool_names(spec: ClusterSpec) -> Iterator[Problem]:
    seen: dict[str, int] = {}
    for i, pool in enumerate(spec.pools):
        if pool.name in seen:
            yield Problem(f"pools[{i}].name", f"'{pool.name}' is already the name of pools[{seen[pool.name]}]; names must be "
                          "unique", code="GPC-POOL-NAME-DUPLICATE")
        seen.setdefault(pool.name, i)


def _lookup_type(spec: ClusterSpec, path: str, name: str) -> tuple[InstanceType | None, list[Problem]]:
    catalog = load(spec.cloud)
    if name in catalog:
        return catalog[name], []
    other = "gcp" if spec.cloud == "aws" else "aws"
    if name in load(other):
        hint = f"; it is a {other} type, but cloud is {spec.cloud}"
    elif close := catalog.closest(name):
        hint = f"; did you mean {' or '.join(close)}?"
    else:
        hint = f". Known types: {_listing(catalog.names(), 30)} (`gpucluster catalog` lists them)"
    return None, [Problem(path, f"unknown {spec.cloud} instance type '{name}'{hint}", code="GPC-TYPE-UNKNOWN")]


def _check_offered(spec: ClusterSpec, path: str, instance: InstanceType) -> list[Problem]:
    if spec.region not in instance.zones:
        return [Problem(path, f"{instance.name} is not offered in {spec.region}; regions that offer it: "
                        f"{_listing(instance.regions)}", code="GPC-TYPE-REGION")]
    return []


def check_pool(spec: ClusterSpec, i: int, pool: Pool) -> Iterator[Problem]:
    at = f"pools[{i}]"
    instance, problems = _lookup_type(spec, f"{at}.instanceType", pool.instance_type)
    yield from problems
    if instance is None:
        return
    if isinstance(instance.fabric, GcpFabric) and not instance.fabric.layout_known:
        nics = f"{instance.fabric.physical_nics} physical NICs" if instance.fabric.physical_nics else "its NICs"
        yield Problem(f"{at}.instanceType", f"{instance.name}: Google documents {nics} but not their types and split "
                      "between host and GPU traffic, so no interface layout can be built for it", code="GPC-NICS-UNKNOWN")
    offered_problems = _check_offered(spec, f"{at}.instanceType", instance)
    yield from offered_problems
    if offered_problems:
        return
    yield from _check_pool_zones(spec, at, pool, instance)
    yield from _check_fabric(spec, at, pool, instance)
    yield from _check_capacity(at, pool, instance)
    yield from _check_alternates(spec, at, pool, instance)
    if pool.checkpoint.to == "shared" and spec.storage.shared is None:
        yield Problem(f"{at}.checkpoint.to", "'shared', but the spec has no storage.shared file system; add one or use 's3'",
                      code="GPC-CHECKPOINT-SHARED")
    if spec.storage.scratch and instance.local_disks.count == 0:
        yield Problem(f"{at}.instanceType", f"{instance.name} has no local disks: storage.scratch is skipped on this pool",
                      code="GPC-SCRATCH-NO-DISKS")
    if spec.kubernetes is None and not pool.image_id and default_image(instance) is None:
        yield Problem(f"{at}.imageId", f"{instance.name} has no default image: {why_no_image(instance)}; give the pool an "
                      "imageId that carries its accelerator's driver", code="GPC-IMAGE-REQUIRED")


def _check_pool_zones(spec: ClusterSpec, at: str, pool: Pool, instance: InstanceType) -> Iterator[Problem]:
    for j, zone in enumerate(pool.zones):
        if zone not in spec.zones:
            yield Problem(f"{at}.zones[{j}]", f"'{zone}' is not one of the cluster zones {spec.zones}", code="GPC-POOL-ZONE-UNKNOWN")
        elif not offered_zones(instance, spec.region, [zone]):
            yield Problem(f"{at}.zones[{j}]", f"{instance.name} is not offered in {zone}; zones of {spec.region} that offer it: {_listing(instance.zones[spec.region])}",
                          code="GPC-POOL-ZONE-OFFER")
    if not pool.zones and not offered_zones(instance, spec.region, spec.zones):
        yield Problem(
            "zones",
            f"none of {spec.zones} offers {instance.name} (needed by {at}); zones that do: {_listing(instance.zones[spec.region])}",
            code="GPC-ZONES-OFFER",
        )


def _check_fabric(spec: ClusterSpec, at: str, pool: Pool, instance: InstanceType) -> Iterator[Problem]:
    if pool.fabric == "on" and not instance.fabric_capable:
        capable = [t.name for t in load(spec.cloud) if t.fabric_capable]
        yield Problem(f"{at}.fabric", f"'on', but {instance.name} has no high-speed fabric; types that have one: {_listing(capable, 30)}",
                      code="GPC-FABRIC-UNAVAILABLE")
    if pool.fabric == "off" and instance.fabric_capable:
        yield Problem(f"{at}.fabric", f"'off' on {instance.name}, whose fabric costs nothing extra; multi-node training will run over TCP",
                      code="GPC-FABRIC-OFF")
    zones = pool_zones(spec, pool, instance)
    if fabric_enabled(pool, instance) and len(zones) > 1:
        yield Problem(f"{at}.zones", f"{zones}: a fabric (EFA/RDMA) pool must sit in one zone, as the fabric does not cross zones; list one zone, or set fabric: off",
                      code="GPC-FABRIC-ZONES")
    reserved = pool.capacity.plan().reserved
    if pool.placement == "cluster":
        if "cluster" not in instance.placement_strategies and instance.cloud == "aws":
            yield Problem(f"{at}.placement", f"'cluster', but {instance.name} does not support cluster placement groups",
                          code="GPC-PLACEMENT-UNSUPPORTED")
        if len(zones) > 1:
            yield Problem(f"{at}.placement", f"'cluster' needs one zone; the pool spans {zones}",
                          code="GPC-PLACEMENT-ZONES")
        if reserved and not pool.capacity.placement_group:
            yield Problem(
                f"{at}.placement",
                "'cluster' on reserved capacity: a placement group the reservation was not made for leaves instances "
                "unlaunchable. Name the reservation's own group in capacity.placementGroup, or use placement: auto",
                code="GPC-PLACEMENT-RESERVED",
            )
    if reserved and len(zones) > 1:
        yield Problem(f"{at}.zones", f"{zones}: reservations and capacity blocks are zonal; give the pool the reservation's one zone",
                      code="GPC-RESERVED-ZONES")


def _offered(source: str, instance: InstanceType) -> bool:
    """Whether the type sells this capacity source. A reservation is on-demand capacity held for you: on AWS any type
    with on-demand has it; on GCP the catalog lists it per machine type (reservation-only types have no on-demand)."""
    if source == "reservation":
        return "reservation" in instance.capacity_types or (instance.cloud == "aws" and "on-demand" in instance.capacity_types)
    return source in instance.capacity_types


def _check_capacity(at: str, pool: Pool, instance: InstanceType) -> Iterator[Problem]:
    for source in pool.capacity.sources:
        if _offered(source, instance):
            continue
        where = "type" if source == pool.capacity.type else "fallback"
        offers = [s for s in ("reservation", "on-demand", "spot", "flex-start", "capacity-block") if _offered(s, instance)]
        if source == "on-demand" and instance.cloud == "gcp" and offers:
            path = f"{at}.capacity.{where}" if "capacity" in pool.model_fields_set else f"{at}.capacity"
            yield Problem(path, f"on-demand{'' if 'capacity' in pool.model_fields_set else ' (the default)'}: Google does not "
                          f"sell {instance.name} as plain on-demand VMs; set capacity.type to one of {_listing(offers)} "
                          "(reservation: with capacity.reservationName)", code="GPC-ON-DEMAND-UNOFFERED")
            continue
        yield Problem(f"{at}.capacity.{where}", f"'{source}' is not offered for {instance.name}; it offers {_listing(offers)}",
                      code="GPC-CAPACITY-OFFER")
    capacity = pool.capacity
    if instance.cloud == "gcp":
        if len(capacity.sources) > 1:
            yield Problem(f"{at}.capacity.fallback", f"{list(capacity.sources)}: a GCP instance group has one provisioning model; give each model its own pool",
                          code="GPC-GCP-FALLBACK")
        if capacity.reservation_id or capacity.reservation_group_arn:
            yield Problem(f"{at}.capacity", "reservationId/reservationGroupArn are AWS's; on GCP name the reservation with "
                          "reservationName", code="GPC-RESERVATION-CLOUD")
    elif capacity.reservation_name:
        yield Problem(f"{at}.capacity.reservationName", "reservationName is GCP's; on AWS give reservationId or reservationGroupArn",
                      code="GPC-RESERVATION-CLOUD")
    if capacity.plan().flex_start and pool.placement == "cluster" and instance.name.rsplit("-", 1)[0] not in FLEX_COMPACT_SERIES:
        yield Problem(f"{at}.placement", f"'cluster' with flex-start: GCP offers compact placement for flex-start only on A3 Ultra and A4, not {instance.name}",
                      code="GPC-FLEX-PLACEMENT")
    if pool.capacity.plan().capacity_block and (pool.size.min != pool.size.max or pool.size.min == 0):
        yield Problem(f"{at}.size", f"a capacity block is a fixed number of instances: min and max must be equal and above 0 (got min={pool.size.min}, max={pool.size.max})",
                      code="GPC-BLOCK-SIZE")


def _check_alternates(spec: ClusterSpec, at: str, pool: Pool, instance: InstanceType) -> Iterator[Problem]:
    if pool.alternate_types and pool.capacity.plan().reserved:
        yield Problem(f"{at}.alternateTypes", f"{pool.alternate_types}: a reservation or capacity block holds one instance type; remove the alternates",
                      code="GPC-ALTERNATES-RESERVED")
    efa = fabric_enabled(pool, instance)
    for j, name in enumerate(pool.alternate_types):
        path = f"{at}.alternateTypes[{j}]"
        alternate, problems = _lookup_type(spec, path, name)
        yield from problems
        if alternate is None:
            continue
        yield from _check_offered(spec, path, alternate)
        if spec.cloud == "aws" and aws_interfaces(alternate, efa) != aws_interfaces(instance, efa):
            yield Problem(path, _layout_mismatch(instance, alternate), code="GPC-ALTERNATES-LAYOUT")
        elif fabric_enabled(pool, alternate) != efa:
            yield Problem(path, f"{name} {'lacks' if efa else 'has'} the fabric that {instance.name} {'has' if efa else 'lacks'}; one group needs one fabric layout",
                          code="GPC-ALTERNATES-LAYOUT")


def _layout_mismatch(a: InstanceType, b: InstanceType) -> str:
    def describe(t: InstanceType) -> str:
        f = t.fabric
        return f"{t.name} has {f.network_cards} network card(s) and {f.max_efa_interfaces} EFA interface(s)"

    return (
        f"{describe(b)}, {describe(a)}: a launch template carries one interface layout, so instances of the other "
        "type would launch with the wrong number of EFA devices or not at all. Put them in separate pools"
    )


def check_rdma_zone(spec: ClusterSpec) -> Iterator[Problem]:
    """GCP: every RDMA pool joins the cluster's one RoCE network, whose network profile is zonal."""
    if spec.cloud != "gcp":
        return
    rdma = [(i, plan_pool(spec, pool)) for i, pool in enumerate(spec.pools)]
    rdma = [(i, plan) for i, plan in rdma if plan.fabric and plan.instance.fabric.gpu_nic_type == "MRDMA"]
    if len({plan.zones[0] for _, plan in rdma}) > 1:
        first, *others = rdma
        for i, plan in others:
            if plan.zones[0] != first[1].zones[0]:
                yield Problem(f"pools[{i}].zones", f"{list(plan.zones)}: RDMA pools share one RoCE network, whose network profile is "
                              f"zonal, and pools[{first[0]}] is in {first[1].zones[0]}; put every RDMA pool in one zone",
                              code="GPC-RDMA-ZONES")


def check_shared_target(spec: ClusterSpec) -> Iterator[Problem]:
    """GCP: the throughput target must fit the largest Managed Lustre instance."""
    shared = spec.storage.shared
    if spec.cloud != "gcp" or shared is None:
        return
    try:
        managed_lustre_plan(spec)
    except ValueError as exc:
        field = "throughputGbps" if shared.throughput_gbps is not None else "throughputGbpsPerGpu"
        largest = max(maximum / GIB_PER_TIB * tier for tier, (*_, maximum) in MANAGED_LUSTRE_TIERS.items())
        yield Problem(f"storage.shared.{field}", f"{exc}: the largest Managed Lustre instance delivers {largest / 1000:,.0f} GB/s "
                      f"(its performance tiers' maximum capacities); lower the target, or split the data across file systems",
                      code="GPC-LUSTRE-TARGET")


def check_residency(spec: ClusterSpec) -> Iterator[Problem]:
    if spec.residency is None:
        return
    regions = aws_regions() | load("gcp").regions()
    if spec.cloud == "kubernetes":
        regions = regions | {spec.region}  # a site's own region name
    for i, entry in enumerate(spec.residency.allowed_regions):
        if entry not in regions and entry not in REGION_SETS and not COUNTRY.match(entry):
            yield Problem(f"residency.allowedRegions[{i}]", f"'{entry}' is neither a region, a country code (DE) nor a named set ({_listing(set(REGION_SETS))}){_closest(entry, regions)}",
                          code="GPC-RESIDENCY-UNKNOWN")


def check_not_built_yet(spec: ClusterSpec) -> Iterator[Problem]:
    if spec.cloud == "gcp" and spec.network.private_subnets:
        yield Problem("network.privateSubnets", "GCP subnets are regional: the host subnet is a slice of network.cidr; per-zone subnets do not apply",
                      code="GPC-GCP-SUBNETS")


# GKE's Lustre CSI driver needs 1.33.2-gke.1111000 or later (GKE, "About Managed Lustre CSI driver").
MANAGED_LUSTRE_MIN_GKE = (1, 33)


def check_kubernetes(spec: ClusterSpec) -> Iterator[Problem]:
    """What a Kubernetes cluster's node pools cannot be: a node pool has one capacity source (EKS: one node group per
    capacity type; GKE: one provisioning model), and the queue falls back between pools instead."""
    kube = spec.kubernetes
    if kube is None:
        return
    catalog = load(spec.cloud)
    for i, pool in enumerate(spec.pools):
        at = f"pools[{i}]"
        if pool.capacity.fallback or pool.capacity.on_demand_base:
            yield Problem(f"{at}.capacity", f"{list(pool.capacity.sources)}: on Kubernetes a pool has one capacity source; "
                          "declare a pool per source and Kueue tries them in order (reserved, spot, on-demand)", code="GPC-KUBE-CAPACITY")
        instance = catalog[pool.instance_type] if pool.instance_type in catalog else None  # unknown: check_pool says so
        if instance and instance.accelerator.kind != "gpu":
            yield Problem(f"{at}.instanceType", f"'{pool.instance_type}' has {instance.accelerator.kind} accelerators; on "
                          "Kubernetes only GPU pools are supported so far (the Neuron device plugin is not installed)",
                          code="GPC-KUBE-ACCELERATOR")
        elif instance and (instance.accelerator.fraction is not None or instance.architectures[0] != "x86_64"):
            what = ("GPU shares (vGPU), which need NVIDIA's GRID driver" if instance.accelerator.fraction is not None
                    else f"{instance.architectures[0]} CPUs")
            yield Problem(f"{at}.instanceType", f"'{pool.instance_type}' has {what}; Kubernetes node pools are built on x86_64 "
                          "NVIDIA node images with whole GPUs only so far", code="GPC-KUBE-ACCELERATOR")
        if pool.image_id:
            image = "the AL2023 NVIDIA AMI type" if spec.cloud == "aws" else "GKE's Container-Optimized OS"
            yield Problem(f"{at}.imageId", f"on Kubernetes nodes boot {image}; a custom image is not supported",
                          code="GPC-KUBE-IMAGE")
        if pool.name == SYSTEM_POOL:
            yield Problem(f"{at}.name", f"'{SYSTEM_POOL}' is the name of the cluster's own node pool for its controllers; "
                          "choose another", code="GPC-KUBE-POOL-NAME")
        if "checkpoint" in pool.model_fields_set:
            yield Problem(f"{at}.checkpoint", "has no effect on Kubernetes: no node watcher runs there; the node group "
                          "drains a node before it goes, Kueue requeues the job, and the job checkpoints itself (the job "
                          "template passes CHECKPOINT_DIR)", code="GPC-KUBE-CHECKPOINT")
        if pool.rollout.strategy == "manual":
            yield Problem(f"{at}.rollout.strategy", "'manual': node groups and node pools replace nodes when their template "
                          "changes (draining them first); leave rollout.strategy out or set 'rolling'", code="GPC-KUBE-ROLLOUT")
    if spec.cloud == "aws" and len(spec.zones) < 2:
        yield Problem("zones", f"{list(spec.zones)}: EKS puts its control plane in subnets of at least two zones; list a "
                      "second zone (pools stay where their own zones say)", code="GPC-EKS-ZONES")
    if spec.cloud == "gcp":
        if kube.admins:
            yield Problem("kubernetes.admins", "access entries are EKS's; on GKE grant roles/container.admin in IAM",
                          code="GPC-GKE-ADMINS")
        if kube.gpu_software == "gpu-operator":
            yield Problem("kubernetes.gpuSoftware", "'gpu-operator' is offered on EKS only: GKE installs the driver and "
                          "device plugin itself; use 'auto'", code="GPC-GKE-GPU-OPERATOR")
        if spec.storage.shared and tuple(map(int, kube.version.split("."))) < MANAGED_LUSTRE_MIN_GKE:
            yield Problem("kubernetes.version", f"'{kube.version}': GKE mounts Managed Lustre from 1.33 on; set 1.33 or later",
                          code="GPC-GKE-LUSTRE-VERSION")


def check_skips(spec: ClusterSpec) -> Iterator[Problem]:
    """`skipChecks` may name advisory checks only: an error cannot be waved through, and a code that is no check's
    would skip nothing while reading as if it did."""
    advisory = f"the advisory checks it can skip: {_listing(WARNINGS)} (README, 'Check codes')"
    seen: dict[str, int] = {}
    for i, skip in enumerate(spec.skip_checks):
        at = f"skipChecks[{i}].code"
        if skip.code in seen:
            yield Problem(at, f"'{skip.code}' is already skipChecks[{seen[skip.code]}]; skip each check once",
                          code="GPC-SKIP-DUPLICATE")
        elif skip.code in ERRORS:
            yield Problem(at, f"'{skip.code}' ({ERRORS[skip.code]}) is an error, and errors cannot be skipped; "
                          f"{advisory}", code="GPC-SKIP-ERROR")
        elif skip.code in CODES and skip.code not in WARNINGS:
            yield Problem(at, f"'{skip.code}' is a policy finding: waive it in the policy config (README, 'Policies'), "
                          f"not here; {advisory}", code="GPC-SKIP-ERROR")
        elif skip.code not in CODES:
            yield Problem(at, f"'{skip.code}' is not a check code{_closest(skip.code, set(CODES))}; {advisory}",
                          code="GPC-SKIP-UNKNOWN")
        seen.setdefault(skip.code, i)


def semantic_problems(spec: ClusterSpec) -> list[Problem]:
    if spec.cloud == "kubernetes":
        return [*check_skips(spec), *check_pool_names(spec), *check_residency(spec), *check_existing_cluster(spec)]
    problems = [*check_skips(spec), *check_cloud_fields(spec), *check_region(spec), *check_zones(spec), *check_network(spec),
                *check_pool_names(spec), *check_residency(spec), *check_not_built_yet(spec), *check_kubernetes(spec),
                *limit_problems(spec)]
    region_ok = not any(p.code == "GPC-REGION-UNKNOWN" for p in problems)
    if region_ok:
        for i, pool in enumerate(spec.pools):
            problems.extend(check_pool(spec, i, pool))
        if not any(p.severity == "error" for p in problems):  # these plan the pools, which must be valid
            problems.extend([*check_rdma_zone(spec), *check_shared_target(spec)])
    return problems


@dataclass(frozen=True)
class CheckedSpec:
    """A spec that passed every check: its warnings, and the advisory checks it skipped (`skipChecks`)."""

    spec: ClusterSpec
    warnings: list[Problem]
    skipped: list[Skipped]

    # Also the pair (spec, warnings) load_spec returned before checks could be skipped, as programs unpack it.
    def __iter__(self):
        return iter((self.spec, self.warnings))

    def __getitem__(self, index: int):
        return (self.spec, self.warnings)[index]


def load_spec(data: Any) -> CheckedSpec:
    """Validate raw config; return the spec, its warnings and its skipped checks, or raise SpecError with every
    error found. A skipped check's warnings are not warnings: they are listed with the skip's reason."""
    try:
        spec = ClusterSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(from_validation_error(exc, ClusterSpec)) from None
    problems = semantic_problems(spec)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise SpecError(errors)
    reasons = {skip.code: skip.reason for skip in spec.skip_checks}
    skipped = [Skipped(code, reason, tuple(p for p in problems if p.code == code)) for code, reason in reasons.items()]
    return CheckedSpec(spec, [p for p in problems if p.code not in reasons], skipped)
