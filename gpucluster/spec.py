"""The cluster spec: what a stack declares under the config key `gpucluster:cluster`.

Structural rules (types, ranges, shapes) live here; rules that need the hardware catalog live in
`gpucluster.validate`. Keys are camelCase in YAML, as Pulumi config keys are; error paths use them too.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from . import naming
from .capacity import CapacityPlan, Source, block_problem, ordering_problem
from .problems import CheckFailed

CONFIG_NAMESPACE = "gpucluster"
CONFIG_KEY = "cluster"

_NAME = re.compile(r"^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$")


def _name(value: str) -> str:
    if not _NAME.match(value):
        raise CheckFailed("GPC-NAME-FORMAT", "use 1-32 lowercase letters, digits and '-', starting with a letter and not "
                          "ending with '-'")
    return value


Name = Annotated[str, AfterValidator(_name)]


def _ipv4_network(value: str) -> str:
    # strict=True refuses host bits (10.0.0.1/16): almost always a typo for the network address.
    try:
        return str(ipaddress.IPv4Network(value, strict=True))
    except ValueError as exc:
        raise CheckFailed("GPC-CIDR-FORMAT", f"not an IPv4 network in CIDR form such as 10.0.0.0/16 ({exc})") from None


Cidr = Annotated[str, AfterValidator(_ipv4_network)]


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, frozen=True
    )


class Network(_Model):
    """VPC address plan. Subnets default to equal slices of `cidr`, one per zone, plus one public slice for NAT."""

    cidr: Cidr = Field(
        default="10.0.0.0/16",
        description="The VPC's IPv4 range in CIDR form, /16 to /24, without host bits (10.0.0.1/16 is refused). It is "
        "cut into 16 equal slices: slice i for the i-th cluster zone's private subnet, the last for the public one; on "
        "GCP the host subnet is the first slice",
    )
    private_subnets: dict[str, Cidr] = Field(
        default_factory=dict,
        description="AWS: zone -> CIDR of that zone's private subnet; keys are cluster zones, each subnet inside cidr, "
        "/28 or larger and overlapping no other. Zones left out get their default slice; not on GCP, whose subnets "
        "are regional",
    )
    public_subnet: Cidr | None = Field(
        default=None, description="AWS: the public subnet that holds the NAT gateway, inside cidr and overlapping no "
        "private subnet; default: the last of the 16 slices",
    )
    nat: bool = Field(
        default=True, description="AWS: outbound internet for the private subnets through a NAT gateway (default on); "
        "nodes reach S3 through the VPC's gateway endpoint either way. GCP always gets Cloud NAT",
    )
    flow_log_retention_days: Literal[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                                     2557, 2922, 3288, 3653] = Field(
        default=365, description="AWS: how long the VPC flow logs are kept in CloudWatch Logs (the values it accepts); "
        "a year by default, as audits commonly ask"
    )

    @field_validator("cidr")
    @classmethod
    def _vpc_size(cls, value: str) -> str:
        prefix = ipaddress.IPv4Network(value).prefixlen
        if not 16 <= prefix <= 24:
            raise CheckFailed("GPC-VPC-SIZE", f"prefix /{prefix} is outside /16../24 (AWS allows /16 to /28; /24 is the "
                              "smallest with room for slices)")
        return value


class Size(_Model):
    """How many nodes a pool has: min <= desired <= max."""

    min: int = Field(default=0, ge=0, le=5000, description="The fewest nodes, 0 to 5000; default 0: the pool can "
                     "scale to zero")
    desired: int | None = Field(
        default=None, ge=0, le=5000, description="How many nodes to run now, between min and max; default: min. GCP "
        "groups run at this size (they do not autoscale between min and max yet)",
    )
    max: int = Field(
        ge=0, le=5000, description="The most nodes, 0 to 5000 and at least min. Cost estimates, GPU caps, queue quotas "
        "and the shared file system's size count every pool at max; capacity blocks and existing clusters' pools need "
        "min = max",
    )

    @model_validator(mode="after")
    def _ordered(self) -> Size:
        if self.min > self.max:
            raise CheckFailed("GPC-SIZE-ORDER", f"min ({self.min}) is greater than max ({self.max})")
        if self.desired is not None and not self.min <= self.desired <= self.max:
            raise CheckFailed("GPC-SIZE-DESIRED", f"desired ({self.desired}) is outside min..max ({self.min}..{self.max})")
        return self

    @property
    def desired_or_min(self) -> int:
        return self.min if self.desired is None else self.desired


class Capacity(_Model):
    """Where a pool's nodes come from: `type` first, then each `fallback` in order (see README, "Capacity")."""

    type: Source = Field(
        default="on-demand",
        description="The first capacity source; default on-demand. reservation and capacity-block use reserved capacity "
        "(see reservationId), spot spare capacity, flex-start GCP's Dynamic Workload Scheduler",
    )
    fallback: list[Source] = Field(
        default_factory=list,
        description="Later sources, in order of preference, none listed twice. AWS honours only the order reservation, "
        "on-demand, spot (spot after another source needs onDemandBase); capacity-block and flex-start stand alone, and "
        "GCP and Kubernetes pools take no fallback (one source per pool)",
    )
    on_demand_base: int = Field(
        default=0, ge=0, description="When spot follows on-demand or reservation: how many nodes come from those "
        "sources (at least 1, at most size.max); spot fills the rest. Default 0, the only value allowed otherwise",
    )
    reservation_id: Annotated[str, StringConstraints(pattern=r"^cr-[0-9a-f]{8,17}$")] | None = Field(
        default=None,
        description="AWS: the id of the capacity reservation or purchased capacity block (cr- and 8 to 17 hex digits); "
        "capacity-block needs it. reservation needs exactly one of reservationId, reservationGroupArn or (GCP) "
        "reservationName",
    )
    reservation_group_arn: Annotated[str, StringConstraints(pattern=r"^arn:aws[a-z-]*:resource-groups:")] | None = Field(
        default=None, description="AWS, reservation: the ARN of a resource group of capacity reservations to target, "
        "instead of one reservationId",
    )
    reservation_name: Annotated[str, StringConstraints(pattern=r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")] | None = Field(
        default=None, description="GCP, reservation: the specific reservation to consume (lowercase letters, digits and "
        "'-', up to 63 characters)",
    )
    placement_group: str | None = Field(
        default=None, description="reservation or capacity-block: the cluster placement group the reservation was made "
        "for, used as it is. Default: none, as a placement group the reservation does not cover leaves instances "
        "unlaunchable",
    )
    max_run_hours: float | None = Field(
        default=None, gt=0, description="flex-start: how long a VM may run, in hours (10 minutes to 7 days: 1/6 to "
        "168); default 7 days",
    )
    # With a time zone (Z or +hh:mm): a block starts at a fixed instant, and a naive time would be guessed.
    block_start: AwareDatetime | None = Field(
        default=None, description="capacity-block: when the block starts, a timestamp with a time zone (such as "
        "2026-12-01T00:00:00Z or +hh:mm); optional, given with blockEnd. The window goes into the outputs",
    )
    block_end: AwareDatetime | None = Field(
        default=None, description="capacity-block: when the block ends, with a time zone, given with blockStart; a "
        "block lasts 1 to 14 whole days, or whole weeks up to 182 days",
    )

    @property
    def sources(self) -> tuple[str, ...]:
        return (self.type, *self.fallback)

    @model_validator(mode="after")
    def _consistent(self) -> Capacity:
        sources = self.sources
        problem = ordering_problem(sources, self.on_demand_base)
        if problem:
            raise problem
        reserved = "reservation" in sources or "capacity-block" in sources
        has_id, has_group = self.reservation_id is not None, self.reservation_group_arn is not None
        has_name = self.reservation_name is not None
        if "capacity-block" in sources and not has_id:
            raise CheckFailed("GPC-BLOCK-ID", "capacity-block needs reservationId (the cr-... id of the purchased block)")
        if "reservation" in sources and has_id + has_group + has_name != 1:
            raise CheckFailed("GPC-RESERVATION-TARGET", "reservation needs exactly one of reservationId or "
                              "reservationGroupArn (AWS), or reservationName (GCP)")
        if not reserved and (has_id or has_group or has_name or self.placement_group):
            raise CheckFailed("GPC-RESERVATION-FIELDS", "reservationId/reservationGroupArn/reservationName/placementGroup "
                              f"only apply to reservation or capacity-block, not {list(sources)}")
        if self.max_run_hours is not None and "flex-start" not in sources:
            raise CheckFailed("GPC-FLEX-HOURS-UNUSED", "maxRunHours only applies to flex-start")
        if self.max_run_hours is not None and not 1 / 6 <= self.max_run_hours <= 168:
            raise CheckFailed("GPC-FLEX-HOURS-RANGE", "maxRunHours must be between 10 minutes and 7 days (168 h), not "
                              f"{self.max_run_hours:g}")
        if (self.block_start or self.block_end) and "capacity-block" not in sources:
            raise CheckFailed("GPC-BLOCK-DATES-UNUSED", "blockStart/blockEnd only apply to capacity-block")
        if (self.block_start is None) != (self.block_end is None):
            raise CheckFailed("GPC-BLOCK-DATES-PAIR", "give both blockStart and blockEnd, or neither")
        if self.block_start and self.block_end and (problem := block_problem(self.block_start, self.block_end)):
            raise problem
        return self

    def plan(self) -> CapacityPlan:
        return CapacityPlan(self.sources, self.on_demand_base)


class Checkpoint(_Model):
    """What a spot or flex-start node does when it is about to be taken away (interruption notice or scale-in).
    No effect on Kubernetes, where the job checkpoints itself."""

    to: Literal["s3", "shared"] = Field(
        default="s3", description="s3: the checkpoint bucket (Cloud Storage on GCP), under <cluster>/<pool>/<instance>; "
        "shared: <shared mount>/checkpoints/<pool>/<instance> on the shared file system, which needs storage.shared",
    )
    directory: Annotated[str, StringConstraints(pattern=r"^/[A-Za-z0-9._/-]+$")] = Field(
        default="/scratch/checkpoints",
        description="The node's directory (an absolute path) that is copied on a notice; default /scratch/checkpoints",
    )
    command: str | None = Field(
        default=None, description="Run first, within the time left (such as a command that signals the trainer to "
        "save); its output goes to the journal. Default: none, only the copy",
    )
    heartbeat_seconds: int = Field(
        default=600, ge=30, le=7200, description="AWS: how long a terminating node may take, in seconds (the lifecycle "
        "hook's heartbeat, 30 to 7200; default 600). Spot notices give 120 s, GCE 30 s",
    )


class Rollout(_Model):
    """How a changed image or template reaches nodes that are already running."""

    strategy: Literal["manual", "rolling"] | None = Field(
        default=None,
        description="manual: new nodes get the change, running nodes keep theirs until they are replaced (a rolling "
        "replace kills a running training job); rolling: replace running nodes in batches (AWS instance refresh, GCP "
        "proactive update). Default: manual for training and dev pools, rolling for inference",
    )
    min_healthy_percent: int = Field(
        default=90, ge=0, le=100, description="rolling: the percentage of the pool kept in service while nodes are "
        "replaced (default 90); GCP replaces at most 100 minus this share of the group at a time, at least one VM",
    )
    warmup_seconds: int = Field(
        default=300, ge=0, le=3600,
        description="rolling, AWS: how long a new node runs before it counts as ready (compute v1 has no such setting)",
    )


class Pool(_Model):
    """One group of identical nodes."""

    name: Name = Field(description="Unique in the cluster: 1-32 lowercase letters, digits and '-', starting with a "
                       f"letter and not ending with '-'. {naming.pool_budgets_text()}")
    instance_type: str = Field(
        description="The instance type (GCP: machine type) from the catalog (`gpucluster catalog`), offered in the "
        "region and the pool's zones; it decides GPUs, fabric and local disks. Cloud kubernetes: a node type of "
        "`gpucluster catalog --cloud kubernetes`",
    )
    alternate_types: list[str] = Field(
        default_factory=list, description="AWS: other instance types the same group may launch (its mixed instances "
        "policy); each must have instanceType's fabric layout. Not on reservations or capacity blocks, which hold one type",
    )
    size: Size = Field(description="How many nodes: min (default 0), desired (default min) and max")
    capacity: Capacity = Field(
        default=Capacity(), description="Where the nodes come from (README, 'Capacity'); default: on-demand only"
    )
    fabric: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="auto: the type's full fabric when it has one; on: require it; off: none. "
        "The booleans true and false are read as on and off",
    )
    placement: Literal["auto", "cluster", "none"] = Field(
        default="auto", description="auto: a cluster placement group (GCP: compact placement) under fabric pools, never "
        "under reserved capacity; cluster: always, in one zone (on reserved capacity only with capacity.placementGroup); "
        "none: no placement group",
    )
    zones: list[str] = Field(
        default_factory=list, description="The pool's zones, from the cluster's, each once. Default: the first cluster "
        "zone offering the type for a fabric pool (a fabric does not cross zones), every cluster zone offering it otherwise",
    )
    purpose: Literal["training", "dev", "inference"] = Field(
        default="training", description="Picks the default rollout (manual for training and dev, rolling for "
        "inference) and tags the pool's resources (gpucluster:purpose); the cost pack asks training and dev pools to "
        "use spot or scale to zero",
    )
    root_volume_gb: int = Field(
        default=200, ge=30, le=16384, description="Size of each node's boot volume in GB, 30 to 16384; default 200 "
        "(AWS: encrypted gp3; GCP: the boot disk, under the cluster's key)",
    )
    image_id: str | None = Field(
        default=None, description="AWS: an AMI id (ami- and 8 or 17 hex digits) or resolve:ssm:<parameter>; GCP: "
        "[projects/P/]global/images/[family/]NAME. Default: on AWS the Deep Learning AMI for the accelerator, resolved "
        "at launch through its public SSM parameter, on GCP Ubuntu's accelerator image family; not on Kubernetes",
    )
    checkpoint: Checkpoint = Field(
        default=Checkpoint(), description="What a spot or flex-start node does before it goes (README, 'Spot "
        "interruptions'); default: copy /scratch/checkpoints to the checkpoint bucket",
    )
    rollout: Rollout = Field(
        default=Rollout(), description="How a changed image or template reaches running nodes; default: manual for "
        "training and dev pools, rolling for inference (on Kubernetes only rolling)",
    )
    node_selector: dict[LabelKey, LabelValue] = Field(
        default_factory=dict,
        description="Existing clusters: the node labels that pick this pool's nodes out of the cluster (required there; "
        "the nodes are not created, so nothing else says which they are)",
    )
    cpus_per_node: int | None = Field(
        default=None, gt=0, description="Existing clusters: logical CPUs of a node, where the node type leaves them to "
        "the server maker (HGX); the queue's quota counts them",
    )
    memory_gib_per_node: float | None = Field(
        default=None, gt=0, description="Existing clusters: host memory of a node, where the node type leaves it to the "
        "server maker (HGX)",
    )
    interfaces: list[Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,15}$")]] = Field(
        default_factory=list,
        description="Existing clusters: the interface names of the node type's compute ports, in GPU order, where its "
        "maker does not publish them (HGX servers; `ibdev2netdev` on a node lists them); needed for per-rail resources "
        "and for addresses on the fabric",
    )
    usd_per_node_hour: float | None = Field(
        default=None, ge=0, description="Existing clusters: what a node costs an hour, amortised (purchase, support and "
        "hosting over its life, or a GPU cloud's contract rate); owned nodes have no list price, so without it the pool "
        "is listed unpriced",
    )

    @field_validator("fabric", mode="before")
    @classmethod
    def _fabric_boolean(cls, value: object) -> object:
        # `fabric: true` in a stack file is a JSON boolean: mean what it says rather than refuse it.
        return ("on" if value else "off") if isinstance(value, bool) else value

    @model_validator(mode="after")
    def _base_fits(self) -> Pool:
        if self.capacity.on_demand_base > self.size.max:
            raise CheckFailed("GPC-CAPACITY-BASE-SIZE", f"capacity.onDemandBase ({self.capacity.on_demand_base}) exceeds "
                              f"size.max ({self.size.max})")
        return self


class Scratch(_Model):
    """Node-local scratch: the node's local NVMe disks as one RAID0 array with XFS, found or made at every boot (see
    README, "Storage"). Pools whose type has no local disks skip it, with a warning."""

    mount: Annotated[str, StringConstraints(pattern=r"^/[A-Za-z0-9._/-]*$")] = Field(
        default="/scratch", description="Where the array is mounted (an absolute path); default /scratch"
    )


class SharedFileSystem(_Model):
    """A shared Lustre file system on every node: FSx for Lustre on AWS, Managed Lustre on GCP, sized from one
    throughput target (give exactly one of throughputGbpsPerGpu and throughputGbps)."""

    throughput_gbps_per_gpu: float | None = Field(
        default=None, gt=0, le=10, description="Throughput target in GB/s per GPU (above 0, at most 10), times the GPUs "
        "of every pool at its max size; the cheapest layout that meets it is chosen",
    )
    throughput_gbps: float | None = Field(
        default=None, gt=0, le=2000, description="Aggregate throughput target in GB/s (above 0, at most 2000), instead "
        "of a per-GPU one",
    )
    min_capacity_gib: int = Field(
        default=1200, ge=1200, description="The least capacity to give it, in GiB (at least 1200, the default and FSx's "
        "smallest); the throughput target may call for more",
    )
    mount: Annotated[str, StringConstraints(pattern=r"^/[A-Za-z0-9._/-]*$")] = Field(
        default="/fsx", description="Where nodes and pods mount it (an absolute path); default /fsx"
    )
    export_datasets: bool = Field(
        default=False,
        description="AWS: write new, changed and deleted files under <mount>/datasets back to the datasets bucket. "
        "Off by default, so the link only imports: with it on, an `rm -r` on any node deletes the objects in S3 "
        "(the bucket's versioning then keeps them for 7 days)",
    )

    @model_validator(mode="after")
    def _one_target(self) -> SharedFileSystem:
        if (self.throughput_gbps_per_gpu is None) == (self.throughput_gbps is None):
            raise CheckFailed("GPC-SHARED-TARGET", "give exactly one of throughputGbpsPerGpu or throughputGbps")
        return self


class Buckets(_Model):
    """The dataset and checkpoint buckets (S3 or Cloud Storage, under the cluster's key; see README, "Storage"). They
    are made when this is set, when storage.shared is, or when a spot pool checkpoints to S3."""

    dataset_size_tb: float = Field(
        default=0, ge=0, description="Expected size of the datasets in TB (default 0), for the cost estimate only; it "
        "limits nothing",
    )
    checkpoint_size_tb: float = Field(
        default=0, ge=0, description="Expected size of the checkpoints in TB (default 0), for the cost estimate only"
    )
    multi_region: bool = Field(
        default=False, description="GCP: the multi-region residency allows (EU under 'eu') instead of the region"
    )


class Storage(_Model):
    """Storage tiers, each optional (see README, "Storage"): node-local scratch, a shared file system and buckets.
    Not for cloud kubernetes, whose storage exists."""

    scratch: Scratch | None = Field(default=None, description="Local NVMe as one array; default: none")
    shared: SharedFileSystem | None = Field(default=None, description="A shared Lustre file system; default: none")
    buckets: Buckets | None = Field(
        default=None, description="Expected bucket sizes and their location; default: none (the buckets are still made "
        "for storage.shared and for spot pools that checkpoint to S3)",
    )
    key_administrators: list[Annotated[str, StringConstraints(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:(role|user)/[\w+=,.@/-]+$")]] = Field(
        default_factory=list,
        description="AWS: the IAM roles or users that administer the storage key (its policy names them); default: the "
        "account root, so that IAM policies decide",
    )


TagValue = Annotated[str, StringConstraints(min_length=1, max_length=256)]
# Kubernetes label keys and values (Kubernetes docs, "Labels and Selectors", syntax and character set).
LabelKey = Annotated[str, StringConstraints(
    pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$",
    max_length=317)]
LabelValue = Annotated[str, StringConstraints(pattern=r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")]


_TAG_TEXT = (f"AWS: letters, digits, spaces and {' '.join(naming.AWS_TAG_PUNCTUATION.strip())}; "
             "GCP (labels): at most 63 lowercase letters, digits, '_' and '-'")


class Tags(_Model):
    """Tags on every AWS resource, labels on every GCP one."""

    owner: TagValue = Field(description=f"The owner tag, 1 to 256 characters. {_TAG_TEXT}")
    cost_center: TagValue = Field(description=f"The cost-center tag (key cost-center), 1 to 256 characters. {_TAG_TEXT}")
    project: TagValue = Field(description=f"The project tag, 1 to 256 characters. {_TAG_TEXT}")
    extra: dict[Annotated[str, StringConstraints(min_length=1, max_length=128)], TagValue] = Field(
        default_factory=dict,
        description=f"At most {naming.extra_tags_allowed('aws')} on AWS and {naming.extra_tags_allowed('gcp')} on GCP (AWS allows "
        f"{naming.TAGS_PER_RESOURCE['aws'][0]} tags per resource, GCP {naming.TAGS_PER_RESOURCE['gcp'][0]} labels; the fields "
        f"above and gpucluster's own take the rest). Keys and values as the fields above; GCP keys start with a letter",
    )

    @field_validator("extra")
    @classmethod
    def _no_reserved_prefix(cls, value: dict[str, str]) -> dict[str, str]:
        reserved = sorted(k for k in value if k.lower().startswith("aws:"))
        if reserved:
            raise CheckFailed("GPC-TAG-PREFIX", f"tag keys {reserved} use the reserved prefix 'aws:'")
        return value

    def as_dict(self) -> dict[str, str]:
        return {"owner": self.owner, "cost-center": self.cost_center, "project": self.project, **self.extra}


class Residency(_Model):
    """Where data and compute may live; enforced by the sovereignty policy pack."""

    allowed_regions: list[str] = Field(
        min_length=1, description="Where every resource may land, at least one entry: region names (either cloud's, "
        "or the site's own for cloud kubernetes), country codes (DE) or named sets such as 'eu' (the EU member states' "
        "regions of AWS and GCP and the AWS European Sovereign Cloud)",
    )


class Budget(_Model):
    """Limits the cost policy pack enforces."""

    monthly_usd: float | None = Field(
        default=None, gt=0, description="The most the stack may cost a month in USD, as the cost model estimates it "
        "(at max size unless the pack's scale says otherwise); the stack-budget policy. Default: no monthly cap",
    )
    hourly_usd: float | None = Field(
        default=None, gt=0, description="The most the stack may cost an hour in USD, estimated as for monthlyUsd; "
        "default: no hourly cap",
    )
    max_gpus: int | None = Field(
        default=None, gt=0, description="The most GPUs the stack may have with every pool at its max size; the "
        "gpus-per-stack policy. Default: no cap",
    )


KubernetesVersion = Literal["1.31", "1.32", "1.33", "1.34", "1.35", "1.36"]


class Team(_Model):
    """A team that submits jobs: a namespace with a Kueue LocalQueue pointing at the cluster's queue."""

    name: Name = Field(description="The namespace and the LocalQueue's name")


class RdmaSelectors(_Model):
    """Which NIC ports the RDMA device plugin offers, when not every compute port of the node types: each list narrows
    the choice (values within a list are alternatives). Checked against the node types' NICs."""

    device_ids: list[Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{4}$")]] = Field(
        default_factory=list, description="PCI device ids of the physical functions, such as 1021 (ConnectX-7)"
    )
    if_names: list[Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,15}$")]] = Field(
        default_factory=list, description="Interface names, such as ibp24s0"
    )
    link_types: list[Literal["infiniband", "ethernet"]] = Field(
        default_factory=list, description="Link types: infiniband, or ethernet (RoCE); one the node types' compute "
        "ports do not run is refused"
    )


class Rdma(_Model):
    """Existing clusters: RDMA in pods over the nodes' NVIDIA NICs, through NVIDIA's Network Operator."""

    devices: Literal["shared", "sriov"] = Field(
        default="shared",
        description="shared: the RDMA shared device plugin; every pod on a node shares the node's ports (slots, not "
        "bandwidth, and no isolation between pods); right for one training job per node. sriov: a virtual function "
        "of each port per pod (SR-IOV), isolated between tenants; InfiniBand needs a subnet manager with virtualization "
        "on, and changing it reboots the nodes",
    )
    per_rail: bool = Field(
        default=False, description="shared: one resource per port (rail) instead of one for all of a node's ports"
    )
    shared_slots: int = Field(
        default=63, ge=1, le=1000,
        description="shared: how many pods a node's ports admit at once (the plugin's rdmaHcaMax; at least the GPUs per node)",
    )
    vfs_per_port: int = Field(default=8, ge=1, le=1000, description="sriov: virtual functions made on each port")
    ip_over_fabric: bool = Field(
        default=False,
        description="Give pods an IP address on the fabric (IPoIB on InfiniBand, macvlan on RoCE, through Multus and "
        "NVIDIA's IPAM). NCCL over verbs needs none on InfiniBand; RoCE derives its addresses (GIDs) from one, so "
        "RoCE pools get it whatever this says",
    )
    ip_pool: Cidr = Field(
        default="192.168.0.0/16", description="The IPv4 range for pods' fabric interfaces, when they get addresses: "
        "split into equal slices, one per fabric network, each holding 32 addresses per node",
    )
    network_driver: Literal["auto", "host", "container"] = Field(
        default="auto",
        description="host: the DOCA-OFED on the nodes; container: the Network Operator's DOCA driver container (its "
        "restart of openibd drops every NVIDIA interface, in-band management ones included). auto: host where the "
        "node types' vendor image installs it (DGX OS), else container",
    )
    gpu_direct: Literal["dma-buf", "peermem"] = Field(
        default="dma-buf",
        description="GPUDirect RDMA through DMA-BUF (NVIDIA's recommendation; open kernel modules) or the legacy "
        "nvidia-peermem module",
    )
    selectors: RdmaSelectors | None = Field(
        default=None, description="Narrow the ports offered; default: every compute port of each pool's node type"
    )


class Kubernetes(_Model):
    """Run the pools as the GPU node pools of a managed Kubernetes cluster (EKS or GKE) instead of VM groups,
    with the GPU and fabric plugins, the storage drivers, and Kueue queues over the pools; or, with cloud
    `kubernetes`, bring the GPU and RDMA software and the queues to a cluster that exists."""

    version: KubernetesVersion = Field(
        default="1.35", description="Control-plane minor version, a string (\"1.35\"); the Kubernetes API objects are "
        "checked against it. GKE mounts Managed Lustre (storage.shared) from 1.33 on; existing clusters: the cluster's",
    )
    release_channel: Literal["RAPID", "REGULAR", "STABLE", "EXTENDED"] = Field(
        default="REGULAR", description="GKE: the release channel that upgrades the cluster"
    )
    admins: list[Annotated[str, StringConstraints(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:(role|user)/[\w+=,.@/-]+$")]] = Field(
        default_factory=list,
        description="EKS: IAM roles or users given cluster-admin through access entries (the creator gets none)",
    )
    public_access_cidrs: list[Cidr] = Field(
        default_factory=list,
        description="The API endpoint is private; list networks here to also open it to them (never to all). The "
        "machine that runs `pulumi up` must reach the endpoint to install the add-ons",
    )
    teams: list[Team] = Field(
        default_factory=lambda: [Team(name="training")], min_length=1,
        description="Namespaces with a LocalQueue each; default: one team, 'training'",
    )
    addon_versions: dict[Literal["vpc-cni", "kube-proxy", "eks-pod-identity-agent", "coredns", "aws-fsx-csi-driver",
                                 "aws-mountpoint-s3-csi-driver"], Annotated[str, StringConstraints(pattern=r"^v\d+\.\d+\.\d+-eksbuild\.\d+$")]] = Field(
        default_factory=dict,
        description="EKS: add-on versions to hold (such as v1.20.4-eksbuild.1); an add-on left out gets EKS's default "
        "version for the cluster's Kubernetes version when it is installed, and keeps it (EKS never updates an add-on "
        "by itself)",
    )
    gpu_software: Literal["auto", "device-plugin", "gpu-operator"] = Field(
        default="auto",
        description="auto: EKS the NVIDIA device plugin (the AL2023 NVIDIA AMI has the driver and toolkit), GKE its "
        "managed driver and device plugin; gpu-operator: NVIDIA's GPU Operator with driver and toolkit off, for its "
        "DCGM exporter and GPU feature discovery",
    )
    gpu_driver: Literal["auto", "host", "container"] = Field(
        default="auto",
        description="Existing clusters: host: the NVIDIA driver on the nodes; container: the GPU Operator's driver "
        "container. auto: host where the node types' vendor image installs it (DGX OS), else container",
    )
    node_feature_discovery: Literal["gpu-operator", "network-operator", "cluster"] = Field(
        default="gpu-operator",
        description="Existing clusters: which chart runs Node Feature Discovery, which both operators need once "
        "(two instances fight over the same labels); cluster: it runs already",
    )
    rdma: Rdma | None = Field(default=None, description="Existing clusters: RDMA in pods; default: on, shared devices")
    topology: list[LabelKey] = Field(
        default_factory=list, max_length=15,
        description="Existing clusters: up to 15 node labels that name where a node sits in the fabric, coarsest first (an "
        "InfiniBand scalable unit, a leaf group, a rack), each once; Kueue then places a job's pods close together and a job can "
        "ask to stay within one unit. The node itself (kubernetes.io/hostname) is added as the last level",
    )
    chart_values: dict[Literal["gpu-operator", "network-operator", "nvidia-device-plugin", "kueue", "jobset"],
                       dict[str, Any]] = Field(
        default_factory=dict,
        description="Existing clusters: Helm values merged over the ones derived here, per chart; the merged values "
        "are checked as the derived ones are (one driver, one Node Feature Discovery)",
    )


Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]


class Site(_Model):
    """Existing clusters (cloud `kubernetes`): where the cluster is, how to reach it, and its power figures. Nothing
    is created outside the cluster."""

    country: Country = Field(description="ISO 3166-1 alpha-2 code of the country the nodes are in (DE, US); the "
                             "sovereignty pack checks it, and the named set 'eu' admits EU member states")
    context: str | None = Field(
        default=None, min_length=1,
        description="The kubeconfig context to use; default: the kubeconfig's current context",
    )
    kubeconfig: Literal["local", "stack-secret"] = Field(
        default="local",
        description="local: the kubeconfig of the machine running Pulumi ($KUBECONFIG or ~/.kube/config); "
        "stack-secret: the secret stack config gpucluster:kubeconfig (`pulumi config set --secret gpucluster:kubeconfig "
        "< file`), so CI needs no file",
    )
    power_usage_effectiveness: float | None = Field(
        default=None, ge=1, le=3, description="The site's PUE (facility power over IT power), to include cooling in the "
        "power estimate; default: IT power alone",
    )
    usd_per_kwh: float | None = Field(
        default=None, gt=0, description="What a kWh costs the site, in USD; the cost estimate adds energy (times the PUE "
        "where given) when it is set. Default: power is estimated, not priced",
    )


class SkipCheck(_Model):
    """An advisory check the stack skips, and why (as a cluster-toolkit blueprint skips a named validator)."""

    code: str = Field(description="The code of a warning-level check, such as GPC-FABRIC-OFF (README, 'Check codes')")
    reason: str = Field(min_length=1, max_length=300, description="Why the warning does not apply to this stack, 1 to "
                        "300 characters; the preview shows it with the skipped check")


class ClusterSpec(_Model):
    """A GPU training cluster: where it runs, its network, node pools, storage, tags and limits. A stack declares it
    under the config key `gpucluster:cluster`."""

    name: Name = Field(description="Names every resource: 1-32 lowercase letters, digits and '-', starting with a "
                       f"letter and not ending with '-'. {naming.pool_budgets_text()}")
    cloud: Literal["aws", "gcp", "kubernetes"] = Field(
        description="aws, gcp, or kubernetes: a Kubernetes cluster that exists (on premises, or a GPU cloud's), given "
        "under `site`"
    )
    region: str = Field(description="The cloud region (us-east-1, europe-west4); a provider region in the stack "
                        "config (aws:region, gcp:region) must equal it. For cloud kubernetes, the site's region name "
                        "(lowercase letters, digits and '-'), which the sovereignty pack checks like a cloud region")
    zones: list[str] = Field(default_factory=list, max_length=6, validate_default=True,
                             description="Zones of the region the cluster uses, at most 6, each once (us-east-1a, "
                             "us-central1-a); pools default to them. Required on aws and gcp (EKS: at least two); "
                             "none for cloud kubernetes")
    site: Site | None = Field(default=None, validate_default=True,
                              description="Where an existing cluster is and how to reach it: required for cloud "
                              "kubernetes, and refused on aws and gcp")
    network: Network = Field(
        default=Network(), description="The VPC's address plan (on GCP, the host network's); default 10.0.0.0/16 with "
        "default subnets. Not for cloud kubernetes",
    )
    pools: list[Pool] = Field(min_length=1, max_length=50, description="The node pools, 1 to 50, names unique")
    storage: Storage = Field(
        default=Storage(), description="Node-local scratch, a shared file system and buckets, each off by default, and "
        "who administers the storage key. Not for cloud kubernetes",
    )
    tags: Tags = Field(
        description="owner, costCenter and project (and any extra), put on every resource as AWS tags or GCP labels; "
        "the cost pack's cost-allocation-tags policy requires them"
    )
    residency: Residency | None = Field(
        default=None, description="Where data and compute may live, for the sovereignty pack's allowed-regions policy; "
        "default: none, and that policy does not apply",
    )
    budget: Budget | None = Field(
        default=None, description="Cost and GPU caps for the cost pack's stack-budget and gpus-per-stack policies; "
        "default: none, and those policies do not apply unless the policy config sets them",
    )
    kubernetes: Kubernetes | None = Field(
        default=None, description="Pools become the node pools of an EKS or GKE cluster (see README, 'Kubernetes'); "
        "for cloud kubernetes, what runs in the existing cluster"
    )
    skip_checks: list[SkipCheck] = Field(
        default_factory=list, description="Advisory checks (warnings) this stack accepts, each by its code with the "
        "reason: the preview lists them as skipped instead of warning. Errors cannot be skipped (README, 'Check codes')",
    )

    @field_validator("zones")
    @classmethod
    def _zones_for_clouds(cls, zones: list[str], info: ValidationInfo) -> list[str]:
        cloud = info.data.get("cloud")
        if cloud in ("aws", "gcp") and not zones:
            raise CheckFailed("GPC-ZONES-REQUIRED", f"cloud {cloud} needs at least one zone")
        if cloud == "kubernetes" and zones:
            raise CheckFailed("GPC-EXISTING-ZONES", "an existing cluster (cloud kubernetes) has no zones here: pools find "
                              "their nodes by nodeSelector")
        return zones

    @field_validator("site")
    @classmethod
    def _site_for_existing_clusters(cls, site: Site | None, info: ValidationInfo) -> Site | None:
        cloud = info.data.get("cloud")
        if cloud == "kubernetes" and site is None:
            raise CheckFailed("GPC-SITE-REQUIRED", "cloud kubernetes needs a site: the country, and how to reach the "
                              "cluster (context)")
        if cloud in ("aws", "gcp") and site is not None:
            raise CheckFailed("GPC-SITE-CLOUD", f"site describes an existing cluster (cloud kubernetes), not cloud {cloud}")
        return site
