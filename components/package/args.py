"""The typed inputs of the package's cluster components, generated from the cluster spec by
components/package/generate.py: do not edit."""

from enum import Enum
from typing import Any, NotRequired, TypedDict

import pulumi


class CapacityType(str, Enum):
    """The values `Capacity.type` takes."""

    RESERVATION = 'reservation'
    CAPACITY_BLOCK = 'capacity-block'
    ON_DEMAND = 'on-demand'
    SPOT = 'spot'
    FLEX_START = 'flex-start'


class CheckpointTo(str, Enum):
    """The values `Checkpoint.to` takes."""

    S3 = 's3'
    SHARED = 'shared'


class RdmaSelectorsLinkTypes(str, Enum):
    """The values `RdmaSelectors.linkTypes` takes."""

    INFINIBAND = 'infiniband'
    ETHERNET = 'ethernet'


class RdmaDevices(str, Enum):
    """The values `Rdma.devices` takes."""

    SHARED = 'shared'
    SRIOV = 'sriov'


class RdmaNetworkDriver(str, Enum):
    """The values `Rdma.networkDriver` takes."""

    AUTO = 'auto'
    HOST = 'host'
    CONTAINER = 'container'


class RdmaGpuDirect(str, Enum):
    """The values `Rdma.gpuDirect` takes."""

    DMA_BUF = 'dma-buf'
    PEERMEM = 'peermem'


class KubernetesVersion(str, Enum):
    """The values `Kubernetes.version` takes."""

    V1_31 = '1.31'
    V1_32 = '1.32'
    V1_33 = '1.33'
    V1_34 = '1.34'
    V1_35 = '1.35'
    V1_36 = '1.36'


class KubernetesReleaseChannel(str, Enum):
    """The values `Kubernetes.releaseChannel` takes."""

    RAPID = 'RAPID'
    REGULAR = 'REGULAR'
    STABLE = 'STABLE'
    EXTENDED = 'EXTENDED'


class KubernetesGpuSoftware(str, Enum):
    """The values `Kubernetes.gpuSoftware` takes."""

    AUTO = 'auto'
    DEVICE_PLUGIN = 'device-plugin'
    GPU_OPERATOR = 'gpu-operator'


class KubernetesNodeFeatureDiscovery(str, Enum):
    """The values `Kubernetes.nodeFeatureDiscovery` takes."""

    GPU_OPERATOR = 'gpu-operator'
    NETWORK_OPERATOR = 'network-operator'
    CLUSTER = 'cluster'


class RolloutStrategy(str, Enum):
    """The values `Rollout.strategy` takes."""

    MANUAL = 'manual'
    ROLLING = 'rolling'


class PoolFabric(str, Enum):
    """The values `Pool.fabric` takes."""

    AUTO = 'auto'
    ON = 'on'
    OFF = 'off'


class PoolPlacement(str, Enum):
    """The values `Pool.placement` takes."""

    AUTO = 'auto'
    CLUSTER = 'cluster'
    NONE = 'none'


class PoolPurpose(str, Enum):
    """The values `Pool.purpose` takes."""

    TRAINING = 'training'
    DEV = 'dev'
    INFERENCE = 'inference'


class SiteKubeconfig(str, Enum):
    """The values `Site.kubeconfig` takes."""

    LOCAL = 'local'
    STACK_SECRET = 'stack-secret'


class BucketsArgs(TypedDict):
    ("The dataset and checkpoint buckets (S3 or Cloud Storage, under the cluster's key; see README, \"Storage\"). "
     "They are made when this is set, when storage.shared is, or when a spot pool checkpoints to S3.")
    dataset_size_tb: NotRequired[pulumi.Input[float]]
    """Expected size of the datasets in TB (default 0), for the cost estimate only; it limits nothing"""
    checkpoint_size_tb: NotRequired[pulumi.Input[float]]
    """Expected size of the checkpoints in TB (default 0), for the cost estimate only"""
    multi_region: NotRequired[pulumi.Input[bool]]
    """GCP: the multi-region residency allows (EU under 'eu') instead of the region"""


class BudgetArgs(TypedDict):
    """Limits the cost policy pack enforces."""
    monthly_usd: NotRequired[pulumi.Input[float]]
    ("The most the stack may cost a month in USD, as the cost model estimates it (at max size unless the pack's "
     "scale says otherwise); the stack-budget policy. Default: no monthly cap")
    hourly_usd: NotRequired[pulumi.Input[float]]
    """The most the stack may cost an hour in USD, estimated as for monthlyUsd; default: no hourly cap"""
    max_gpus: NotRequired[pulumi.Input[int]]
    """The most GPUs the stack may have with every pool at its max size; the gpus-per-stack policy. Default: no cap"""


class CapacityArgs(TypedDict):
    """Where a pool's nodes come from: `type` first, then each `fallback` in order (see README, "Capacity")."""
    type: NotRequired[pulumi.Input[CapacityType]]
    ("The first capacity source; default on-demand. reservation and capacity-block use reserved capacity (see "
     "reservationId), spot spare capacity, flex-start GCP's Dynamic Workload Scheduler")
    fallback: NotRequired[pulumi.Input[list[CapacityType]]]
    ("Later sources, in order of preference, none listed twice. AWS honours only the order reservation, on-demand,"
     " spot (spot after another source needs onDemandBase); capacity-block and flex-start stand alone, and GCP and"
     " Kubernetes pools take no fallback (one source per pool)")
    on_demand_base: NotRequired[pulumi.Input[int]]
    ("When spot follows on-demand or reservation: how many nodes come from those sources (at least 1, at most "
     "size.max); spot fills the rest. Default 0, the only value allowed otherwise")
    reservation_id: NotRequired[pulumi.Input[str]]
    ("AWS: the id of the capacity reservation or purchased capacity block (cr- and 8 to 17 hex digits); capacity-"
     "block needs it. reservation needs exactly one of reservationId, reservationGroupArn or (GCP) reservationName")
    reservation_group_arn: NotRequired[pulumi.Input[str]]
    ("AWS, reservation: the ARN of a resource group of capacity reservations to target, instead of one "
     "reservationId")
    reservation_name: NotRequired[pulumi.Input[str]]
    ("GCP, reservation: the specific reservation to consume (lowercase letters, digits and '-', up to 63 "
     "characters)")
    placement_group: NotRequired[pulumi.Input[str]]
    ("reservation or capacity-block: the cluster placement group the reservation was made for, used as it is. "
     "Default: none, as a placement group the reservation does not cover leaves instances unlaunchable")
    max_run_hours: NotRequired[pulumi.Input[float]]
    """flex-start: how long a VM may run, in hours (10 minutes to 7 days: 1/6 to 168); default 7 days"""
    block_start: NotRequired[pulumi.Input[str]]
    ("capacity-block: when the block starts, a timestamp with a time zone (such as 2026-12-01T00:00:00Z or "
     "+hh:mm); optional, given with blockEnd. The window goes into the outputs")
    block_end: NotRequired[pulumi.Input[str]]
    ("capacity-block: when the block ends, with a time zone, given with blockStart; a block lasts 1 to 14 whole "
     "days, or whole weeks up to 182 days")


class CheckpointArgs(TypedDict):
    ("What a spot or flex-start node does when it is about to be taken away (interruption notice or scale-in). No "
     "effect on Kubernetes, where the job checkpoints itself.")
    to: NotRequired[pulumi.Input[CheckpointTo]]
    ("s3: the checkpoint bucket (Cloud Storage on GCP), under <cluster>/<pool>/<instance>; shared: <shared "
     "mount>/checkpoints/<pool>/<instance> on the shared file system, which needs storage.shared")
    directory: NotRequired[pulumi.Input[str]]
    """The node's directory (an absolute path) that is copied on a notice; default /scratch/checkpoints"""
    command: NotRequired[pulumi.Input[str]]
    ("Run first, within the time left (such as a command that signals the trainer to save); its output goes to the"
     " journal. Default: none, only the copy")
    heartbeat_seconds: NotRequired[pulumi.Input[int]]
    ("AWS: how long a terminating node may take, in seconds (the lifecycle hook's heartbeat, 30 to 7200; default "
     "600). Spot notices give 120 s, GCE 30 s")


class RdmaSelectorsArgs(TypedDict):
    ("Which NIC ports the RDMA device plugin offers, when not every compute port of the node types: each list "
     "narrows the choice (values within a list are alternatives). Checked against the node types' NICs.")
    device_ids: NotRequired[pulumi.Input[list[str]]]
    """PCI device ids of the physical functions, such as 1021 (ConnectX-7)"""
    if_names: NotRequired[pulumi.Input[list[str]]]
    """Interface names, such as ibp24s0"""
    link_types: NotRequired[pulumi.Input[list[RdmaSelectorsLinkTypes]]]
    """Link types: infiniband, or ethernet (RoCE); one the node types' compute ports do not run is refused"""


class RdmaArgs(TypedDict):
    """Existing clusters: RDMA in pods over the nodes' NVIDIA NICs, through NVIDIA's Network Operator."""
    devices: NotRequired[pulumi.Input[RdmaDevices]]
    ("shared: the RDMA shared device plugin; every pod on a node shares the node's ports (slots, not bandwidth, "
     "and no isolation between pods); right for one training job per node. sriov: a virtual function of each port "
     "per pod (SR-IOV), isolated between tenants; InfiniBand needs a subnet manager with virtualization on, and "
     "changing it reboots the nodes")
    per_rail: NotRequired[pulumi.Input[bool]]
    """shared: one resource per port (rail) instead of one for all of a node's ports"""
    shared_slots: NotRequired[pulumi.Input[int]]
    """shared: how many pods a node's ports admit at once (the plugin's rdmaHcaMax; at least the GPUs per node)"""
    vfs_per_port: NotRequired[pulumi.Input[int]]
    """sriov: virtual functions made on each port"""
    ip_over_fabric: NotRequired[pulumi.Input[bool]]
    ("Give pods an IP address on the fabric (IPoIB on InfiniBand, macvlan on RoCE, through Multus and NVIDIA's "
     "IPAM). NCCL over verbs needs none on InfiniBand; RoCE derives its addresses (GIDs) from one, so RoCE pools "
     "get it whatever this says")
    ip_pool: NotRequired[pulumi.Input[str]]
    ("The IPv4 range for pods' fabric interfaces, when they get addresses: split into equal slices, one per fabric"
     " network, each holding 32 addresses per node")
    network_driver: NotRequired[pulumi.Input[RdmaNetworkDriver]]
    ("host: the DOCA-OFED on the nodes; container: the Network Operator's DOCA driver container (its restart of "
     "openibd drops every NVIDIA interface, in-band management ones included). auto: host where the node types' "
     "vendor image installs it (DGX OS), else container")
    gpu_direct: NotRequired[pulumi.Input[RdmaGpuDirect]]
    ("GPUDirect RDMA through DMA-BUF (NVIDIA's recommendation; open kernel modules) or the legacy nvidia-peermem "
     "module")
    selectors: NotRequired[pulumi.Input[RdmaSelectorsArgs]]
    """Narrow the ports offered; default: every compute port of each pool's node type"""


class TeamArgs(TypedDict):
    """A team that submits jobs: a namespace with a Kueue LocalQueue pointing at the cluster's queue."""
    name: pulumi.Input[str]
    """The namespace and the LocalQueue's name"""


class KubernetesArgs(TypedDict):
    ("Run the pools as the GPU node pools of a managed Kubernetes cluster (EKS or GKE) instead of VM groups, with "
     "the GPU and fabric plugins, the storage drivers, and Kueue queues over the pools; or, with cloud "
     "`kubernetes`, bring the GPU and RDMA software and the queues to a cluster that exists.")
    version: NotRequired[pulumi.Input[KubernetesVersion]]
    ("Control-plane minor version, a string (\"1.35\"); the Kubernetes API objects are checked against it. GKE "
     "mounts Managed Lustre (storage.shared) from 1.33 on; existing clusters: the cluster's")
    release_channel: NotRequired[pulumi.Input[KubernetesReleaseChannel]]
    """GKE: the release channel that upgrades the cluster"""
    admins: NotRequired[pulumi.Input[list[str]]]
    """EKS: IAM roles or users given cluster-admin through access entries (the creator gets none)"""
    public_access_cidrs: NotRequired[pulumi.Input[list[str]]]
    ("The API endpoint is private; list networks here to also open it to them (never to all). The machine that "
     "runs `pulumi up` must reach the endpoint to install the add-ons")
    teams: NotRequired[pulumi.Input[list[TeamArgs]]]
    """Namespaces with a LocalQueue each; default: one team, 'training'"""
    addon_versions: NotRequired[pulumi.Input[dict[str, str]]]
    ("EKS: add-on versions to hold (such as v1.20.4-eksbuild.1); an add-on left out gets EKS's default version for"
     " the cluster's Kubernetes version when it is installed, and keeps it (EKS never updates an add-on by itself)")
    gpu_software: NotRequired[pulumi.Input[KubernetesGpuSoftware]]
    ("auto: EKS the NVIDIA device plugin (the AL2023 NVIDIA AMI has the driver and toolkit), GKE its managed "
     "driver and device plugin; gpu-operator: NVIDIA's GPU Operator with driver and toolkit off, for its DCGM "
     "exporter and GPU feature discovery")
    gpu_driver: NotRequired[pulumi.Input[RdmaNetworkDriver]]
    ("Existing clusters: host: the NVIDIA driver on the nodes; container: the GPU Operator's driver container. "
     "auto: host where the node types' vendor image installs it (DGX OS), else container")
    node_feature_discovery: NotRequired[pulumi.Input[KubernetesNodeFeatureDiscovery]]
    ("Existing clusters: which chart runs Node Feature Discovery, which both operators need once (two instances "
     "fight over the same labels); cluster: it runs already")
    rdma: NotRequired[pulumi.Input[RdmaArgs]]
    """Existing clusters: RDMA in pods; default: on, shared devices"""
    topology: NotRequired[pulumi.Input[list[str]]]
    ("Existing clusters: up to 15 node labels that name where a node sits in the fabric, coarsest first (an "
     "InfiniBand scalable unit, a leaf group, a rack), each once; Kueue then places a job's pods close together "
     "and a job can ask to stay within one unit. The node itself (kubernetes.io/hostname) is added as the last "
     "level")
    chart_values: NotRequired[pulumi.Input[dict[str, dict[str, Any]]]]
    ("Existing clusters: Helm values merged over the ones derived here, per chart; the merged values are checked "
     "as the derived ones are (one driver, one Node Feature Discovery)")


class NetworkArgs(TypedDict):
    """VPC address plan. Subnets default to equal slices of `cidr`, one per zone, plus one public slice for NAT."""
    cidr: NotRequired[pulumi.Input[str]]
    ("The VPC's IPv4 range in CIDR form, /16 to /24, without host bits (10.0.0.1/16 is refused). It is cut into 16"
     " equal slices: slice i for the i-th cluster zone's private subnet, the last for the public one; on GCP the "
     "host subnet is the first slice")
    private_subnets: NotRequired[pulumi.Input[dict[str, str]]]
    ("AWS: zone -> CIDR of that zone's private subnet; keys are cluster zones, each subnet inside cidr, /28 or "
     "larger and overlapping no other. Zones left out get their default slice; not on GCP, whose subnets are "
     "regional")
    public_subnet: NotRequired[pulumi.Input[str]]
    ("AWS: the public subnet that holds the NAT gateway, inside cidr and overlapping no private subnet; default: "
     "the last of the 16 slices")
    nat: NotRequired[pulumi.Input[bool]]
    ("AWS: outbound internet for the private subnets through a NAT gateway (default on); nodes reach S3 through "
     "the VPC's gateway endpoint either way. GCP always gets Cloud NAT")
    flow_log_retention_days: NotRequired[pulumi.Input[int]]
    ("AWS: how long the VPC flow logs are kept in CloudWatch Logs (the values it accepts); a year by default, as "
     "audits commonly ask One of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, "
     "2557, 2922, 3288, 3653.")


class RolloutArgs(TypedDict):
    """How a changed image or template reaches nodes that are already running."""
    strategy: NotRequired[pulumi.Input[RolloutStrategy]]
    ("manual: new nodes get the change, running nodes keep theirs until they are replaced (a rolling replace kills"
     " a running training job); rolling: replace running nodes in batches (AWS instance refresh, GCP proactive "
     "update). Default: manual for training and dev pools, rolling for inference")
    min_healthy_percent: NotRequired[pulumi.Input[int]]
    ("rolling: the percentage of the pool kept in service while nodes are replaced (default 90); GCP replaces at "
     "most 100 minus this share of the group at a time, at least one VM")
    warmup_seconds: NotRequired[pulumi.Input[int]]
    """rolling, AWS: how long a new node runs before it counts as ready (compute v1 has no such setting)"""


class SizeArgs(TypedDict):
    """How many nodes a pool has: min <= desired <= max."""
    min: NotRequired[pulumi.Input[int]]
    """The fewest nodes, 0 to 5000; default 0: the pool can scale to zero"""
    desired: NotRequired[pulumi.Input[int]]
    ("How many nodes to run now, between min and max; default: min. GCP groups run at this size (they do not "
     "autoscale between min and max yet)")
    max: pulumi.Input[int]
    ("The most nodes, 0 to 5000 and at least min. Cost estimates, GPU caps, queue quotas and the shared file "
     "system's size count every pool at max; capacity blocks and existing clusters' pools need min = max")


class PoolArgs(TypedDict):
    """One group of identical nodes."""
    name: pulumi.Input[str]
    ("Unique in the cluster: 1-32 lowercase letters, digits and '-', starting with a letter and not ending with "
     "'-'. The cluster and pool names together have at most 42 characters in an AWS spot pool (EventBridge rule "
     "names), 50 characters in a GCP pool (managed instance group names), 46 characters in a GCP pool with compact"
     " placement (resource policy names); other AWS pools, 64")
    instance_type: pulumi.Input[str]
    ("The instance type (GCP: machine type) from the catalog (`gpucluster catalog`), offered in the region and the"
     " pool's zones; it decides GPUs, fabric and local disks. Cloud kubernetes: a node type of `gpucluster catalog"
     " --cloud kubernetes`")
    alternate_types: NotRequired[pulumi.Input[list[str]]]
    ("AWS: other instance types the same group may launch (its mixed instances policy); each must have "
     "instanceType's fabric layout. Not on reservations or capacity blocks, which hold one type")
    size: pulumi.Input[SizeArgs]
    """How many nodes: min (default 0), desired (default min) and max"""
    capacity: NotRequired[pulumi.Input[CapacityArgs]]
    """Where the nodes come from (README, 'Capacity'); default: on-demand only"""
    fabric: NotRequired[pulumi.Input[PoolFabric]]
    ("auto: the type's full fabric when it has one; on: require it; off: none. The booleans true and false are "
     "read as on and off")
    placement: NotRequired[pulumi.Input[PoolPlacement]]
    ("auto: a cluster placement group (GCP: compact placement) under fabric pools, never under reserved capacity; "
     "cluster: always, in one zone (on reserved capacity only with capacity.placementGroup); none: no placement "
     "group")
    zones: NotRequired[pulumi.Input[list[str]]]
    ("The pool's zones, from the cluster's, each once. Default: the first cluster zone offering the type for a "
     "fabric pool (a fabric does not cross zones), every cluster zone offering it otherwise")
    purpose: NotRequired[pulumi.Input[PoolPurpose]]
    ("Picks the default rollout (manual for training and dev, rolling for inference) and tags the pool's resources"
     " (gpucluster:purpose); the cost pack asks training and dev pools to use spot or scale to zero")
    root_volume_gb: NotRequired[pulumi.Input[int]]
    ("Size of each node's boot volume in GB, 30 to 16384; default 200 (AWS: encrypted gp3; GCP: the boot disk, "
     "under the cluster's key)")
    image_id: NotRequired[pulumi.Input[str]]
    ("AWS: an AMI id (ami- and 8 or 17 hex digits) or resolve:ssm:<parameter>; GCP: "
     "[projects/P/]global/images/[family/]NAME. Default: on AWS the Deep Learning AMI for the accelerator, "
     "resolved at launch through its public SSM parameter, on GCP Ubuntu's accelerator image family; not on "
     "Kubernetes")
    checkpoint: NotRequired[pulumi.Input[CheckpointArgs]]
    ("What a spot or flex-start node does before it goes (README, 'Spot interruptions'); default: copy "
     "/scratch/checkpoints to the checkpoint bucket")
    rollout: NotRequired[pulumi.Input[RolloutArgs]]
    ("How a changed image or template reaches running nodes; default: manual for training and dev pools, rolling "
     "for inference (on Kubernetes only rolling)")
    node_selector: NotRequired[pulumi.Input[dict[str, str]]]
    ("Existing clusters: the node labels that pick this pool's nodes out of the cluster (required there; the nodes"
     " are not created, so nothing else says which they are)")
    cpus_per_node: NotRequired[pulumi.Input[int]]
    ("Existing clusters: logical CPUs of a node, where the node type leaves them to the server maker (HGX); the "
     "queue's quota counts them")
    memory_gib_per_node: NotRequired[pulumi.Input[float]]
    """Existing clusters: host memory of a node, where the node type leaves it to the server maker (HGX)"""
    interfaces: NotRequired[pulumi.Input[list[str]]]
    ("Existing clusters: the interface names of the node type's compute ports, in GPU order, where its maker does "
     "not publish them (HGX servers; `ibdev2netdev` on a node lists them); needed for per-rail resources and for "
     "addresses on the fabric")
    usd_per_node_hour: NotRequired[pulumi.Input[float]]
    ("Existing clusters: what a node costs an hour, amortised (purchase, support and hosting over its life, or a "
     "GPU cloud's contract rate); owned nodes have no list price, so without it the pool is listed unpriced")


class ResidencyArgs(TypedDict):
    """Where data and compute may live; enforced by the sovereignty policy pack."""
    allowed_regions: pulumi.Input[list[str]]
    ("Where every resource may land, at least one entry: region names (either cloud's, or the site's own for cloud"
     " kubernetes), country codes (DE) or named sets such as 'eu' (the EU member states' regions of AWS and GCP "
     "and the AWS European Sovereign Cloud)")


class ScratchArgs(TypedDict):
    ("Node-local scratch: the node's local NVMe disks as one RAID0 array with XFS, found or made at every boot "
     "(see README, \"Storage\"). Pools whose type has no local disks skip it, with a warning.")
    mount: NotRequired[pulumi.Input[str]]
    """Where the array is mounted (an absolute path); default /scratch"""


class SharedFileSystemArgs(TypedDict):
    ("A shared Lustre file system on every node: FSx for Lustre on AWS, Managed Lustre on GCP, sized from one "
     "throughput target (give exactly one of throughputGbpsPerGpu and throughputGbps).")
    throughput_gbps_per_gpu: NotRequired[pulumi.Input[float]]
    ("Throughput target in GB/s per GPU (above 0, at most 10), times the GPUs of every pool at its max size; the "
     "cheapest layout that meets it is chosen")
    throughput_gbps: NotRequired[pulumi.Input[float]]
    """Aggregate throughput target in GB/s (above 0, at most 2000), instead of a per-GPU one"""
    min_capacity_gib: NotRequired[pulumi.Input[int]]
    ("The least capacity to give it, in GiB (at least 1200, the default and FSx's smallest); the throughput target"
     " may call for more")
    mount: NotRequired[pulumi.Input[str]]
    """Where nodes and pods mount it (an absolute path); default /fsx"""
    export_datasets: NotRequired[pulumi.Input[bool]]
    ("AWS: write new, changed and deleted files under <mount>/datasets back to the datasets bucket. Off by "
     "default, so the link only imports: with it on, an `rm -r` on any node deletes the objects in S3 (the "
     "bucket's versioning then keeps them for 7 days)")


class SiteArgs(TypedDict):
    ("Existing clusters (cloud `kubernetes`): where the cluster is, how to reach it, and its power figures. "
     "Nothing is created outside the cluster.")
    country: pulumi.Input[str]
    ("ISO 3166-1 alpha-2 code of the country the nodes are in (DE, US); the sovereignty pack checks it, and the "
     "named set 'eu' admits EU member states")
    context: NotRequired[pulumi.Input[str]]
    """The kubeconfig context to use; default: the kubeconfig's current context"""
    kubeconfig: NotRequired[pulumi.Input[SiteKubeconfig]]
    ("local: the kubeconfig of the machine running Pulumi ($KUBECONFIG or ~/.kube/config); stack-secret: the "
     "secret stack config gpucluster:kubeconfig (`pulumi config set --secret gpucluster:kubeconfig < file`), so CI"
     " needs no file")
    power_usage_effectiveness: NotRequired[pulumi.Input[float]]
    ("The site's PUE (facility power over IT power), to include cooling in the power estimate; default: IT power "
     "alone")
    usd_per_kwh: NotRequired[pulumi.Input[float]]
    ("What a kWh costs the site, in USD; the cost estimate adds energy (times the PUE where given) when it is set."
     " Default: power is estimated, not priced")


class SkipCheckArgs(TypedDict):
    """An advisory check the stack skips, and why (as a cluster-toolkit blueprint skips a named validator)."""
    code: pulumi.Input[str]
    """The code of a warning-level check, such as GPC-FABRIC-OFF (README, 'Check codes')"""
    reason: pulumi.Input[str]
    ("Why the warning does not apply to this stack, 1 to 300 characters; the preview shows it with the skipped "
     "check")


class StorageArgs(TypedDict):
    ("Storage tiers, each optional (see README, \"Storage\"): node-local scratch, a shared file system and buckets. "
     "Not for cloud kubernetes, whose storage exists.")
    scratch: NotRequired[pulumi.Input[ScratchArgs]]
    """Local NVMe as one array; default: none"""
    shared: NotRequired[pulumi.Input[SharedFileSystemArgs]]
    """A shared Lustre file system; default: none"""
    buckets: NotRequired[pulumi.Input[BucketsArgs]]
    ("Expected bucket sizes and their location; default: none (the buckets are still made for storage.shared and "
     "for spot pools that checkpoint to S3)")
    key_administrators: NotRequired[pulumi.Input[list[str]]]
    ("AWS: the IAM roles or users that administer the storage key (its policy names them); default: the account "
     "root, so that IAM policies decide")


class TagsArgs(TypedDict):
    """Tags on every AWS resource, labels on every GCP one."""
    owner: pulumi.Input[str]
    ("The owner tag, 1 to 256 characters. AWS: letters, digits, spaces and _ . : / = + - @; GCP (labels): at most "
     "63 lowercase letters, digits, '_' and '-'")
    cost_center: pulumi.Input[str]
    ("The cost-center tag (key cost-center), 1 to 256 characters. AWS: letters, digits, spaces and _ . : / = + - "
     "@; GCP (labels): at most 63 lowercase letters, digits, '_' and '-'")
    project: pulumi.Input[str]
    ("The project tag, 1 to 256 characters. AWS: letters, digits, spaces and _ . : / = + - @; GCP (labels): at "
     "most 63 lowercase letters, digits, '_' and '-'")
    extra: NotRequired[pulumi.Input[dict[str, str]]]
    ("At most 43 on AWS and 58 on GCP (AWS allows 50 tags per resource, GCP 64 labels; the fields above and "
     "gpucluster's own take the rest). Keys and values as the fields above; GCP keys start with a letter")


class ClusterArgs(TypedDict):
    ("A GPU training cluster: where it runs, its network, node pools, storage, tags and limits. A stack declares "
     "it under the config key `gpucluster:cluster`.")
    name: pulumi.Input[str]
    ("Names every resource: 1-32 lowercase letters, digits and '-', starting with a letter and not ending with "
     "'-'. The cluster and pool names together have at most 42 characters in an AWS spot pool (EventBridge rule "
     "names), 50 characters in a GCP pool (managed instance group names), 46 characters in a GCP pool with compact"
     " placement (resource policy names); other AWS pools, 64")
    region: pulumi.Input[str]
    ("The cloud region (us-east-1, europe-west4); a provider region in the stack config (aws:region, gcp:region) "
     "must equal it. For cloud kubernetes, the site's region name (lowercase letters, digits and '-'), which the "
     "sovereignty pack checks like a cloud region")
    zones: NotRequired[pulumi.Input[list[str]]]
    ("Zones of the region the cluster uses, at most 6, each once (us-east-1a, us-central1-a); pools default to "
     "them. Required on aws and gcp (EKS: at least two); none for cloud kubernetes")
    site: NotRequired[pulumi.Input[SiteArgs]]
    """Where an existing cluster is and how to reach it: required for cloud kubernetes, and refused on aws and gcp"""
    network: NotRequired[pulumi.Input[NetworkArgs]]
    ("The VPC's address plan (on GCP, the host network's); default 10.0.0.0/16 with default subnets. Not for cloud"
     " kubernetes")
    pools: pulumi.Input[list[PoolArgs]]
    """The node pools, 1 to 50, names unique"""
    storage: NotRequired[pulumi.Input[StorageArgs]]
    ("Node-local scratch, a shared file system and buckets, each off by default, and who administers the storage "
     "key. Not for cloud kubernetes")
    tags: pulumi.Input[TagsArgs]
    ("owner, costCenter and project (and any extra), put on every resource as AWS tags or GCP labels; the cost "
     "pack's cost-allocation-tags policy requires them")
    residency: NotRequired[pulumi.Input[ResidencyArgs]]
    ("Where data and compute may live, for the sovereignty pack's allowed-regions policy; default: none, and that "
     "policy does not apply")
    budget: NotRequired[pulumi.Input[BudgetArgs]]
    ("Cost and GPU caps for the cost pack's stack-budget and gpus-per-stack policies; default: none, and those "
     "policies do not apply unless the policy config sets them")
    kubernetes: NotRequired[pulumi.Input[KubernetesArgs]]
    ("Pools become the node pools of an EKS or GKE cluster (see README, 'Kubernetes'); for cloud kubernetes, what "
     "runs in the existing cluster")
    skip_checks: NotRequired[pulumi.Input[list[SkipCheckArgs]]]
    ("Advisory checks (warnings) this stack accepts, each by its code with the reason: the preview lists them as "
     "skipped instead of warning. Errors cannot be skipped (README, 'Check codes')")


class GcpClusterArgs(TypedDict):
    """The cluster spec, and the GCP project to build it in."""
    name: pulumi.Input[str]
    ("Names every resource: 1-32 lowercase letters, digits and '-', starting with a letter and not ending with "
     "'-'. The cluster and pool names together have at most 42 characters in an AWS spot pool (EventBridge rule "
     "names), 50 characters in a GCP pool (managed instance group names), 46 characters in a GCP pool with compact"
     " placement (resource policy names); other AWS pools, 64")
    region: pulumi.Input[str]
    ("The cloud region (us-east-1, europe-west4); a provider region in the stack config (aws:region, gcp:region) "
     "must equal it. For cloud kubernetes, the site's region name (lowercase letters, digits and '-'), which the "
     "sovereignty pack checks like a cloud region")
    zones: NotRequired[pulumi.Input[list[str]]]
    ("Zones of the region the cluster uses, at most 6, each once (us-east-1a, us-central1-a); pools default to "
     "them. Required on aws and gcp (EKS: at least two); none for cloud kubernetes")
    site: NotRequired[pulumi.Input[SiteArgs]]
    """Where an existing cluster is and how to reach it: required for cloud kubernetes, and refused on aws and gcp"""
    network: NotRequired[pulumi.Input[NetworkArgs]]
    ("The VPC's address plan (on GCP, the host network's); default 10.0.0.0/16 with default subnets. Not for cloud"
     " kubernetes")
    pools: pulumi.Input[list[PoolArgs]]
    """The node pools, 1 to 50, names unique"""
    storage: NotRequired[pulumi.Input[StorageArgs]]
    ("Node-local scratch, a shared file system and buckets, each off by default, and who administers the storage "
     "key. Not for cloud kubernetes")
    tags: pulumi.Input[TagsArgs]
    ("owner, costCenter and project (and any extra), put on every resource as AWS tags or GCP labels; the cost "
     "pack's cost-allocation-tags policy requires them")
    residency: NotRequired[pulumi.Input[ResidencyArgs]]
    ("Where data and compute may live, for the sovereignty pack's allowed-regions policy; default: none, and that "
     "policy does not apply")
    budget: NotRequired[pulumi.Input[BudgetArgs]]
    ("Cost and GPU caps for the cost pack's stack-budget and gpus-per-stack policies; default: none, and those "
     "policies do not apply unless the policy config sets them")
    kubernetes: NotRequired[pulumi.Input[KubernetesArgs]]
    ("Pools become the node pools of an EKS or GKE cluster (see README, 'Kubernetes'); for cloud kubernetes, what "
     "runs in the existing cluster")
    skip_checks: NotRequired[pulumi.Input[list[SkipCheckArgs]]]
    ("Advisory checks (warnings) this stack accepts, each by its code with the reason: the preview lists them as "
     "skipped instead of warning. Errors cannot be skipped (README, 'Check codes')")
    project: NotRequired[pulumi.Input[str]]
    """The GCP project; default: the gcp:project config of the stack, as the provider reads it"""


class KubernetesClusterArgs(TypedDict):
    """The cluster spec of an existing cluster, and how to reach it."""
    name: pulumi.Input[str]
    ("Names every resource: 1-32 lowercase letters, digits and '-', starting with a letter and not ending with "
     "'-'. The cluster and pool names together have at most 42 characters in an AWS spot pool (EventBridge rule "
     "names), 50 characters in a GCP pool (managed instance group names), 46 characters in a GCP pool with compact"
     " placement (resource policy names); other AWS pools, 64")
    region: pulumi.Input[str]
    ("The cloud region (us-east-1, europe-west4); a provider region in the stack config (aws:region, gcp:region) "
     "must equal it. For cloud kubernetes, the site's region name (lowercase letters, digits and '-'), which the "
     "sovereignty pack checks like a cloud region")
    zones: NotRequired[pulumi.Input[list[str]]]
    ("Zones of the region the cluster uses, at most 6, each once (us-east-1a, us-central1-a); pools default to "
     "them. Required on aws and gcp (EKS: at least two); none for cloud kubernetes")
    site: NotRequired[pulumi.Input[SiteArgs]]
    """Where an existing cluster is and how to reach it: required for cloud kubernetes, and refused on aws and gcp"""
    network: NotRequired[pulumi.Input[NetworkArgs]]
    ("The VPC's address plan (on GCP, the host network's); default 10.0.0.0/16 with default subnets. Not for cloud"
     " kubernetes")
    pools: pulumi.Input[list[PoolArgs]]
    """The node pools, 1 to 50, names unique"""
    storage: NotRequired[pulumi.Input[StorageArgs]]
    ("Node-local scratch, a shared file system and buckets, each off by default, and who administers the storage "
     "key. Not for cloud kubernetes")
    tags: pulumi.Input[TagsArgs]
    ("owner, costCenter and project (and any extra), put on every resource as AWS tags or GCP labels; the cost "
     "pack's cost-allocation-tags policy requires them")
    residency: NotRequired[pulumi.Input[ResidencyArgs]]
    ("Where data and compute may live, for the sovereignty pack's allowed-regions policy; default: none, and that "
     "policy does not apply")
    budget: NotRequired[pulumi.Input[BudgetArgs]]
    ("Cost and GPU caps for the cost pack's stack-budget and gpus-per-stack policies; default: none, and those "
     "policies do not apply unless the policy config sets them")
    kubernetes: NotRequired[pulumi.Input[KubernetesArgs]]
    ("Pools become the node pools of an EKS or GKE cluster (see README, 'Kubernetes'); for cloud kubernetes, what "
     "runs in the existing cluster")
    skip_checks: NotRequired[pulumi.Input[list[SkipCheckArgs]]]
    ("Advisory checks (warnings) this stack accepts, each by its code with the reason: the preview lists them as "
     "skipped instead of warning. Errors cannot be skipped (README, 'Check codes')")
    kubeconfig: NotRequired[pulumi.Input[str]]
    """The cluster's kubeconfig (kept secret); default: the local kubeconfig at site.context"""
