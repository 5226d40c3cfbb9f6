"""The cost model: prices the previewed resource graph (the resources the preview JSON lists), not the spec.

Every resource is either priced, known to cost nothing by itself, or listed as unpriced with the reason;
nothing is counted as zero silently. Groups are priced at their min, desired and max sizes. Power beside
money: the GPU nodes' draw from the accelerators' board power plus the host around them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from ..catalog import load as load_catalog
from ..kube.site import is_site_record
from ..graph import COMPUTED, SCALES, Graph, group_nodes, tags_of
from .expected_size import expected_tb, marker_name
from .prices import HOURS_PER_MONTH, PriceBook
from .prices import effective as load_prices

# Whole-system power over accelerator power for an 8-GPU HGX node: NVIDIA DGX H100 datasheet, 10.2 kW system
# maximum for 8 x 700 W GPUs (5.6 kW). Applied to every GPU node as the host overhead.
HOST_POWER_FACTOR = 10.2 / 5.6

# Types that cost nothing by themselves (their cost, if any, is in the resources that use them).
FREE = {
    "aws:cloudwatch/eventRule:EventRule",  # rules on AWS service events are free
    "aws:cloudwatch/eventTarget:EventTarget",
    "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/launchTemplate:LaunchTemplate",  # priced through the group that launches it
    "aws:ec2/placementGroup:PlacementGroup",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
    "aws:ec2/flowLog:FlowLog",  # billed through the log group it writes to
    "aws:ec2/route:Route",
    "aws:ec2/routeTable:RouteTable",
    "aws:ec2/routeTableAssociation:RouteTableAssociation",
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:ec2/subnet:Subnet",
    "aws:ec2/vpc:Vpc",
    "aws:fsx/dataRepositoryAssociation:DataRepositoryAssociation",
    "aws:iam/instanceProfile:InstanceProfile",
    "aws:kms/alias:Alias",
    "aws:iam/role:Role",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketLogging:BucketLogging",  # the logs cost what their bucket stores
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:sqs/queuePolicy:QueuePolicy",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    # EKS add-ons and access are free; the nodes they run on are priced through their node groups.
    "aws:eks/addon:Addon",
    "aws:eks/accessEntry:AccessEntry",
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
}
FREE |= {
    "gcp:compute/firewall:Firewall",
    "gcp:compute/globalAddress:GlobalAddress",  # an internal peering range
    "gcp:servicenetworking/connection:Connection",
    "gcp:compute/instanceTemplate:InstanceTemplate",  # priced through the group that launches it
    "gcp:compute/network:Network",
    "gcp:compute/resourcePolicy:ResourcePolicy",
    "gcp:compute/router:Router",
    "gcp:compute/subnetwork:Subnetwork",
    "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember",
    "gcp:kms/keyRing:KeyRing",
    "gcp:serviceaccount/account:Account",
    "gcp:storage/bucketIAMMember:BucketIAMMember",
    "gcp:projects/iAMMember:IAMMember",  # a grant (the GKE nodes' roles on the project) bills nothing
}
GIB_PER_TB = 1000**4 / 1024**3  # Cloud Storage bills GiB; sizes are given in TB
NAT_VM_CAP = 32  # Cloud NAT bills a gateway per VM using it up to 32 VMs, then a flat rate
KMS_DEFAULT_PROTECTION = "SOFTWARE"  # a crypto key's version template default (Cloud KMS API, CryptoKeyVersionTemplate)
PRICED_PACKAGES = ("aws", "gcp")  # the packages with a price book
# Objects inside a Kubernetes cluster bill nothing themselves: they run on nodes the cloud packages price.
IN_CLUSTER_PACKAGES = ("kubernetes",)
PoolKey = tuple[str | None, str]  # (cluster, pool), from the gpucluster tags or labels
CURRENCY = "USD"  # every price book's

EKS_CLUSTER = "aws:eks/cluster:Cluster"
EKS_NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
GKE_CLUSTER = "gcp:container/cluster:Cluster"
GKE_NODE_POOL = "gcp:container/nodePool:NodePool"
_EKS_MARKETS = {"ON_DEMAND": "on-demand", "SPOT": "spot", "CAPACITY_BLOCK": "capacity-block"}
# What the EKS API applies when a cluster names no upgrade policy (EKS API Reference, UpgradePolicyRequest: "The default
# value is EXTENDED").
EKS_DEFAULT_SUPPORT = "EXTENDED"
EKS_DEFAULT_DISK_GB = 20  # a node group's root volume without a launch template (EKS API Reference, CreateNodegroup diskSize)
GKE_DEFAULT_MACHINE = "e2-medium"  # a node pool's machine type when its node config names none
GKE_REGIONAL_ZONES = 3  # a regional cluster's node pools span three of the region's zones unless node locations say which
GKE_FREE_TIER_NOTE = ("the GKE free tier ($74.40 a month, zonal and Autopilot clusters) is a credit per billing account, "
                      "not per cluster, so it is not subtracted")
_GCP_ZONE = re.compile(r"^[a-z]+-[a-z]+\d+-[a-z]$")


def _count(value: Any) -> int | None:
    """A node count as the graph holds it (numbers arrive as doubles through the policy SDK); None if not known."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) or value < 0:
        return None
    return int(value)


@dataclass(frozen=True)
class KubeNodes:
    """What a Kubernetes node group or node pool runs: its type, its nodes by scale, how they are bought. `problem`
    says why the nodes cannot be counted (then `nodes` is empty)."""

    instance_type: str | None
    nodes: dict[str, int]
    market: str | None  # on-demand, spot, capacity-block, flex-start
    reserved: bool
    problem: str | None = None
    note: str | None = None


def node_group_nodes(group: dict[str, Any], template: dict[str, Any] | None) -> KubeNodes:
    """An EKS managed node group, from its inputs and those of the launch template it links to: the type the template
    names, else the first of `instanceTypes` (the one an on-demand group launches first); the scaling config's sizes;
    the market its capacity type names; reserved when it runs a capacity block or targets a reservation."""
    template = template or {}
    types = [t for t in group.get("instanceTypes") or [] if isinstance(t, str)]
    named = template.get("instanceType")
    instance_type = named if isinstance(named, str) and named != COMPUTED else types[0] if types else None
    capacity_type = group.get("capacityType") or "ON_DEMAND"
    market = _EKS_MARKETS.get(capacity_type)
    reservation = template.get("capacityReservationSpecification") or {}
    reserved = market == "capacity-block" or bool(reservation.get("capacityReservationTarget")) \
        or reservation.get("capacityReservationPreference") == "capacity-reservations-only"
    note = f"priced as {types[0]}; the group may also launch {', '.join(types[1:])}" if len(types) > 1 and not named else None
    scaling = group.get("scalingConfig") or {}
    low, high = _count(scaling.get("minSize")), _count(scaling.get("maxSize"))
    desired = _count(scaling.get("desiredSize", low))
    problem = None
    if market is None:
        problem = f"capacity type {capacity_type!r} is not one the cost model knows ({', '.join(_EKS_MARKETS)})"
    elif None in (low, high, desired):
        problem = "its scaling config's sizes are not known"
    nodes = {} if problem else {"min": low, "desired": desired, "max": high}
    return KubeNodes(instance_type, nodes, market, reserved, problem, note)


def gke_zones(pool: dict[str, Any], cluster: dict[str, Any] | None) -> tuple[int | None, str | None]:
    """How many zones a GKE node pool's per-zone counts apply to, and a note when that is GKE's default: the pool's node
    locations, else its cluster's (a zonal cluster's own zone added), else one for a zonal location and three for a
    regional one."""
    cluster = cluster or {}
    for locations, own_zone in ((pool.get("nodeLocations"), None), (cluster.get("nodeLocations"), cluster.get("location"))):
        if isinstance(locations, list) and locations and all(isinstance(z, str) and z != COMPUTED for z in locations):
            zones = set(locations)
            if isinstance(own_zone, str) and _GCP_ZONE.match(own_zone):
                zones.add(own_zone)  # a multi-zonal cluster lists its extra zones, not its own
            return len(zones), None
    location = pool.get("location") if isinstance(pool.get("location"), str) and pool.get("location") != COMPUTED \
        else cluster.get("location")
    if not isinstance(location, str) or location == COMPUTED:
        return None, None
    if _GCP_ZONE.match(location):
        return 1, None
    return GKE_REGIONAL_ZONES, f"no node locations: GKE's default of {GKE_REGIONAL_ZONES} zones of {location}"


def node_pool_nodes(pool: dict[str, Any], cluster: dict[str, Any] | None) -> KubeNodes:
    """A GKE node pool, from its inputs and its cluster's: the node config's machine type; the autoscaling totals, or
    its per-zone limits times the zones, else the fixed per-zone count times the zones; spot (and preemptible) VMs,
    flex-start VMs (flex-start, or queued provisioning); reserved when it consumes a specific reservation."""
    config = pool.get("nodeConfig") or {}
    machine = config.get("machineType") or GKE_DEFAULT_MACHINE
    market = "flex-start" if config.get("flexStart") or (pool.get("queuedProvisioning") or {}).get("enabled") \
        else "spot" if config.get("spot") or config.get("preemptible") else "on-demand"
    reserved = (config.get("reservationAffinity") or {}).get("consumeReservationType") == "SPECIFIC_RESERVATION"
    zones, note = gke_zones(pool, cluster)
    scaling = pool.get("autoscaling") or {}
    per_zone = {"nodeCount": _count(pool.get("nodeCount")), "initialNodeCount": _count(pool.get("initialNodeCount"))}

    def times_zones(value):
        return None if value is None or zones is None else value * zones

    if "totalMinNodeCount" in scaling or "totalMaxNodeCount" in scaling:
        low, high = _count(scaling.get("totalMinNodeCount", 0)), _count(scaling.get("totalMaxNodeCount"))
        note = None  # totals do not depend on the zones
    elif scaling:
        low, high = times_zones(_count(scaling.get("minNodeCount", 0))), times_zones(_count(scaling.get("maxNodeCount")))
    else:
        fixed = per_zone["nodeCount"] if "nodeCount" in pool else per_zone["initialNodeCount"]
        low = high = times_zones(fixed)
    initial = times_zones(per_zone["nodeCount"] if "nodeCount" in pool else per_zone["initialNodeCount"])
    problem = None
    if zones is None and not ("totalMinNodeCount" in scaling or "totalMaxNodeCount" in scaling):
        problem = "its zones are not known, and its node counts are per zone"
    elif low is None or high is None:
        problem = "its node counts are not known"
    if problem:
        return KubeNodes(machine, {}, market, reserved, problem)
    desired = min(max(initial, low), high) if initial is not None else low
    return KubeNodes(machine, {"min": low, "desired": desired, "max": high}, market, reserved, note=note)


def local_ssds(config: dict[str, Any]) -> int:
    """The local SSDs a GKE node config asks for, in whichever block it asks."""
    counts = [config.get("localSsdCount"), *((config.get(block) or {}).get("localSsdCount") for block in (
        "ephemeralStorageLocalSsdConfig", "localNvmeSsdBlockConfig", "ephemeralStorageConfig"))]
    return max([c for c in map(_count, counts) if c is not None] or [0])


@dataclass
class Line:
    resource: str
    name: str
    kind: str
    description: str
    hourly: dict[str, float]  # by scale
    pool: str | PoolKey | None = None  # while estimating, the key; in the result, its label
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data = {
            "resource": self.resource,
            "name": self.name,
            "kind": self.kind,
            "description": self.description,
            "hourly": _rounded(self.hourly),
            "monthly": _rounded({k: v * HOURS_PER_MONTH for k, v in self.hourly.items()}),
        }
        if self.pool:
            data["pool"] = self.pool
        if self.note:
            data["note"] = self.note
        return data


@dataclass
class Unpriced:
    resource: str
    type: str
    reason: str
    usage_billed: bool = False  # billed by use (requests, GB ingested) that no preview can know, not a missing price

    def as_dict(self) -> dict[str, Any]:
        return {"resource": self.resource, "type": self.type, "reason": self.reason, "usageBilled": self.usage_billed}


def _rounded(values: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in values.items()}


def _flat(value: float) -> dict[str, float]:
    return {scale: value for scale in SCALES}


class _Estimator:
    def __init__(self, resources: list[dict[str, Any]], books: dict[str, PriceBook]):
        self.graph = Graph(resources)
        self.books = books
        self.lines: list[Line] = []
        self.unpriced: list[Unpriced] = []
        self.power_nodes: list[tuple[PoolKey, dict[str, int], float]] = []  # pool, nodes by scale, kW per node
        self.power_unknown: set[str] = set()
        self.pools: dict[PoolKey, dict[str, Any]] = {}  # pool -> GPUs by scale, on-demand $/GPU-hour, fully priced?
        self.facility = 1.0  # an existing cluster's site PUE, applied to its nodes' power
        self.used: set[tuple[str, str]] = set()  # (cloud, source) of every price a line was computed from

    def book(self, resource: dict) -> PriceBook:
        cloud = resource["type"].split(":", 1)[0]
        if cloud not in self.books:
            self.books[cloud] = load_prices(cloud)
        return self.books[cloud]

    def catalog(self, resource: dict):
        return load_catalog(resource["type"].split(":", 1)[0])

    def region(self, resource: dict) -> str:
        return self.graph.region(resource) or ""

    def service_price(self, resource: dict, region: str, table: str, key: str | int = "price") -> float | None:
        """A price from the book's per-region tables; the sources of a price found count as used."""
        book = self.book(resource)
        services = book.region_services(region)
        price = services.price(table, key)
        if price is not None:
            self.used.update((book.cloud, source) for source in services.sources_of(table))
        return price

    def skip(self, resource: dict, reason: str, usage_billed: bool = False) -> None:
        self.unpriced.append(Unpriced(resource["urn"], resource["type"], reason, usage_billed))

    def run(self) -> None:
        handlers = {
            "aws:autoscaling/group:Group": self.group,
            "aws:fsx/lustreFileSystem:LustreFileSystem": self.lustre,
            "aws:s3/bucket:Bucket": self.bucket,
            "aws:ec2/natGateway:NatGateway": lambda r: self.hourly(r, "nat_gateway_hour", "NAT gateway", "plus data processed, not estimated"),
            "aws:ec2/eip:Eip": lambda r: self.hourly(r, "public_ipv4_hour", "public IPv4 address"),
            "aws:kms/key:Key": lambda r: self.hourly(r, "kms_key_month", "KMS key", "plus requests, not estimated", per_month=True),
            "aws:ec2/vpcEndpoint:VpcEndpoint": self.endpoint,
            "aws:sqs/queue:Queue": lambda r: self.skip(r, "billed per request; no request volume to estimate from", usage_billed=True),
            "aws:cloudwatch/logGroup:LogGroup": lambda r: self.skip(
                r, "billed per GB ingested and stored; no log volume to estimate from", usage_billed=True),
            "gcp:compute/instanceGroupManager:InstanceGroupManager": self.gcp_group,
            "gcp:storage/bucket:Bucket": self.gcs_bucket,
            "gcp:compute/routerNat:RouterNat": self.cloud_nat,
            "gcp:kms/cryptoKey:CryptoKey": self.kms_crypto_key,
            "gcp:lustre/instance:Instance": lambda r: self.skip(
                r, "no Managed Lustre price in the price book: no list price by performance tier was found to cite"),
            EKS_CLUSTER: self.eks_cluster,
            EKS_NODE_GROUP: self.node_group,
            GKE_CLUSTER: self.gke_cluster,
            GKE_NODE_POOL: self.node_pool,
        }
        for resource in self.graph.resources:
            type_ = resource["type"]
            if is_site_record(resource):
                self.site(resource)
                continue
            if (not resource.get("custom", True) or type_.startswith("pulumi:") or type_ in FREE
                    or type_.split(":", 1)[0] in IN_CLUSTER_PACKAGES):
                continue  # the stack, components and providers cost nothing themselves
            handler = handlers.get(type_)
            if handler:
                handler(resource)
            elif type_.split(":", 1)[0] not in PRICED_PACKAGES:
                self.skip(resource, f"the cost model prices only {' and '.join(PRICED_PACKAGES)} resources")
            else:
                self.skip(resource, f"the cost model has no price for {type_}")

    def hourly(self, resource: dict, table: str, what: str, note: str | None = None, per_month: bool = False) -> None:
        price = self.service_price(resource, self.region(resource), table)
        if price is None:
            return self.skip(resource, f"no {table} price for {self.region(resource)} in the price book")
        hourly = price / HOURS_PER_MONTH if per_month else price
        self.lines.append(Line(resource["urn"], resource["name"], "network" if "nat" in table or "ipv4" in table else "security",
                               what, _flat(hourly), note=note))

    def endpoint(self, resource: dict) -> None:
        if resource["inputs"].get("vpcEndpointType") != "Gateway":
            self.skip(resource, "interface endpoints are priced per hour and GB; not in the price book")
        # gateway endpoints (S3, DynamoDB) cost nothing

    def lustre(self, resource: dict) -> None:
        inputs = resource["inputs"]
        capacity, tier = inputs.get("storageCapacity"), inputs.get("perUnitStorageThroughput")
        price = self.service_price(resource, self.region(resource), "fsx_lustre_persistent_2_gb_month", tier) \
            if isinstance(tier, int) else None
        if inputs.get("deploymentType") != "PERSISTENT_2" or not isinstance(capacity, int) or price is None:
            return self.skip(resource, f"no FSx for Lustre price for {inputs.get('deploymentType')} at {tier} MB/s/TiB in {self.region(resource)}")
        self.lines.append(Line(resource["urn"], resource["name"], "file system",
                               f"FSx for Lustre {capacity:,} GiB at {tier} MB/s/TiB", _flat(capacity * price / HOURS_PER_MONTH)))

    def bucket(self, resource: dict) -> None:
        try:
            tb = expected_tb("aws", tags_of(resource["inputs"]) or {})
        except ValueError as exc:
            return self.skip(resource, str(exc))
        if tb is None and self.graph.referrers(resource, "aws:s3/bucketLogging:BucketLogging", "targetBucket"):
            return self.skip(resource, "holds access logs, billed by their volume; no log volume to estimate from", usage_billed=True)
        if tb is None:
            return self.skip(resource, f"no expected size ({marker_name('aws')}); S3 is billed by what is stored")
        lifecycles = self.graph.referrers(resource, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "bucket")
        storage_class = "STANDARD"
        for rule in [rule for lifecycle in lifecycles for rule in lifecycle["inputs"].get("rules") or []]:
            for transition in rule.get("transitions", []):
                if transition.get("days") == 0:
                    storage_class = transition.get("storageClass", storage_class)  # stored in that class from day 0
        price = self.service_price(resource, self.region(resource), "s3_gb_month", storage_class)
        if price is None:
            return self.skip(resource, f"no S3 {storage_class} price for {self.region(resource)}")
        gb = tb * 1000
        self.lines.append(Line(resource["urn"], resource["name"], "object storage", f"S3 {storage_class}, {tb:g} TB expected",
                               _flat(gb * price / HOURS_PER_MONTH), note="requests and transfer not estimated"))

    def gcs_bucket(self, resource: dict) -> None:
        """A Cloud Storage bucket at its expected size (label) and storage class, priced where it is: a region, or a
        multi-region (EU, US) under that name in the book."""
        inputs = resource["inputs"]
        labels = inputs.get("labels") if isinstance(inputs.get("labels"), dict) else {}
        try:
            tb = expected_tb("gcp", labels)
        except ValueError as exc:
            return self.skip(resource, str(exc))
        if tb is None and self.graph.referrers(resource, "gcp:storage/bucket:Bucket", "logging"):
            return self.skip(resource, "holds access logs, billed by their volume; no log volume to estimate from", usage_billed=True)
        if tb is None:
            return self.skip(resource, f"no expected size ({marker_name('gcp')}); Cloud Storage is billed by what is stored")
        location = str(inputs.get("location") or self.region(resource)).lower()
        storage_class = str(inputs.get("storageClass") or "STANDARD").upper()
        price = self.service_price(resource, location, "gcs_gb_month", storage_class)
        if price is None:
            return self.skip(resource, f"no Cloud Storage {storage_class} price for {location}")
        gib = tb * GIB_PER_TB
        # Autoclass keeps new objects in Standard and moves those not read to colder classes: Standard is its ceiling.
        autoclass = isinstance(inputs.get("autoclass"), dict) and bool(inputs["autoclass"].get("enabled"))
        note = ("Autoclass: at most this, as objects not read move to colder classes; its management fee per object, "
                "operations and transfer not estimated") if autoclass else "operations and transfer not estimated"
        self.lines.append(Line(resource["urn"], resource["name"], "object storage",
                               f"Cloud Storage {storage_class} in {location}, {tb:g} TB expected",
                               _flat(gib * price / HOURS_PER_MONTH), note=note))

    def cloud_nat(self, resource: dict) -> None:
        """A Cloud NAT gateway at its rate for 32 VMs and more (it bills $ per VM below that, and no preview knows how
        many VMs will use it), plus the NAT IPs it uses; processed data is billed per GiB, listed as usage."""
        region = self.region(resource)
        gateway = self.service_price(resource, region, "cloud_nat_hour", "gateway")
        services = self.book(resource).region_services(region)
        per_ip, per_vm = (services.price("cloud_nat_hour", key) for key in ("ip", "per_vm"))  # same table, same sources
        if None in (gateway, per_ip, per_vm):
            return self.skip(resource, f"no cloud_nat_hour prices for {region} in the price book")
        inputs = resource["inputs"]
        manual = inputs.get("natIpAllocateOption") == "MANUAL_ONLY"
        ips = len(inputs.get("natIps") or []) if manual else 1  # AUTO_ONLY allocates at least one, more as ports run out
        self.lines.append(Line(resource["urn"], resource["name"], "network", f"Cloud NAT gateway, {ips} NAT IP(s)",
                               _flat(gateway + ips * per_ip),
                               note=f"at the {NAT_VM_CAP}-VM gateway rate (${per_vm:g} per VM-hour below that)"
                                    + ("; auto-allocated NAT IPs beyond the first not counted" if not manual else "")))
        processed = services.price("cloud_nat_gb_processed")
        self.skip(resource, f"data processed by the gateway, ${processed:g}/GiB both ways; no traffic to estimate from"
                  if processed is not None else "data processed by the gateway; no traffic to estimate from", usage_billed=True)

    def kms_crypto_key(self, resource: dict) -> None:
        """A Cloud KMS key's active version at its protection level's monthly rate; rotation adds versions, billed
        while they stay enabled; operations are billed per 10,000."""
        inputs = resource["inputs"]
        level = str((inputs.get("versionTemplate") or {}).get("protectionLevel") or KMS_DEFAULT_PROTECTION).upper()
        price = self.service_price(resource, self.region(resource), "cloud_kms_key_version_month", level)
        if price is None:
            return self.skip(resource, f"no Cloud KMS {level} key version price for {self.region(resource)} in the price book")
        rotation = f"; rotation every {inputs['rotationPeriod']} adds a version, billed until disabled" \
            if inputs.get("rotationPeriod") else ""
        self.lines.append(Line(resource["urn"], resource["name"], "security", f"Cloud KMS key, 1 active {level} version",
                               _flat(price / HOURS_PER_MONTH), note=f"plus operations, not estimated{rotation}"))

    def group(self, resource: dict) -> None:
        inputs, template = resource["inputs"], self.graph.template_of(resource)
        if template is None:
            return self.skip(resource, "its launch template is not in the graph, so its instance type is unknown")
        launched = group_nodes(inputs, template["inputs"])
        instance_type, nodes, rates = launched.instance_type, launched.nodes, launched.markets
        catalog = self.catalog(resource)
        if instance_type not in catalog:
            return self.skip(resource, f"instance type {instance_type!r} is not in the catalog")
        instance = catalog[instance_type]
        region = self.region(resource)
        tags = tags_of(inputs) or {}
        pool = (tags.get("gpucluster:cluster"), tags.get("gpucluster:pool") or resource["name"])
        self.nodes(resource, pool, instance, region, nodes, rates)
        self.root_volumes(resource, template, nodes, pool, region)

    def eks_cluster(self, resource: dict) -> None:
        """The control plane's fee by the cluster's upgrade policy. EXTENDED (what the EKS API applies when a cluster names
        none) is priced at the extended-support rate, the fee once the version leaves standard support; STANDARD at the
        standard rate, as EKS upgrades such a cluster instead of extending it."""
        inputs = resource["inputs"]
        given = (inputs.get("upgradePolicy") or {}).get("supportType")
        support = (given or EKS_DEFAULT_SUPPORT).lower()
        services = self.book(resource).region_services(self.region(resource))
        price = self.service_price(resource, self.region(resource), "eks_cluster_hour", support)
        if price is None:
            return self.skip(resource, f"no EKS {support} support fee for {self.region(resource)} in the price book")
        if support == "extended":
            standard = services.price("eks_cluster_hour", "standard")
            why = "upgradePolicy.supportType EXTENDED" if given else \
                f"no upgradePolicy.supportType, so the EKS API's default, {EKS_DEFAULT_SUPPORT}"
            note = (f"{why}: priced at the extended-support rate, which applies once the version leaves standard support"
                    + (f" (${standard:g}/h until then)" if standard is not None else "") + "; set STANDARD to be upgraded instead")
        else:
            note = "upgradePolicy.supportType STANDARD: EKS upgrades the version at the end of standard support, never extended"
        self.lines.append(Line(resource["urn"], resource["name"], "control plane", f"EKS cluster, {support} support",
                               _flat(price), note=note))
        if (inputs.get("computeConfig") or {}).get("enabled") is True:
            self.skip(resource, "EKS Auto Mode launches instances (and bills a management fee per instance) as workloads "
                                "ask; no workload to estimate from", usage_billed=True)

    def node_group(self, resource: dict) -> None:
        """An EKS managed node group, priced as an auto scaling group: its type from the launch template it links to or
        its instance types, its nodes from the scaling config, its market from the capacity type, root volumes from
        the template."""
        inputs, template = resource["inputs"], self.graph.template_of(resource)
        launched = node_group_nodes(inputs, template["inputs"] if template else None)
        if launched.problem:
            return self.skip(resource, launched.problem)
        instance_type, nodes, market = launched.instance_type, launched.nodes, launched.market
        region, catalog = self.region(resource), self.catalog(resource)
        if template is None:
            disk = _count(inputs.get("diskSize")) or EKS_DEFAULT_DISK_GB
            volumes = f"root volumes ({disk} GiB each, in the launch template EKS makes) not estimated"
        else:
            volumes = None
        if instance_type not in catalog:
            return self.general_purpose(resource, instance_type, region, nodes, market, _joined(launched.note, volumes))
        tags = inputs.get("tags") if isinstance(inputs.get("tags"), dict) else {}
        pool = (tags.get("gpucluster:cluster"), tags.get("gpucluster:pool") or resource["name"])
        self.nodes(resource, pool, catalog[instance_type], region, nodes, {market: nodes}, _joined(launched.note, volumes))
        if template is not None:
            self.root_volumes(resource, template, nodes, pool, region)

    def gke_cluster(self, resource: dict) -> None:
        """The cluster management fee; the default node pool when the cluster keeps it, and node pools declared inside
        the cluster, priced like NodePool resources; Autopilot's pods are billed by what they request."""
        inputs = resource["inputs"]
        autopilot = inputs.get("enableAutopilot") is True
        price = self.service_price(resource, self.region(resource), "gke_cluster_hour")
        if price is None:
            self.skip(resource, f"no gke_cluster_hour price for {self.region(resource)} in the price book")
        else:
            self.lines.append(Line(resource["urn"], resource["name"], "control plane",
                                   f"GKE {'Autopilot' if autopilot else 'Standard'} cluster", _flat(price), note=GKE_FREE_TIER_NOTE))
        if autopilot:
            return self.skip(resource, "Autopilot bills pods by the resources they request; no workload to estimate from",
                             usage_billed=True)
        inline = [p for p in inputs.get("nodePools") or [] if isinstance(p, dict)]
        if not inline and inputs.get("removeDefaultNodePool") is not True:
            default = {"nodeConfig": inputs.get("nodeConfig") or {}, "initialNodeCount": inputs.get("initialNodeCount"),
                       "location": inputs.get("location")}
            self.price_node_pool(resource, f"{resource['name']}-default-pool", default, inputs)
        for index, pool in enumerate(inline):
            self.price_node_pool(resource, f"{resource['name']}-{pool.get('name') or index}", {"location": inputs.get("location"), **pool}, inputs)

    def node_pool(self, resource: dict) -> None:
        """A GKE node pool, with the cluster its `cluster` input links to (for its location and node locations)."""
        clusters = self.graph.linked(resource, "cluster", type_=GKE_CLUSTER)
        self.price_node_pool(resource, resource["name"], resource["inputs"], clusters[0]["inputs"] if clusters else None,
                             clusters[0] if clusters else None)

    def price_node_pool(self, resource: dict, name: str, pool_inputs: dict, cluster_inputs: dict | None,
                        cluster: dict | None = None) -> None:
        """Node pool nodes at the rates instance groups get: spot and flex-start VMs at the spot rate; the local SSDs the
        machine type bundles are in its price, others are named as unpriced."""
        launched = node_pool_nodes(pool_inputs, cluster_inputs)
        label = f"{name}: " if name != resource["name"] else ""  # a pool declared inside its cluster
        if launched.problem:
            return self.skip(resource, f"{label}{launched.problem}")
        config = pool_inputs.get("nodeConfig") or {}
        # A pool's location is its cluster's: its own argument when given, else the cluster's it links to.
        own = pool_inputs.get("location")
        region = self.region(resource) if (isinstance(own, str) and own != COMPUTED) or cluster is None else self.region(cluster)
        machine, nodes, catalog = launched.instance_type, launched.nodes, self.catalog(resource)
        rate = "spot" if launched.market == "flex-start" else launched.market  # flex-start VMs bill at spot rates
        note = _joined(launched.note, "flex-start VMs at the spot rate, as for instance groups" if launched.market == "flex-start" else None,
                       "boot disks not estimated")
        bundled = catalog[machine].local_disks.count if machine in catalog else 0
        extra = local_ssds(config) - bundled if local_ssds(config) > bundled else 0
        if extra:
            self.skip(resource, f"{label}{extra} local SSD(s) per node beyond the {bundled} {machine} comes with; "
                                "no local SSD price in the price book")
        elif bundled:
            note = _joined(note, f"{bundled} local SSD(s) per node, in the machine price")
        if machine not in catalog:
            if config.get("guestAccelerators"):
                return self.skip(resource, f"{label}{machine} with attached GPUs is not in the catalog")
            return self.general_purpose(resource, machine, region, nodes, rate, note, name=name)
        labels = config.get("resourceLabels") if isinstance(config.get("resourceLabels"), dict) else {}
        pool = (labels.get("gpucluster-cluster"), labels.get("gpucluster-pool") or name)
        self.nodes(resource, pool, catalog[machine], region, nodes, {rate: nodes}, note, name=name)

    def general_purpose(self, resource: dict, instance_type: str | None, region: str, nodes: dict[str, int], market: str,
                        note: str | None = None, name: str | None = None) -> None:
        """Nodes of a type without accelerators (a cluster's system nodes), at the book's on-demand rate."""
        price = self.service_price(resource, region, "general_purpose_hour", instance_type or "") \
            if market == "on-demand" else None
        if price is None:
            label = f"{name}: " if name and name != resource["name"] else ""
            return self.skip(resource, f"{label}no {market} price for {instance_type!r} in {region} in the price book")
        self.lines.append(Line(resource["urn"], name or resource["name"], "instances", f"{instance_type} on-demand at ${price:,.4f}/h",
                               {s: nodes[s] * price for s in SCALES}, note=_joined("nodes without accelerators", note)))

    def gcp_group(self, resource: dict) -> None:
        """A managed instance group runs its target size; spot and flex-start VMs bill at the spot rate."""
        template = self.graph.template_of(resource)
        if template is None:
            return self.skip(resource, "its instance template is not in the graph, so its machine type is unknown")
        machine, catalog = template["inputs"].get("machineType"), self.catalog(resource)
        if machine not in catalog:
            return self.skip(resource, f"machine type {machine!r} is not in the catalog")
        instance, region = catalog[machine], self.region(resource)
        size = int(resource["inputs"].get("targetSize", 0))
        nodes = {s: size for s in SCALES}
        model = (template["inputs"].get("scheduling") or {}).get("provisioningModel", "STANDARD")
        kind = "spot" if model in ("SPOT", "FLEX_START") else "on-demand"  # flex-start VMs bill at spot rates
        labels = template["inputs"].get("labels") or {}
        pool = (labels.get("gpucluster-cluster"), labels.get("gpucluster-pool") or resource["name"])
        self.nodes(resource, pool, instance, region, nodes, {kind: nodes})

    def nodes(self, resource: dict, pool: PoolKey, instance, region: str, nodes: dict[str, int],
              markets: dict[str, dict[str, int]], note: str | None = None, name: str | None = None) -> None:
        """A pool's GPUs and power, and a priced line per market it buys nodes in (or why it cannot be priced)."""
        book = self.book(resource)
        price = book.instance(region, instance.name)
        self.power(pool, instance, nodes)
        on_demand = price.on_demand if price else None
        self.pools[pool] = {
            "resource": resource["urn"],
            "gpus": {s: nodes[s] * instance.gpus for s in SCALES},
            "onDemandUsdPerGpuHour": round(on_demand / instance.gpus, 4) if on_demand else None,
            "complete": True,
        }
        for kind, counts in markets.items():
            if not any(counts.values()):
                continue
            unit = getattr(price, kind.replace("-", "_"), None) if price else None
            if unit is not None:
                self.used.update((book.cloud, source) for source in price.sources_for(kind))
            if unit is None:
                self.pools[pool]["complete"] = False
                self.skip(resource, f"no {kind} price for {instance.name} in {region} in the price book "
                                    f"(`gpucluster prices refresh --cloud {book.cloud}`); {max(counts.values())} node(s) unpriced")
                continue
            self.lines.append(Line(resource["urn"], name or resource["name"], "instances", f"{instance.name} {kind} at ${unit:,.2f}/h",
                                   {s: counts[s] * unit for s in SCALES}, pool=pool, note=note))

    def root_volumes(self, resource: dict, template: dict, nodes: dict[str, int], pool: PoolKey, region: str) -> None:
        sizes = [m.get("ebs", {}).get("volumeSize", 0) for m in template["inputs"].get("blockDeviceMappings", [])]
        types = {m.get("ebs", {}).get("volumeType") for m in template["inputs"].get("blockDeviceMappings", [])}
        if not sizes:
            return
        price = self.service_price(resource, region, "ebs_gp3_gb_month") if types == {"gp3"} else None
        if price is None:
            return self.skip(template, f"no price for {sorted(t for t in types if t)} volumes in {region}")
        per_node = sum(sizes) * price / HOURS_PER_MONTH
        self.lines.append(Line(resource["urn"], f"{resource['name']}-volumes", "block storage",
                               f"{sum(sizes)} GB gp3 per node", {s: nodes[s] * per_node for s in SCALES}, pool=pool))

    def power(self, pool: PoolKey, instance, nodes: dict[str, int], facility: float = 1.0) -> float | None:
        """kW per node (None where unknown): the system's published maximum where the catalog has it (bare-metal
        types), else the accelerators' board power with the host overhead; times the site's PUE where given."""
        system = getattr(instance.fabric, "system_power_kw", None)
        watts = instance.accelerator.board_power_w
        if system is None and watts is None:
            self.power_unknown.add(instance.name)
            return None
        per_node = (system if system is not None else instance.accelerator.count * watts * HOST_POWER_FACTOR / 1000) * facility
        self.power_nodes.append((pool, nodes, per_node))
        return per_node

    def site(self, resource: dict) -> None:
        """An existing cluster's nodes, from its site record: owned (or contracted) nodes have no list price, so each
        pool is priced at the amortised rate the spec gives, or listed unpriced; power from the catalog, with the
        site's PUE; energy at the site's price when given."""
        data = resource["inputs"].get("data") or {}
        catalog = load_catalog("kubernetes")
        facility = float(data.get("powerUsageEffectiveness") or 1)
        energy = float(data["usdPerKwh"]) if data.get("usdPerKwh") else None
        self.facility = facility
        for entry in json.loads(data.get("pools") or "[]"):
            instance = catalog[entry["nodeType"]]
            pool = (data.get("cluster"), entry["name"])
            nodes = {s: entry["nodes"] for s in SCALES}
            per_node_kw = self.power(pool, instance, nodes, facility)
            rate = entry.get("usdPerNodeHour")
            self.pools[pool] = {"resource": resource["urn"], "gpus": {s: n * instance.gpus for s, n in nodes.items()},
                                "onDemandUsdPerGpuHour": None, "complete": rate is not None}
            if rate is None:
                self.skip(resource, f"pool {entry['name']}: {entry['nodes']} x {instance.name} are owned nodes with no "
                                    "list price; give the pool usdPerNodeHour (amortised) to price them")
            else:
                self.lines.append(Line(resource["urn"], entry["name"], "instances",
                                       f"{entry['nodes']} x {instance.name} amortised at ${rate:,.2f}/h",
                                       {s: n * rate for s, n in nodes.items()}, pool=pool))
            if energy is not None and per_node_kw is not None:
                self.lines.append(Line(resource["urn"], f"{entry['name']}-energy", "energy",
                                       f"{per_node_kw:,.2f} kW per node at ${energy:g}/kWh",
                                       {s: n * per_node_kw * energy for s, n in nodes.items()}, pool=pool,
                                       note="at the nodes' maximum draw"))


def _joined(*notes: str | None) -> str | None:
    return "; ".join(n for n in notes if n) or None


def _pool_labels(pools: dict[PoolKey, Any]) -> dict[PoolKey, str]:
    """A pool is named by its own name, or "cluster/pool" when the stack holds several clusters (pool names are
    unique within a cluster only)."""
    several = len({cluster for cluster, _ in pools}) > 1
    return {(cluster, name): f"{cluster}/{name}" if several and cluster else name for cluster, name in pools}


def _sum(dicts: list[dict[str, float]]) -> dict[str, float]:
    return {s: sum(d.get(s, 0) for d in dicts) for s in SCALES}


def price_age(used: set[tuple[str, str]], books: dict[str, PriceBook], today: date) -> dict[str, Any]:
    """The sources the estimate's prices came from, each with its date, and the oldest of them in days before today."""
    sources = sorted(({"cloud": cloud, "source": key, "date": books[cloud].sources[key].date} for cloud, key in used),
                     key=lambda s: (books[s["cloud"]].source_date(s["source"]), s["cloud"], s["source"]))
    oldest = sources[0] if sources else None
    age = (today - books[oldest["cloud"]].source_date(oldest["source"])).days if oldest else None
    return {"sources": sources, "oldest": oldest, "oldestAgeDays": age}


def estimate(resources: list[dict[str, Any]], book: PriceBook | None = None, today: date | None = None) -> dict[str, Any]:
    """The `cost` section of the preview JSON for these resources, each priced from its own cloud's book (`book`
    replaces the shipped one for its cloud); `prices` says which sources were used and how old the oldest is."""
    estimator = _Estimator(resources, {book.cloud: book} if book else {})
    estimator.run()
    lines = estimator.lines
    label = _pool_labels(estimator.pools)
    by_pool: dict[PoolKey, list[dict[str, float]]] = {}
    for line in lines:
        if line.pool is not None:
            by_pool.setdefault(line.pool, []).append(line.hourly)
            line.pool = label[line.pool]
    pools: dict[str, dict[str, Any]] = {}
    for key, info in sorted(estimator.pools.items(), key=lambda item: label[item[0]]):
        hourly = _sum(by_pool.get(key, []))
        gpus = info["gpus"]
        pools[label[key]] = {
            "resource": info["resource"],
            "hourly": _rounded(hourly),
            "monthly": _rounded({s: v * HOURS_PER_MONTH for s, v in hourly.items()}),
            "gpus": gpus,
            "gpuHoursPerMonth": {s: v * HOURS_PER_MONTH for s, v in gpus.items()},
            # The plan's cost per GPU-hour at max size, only when every node of the pool is priced.
            "usdPerGpuHour": round(hourly["max"] / gpus["max"], 4) if gpus["max"] and info["complete"] else None,
            "onDemandUsdPerGpuHour": info["onDemandUsdPerGpuHour"],
        }
    hourly = _sum([line.hourly for line in lines])
    kw = _sum([{s: nodes[s] * per_node for s in SCALES} for _, nodes, per_node in estimator.power_nodes])
    return {
        "currency": CURRENCY,
        "hoursPerMonth": HOURS_PER_MONTH,
        "lines": [line.as_dict() for line in lines],
        "pools": pools,
        "total": {"hourly": _rounded(hourly), "monthly": _rounded({s: v * HOURS_PER_MONTH for s, v in hourly.items()})},
        "power": {
            "kw": _rounded(kw),
            "kwhPerMonth": _rounded({s: v * HOURS_PER_MONTH for s, v in kw.items()}),
            "assumption": f"accelerator board power x {HOST_POWER_FACTOR:.2f} for the host (NVIDIA DGX H100: 10.2 kW system, 5.6 kW "
                          "GPUs), or the system's published maximum (bare-metal types)"
                          + (f"; times the site's PUE {estimator.facility:g}" if estimator.facility != 1 else ""),
            "unknownFor": sorted(estimator.power_unknown),
        },
        "unpriced": [u.as_dict() for u in estimator.unpriced],
        "prices": price_age(estimator.used, estimator.books, today or date.today()),
    }
