"""The cost model: prices the previewed resource graph (the resources the preview JSON lists), not the spec.

Every resource is either priced, known to cost nothing by itself, or listed as unpriced with the reason;
nothing is counted as zero silently. Groups are priced at their min, desired and max sizes. Power beside
money: the GPU nodes' draw from the accelerators' board power plus the host around them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..catalog import load as load_catalog
from ..graph import SCALES, Graph, group_nodes, tags_of
from .prices import HOURS_PER_MONTH, PriceBook
from .prices import load as load_prices

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
}
EXPECTED_SIZE_TAG = "gpucluster:expected-size-tb"  # how a bucket's expected size reaches the graph
PRICED_PACKAGES = ("aws", "gcp")  # the packages with a price book
# Objects inside a Kubernetes cluster bill nothing themselves: they run on nodes the cloud packages price.
IN_CLUSTER_PACKAGES = ("kubernetes",)
_EKS_MARKETS = {"ON_DEMAND": "on-demand", "SPOT": "spot", "CAPACITY_BLOCK": "capacity-block"}
PoolKey = tuple[str | None, str]  # (cluster, pool), from the gpucluster tags or labels
CURRENCY = "USD"  # every price book's


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

    def book(self, resource: dict) -> PriceBook:
        cloud = resource["type"].split(":", 1)[0]
        if cloud not in self.books:
            self.books[cloud] = load_prices(cloud)
        return self.books[cloud]

    def catalog(self, resource: dict):
        return load_catalog(resource["type"].split(":", 1)[0])

    def region(self, resource: dict) -> str:
        return self.graph.region(resource) or ""

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
            "aws:eks/cluster:Cluster": self.eks_cluster,
            "aws:eks/nodeGroup:NodeGroup": self.node_group,
            "gcp:container/cluster:Cluster": lambda r: self.hourly(r, "gke_cluster_hour", "GKE cluster"),
            "gcp:container/nodePool:NodePool": self.node_pool,
        }
        for resource in self.graph.resources:
            type_ = resource["type"]
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
        price = self.book(resource).region_services(self.region(resource)).price(table)
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
        table = self.book(resource).region_services(self.region(resource)).fsx_lustre_persistent_2_gb_month or {}
        price = table.get(tier) if isinstance(tier, int) else None
        if inputs.get("deploymentType") != "PERSISTENT_2" or not isinstance(capacity, int) or price is None:
            return self.skip(resource, f"no FSx for Lustre price for {inputs.get('deploymentType')} at {tier} MB/s/TiB in {self.region(resource)}")
        self.lines.append(Line(resource["urn"], resource["name"], "file system",
                               f"FSx for Lustre {capacity:,} GiB at {tier} MB/s/TiB", _flat(capacity * price / HOURS_PER_MONTH)))

    def bucket(self, resource: dict) -> None:
        size = (tags_of(resource["inputs"]) or {}).get(EXPECTED_SIZE_TAG)
        if size is None and self.graph.referrers(resource, "aws:s3/bucketLogging:BucketLogging", "targetBucket"):
            return self.skip(resource, "holds access logs, billed by their volume; no log volume to estimate from", usage_billed=True)
        if size is None:
            return self.skip(resource, f"no expected size (tag {EXPECTED_SIZE_TAG}); S3 is billed by what is stored")
        lifecycles = self.graph.referrers(resource, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "bucket")
        storage_class = "STANDARD"
        for rule in [rule for lifecycle in lifecycles for rule in lifecycle["inputs"].get("rules") or []]:
            for transition in rule.get("transitions", []):
                if transition.get("days") == 0:
                    storage_class = transition.get("storageClass", storage_class)  # stored in that class from day 0
        price = self.book(resource).region_services(self.region(resource)).price("s3_gb_month", storage_class)
        if price is None:
            return self.skip(resource, f"no S3 {storage_class} price for {self.region(resource)}")
        gb = float(size) * 1000
        self.lines.append(Line(resource["urn"], resource["name"], "object storage", f"S3 {storage_class}, {float(size):g} TB expected",
                               _flat(gb * price / HOURS_PER_MONTH), note="requests and transfer not estimated"))

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
        """The control plane's fee: standard support, or six times it in extended support, which EKS applies by default
        once a version leaves standard support (`upgradePolicy.supportType`)."""
        support = ((resource["inputs"].get("upgradePolicy") or {}).get("supportType") or "EXTENDED").lower()
        price = self.book(resource).region_services(self.region(resource)).price("eks_cluster_hour", support)
        if price is None:
            return self.skip(resource, f"no EKS {support} support fee for {self.region(resource)} in the price book")
        self.lines.append(Line(resource["urn"], resource["name"], "control plane", f"EKS cluster, {support} support",
                               _flat(price), note="extended support once the version leaves standard support" if support == "standard" else None))

    def node_group(self, resource: dict) -> None:
        """An EKS managed node group, priced as an auto scaling group: its type from the template it links to or its
        instance types, its nodes from the scaling config, its market from the capacity type."""
        inputs, template = resource["inputs"], self.graph.template_of(resource)
        instance_type = (template or {}).get("inputs", {}).get("instanceType") or (inputs.get("instanceTypes") or [None])[0]
        scaling = inputs.get("scalingConfig") or {}
        low = int(scaling.get("minSize", 0))
        nodes = {"min": low, "desired": int(scaling.get("desiredSize", low)), "max": int(scaling.get("maxSize", 0))}
        market = _EKS_MARKETS.get(inputs.get("capacityType") or "ON_DEMAND")
        region, catalog = self.region(resource), self.catalog(resource)
        if instance_type not in catalog:
            return self.general_purpose(resource, instance_type, region, nodes, market)
        tags = tags_of(inputs) or {}
        pool = (tags.get("gpucluster:cluster"), tags.get("gpucluster:pool") or resource["name"])
        self.nodes(resource, pool, catalog[instance_type], region, nodes, {market: nodes})
        if template is not None:
            self.root_volumes(resource, template, nodes, pool, region)

    def node_pool(self, resource: dict) -> None:
        """A GKE node pool: its machine type, its nodes from the autoscaling totals (or the initial count) across its
        zones, spot and flex-start VMs at the spot rate, as for instance groups."""
        inputs = resource["inputs"]
        config = inputs.get("nodeConfig") or {}
        machine, region, catalog = config.get("machineType"), self.region(resource), self.catalog(resource)
        scaling = inputs.get("autoscaling") or {}
        zones = len(inputs.get("nodeLocations") or [None])
        fixed = int(inputs.get("nodeCount", inputs.get("initialNodeCount", 0)) or 0) * zones
        low = int(scaling.get("totalMinNodeCount", fixed))
        nodes = {"min": low, "desired": max(low, int(inputs.get("initialNodeCount", low) or low)),
                 "max": int(scaling.get("totalMaxNodeCount", fixed))}
        market = "spot" if config.get("spot") or config.get("flexStart") else "on-demand"
        if machine not in catalog:
            return self.general_purpose(resource, machine, region, nodes, market)
        labels = config.get("resourceLabels") or {}
        pool = (labels.get("gpucluster-cluster"), labels.get("gpucluster-pool") or resource["name"])
        self.nodes(resource, pool, catalog[machine], region, nodes, {market: nodes})

    def general_purpose(self, resource: dict, instance_type: str | None, region: str, nodes: dict[str, int], market: str) -> None:
        """Nodes of a type without accelerators (a cluster's system nodes), at the book's on-demand rate."""
        price = self.book(resource).region_services(region).price("general_purpose_hour", instance_type or "")
        if price is None or market != "on-demand":
            return self.skip(resource, f"no {market} price for {instance_type!r} in {region} in the price book")
        self.lines.append(Line(resource["urn"], resource["name"], "instances", f"{instance_type} on-demand at ${price:,.4f}/h",
                               {s: nodes[s] * price for s in SCALES}, note="system nodes; boot disks not estimated"))

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
              markets: dict[str, dict[str, int]]) -> None:
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
            if unit is None:
                self.pools[pool]["complete"] = False
                self.skip(resource, f"no {kind} price for {instance.name} in {region} in the price book "
                                    f"(`gpucluster prices refresh --cloud {book.cloud}`); {max(counts.values())} node(s) unpriced")
                continue
            self.lines.append(Line(resource["urn"], resource["name"], "instances", f"{instance.name} {kind} at ${unit:,.2f}/h",
                                   {s: counts[s] * unit for s in SCALES}, pool=pool))

    def root_volumes(self, resource: dict, template: dict, nodes: dict[str, int], pool: PoolKey, region: str) -> None:
        sizes = [m.get("ebs", {}).get("volumeSize", 0) for m in template["inputs"].get("blockDeviceMappings", [])]
        types = {m.get("ebs", {}).get("volumeType") for m in template["inputs"].get("blockDeviceMappings", [])}
        if not sizes:
            return
        price = self.book(resource).region_services(region).price("ebs_gp3_gb_month")
        if types != {"gp3"} or price is None:
            return self.skip(template, f"no price for {sorted(t for t in types if t)} volumes in {region}")
        per_node = sum(sizes) * price / HOURS_PER_MONTH
        self.lines.append(Line(resource["urn"], f"{resource['name']}-volumes", "block storage",
                               f"{sum(sizes)} GB gp3 per node", {s: nodes[s] * per_node for s in SCALES}, pool=pool))

    def power(self, pool: PoolKey, instance, nodes: dict[str, int]) -> None:
        watts = instance.accelerator.board_power_w
        if watts is None:
            self.power_unknown.add(instance.name)
            return
        self.power_nodes.append((pool, nodes, instance.accelerator.count * watts * HOST_POWER_FACTOR / 1000))


def _pool_labels(pools: dict[PoolKey, Any]) -> dict[PoolKey, str]:
    """A pool is named by its own name, or "cluster/pool" when the stack holds several clusters (pool names are
    unique within a cluster only)."""
    several = len({cluster for cluster, _ in pools}) > 1
    return {(cluster, name): f"{cluster}/{name}" if several and cluster else name for cluster, name in pools}


def _sum(dicts: list[dict[str, float]]) -> dict[str, float]:
    return {s: sum(d.get(s, 0) for d in dicts) for s in SCALES}


def estimate(resources: list[dict[str, Any]], book: PriceBook | None = None) -> dict[str, Any]:
    """The `cost` section of the preview JSON for these resources, each priced from its own cloud's book (`book`
    replaces the shipped one for its cloud)."""
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
            "assumption": f"accelerator board power x {HOST_POWER_FACTOR:.2f} for the host (NVIDIA DGX H100: 10.2 kW system, 5.6 kW GPUs)",
            "unknownFor": sorted(estimator.power_unknown),
        },
        "unpriced": [u.as_dict() for u in estimator.unpriced],
    }
