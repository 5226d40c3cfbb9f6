"""GKE decisions that are pure: accelerator names, node pool settings, and the objects GKE's GPU networking needs in
the cluster (a GKENetworkParamSet and a Network per GPU NIC network, the NCCL plugin installer).

Only the RDMA machines (A3 Ultra, A4: GPUDirect RDMA over the RoCE VPC, NCCL's gIB plugin) are built so far; A3
High and Mega (TCPX, TCPXO) need per-pod daemons as sidecars and are refused by validation until they are.
"""

from __future__ import annotations

import json
from typing import Any

from ..catalog import GcpFabric
from ..spec import ClusterSpec
from .nodes import NodePoolPlan, gke_pod_networks, node_pool_plans

# GKE's accelerator type per machine series, the value of the node label `cloud.google.com/gke-accelerator`
# (container-engine-accelerators @992db81, the installers' node selectors; GKE "GPU platforms").
ACCELERATOR_TYPES = {
    "a2-highgpu": "nvidia-tesla-a100", "a2-ultragpu": "nvidia-a100-80gb", "a3-highgpu": "nvidia-h100-80gb",
    "a3-megagpu": "nvidia-h100-mega-80gb", "a3-ultragpu": "nvidia-h200-141gb", "a4-highgpu": "nvidia-b200",
    "g2-standard": "nvidia-l4",
}
BUILT_TRANSPORTS = ("none", "gpudirect-rdma")
# Pod and service ranges GKE adds to the host subnet: outside RFC 1918, so apart from any network.cidr and from the
# GPU networks (172.16.0.0/12); GKE accepts the shared address space 100.64.0.0/10 for both.
POD_RANGE, SERVICE_RANGE = "100.64.0.0/14", "100.68.0.0/20"
SYSTEM_MACHINE_TYPE = "e2-standard-4"  # 4 vCPU, 16 GiB: the controllers' home, as on EKS
SYSTEM_NODES = 2
# NCCL's gIB plugin for GPUDirect RDMA (container-engine-accelerators gpudirect-rdma, installer release v1.1.1): the
# image's entry script installs it, and the plugin and its scripts are copied where pods mount them from the host.
GIB_IMAGE = "us-docker.pkg.dev/gce-ai-infra/gpudirect-gib/nccl-plugin-gib:v1.1.1"
HOST_NVIDIA_LIB = "/home/kubernetes/bin/nvidia/lib64"
HOST_GIB = "/home/kubernetes/bin/gib"
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"


def accelerator_type(plan: NodePoolPlan) -> str:
    return ACCELERATOR_TYPES[plan.plan.instance.name.rsplit("-", 1)[0]]


def transport(plan: NodePoolPlan) -> str:
    fabric = plan.plan.instance.fabric
    return fabric.transport if isinstance(fabric, GcpFabric) and plan.plan.fabric else "none"


def network_objects(spec: ClusterSpec, vpc_names: dict[str, Any], subnet_names: dict[str, Any]) -> list[dict[str, Any]]:
    """A GKENetworkParamSet and a Network (`networking.gke.io/v1`) per GPU NIC network the pools use, named as the job
    template's interface annotation names them. `vpc_names` and `subnet_names` map the cluster network's roles
    ("rdma", "rdma-<i>", "gpu-<i>") to the physical names (values may be outputs)."""
    objects: dict[str, list[dict[str, Any]]] = {}
    for plan in node_pool_plans(spec):
        for _, network in gke_pod_networks(plan.plan):
            role = "rdma" if network.startswith("rdma-") else network
            objects.setdefault(network, [
                {"apiVersion": "networking.gke.io/v1", "kind": "GKENetworkParamSet", "metadata": {"name": network},
                 "spec": {"vpc": vpc_names[role], "vpcSubnet": subnet_names[network],
                          "deviceMode": "RDMA" if role == "rdma" else "NetDevice"}},
                {"apiVersion": "networking.gke.io/v1", "kind": "Network", "metadata": {"name": network},
                 "spec": {"type": "Device", "parametersRef": {"group": "networking.gke.io", "kind": "GKENetworkParamSet",
                                                              "name": network}}},
            ])
    return [obj for name in sorted(objects) for obj in objects[name]]


def nccl_installers(spec: ClusterSpec) -> list[dict[str, Any]]:
    """The DaemonSet that puts NCCL's gIB plugin on every RDMA node, before any job needs it."""
    accelerators = sorted({accelerator_type(p) for p in node_pool_plans(spec) if transport(p) == "gpudirect-rdma"})
    if not accelerators:
        return []
    labels = {"k8s-app": "nccl-rdma-installer"}
    host = [{"name": "nvidia-lib", "hostPath": {"path": HOST_NVIDIA_LIB, "type": "DirectoryOrCreate"}},
            {"name": "gib", "hostPath": {"path": HOST_GIB, "type": "DirectoryOrCreate"}}]
    install = "\n".join([
        "set -ex",
        "/scripts/container_entry.sh install --install-nccl",
        "cp -r /var/lib/gib/lib64/. /host/nvidia-lib",
        "cp -r /var/lib/gib/. /host/gib",
    ])
    return [{
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "nccl-rdma-installer", "namespace": "kube-system", "labels": labels},
        "spec": {
            "selector": {"matchLabels": labels},
            "updateStrategy": {"type": "RollingUpdate"},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "priorityClassName": "system-node-critical",
                    "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "cloud.google.com/gke-accelerator", "operator": "In", "values": accelerators}]}]}}},
                    "tolerations": [{"operator": "Exists"}],  # every GPU and spot taint
                    "hostNetwork": True,
                    "hostPID": True,
                    "volumes": host,
                    "initContainers": [{
                        "name": "install", "image": GIB_IMAGE, "command": ["/bin/sh", "-c", install],
                        "securityContext": {"privileged": True},  # it writes to the host's driver directory
                        "resources": {"requests": {"cpu": "150m"}},
                        "volumeMounts": [{"name": "nvidia-lib", "mountPath": "/host/nvidia-lib"},
                                         {"name": "gib", "mountPath": "/host/gib"}],
                    }],
                    "containers": [{"name": "pause", "image": PAUSE_IMAGE}],  # keeps the pod, so the init runs once per node
                },
            },
        },
    }]


def reservation_affinity(source: str, name: str | None) -> dict:
    if source == "reservation":
        return {"consume_reservation_type": "SPECIFIC_RESERVATION", "key": "compute.googleapis.com/reservation-name",
                "values": [name]}
    # Spot and flex-start may not consume reservations; on-demand pools do not take a reservation meant for another.
    return {"consume_reservation_type": "NO_RESERVATION"}


def kubeconfig(cluster: str, endpoint: str, certificate_authority: str) -> str:
    """A kubeconfig whose token comes from gke-gcloud-auth-plugin, as `gcloud container clusters get-credentials` writes."""
    return json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": cluster,
        "clusters": [{"name": cluster, "cluster": {"server": f"https://{endpoint}", "certificate-authority-data": certificate_authority}}],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": cluster}}],
        "users": [{"name": cluster, "user": {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1",
                                                       "command": "gke-gcloud-auth-plugin", "provideClusterInfo": True}}}],
    })
