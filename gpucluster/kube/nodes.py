"""What each pool is as a Kubernetes node pool: its labels, taints, the devices a node offers, and where it stands in
the queue's order. Decided once here; the EKS and GKE components, the Kueue objects and the job template read it.

Pure: no Pulumi, no cloud calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..fabric import efa_device_count
from ..plan import PoolPlan, plan_pool
from ..spec import ClusterSpec, Pool
from .rdma import node_resources, pool_fabric

SYSTEM_POOL = "system"  # the node group (EKS) or node pool (GKE) the components add for the cluster's controllers
POOL_LABEL = "gpucluster.dev/pool"
INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"  # set by the kubelet on every node  # on every node of a pool, on both clouds: what flavors and jobs select
GPU_RESOURCE = {"gpu": "nvidia.com/gpu", "trainium": "aws.amazon.com/neuron"}
EFA_RESOURCE = "vpc.amazonaws.com/efa"
# EFA nodes pre-allocate 5128 2-MiB huge pages for libfabric ("Run training on Amazon EKS with EFA", EKS user guide,
# node-efa.adoc@3088c3d); a pod asks for 5120 MiB of them, as AWS's NCCL test does.
EFA_HUGEPAGES_MIB = 5120

TaintEffect = Literal["NoSchedule", "NoExecute", "PreferNoSchedule"]


@dataclass(frozen=True)
class Taint:
    key: str
    value: str
    effect: TaintEffect = "NoSchedule"

    def toleration(self) -> dict[str, str]:
        return {"key": self.key, "operator": "Equal", "value": self.value, "effect": self.effect}


# Only pods that ask for an accelerator land on accelerator nodes (system pods stay on the system nodes).
ACCELERATOR_TAINT = {"gpu": Taint("nvidia.com/gpu", "present"), "trainium": Taint("aws.amazon.com/neuron", "present")}
# Only jobs that accept being taken away land on spot nodes. GKE documents its own key for spot node pools.
SPOT_TAINT = {"aws": Taint("gpucluster.dev/spot", "true"), "gcp": Taint("cloud.google.com/gke-spot", "true")}

# The label each cloud puts on a node for its capacity type (EKS: "Managed node groups", node labels; GKE: Spot VMs).
_CAPACITY_LABELS = {
    "aws": {"on-demand": ("eks.amazonaws.com/capacityType", "ON_DEMAND"),
            "reservation": ("eks.amazonaws.com/capacityType", "ON_DEMAND"),
            "capacity-block": ("eks.amazonaws.com/capacityType", "CAPACITY_BLOCK"),
            "spot": ("eks.amazonaws.com/capacityType", "SPOT")},
    "gcp": {"spot": ("cloud.google.com/gke-spot", "true")},
}

# The order a queue tries sources in: capacity already paid for, then the cheapest, then full price, then capacity
# that may take a while to arrive.
SOURCE_ORDER = ("capacity-block", "reservation", "spot", "on-demand", "flex-start")


@dataclass(frozen=True)
class NodePoolPlan:
    plan: PoolPlan
    cloud: Literal["aws", "gcp", "kubernetes"]
    source: str  # a Kubernetes pool has one capacity source; the queue falls back between pools
    rdma: tuple[tuple[str, int], ...] = ()  # existing clusters: RDMA devices a node offers, by resource name

    @property
    def name(self) -> str:
        return self.plan.pool.name

    @property
    def accelerator(self) -> str:
        return self.plan.instance.accelerator.kind

    @property
    def labels(self) -> dict[str, str]:
        """Labels the node group sets on its nodes; on an existing cluster, the labels its nodes already have."""
        if self.cloud == "kubernetes":
            return dict(self.plan.pool.node_selector)
        return {POOL_LABEL: self.name}

    @property
    def instance_type_label(self) -> dict[str, str]:
        """The well-known instance-type label, when all the pool's nodes share one type."""
        if self.plan.alternates or self.cloud == "kubernetes":  # a catalog name there, not the node's label
            return {}
        return {INSTANCE_TYPE_LABEL: self.plan.instance.name}

    @property
    def selector(self) -> dict[str, str]:
        """Labels a pod selects this pool by: ours, the instance type, and the cloud's capacity label where the cloud
        sets one. A Kueue flavor carries them all, so a job that selects an instance type is only admitted to flavors
        of that type."""
        capacity = _CAPACITY_LABELS.get(self.cloud, {}).get(self.source)
        return {**self.labels, **self.instance_type_label, **dict([capacity] if capacity else [])}

    @property
    def taints(self) -> tuple[Taint, ...]:
        if self.cloud == "kubernetes":  # the cluster's own nodes: their taints are the cluster's business
            return ()
        spot = (SPOT_TAINT[self.cloud],) if self.source == "spot" else ()
        return (ACCELERATOR_TAINT[self.accelerator], *spot)

    @property
    def gpu_resource(self) -> str:
        return GPU_RESOURCE[self.accelerator]

    @property
    def gpus_per_node(self) -> int:
        return self.plan.gpus_per_node

    @property
    def efa_per_node(self) -> int:
        """EFA devices the device plugin offers per node (0 on GCP and without the fabric)."""
        return efa_device_count(self.plan.interfaces) if self.plan.fabric else 0

    @property
    def hugepages_mib_per_node(self) -> int:
        return EFA_HUGEPAGES_MIB if self.efa_per_node else 0

    @property
    def cpus(self) -> int:
        return self.plan.pool.cpus_per_node or self.plan.instance.vcpus

    @property
    def memory_gib(self) -> float:
        return self.plan.pool.memory_gib_per_node or self.plan.instance.memory_gib

    @property
    def rank(self) -> int:
        return SOURCE_ORDER.index(self.source)

    def per_node(self) -> dict[str, int]:
        """Device counts one node offers, by extended resource name (what a queue's quota and a pod request count)."""
        devices = {self.gpu_resource: self.gpus_per_node}
        if self.efa_per_node:
            devices[EFA_RESOURCE] = self.efa_per_node
        return devices | dict(self.rdma)


def node_pool_plans(spec: ClusterSpec) -> list[NodePoolPlan]:
    """The spec's pools as node pools, in the order a queue should try them (ties keep the spec's order)."""
    plans = [NodePoolPlan(plan_pool(spec, pool), spec.cloud, pool.capacity.type, _rdma(spec, pool)) for pool in spec.pools]
    return sorted(plans, key=lambda p: p.rank)


def _rdma(spec: ClusterSpec, pool: Pool) -> tuple[tuple[str, int], ...]:
    if spec.cloud != "kubernetes":
        return ()
    fabric = pool_fabric(spec, pool)
    return tuple(node_resources(spec, fabric).items()) if fabric else ()


def gke_pod_networks(plan: PoolPlan) -> tuple[tuple[str, str], ...]:
    """GKE: (pod interface, Network object) for each GPU NIC of a node, in the node's NIC order (eth<i> is the i-th NIC).
    A second host gVNIC (A3 Ultra, A4) is not given to pods. One Network per GPU VPC (`gpu-<i>`, NetDevice) or per
    RoCE subnet (`rdma-<i>`, RDMA); the names are short, as Device networks must be (41 characters)."""
    return tuple(
        (f"eth{index}", nic.network if nic.network.startswith("gpu-") else f"rdma-{nic.subnet}")
        for index, nic in enumerate(plan.nics)
        if nic.network.startswith("gpu-") or nic.network == "rdma"
    )
