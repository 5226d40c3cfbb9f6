"""The charts the cluster runs, pinned, and their values: pure functions of the spec, so each is unit-tested.

Which GPU software runs where, and why:
- EKS (`gpuSoftware: auto` = `gpu-operator`): the AL2023 NVIDIA AMI already carries the driver and the container
  toolkit, so the GPU Operator runs with both off; it still brings the device plugin, GPU feature discovery and the DCGM
  exporter as one versioned set. `device-plugin` installs only NVIDIA's device plugin, the minimum AWS documents
  ("NVIDIA GPUs on Amazon EKS", device-management-nvidia.adoc@ec6e064), without GPU metrics.
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
from .nodes import NodePoolPlan, node_pool_plans


@dataclass(frozen=True)
class Chart:
    name: str
    repo: str | None  # None: `chart` is an OCI reference
    chart: str
    version: str
    namespace: str
    source: str


GPU_OPERATOR = Chart(
    "gpu-operator", "https://helm.ngc.nvidia.com/nvidia", "gpu-operator", "v25.10.1", "gpu-operator",
    "NVIDIA GPU Operator getting started, latest patch named (docs.nvidia.com/datacenter/cloud-native/gpu-operator)",
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
        return "gpu-operator" if spec.cloud == "aws" else "managed"
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
    return values


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
    """The Helm releases for the spec, in install order (JobSet before Kueue, whose jobset integration needs the CRD)."""
    software = gpu_software(spec)
    charts = []
    if software == "gpu-operator":
        charts.append(Release(GPU_OPERATOR, gpu_operator_values(spec)))
    elif software == "device-plugin":
        charts.append(Release(DEVICE_PLUGIN, device_plugin_values(spec)))
    if _efa_pools(spec):
        charts.append(Release(EFA_DEVICE_PLUGIN, efa_device_plugin_values(spec)))
    charts.append(Release(JOBSET, {}))
    charts.append(Release(KUEUE, kueue_values(spec)))
    return charts
