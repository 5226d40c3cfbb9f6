"""The charts the cluster runs, pinned, and their values: pure functions of the spec, so each is unit-tested.

Which GPU software runs where, and why:
- EKS (`gpuSoftware: auto` = `gpu-operator`): the AL2023 NVIDIA AMI already carries the driver and the container
  toolkit, so the GPU Operator runs with both off; it still brings the device plugin, GPU feature discovery and the DCGM
  exporter as one versioned set. `device-plugin` installs only NVIDIA's device plugin, the minimum AWS documents
  ("NVIDIA GPUs on Amazon EKS", device-management-nvidia.adoc@ec6e064), without GPU metrics.
- Existing clusters (`auto` = `gpu-operator`): the operator with the driver and toolkit from the host where the node
  type's image has them (DGX OS), else its own containers, and GPUDirect RDMA set to match the Network Operator.
- GKE (`auto`): Google's managed driver and device plugin (node pools with `gpu_driver_installation_config`), GPU
  metrics through GKE's managed DCGM; Google recommends these over the operator ("Run GPUs in GKE Standard"). The
  operator on GKE needs Google's driver installer and a driverless pool; not offered here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..spec import ClusterSpec
from .jobset import JOBSET_VERSION
from .kueue import KUEUE_VERSION, kueue_values
from . import rdma
from .nodes import NodePoolPlan, node_pool_plans
from .rdma import NETWORK_OPERATOR_VERSION, OPERATOR_NAMESPACE


@dataclass(frozen=True)
class Chart:
    name: str
    repo: str | None  # None: `chart` is an OCI reference
    chart: str
    version: str
    namespace: str
    source: str
    # Its pods need privileged access to the node (drivers, device plugins): its namespace is created with the Pod
    # Security label that admits them, where a cluster's default level would refuse them.
    privileged: bool = False


GPU_OPERATOR = Chart(
    "gpu-operator", "https://helm.ngc.nvidia.com/nvidia", "gpu-operator", "v25.10.1", "gpu-operator",
    "NVIDIA GPU Operator getting started, latest patch named (docs.nvidia.com/datacenter/cloud-native/gpu-operator)",
    privileged=True,
)
NETWORK_OPERATOR = Chart(
    "network-operator", "https://helm.ngc.nvidia.com/nvidia", "network-operator", NETWORK_OPERATOR_VERSION,
    OPERATOR_NAMESPACE, "Mellanox/network-operator tag v26.4.1 @85afd6d, deployment/network-operator/Chart.yaml "
    "(kubeVersion >= 1.21; 26.7 needs 1.32)", privileged=True,
)
DEVICE_PLUGIN = Chart(
    "nvidia-device-plugin", "https://nvidia.github.io/k8s-device-plugin", "nvidia-device-plugin", "0.19.2", "kube-system",
    "chart index https://nvidia.github.io/k8s-device-plugin/index.yaml; v0.19.2 is the device plugin GPU Operator bundles",
)
EFA_DEVICE_PLUGIN = Chart(
    "aws-efa-k8s-device-plugin", "https://aws.github.io/eks-charts", "aws-efa-k8s-device-plugin", "v0.5.30", "kube-system",
    "aws/eks-charts@5239609 stable/aws-efa-k8s-device-plugin/Chart.yaml (image v0.5.20)",
)
KUEUE = Chart(
    "kueue", None, "oci://registry.k8s.io/kueue/charts/kueue", KUEUE_VERSION, "kueue-system",
    "kubernetes-sigs/kueue tag v0.19.2 @8eab687, charts/kueue/README.md",
)
JOBSET = Chart(
    "jobset", None, "oci://registry.k8s.io/jobset/charts/jobset", JOBSET_VERSION, "jobset-system",
    "kubernetes-sigs/jobset tag v0.12.0 @f22e565, charts/jobset/README.md",
)


def gpu_software(spec: ClusterSpec) -> str:
    """What runs the GPUs: "gpu-operator", "device-plugin", or "managed" (GKE)."""
    choice = spec.kubernetes.gpu_software
    if choice == "auto":
        return "managed" if spec.cloud == "gcp" else "gpu-operator"
    return choice


def accelerator_tolerations(spec: ClusterSpec) -> list[dict[str, str]]:
    """Every taint on any accelerator pool, tolerated: node agents (device plugins, DCGM, NFD) must run on all of them."""
    seen: dict[tuple, dict[str, str]] = {}
    for pool in node_pool_plans(spec):
        for taint in pool.taints:
            seen.setdefault((taint.key, taint.value, taint.effect), taint.toleration())
    return list(seen.values())


def _efa_pools(spec: ClusterSpec) -> list[NodePoolPlan]:
    return [p for p in node_pool_plans(spec) if p.efa_per_node]


def gpu_operator_values(spec: ClusterSpec) -> dict[str, Any]:
    tolerations = accelerator_tolerations(spec)
    values: dict[str, Any] = {
        # The node image has them: a second driver would fight the first.
        "driver": {"enabled": False},
        "toolkit": {"enabled": False},
        "dcgmExporter": {"enabled": True},
        "daemonsets": {"tolerations": tolerations},
        "node-feature-discovery": {"worker": {"tolerations": tolerations}},
    }
    if _efa_pools(spec):
        # The device plugin would otherwise take every /dev/infiniband/uverbs* device, the EFA devices among them
        # (EKS user guide, device-management-nvidia.adoc@ec6e064: MOFED_ENABLED=false on EFA nodes).
        values["devicePlugin"] = {"env": [{"name": "MOFED_ENABLED", "value": "false"}]}
    if spec.cloud == "kubernetes":
        values.update(existing_cluster_gpu_values(spec))
    return values


def existing_cluster_gpu_values(spec: ClusterSpec) -> dict[str, Any]:
    """An existing cluster's nodes: the driver and container toolkit from the host where its image has them (DGX OS
    ships both), else from the operator's containers; GPUDirect RDMA where pools have RDMA: DMA-BUF by default (open
    kernel modules; no extra module), the legacy nvidia-peermem only when chosen, and the operator told whether the
    network driver is the host's (its validator then waits for mlx5_core instead of the Network Operator's driver
    container). GPU Operator "GPUDirect RDMA" (gpu-operator-rdma.rst) and values.yaml at v26.7.0."""
    host = rdma.gpu_driver(spec) == "host"
    values: dict[str, Any] = {
        "driver": {"enabled": not host},
        "toolkit": {"enabled": not host},
        "nfd": {"enabled": spec.kubernetes.node_feature_discovery == "gpu-operator"},
    }
    if rdma.pool_fabrics(spec):
        settings = rdma.settings(spec)
        values["driver"]["rdma"] = {"enabled": settings.gpu_direct == "peermem",
                                    "useHostMofed": rdma.network_driver(spec) == "host"}
        if not host and settings.gpu_direct == "dma-buf":
            values["driver"]["kernelModuleType"] = "open"  # DMA-BUF needs the open modules
    return values


def network_operator_values(spec: ClusterSpec) -> dict[str, Any]:
    """The operator only: its policy is applied after it (rdma.nic_cluster_policy). Node Feature Discovery where the
    spec gives it to this chart (NVIDIA: one NFD for both operators); its rules labelling nodes with NVIDIA NICs
    (`pci-15b3.present`) in any case, since the device plugins select those nodes; the SR-IOV operator for sriov."""
    return {
        "nfd": {"enabled": spec.kubernetes.node_feature_discovery == "network-operator", "deployNodeFeatureRules": True},
        "sriovNetworkOperator": {"enabled": rdma.settings(spec).devices == "sriov"},
    }


def device_plugin_values(spec: ClusterSpec) -> dict[str, Any]:
    return {
        "gfd": {"enabled": True},
        "mofedEnabled": not _efa_pools(spec),  # see gpu_operator_values
        "tolerations": accelerator_tolerations(spec),
        "nodeSelector": {"nvidia.com/gpu.present": "true"},
    }


def efa_device_plugin_values(spec: ClusterSpec) -> dict[str, Any]:
    """The chart's daemon tolerates only CriticalAddonsOnly by default, so GPU and spot taints are added; it runs on
    the EFA pools' instance types only."""
    types = sorted({t.name for p in _efa_pools(spec) for t in (p.plan.instance, *p.plan.alternates)})
    return {
        "tolerations": accelerator_tolerations(spec),
        "supportedInstanceLabels": {"keys": ["node.kubernetes.io/instance-type"], "values": types},
    }


@dataclass(frozen=True)
class Release:
    chart: Chart
    values: dict[str, Any]


def releases(spec: ClusterSpec) -> list[Release]:
    """The Helm releases for the spec, in install order (the Network Operator before the GPU Operator, whose driver
    waits for the network driver; JobSet before Kueue, whose jobset integration needs the CRD), each with the
    spec's `chartValues` merged over its own."""
    overrides = spec.kubernetes.chart_values
    return [Release(r.chart, merge_values(r.values, overrides.get(r.chart.name, {}))) for r in _derived_releases(spec)]


def merge_values(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Helm's merge of values: maps merge key by key, anything else in `override` replaces."""
    merged = dict(base)
    for key, value in override.items():
        merged[key] = merge_values(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged


def _derived_releases(spec: ClusterSpec) -> list[Release]:
    software = gpu_software(spec)
    charts = []
    if rdma.pool_fabrics(spec):
        charts.append(Release(NETWORK_OPERATOR, network_operator_values(spec)))
    if software == "gpu-operator":
        charts.append(Release(GPU_OPERATOR, gpu_operator_values(spec)))
    elif software == "device-plugin":
        charts.append(Release(DEVICE_PLUGIN, device_plugin_values(spec)))
    if _efa_pools(spec):
        charts.append(Release(EFA_DEVICE_PLUGIN, efa_device_plugin_values(spec)))
    charts.append(Release(JOBSET, {}))
    charts.append(Release(KUEUE, kueue_values(spec)))
    return charts
