"""The cluster components as the package serves them to every Pulumi language (`provider/`), with typed inputs
(`args.py`, generated from the spec) and outputs of one shape on every cloud (`gpucluster.outputs`).

Each is a thin layer over the stack program's component for its cloud: it turns its inputs back into a cluster
spec, checks it with `load_spec` (so a package user is refused what a stack file would be refused, with the same
report), and builds the same resources under the same names as the stack program would.
"""

import inspect
from enum import Enum
from typing import Any, NotRequired, Optional, TypedDict

import pulumi

from components.aws import AwsGpuCluster, AwsGpuClusterArgs
from components.gcp import GcpGpuCluster, GcpGpuClusterArgs
from components.kube import ExistingCluster, ExistingClusterArgs
from gpucluster.problems import SpecError
from gpucluster.spec import ClusterSpec
from gpucluster.validate import load_spec

from .args import ClusterArgs, GcpClusterArgs, KubernetesClusterArgs
from .keys import schema, snake


class SharedFileSystemOutputs(TypedDict):
    """The shared file system (FSx for Lustre on AWS, Managed Lustre on GCP)."""

    id: pulumi.Output[str]
    """Its id (FSx file system id; Managed Lustre instance id)"""
    mount: pulumi.Output[str]
    """Where the nodes mount it"""
    capacity_gi_b: pulumi.Output[int]
    """Its capacity in GiB"""
    throughput_m_bps: pulumi.Output[int]
    """Its aggregate throughput in MB/s"""


class StorageOutputs(TypedDict):
    """The cluster's storage tiers."""

    dataset_bucket: pulumi.Output[str]
    """The dataset bucket's name"""
    checkpoint_bucket: pulumi.Output[str]
    """The checkpoint bucket's name"""
    kms_key: pulumi.Output[str]
    """The customer-managed key the storage is encrypted under (AWS: its ARN; GCP: its id)"""
    shared_file_system: NotRequired[pulumi.Output[SharedFileSystemOutputs]]
    """The shared file system, when the spec asks for one"""


class NetworkOutputs(TypedDict):
    """The cluster's network."""

    id: pulumi.Output[str]
    """The VPC's id (AWS) or the host network's self link (GCP)"""
    subnets: pulumi.Output[dict[str, str]]
    """The private subnets: by zone on AWS; by role on GCP (host, gpu-N, rdma-N), as self links"""


class GpuCount(TypedDict):
    """GPUs across every pool."""

    min: pulumi.Output[int]
    """At every pool's minimum size"""
    max: pulumi.Output[int]
    """At every pool's maximum size"""


class PoolOutputs(TypedDict):
    """One pool: what it runs and where; the group that runs it."""

    instance_type: pulumi.Output[str]
    """The instance, machine or node type"""
    zones: pulumi.Output[list[str]]
    """The zones its nodes run in (none on an existing cluster)"""
    min: pulumi.Output[int]
    """Its minimum node count"""
    max: pulumi.Output[int]
    """Its maximum node count"""
    gpus_per_node: pulumi.Output[int]
    """Accelerators per node"""
    capacity: pulumi.Output[list[str]]
    ("Where its nodes come from, in order (on-demand, spot, reservation, capacity-block, flex-start; owned on an "
     "existing cluster)")
    rollout: NotRequired[pulumi.Output[str]]
    """manual or rolling: whether a changed template replaces running nodes (not on an existing cluster)"""
    auto_scaling_group: NotRequired[pulumi.Output[str]]
    """AWS: the auto scaling group's name"""
    node_group: NotRequired[pulumi.Output[str]]
    """EKS: the managed node group's name"""
    instance_group: NotRequired[pulumi.Output[str]]
    """GCP: the managed instance group's self link"""
    node_pool: NotRequired[pulumi.Output[str]]
    """GKE: the node pool's name"""
    efa_interfaces_per_node: NotRequired[pulumi.Output[int]]
    """AWS: EFA devices per node"""
    nics: NotRequired[pulumi.Output[list[str]]]
    """GCP: the node's NICs, network:type"""


def documented(component: type) -> type:
    """The component with its docstring dedented: the schema takes `__doc__` as it is."""
    component.__doc__ = inspect.cleandoc(component.__doc__ or "")
    return component


def spec_from_args(args: dict[str, Any], cloud: str, component: str, name: str) -> ClusterSpec:
    """The cluster spec the inputs hold, checked as `load_spec` checks a stack file's; a RunError saying every
    problem (with its spec path) otherwise. Inputs must be known when the program runs: they decide which
    resources exist."""
    data = to_spec(args, schema(), schema().get("$defs", {}), "")
    data["cloud"] = cloud
    try:
        checked = load_spec(data)
    except SpecError as exc:
        raise pulumi.RunError(f"{component} {name!r}: {exc}") from None
    for warning in checked.warnings:
        pulumi.log.warn(f"{component} {name!r}: {warning.text}")
    for skipped in checked.skipped:
        pulumi.log.info(f"{component} {name!r}: {skipped}")
    return checked.spec


def to_spec(value: Any, node: dict[str, Any], defs: dict[str, Any], path: str) -> Any:
    """An input value in the spec's own keys (camelCase, as a stack file writes them), led by the spec's schema:
    a model's keys are mapped, a map's keys are the user's and stay as they are."""
    if isinstance(value, pulumi.Output):
        raise pulumi.RunError(f"{path or 'args'}: must be known when the program runs (it decides which resources are "
                              "created), not the output of another resource")
    if isinstance(value, Enum):
        return value.value
    node = defs[node["$ref"].rsplit("/", 1)[1]] if "$ref" in node else node
    if "anyOf" in node:
        node = next((n for n in node["anyOf"] if n.get("type") != "null"), {})
        return to_spec(value, node, defs, path)
    if isinstance(value, dict) and "properties" in node:
        keys = {snake(alias): alias for alias in node["properties"]}
        return {keys.get(key, key): to_spec(item, node["properties"].get(keys.get(key, key), {}), defs,
                                             f"{path}.{keys.get(key, key)}" if path else keys.get(key, key))
                for key, item in value.items()}
    if isinstance(value, dict):
        values = node.get("additionalProperties") if isinstance(node.get("additionalProperties"), dict) else {}
        return {key: to_spec(item, values, defs, f"{path}.{key}") for key, item in value.items()}
    if isinstance(value, list):
        return [to_spec(item, node.get("items", {}), defs, f"{path}[{i}]") for i, item in enumerate(value)]
    return value


def _python_keys(value: Any) -> Any:
    """A typed output's keys as its TypedDict names them (`subnets` keeps its zone or role keys)."""
    if isinstance(value, dict):
        return {snake(key): item if key == "subnets" else _python_keys(item) for key, item in value.items()}
    return value


class _Cluster(pulumi.ComponentResource):
    """What the cluster components share; each declares its outputs itself, where the schema reads their docs."""

    def _publish(self, outputs: dict[str, Any]) -> None:
        # Plain structures holding outputs, not one output of the whole: an unknown bucket name must not hide the
        # rest in a preview. Typed outputs (network, storage, gpus) take their TypedDict's Python keys, which the
        # provider maps back to the schema's; absent: the cluster has none (an existing one's network).
        self.pools, self.gpus = outputs["pools"], outputs["gpus"]
        self.network, self.storage = _python_keys(outputs.get("network")), _python_keys(outputs.get("storage"))
        self.register_outputs(outputs)


@documented
class AwsCluster(_Cluster):
    """A GPU training cluster on AWS from one cluster spec: a VPC with the EFA security groups and placement groups
    the pools need, encrypted storage tiers (buckets, FSx for Lustre), a node identity, and per pool an auto
    scaling group (a spot training pool where spot is a source) with its full EFA layout, or EKS managed node
    groups with the GPU software and Kueue when the spec has `kubernetes`."""

    pools: pulumi.Output[dict[str, PoolOutputs]]
    """Every pool, by name"""
    gpus: pulumi.Output[GpuCount]
    """GPUs at every pool's minimum and maximum size"""
    network: pulumi.Output[NetworkOutputs]
    """The VPC and its private subnets"""
    storage: pulumi.Output[Optional[StorageOutputs]]
    """The storage tiers, when the spec asks for any"""

    def __init__(self, name: str, args: ClusterArgs, opts: Optional[pulumi.ResourceOptions] = None):
        spec = spec_from_args(args, "aws", type(self).__name__, name)
        super().__init__("gpucluster:index:AwsCluster", name, {}, opts)
        cluster = AwsGpuCluster(name, AwsGpuClusterArgs(spec), opts=pulumi.ResourceOptions(parent=self))
        self._publish(cluster.outputs)


@documented
class GcpCluster(_Cluster):
    """A GPU training cluster on GCP from one cluster spec: host and GPU networks sized for the pools' NIC layouts
    (GPUDirect TCPX/TCPXO or RDMA), storage under a customer-managed key (buckets, Managed Lustre), a node service
    account, and per pool a managed instance group, or GKE node pools with Kueue when the spec has
    `kubernetes`."""

    pools: pulumi.Output[dict[str, PoolOutputs]]
    """Every pool, by name"""
    gpus: pulumi.Output[GpuCount]
    """GPUs at every pool's minimum and maximum size"""
    network: pulumi.Output[NetworkOutputs]
    """The host network and every subnet"""
    storage: pulumi.Output[StorageOutputs]
    """The storage tiers"""

    def __init__(self, name: str, args: GcpClusterArgs, opts: Optional[pulumi.ResourceOptions] = None):
        spec_args = {k: v for k, v in args.items() if k != "project"}
        spec = spec_from_args(spec_args, "gcp", type(self).__name__, name)
        project = args.get("project") or pulumi.Config("gcp").get("project")
        if not isinstance(project, str) or not project:
            raise pulumi.RunError(f"{type(self).__name__} {name!r}: project: not given, and the stack has no "
                                  "gcp:project")
        super().__init__("gpucluster:index:GcpCluster", name, {}, opts)
        cluster = GcpGpuCluster(name, GcpGpuClusterArgs(spec, project), opts=pulumi.ResourceOptions(parent=self))
        self._publish(cluster.outputs)


@documented
class KubernetesCluster(_Cluster):
    """The GPU training layer on an existing Kubernetes cluster (on-premises DGX/HGX systems, a GPU cloud's
    cluster): the GPU and Network Operators with RDMA over the nodes' NICs, JobSet, and Kueue with its topology.
    Nothing is created outside the cluster."""

    pools: pulumi.Output[dict[str, PoolOutputs]]
    """Every pool, by name"""
    gpus: pulumi.Output[GpuCount]
    """GPUs at every pool's minimum and maximum size"""

    def __init__(self, name: str, args: KubernetesClusterArgs, opts: Optional[pulumi.ResourceOptions] = None):
        spec_args = {k: v for k, v in args.items() if k != "kubeconfig"}
        spec = spec_from_args(spec_args, "kubernetes", type(self).__name__, name)
        super().__init__("gpucluster:index:KubernetesCluster", name, {}, opts)
        kubeconfig = pulumi.Output.secret(args["kubeconfig"]) if args.get("kubeconfig") else None
        cluster = ExistingCluster(name, ExistingClusterArgs(spec, kubeconfig), opts=pulumi.ResourceOptions(parent=self))
        self._publish(cluster.outputs)
