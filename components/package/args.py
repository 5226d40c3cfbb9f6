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
    """BucketsArgs"""
    dataset_size_tb: NotRequired[pulumi.Input[float]]
    """Expected data size, for cost estimates"""
    checkpoint_size_tb: NotRequired[pulumi.Input[float]]
    """"""
    multi_region: NotRequired[pulumi.Input[bool]]
    """GCP: the multi-region residency allows (EU under 'eu') instead of the region"""


class BudgetArgs(TypedDict):
    """Limits the cost policy pack enforces."""
    monthly_usd: NotRequired[pulumi.Input[float]]
    """"""
    hourly_usd: NotRequired[pulumi.Input[float]]
    """"""
    max_gpus: NotRequired[pulumi.Input[int]]
    """"""


class CapacityArgs(TypedDict):
    """Where a pool's nodes come from: `type` first, then each `fallback` in order (see gpucluster.capacity)."""
    type: NotRequired[pulumi.Input[CapacityType]]
    """"""
    fallback: NotRequired[pulumi.Input[list[CapacityType]]]
    """"""
    on_demand_base: NotRequired[pulumi.Input[int]]
    """Nodes from the sources before spot; spot fills the rest"""
    reservation_id: NotRequired[pulumi.Input[str]]
    """"""
    reservation_group_arn: NotRequired[pulumi.Input[str]]
    """"""
    reservation_name: NotRequired[pulumi.Input[str]]
    """GCP: the specific reservation to consume"""
    placement_group: NotRequired[pulumi.Input[str]]
    """The cluster placement group the reservation was made for, if any"""
    max_run_hours: NotRequired[pulumi.Input[float]]
    """flex-start: how long a VM may run (10 minutes to 7 days); default 7 days"""
    block_start: NotRequired[pulumi.Input[str]]
    """"""
    block_end: NotRequired[pulumi.Input[str]]
    """"""


class CheckpointArgs(TypedDict):
    """What a node does when it is about to be taken away (spot interruption or scale-in)."""
    to: NotRequired[pulumi.Input[CheckpointTo]]
    """The checkpoint bucket, or the shared file system"""
    directory: NotRequired[pulumi.Input[str]]
    """"""
    command: NotRequired[pulumi.Input[str]]
    """Run first (e.g. signal the trainer to save); its output goes to the journal"""
    heartbeat_seconds: NotRequired[pulumi.Input[int]]
    """How long a terminating node may take (spot notices give 120 s)"""


class RdmaSelectorsArgs(TypedDict):
    ("Which NIC ports the RDMA device plugin offers, when not every compute port of the node types: each list "
     "narrows the choice (values within a list are alternatives). Checked against the node types' NICs.")
    device_ids: NotRequired[pulumi.Input[list[str]]]
    """PCI device ids of the physical functions, such as 1021 (ConnectX-7)"""
    if_names: NotRequired[pulumi.Input[list[str]]]
    """Interface names, such as ibp24s0"""
    link_types: NotRequired[pulumi.Input[list[RdmaSelectorsLinkTypes]]]
    """"""


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
    """Addresses for the fabric interfaces of pods"""
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
    """Control-plane minor version; the Kubernetes API objects are checked against it"""
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
    ("Existing clusters: node labels that name where a node sits in the fabric, coarsest first (an InfiniBand "
     "scalable unit, a leaf group, a rack); Kueue then places a job's pods close together and a job can ask to "
     "stay within one unit. The node itself (kubernetes.io/hostname) is added as the last level")
    chart_values: NotRequired[pulumi.Input[dict[str, dict[str, Any]]]]
    ("Existing clusters: Helm values merged over the ones derived here, per chart; the merged values are checked "
     "as the derived ones are (one driver, one Node Feature Discovery)")


class NetworkArgs(TypedDict):
    """VPC address plan. Subnets default to equal slices of `cidr`, one per zone, plus one public slice for NAT."""
    cidr: NotRequired[pulumi.Input[str]]
    """"""
    private_subnets: NotRequired[pulumi.Input[dict[str, str]]]
    """zone -> CIDR; zones left out get a default slice"""
    public_subnet: NotRequired[pulumi.Input[str]]
    """Holds the NAT gateway; default: the last slice"""
    nat: NotRequired[pulumi.Input[bool]]
    """Outbound internet through a NAT gateway"""
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
    """rolling: the share of the pool kept in service while nodes are replaced"""
    warmup_seconds: NotRequired[pulumi.Input[int]]
    """rolling, AWS: how long a new node runs before it counts as ready (compute v1 has no such setting)"""


class SizeArgs(TypedDict):
    """SizeArgs"""
    min: NotRequired[pulumi.Input[int]]
    """Default 0: pools scale to zero"""
    desired: NotRequired[pulumi.Input[int]]
    """Default: min"""
    max: pulumi.Input[int]
    """"""


class PoolArgs(TypedDict):
    """One group of identical nodes."""
    name: pulumi.Input[str]
    ("Unique in the cluster. The cluster and pool names together have at most 42 characters in an AWS spot pool "
     "(EventBridge rule names), 50 characters in a GCP pool (managed instance group names), 46 characters in a GCP"
     " pool with compact placement (resource policy names); other AWS pools, 64")
    instance_type: pulumi.Input[str]
    """"""
    alternate_types: NotRequired[pulumi.Input[list[str]]]
    """Other types the group may launch; they must share the fabric layout"""
    size: pulumi.Input[SizeArgs]
    """"""
    capacity: NotRequired[pulumi.Input[CapacityArgs]]
    """Where a pool's nodes come from: `type` first, then each `fallback` in order (see gpucluster.capacity)."""
    fabric: NotRequired[pulumi.Input[PoolFabric]]
    ("auto: the type's full fabric when it has one; on: require it; off: none. The booleans true and false are "
     "read as on and off")
    placement: NotRequired[pulumi.Input[PoolPlacement]]
    """auto: a cluster placement group when the fabric is on"""
    zones: NotRequired[pulumi.Input[list[str]]]
    """Default: the cluster's first zone"""
    purpose: NotRequired[pulumi.Input[PoolPurpose]]
    """"""
    root_volume_gb: NotRequired[pulumi.Input[int]]
    """"""
    image_id: NotRequired[pulumi.Input[str]]
    """AMI id or resolve:ssm: path; default: the Deep Learning AMI for the accelerator"""
    checkpoint: NotRequired[pulumi.Input[CheckpointArgs]]
    """What a node does when it is about to be taken away (spot interruption or scale-in)."""
    rollout: NotRequired[pulumi.Input[RolloutArgs]]
    """How a changed image or template reaches nodes that are already running."""
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
    """Region names or named sets such as 'eu'"""


class ScratchArgs(TypedDict):
    """ScratchArgs"""
    mount: NotRequired[pulumi.Input[str]]
    """"""


class SharedFileSystemArgs(TypedDict):
    """SharedFileSystemArgs"""
    throughput_gbps_per_gpu: NotRequired[pulumi.Input[float]]
    """"""
    throughput_gbps: NotRequired[pulumi.Input[float]]
    """Aggregate target"""
    min_capacity_gib: NotRequired[pulumi.Input[int]]
    """"""
    mount: NotRequired[pulumi.Input[str]]
    """"""
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
    """What energy costs; the estimate adds it when given"""


class StorageArgs(TypedDict):
    """Storage tiers. Validated now; rendered by the storage components (see README, "Status")."""
    scratch: NotRequired[pulumi.Input[ScratchArgs]]
    """"""
    shared: NotRequired[pulumi.Input[SharedFileSystemArgs]]
    """"""
    buckets: NotRequired[pulumi.Input[BucketsArgs]]
    """"""
    key_administrators: NotRequired[pulumi.Input[list[str]]]
    ("AWS: the IAM roles or users that administer the storage key (its policy names them); default: the account "
     "root, so that IAM policies decide")


class TagsArgs(TypedDict):
    """Tags on every AWS resource, labels on every GCP one."""
    owner: pulumi.Input[str]
    ("AWS: letters, digits, spaces and _ . : / = + - @; GCP (labels): at most 63 lowercase letters, digits, '_' "
     "and '-'")
    cost_center: pulumi.Input[str]
    ("AWS: letters, digits, spaces and _ . : / = + - @; GCP (labels): at most 63 lowercase letters, digits, '_' "
     "and '-'")
    project: pulumi.Input[str]
    ("AWS: letters, digits, spaces and _ . : / = + - @; GCP (labels): at most 63 lowercase letters, digits, '_' "
     "and '-'")
    extra: NotRequired[pulumi.Input[dict[str, str]]]
    ("At most 43 on AWS and 58 on GCP (AWS allows 50 tags per resource, GCP 64 labels; the fields above and "
     "gpucluster's own take the rest). Keys and values as the fields above; GCP keys start with a letter")


class ClusterArgs(TypedDict):
    """ClusterArgs"""
    name: pulumi.Input[str]
    ("Names every resource. The cluster and pool names together have at most 42 characters in an AWS spot pool "
     "(EventBridge rule names), 50 characters in a GCP pool (managed instance group names), 46 characters in a GCP"
     " pool with compact placement (resource policy names); other AWS pools, 64")
    region: pulumi.Input[str]
    ("The cloud region; for cloud kubernetes, the site's region name, which the sovereignty pack checks like a "
     "cloud region")
    zones: NotRequired[pulumi.Input[list[str]]]
    """Required on aws and gcp; none for cloud kubernetes"""
    site: NotRequired[pulumi.Input[SiteArgs]]
    """Required for cloud kubernetes, and only there"""
    network: NotRequired[pulumi.Input[NetworkArgs]]
    """VPC address plan. Subnets default to equal slices of `cidr`, one per zone, plus one public slice for NAT."""
    pools: pulumi.Input[list[PoolArgs]]
    """"""
    storage: NotRequired[pulumi.Input[StorageArgs]]
    """Storage tiers. Validated now; rendered by the storage components (see README, "Status")."""
    tags: pulumi.Input[TagsArgs]
    """Tags on every AWS resource, labels on every GCP one."""
    residency: NotRequired[pulumi.Input[ResidencyArgs]]
    """Where data and compute may live; enforced by the sovereignty policy pack."""
    budget: NotRequired[pulumi.Input[BudgetArgs]]
    """Limits the cost policy pack enforces."""
    kubernetes: NotRequired[pulumi.Input[KubernetesArgs]]
    ("Pools become the node pools of an EKS or GKE cluster (see README, 'Kubernetes'); for cloud kubernetes, what "
     "runs in the existing cluster")
