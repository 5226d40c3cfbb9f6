"""GKE decisions that are pure: accelerator names, address ranges, node pool settings, and the objects GKE's GPU
networking needs inside the cluster (a GKENetworkParamSet and a Network per GPU NIC network, the NCCL plugin
installers). No Pulumi: `components/gcp/gke.py` reads these, and so do validation and the job template.

Sources (keys of ../shared/reference/k8s-gpu-node-pools.md): CEA = GoogleCloudPlatform/container-engine-accelerators
@992db81 (installer facts, read there: images, host paths, entry commands); CT = GoogleCloudPlatform/cluster-toolkit
(node pool constraints); XPK. The objects below are written here from those facts, not copied from the manifests.
"""

from __future__ import annotations

import ipaddress
import json
import math
from collections.abc import Mapping
from typing import Any

from ..catalog import GcpFabric
from ..spec import ClusterSpec
from .nodes import POOL_LABEL, NodePoolPlan, Taint, gke_pod_networks, node_pool_plans

# GKE's accelerator type per machine series: the `guest_accelerators.type` of a node pool and the value GKE puts in the
# node label `cloud.google.com/gke-accelerator` (CEA installers' node selectors; GKE "GPU platforms").
# A4X, A4X Max, A3 Edge, A2 Mega and G4 names: Google, "GPU machine types" (updated 2026-04-14).
ACCELERATOR_TYPES = {
    "a2-highgpu": "nvidia-tesla-a100", "a2-megagpu": "nvidia-tesla-a100", "a2-ultragpu": "nvidia-a100-80gb",
    "a3-highgpu": "nvidia-h100-80gb", "a3-edgegpu": "nvidia-h100-80gb", "a3-megagpu": "nvidia-h100-mega-80gb",
    "a3-ultragpu": "nvidia-h200-141gb", "a4-highgpu": "nvidia-b200", "a4x-highgpu": "nvidia-gb200",
    "a4x-maxgpu": "nvidia-gb300", "g2-standard": "nvidia-l4", "g4-standard": "nvidia-rtx-pro-6000",
}
ACCELERATOR_LABEL = "cloud.google.com/gke-accelerator"
NCCL_TRANSPORTS = ("gpudirect-tcpx", "gpudirect-tcpxo", "gpudirect-rdma")

# GKE's managed NVIDIA driver. LATEST rather than DEFAULT: the newest driver GKE qualifies for the node's GKE version,
# which the newest GPUs (H200, B200) and the NCCL network plugins (gIB, TCPXO's dmabuf path) want; either is installed
# by GKE and changes only when a node is upgraded or replaced, never under a running node.
GPU_DRIVER_VERSION = "LATEST"

# Pod and service ranges, added by GKE as secondary ranges of the host subnet (VPC-native). They come from the shared
# address space 100.64.0.0/10, which GKE accepts for both (non-RFC 1918 ranges), so they stay apart from the spec's
# RFC 1918 network and from the GPU networks (172.16.0.0/12, components/gcp/network.py); a spec network inside
# 100.64.0.0/10 is stepped around. The defaults below are what a cluster of up to 1,024 nodes gets.
SHARED_ADDRESS_SPACE = ipaddress.IPv4Network("100.64.0.0/10")
POD_RANGE, SERVICE_RANGE = "100.64.0.0/14", "100.68.0.0/20"
NODE_POD_PREFIX = 24  # GKE gives each node a /24 of the pod range at the default 110 pods per node
SERVICE_PREFIX = 20  # 4,096 services
MIN_POD_PREFIX = 11  # the largest pod range taken from 100.64.0.0/10: 8,192 nodes

# System nodes: untainted, for kube-system, Kueue, JobSet and the other controllers (no GPU pod lands there: GPU pods
# select their pools). e2-standard-4 (4 vCPU, 16 GB): the controllers need a few cores and a few GiB between them;
# E2 is the cheapest general-purpose series that is not shared-core, is offered in every region, and is priced in the
# GCP price book. Two of them (or one per zone when the spec lists several), so a repair or upgrade of one node leaves
# the controllers a place to run.
SYSTEM_MACHINE_TYPE = "e2-standard-4"
SYSTEM_NODES = 2
SYSTEM_LABELS = {"gpucluster.dev/role": "system"}

# Queued provisioning (flex-start): CT labels the pool's nodes so; GKE taints them `cloud.google.com/gke-queued=true:
# NoSchedule` itself (XPK and CT examples tolerate it; that GKE adds it: unverified here), so pods must tolerate it.
QUEUED_LABEL = {"cloud.google.com/gke-queued": "true"}
QUEUED_TAINT = Taint("cloud.google.com/gke-queued", "true")
TAINT_EFFECT = {"NoSchedule": "NO_SCHEDULE", "NoExecute": "NO_EXECUTE", "PreferNoSchedule": "PREFER_NO_SCHEDULE"}

# NCCL plugin installers (CEA @992db81; images as the reference pins them, table in section 9).
HOST_NVIDIA_LIB = "/home/kubernetes/bin/nvidia/lib64"  # GKE's driver directory; pods mount /home/kubernetes/bin/nvidia
HOST_GIB = "/home/kubernetes/bin/gib"  # pods mount it at /usr/local/gib and source scripts/set_nccl_env.sh
INSTALLER_IMAGES = {
    "gpudirect-tcpx": "us-docker.pkg.dev/gce-ai-infra/gpudirect-tcpx/nccl-plugin-gpudirecttcpx-dev:v3.1.9",
    "gpudirect-tcpxo": "us-docker.pkg.dev/gce-ai-infra/gpudirect-tcpxo/nccl-plugin-gpudirecttcpx-dev:v1.0.15",
    "gpudirect-rdma": "us-docker.pkg.dev/gce-ai-infra/gpudirect-gib/nccl-plugin-gib:v1.1.1",
}
INSTALLER_NAMES = {"gpudirect-tcpx": "nccl-tcpx-installer", "gpudirect-tcpxo": "nccl-tcpxo-installer",
                   "gpudirect-rdma": "nccl-rdma-installer"}
# TCPX and TCPXO pods name the devices their daemon sidecar needs in a `devices.gke.io/container.<name>` annotation,
# which this plugin (containerd NRI) acts on; CEA selects it on A3 High and Mega nodes. Pinned by digest as CEA has it.
NRI_INJECTOR_IMAGE = ("gcr.io/gke-release/nri-device-injector"
                      "@sha256:6e79483d52abdc28454bf186320b10a56b0f117a10e8d65d5c74dbb821a76970")
PAUSE_IMAGE = "gke.gcr.io/pause:3.8@sha256:880e63f94b145e46f1b1082bb71b85e21f16b99b180b9996407d61240ceb9830"
# TCPXO's host preparation runs on the host through nsenter, so the image only needs nsenter (util-linux). CEA names
# plain `ubuntu` (no tag); pinned to a tag here. Unverified beyond CEA's use of `ubuntu`.
HOST_SETUP_IMAGE = "ubuntu:24.04"
# A3 Mega's "aperture" devices (PCI vendor:device 1ae0:0084), which TCPXO's LLCM reads under /dev/aperture_devices
# (NCCL_FASTRAK_LLCM_DEVICE_DIRECTORY); and the import-helper module for its dmabuf path (CEA pre-installation step).
# The INPUT rule: COS drops inbound TCP that no rule admits, and TCPXO's data flows are TCP on the GPU NICs; the VPC
# firewalls (the GPU networks admit only their own range) still apply. Idempotent, unlike CEA's: the rule is checked
# before it is inserted, and a bind mount is replaced rather than stacked.
TCPXO_HOST_SETUP = """set -e
iptables -C INPUT -p tcp -m tcp -j ACCEPT 2>/dev/null || iptables -I INPUT -p tcp -m tcp -j ACCEPT
modprobe import-helper
mkdir -p /dev/aperture_devices
for bdf in $(lspci -D -d 1ae0:0084 | cut -d' ' -f1); do
  mkdir -p "/dev/aperture_devices/$bdf"
  umount -R "/dev/aperture_devices/$bdf" 2>/dev/null || true
  mount --bind "$(readlink -f "/sys/bus/pci/devices/$bdf")" "/dev/aperture_devices/$bdf"
done
chmod -R a+r /dev/aperture_devices
chmod a+rw /dev/aperture_devices/*/resource* 2>/dev/null || true
"""


def accelerator_type(plan: NodePoolPlan) -> str:
    """The series' accelerator: the machine type's first two words (a4x-maxgpu-4g-metal: a4x-maxgpu)."""
    return ACCELERATOR_TYPES["-".join(plan.plan.instance.name.split("-")[:2])]


def transport(plan: NodePoolPlan) -> str:
    """The pool's GPU fabric: none, gpudirect-tcpx (A3 High), gpudirect-tcpxo (A3 Mega), gpudirect-rdma (A3 Ultra, A4);
    none when the pool turns its fabric off."""
    fabric = plan.plan.instance.fabric
    return fabric.transport if isinstance(fabric, GcpFabric) and plan.plan.fabric else "none"


def ip_ranges(spec: ClusterSpec) -> tuple[str, str]:
    """(pods, services): a pod range with a /24 for every node the pools can reach at their maximum, the system nodes
    and one upgrade node (at least a /14), and a /20 for services, both apart from the spec's network."""
    taken = [ipaddress.IPv4Network(spec.network.cidr), *map(ipaddress.IPv4Network, spec.network.private_subnets.values())]
    if spec.network.public_subnet:
        taken.append(ipaddress.IPv4Network(spec.network.public_subnet))
    nodes = sum(pool.size.max for pool in spec.pools) + system_node_count(spec) + 1
    prefix = max(MIN_POD_PREFIX, min(14, NODE_POD_PREFIX - math.ceil(math.log2(nodes))))
    pods = _first_free(prefix, taken)
    services = _first_free(SERVICE_PREFIX, [*taken, pods])
    return str(pods), str(services)


def _first_free(prefix: int, taken: list[ipaddress.IPv4Network]) -> ipaddress.IPv4Network:
    for candidate in SHARED_ADDRESS_SPACE.subnets(new_prefix=prefix):
        if not any(candidate.overlaps(other) for other in taken):
            return candidate
    raise ValueError(f"no free /{prefix} left in {SHARED_ADDRESS_SPACE} beside {[str(t) for t in taken]}")


def system_node_locations(spec: ClusterSpec) -> list[str]:
    return list(spec.zones)


def system_node_count(spec: ClusterSpec) -> int:
    """System nodes in all (GKE's node_count is per zone; see system_nodes_per_zone)."""
    return system_nodes_per_zone(spec) * len(system_node_locations(spec))


def system_nodes_per_zone(spec: ClusterSpec) -> int:
    return math.ceil(SYSTEM_NODES / len(system_node_locations(spec)))


def initial_nodes_per_zone(plan: NodePoolPlan) -> int | None:
    """GKE's initial node count is per zone: the pool's desired size spread over its zones, rounded up unless that
    would pass the maximum (the autoscaler then brings it to the minimum). None for queued provisioning (from zero)."""
    if plan.source == "flex-start":
        return None
    size, zones = plan.plan.pool.size, len(plan.plan.zones)
    desired = size.desired_or_min
    up = math.ceil(desired / zones)
    return up if up * zones <= size.max else desired // zones


def node_labels(plan: NodePoolPlan) -> dict[str, str]:
    """Kubernetes labels on the pool's nodes: the plan's, and the queued-provisioning label on flex-start pools (CT)."""
    return {**plan.labels, **(QUEUED_LABEL if plan.source == "flex-start" else {})}


def node_taints(plan: NodePoolPlan) -> list[dict[str, str]]:
    """The plan's taints as the GKE API spells them (nvidia.com/gpu=present and, on spot, cloud.google.com/gke-spot)."""
    return [{"key": t.key, "value": t.value, "effect": TAINT_EFFECT[t.effect]} for t in plan.taints]


def node_tolerations(plans: list[NodePoolPlan]) -> list[dict[str, str]]:
    """Tolerations for every taint the given pools' nodes carry, GKE's queued taint included."""
    taints = {t for p in plans for t in (*p.taints, *((QUEUED_TAINT,) if p.source == "flex-start" else ()))}
    return [t.toleration() for t in sorted(taints, key=lambda t: (t.key, t.value, t.effect))]


def reservation_affinity(source: str, name: str | None) -> dict[str, Any]:
    if source == "reservation":
        return {"consume_reservation_type": "SPECIFIC_RESERVATION", "key": "compute.googleapis.com/reservation-name",
                "values": [name]}
    # Spot and flex-start may not consume reservations (CT's preconditions); an on-demand pool does not take capacity
    # that a reservation holds for another pool.
    return {"consume_reservation_type": "NO_RESERVATION"}


def additional_node_networks(plan: NodePoolPlan) -> list[tuple[str, str]]:
    """(network role, subnet role) of every NIC after the first, in the node's NIC order: the second host gVNIC of A3
    Ultra and A4, then the GPU NICs (one VPC each on A3 High/Mega, one RoCE subnet each on A3 Ultra/A4). The roles
    are those of ClusterNetwork ("host-2", "gpu-<i>", "rdma" / "rdma-<i>")."""
    return [("rdma", f"rdma-{nic.subnet}") if nic.network == "rdma" else (nic.network, nic.network) for nic in plan.plan.nics[1:]]


def network_objects(spec: ClusterSpec, vpc_names: Mapping[str, Any], subnet_names: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A GKENetworkParamSet and a Network (`networking.gke.io/v1`) per GPU NIC network the pools use, named as
    `gke_pod_networks` names them (the names the job template's interface annotation uses).

    `vpc_names` and `subnet_names` map ClusterNetwork's roles ("gpu-<i>", "rdma", "rdma-<i>") to the physical names of
    the networks and subnetworks (names, not self links: GKE looks them up by name). They are parameters because
    ClusterNetwork lets Pulumi name its networks (the logical name `naming.vpc(...)` plus a random suffix), so the
    physical names are not a function of the spec; values may be Pulumi outputs."""
    objects: dict[str, list[dict[str, Any]]] = {}
    for plan in node_pool_plans(spec):
        for _, network in gke_pod_networks(plan.plan):
            vpc = "rdma" if network.startswith("rdma-") else network
            objects.setdefault(network, [
                {"apiVersion": "networking.gke.io/v1", "kind": "GKENetworkParamSet", "metadata": {"name": network},
                 # NetDevice: the gVNIC GPU NICs of A3 High and Mega (TCPX, TCPXO); RDMA: the MRDMA NICs of A3 Ultra, A4.
                 "spec": {"vpc": vpc_names[vpc], "vpcSubnet": subnet_names[network],
                          "deviceMode": "RDMA" if vpc == "rdma" else "NetDevice"}},
                {"apiVersion": "networking.gke.io/v1", "kind": "Network", "metadata": {"name": network},
                 "spec": {"type": "Device",
                          "parametersRef": {"group": "networking.gke.io", "kind": "GKENetworkParamSet", "name": network}}},
            ])
    return [obj for name in sorted(objects, key=_network_order) for obj in objects[name]]


def _network_order(name: str) -> tuple[str, int]:
    kind, index = name.rsplit("-", 1)
    return kind, int(index)


def nccl_installer(spec: ClusterSpec) -> list[dict[str, Any]]:
    """The DaemonSets (kube-system) that put the NCCL network plugin the pools' fabric needs on their nodes: TCPX on
    A3 High, TCPXO on A3 Mega (plus the NRI device injector their daemon sidecars need), gIB on A3 Ultra and A4.

    Each runs on the nodes of the pools with that fabric only (GKE's accelerator label and our pool label), tolerates
    those pools' taints, and copies the plugin into GKE's driver directory from a privileged init container; a pause
    container keeps the pod so the copy runs once per node. Updates are `OnDelete`: a new plugin version reaches a node
    that is replaced (or whose installer pod is deleted), never a node in the middle of a job, whose processes have
    the libraries mapped."""
    by_transport: dict[str, list[NodePoolPlan]] = {}
    for plan in node_pool_plans(spec):
        if transport(plan) in NCCL_TRANSPORTS:
            by_transport.setdefault(transport(plan), []).append(plan)
    objects = [_installer(kind, by_transport[kind]) for kind in NCCL_TRANSPORTS if kind in by_transport]
    tcp = [plan for kind in ("gpudirect-tcpx", "gpudirect-tcpxo") for plan in by_transport.get(kind, [])]
    if tcp:
        objects.append(_nri_device_injector(tcp))
    return objects




def gke_objects(spec: ClusterSpec, vpc_names: Mapping[str, Any], subnet_names: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Everything GKE's GPU networking needs in the cluster, in apply order: the networks, then the installers."""
    return [*network_objects(spec, vpc_names, subnet_names), *nccl_installer(spec)]


def _affinity(plans: list[NodePoolPlan]) -> dict[str, Any]:
    accelerators = sorted({accelerator_type(p) for p in plans})
    pools = sorted({p.name for p in plans})
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [
        {"key": ACCELERATOR_LABEL, "operator": "In", "values": accelerators},
        {"key": POOL_LABEL, "operator": "In", "values": pools},
    ]}]}}}


def _daemon_set(name: str, plans: list[NodePoolPlan], pod: dict[str, Any]) -> dict[str, Any]:
    labels = {"k8s-app": name}
    return {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": "kube-system", "labels": labels},
        "spec": {
            "selector": {"matchLabels": labels},
            "updateStrategy": {"type": "OnDelete"},
            "template": {"metadata": {"labels": labels}, "spec": {
                "priorityClassName": "system-node-critical",
                "affinity": _affinity(plans),
                "tolerations": node_tolerations(plans),
                "hostNetwork": True,
                "hostPID": True,
                **pod,
            }},
        },
    }


def _host_path(name: str, path: str, type_: str = "DirectoryOrCreate") -> dict[str, Any]:
    return {"name": name, "hostPath": {"path": path, "type": type_}}


_PAUSE = {"name": "pause", "image": PAUSE_IMAGE, "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}
_INSTALL_REQUESTS = {"requests": {"cpu": "150m"}}  # CEA's request for the copy


def _installer(kind: str, plans: list[NodePoolPlan]) -> dict[str, Any]:
    image = INSTALLER_IMAGES[kind]
    if kind == "gpudirect-rdma":
        # gIB (CEA nccl-rdma-installer @992db81): `container_entry.sh install` (v1.1.1 installs no NCCL of its own,
        # CEA 2da1c92), then the plugin's lib64 into GKE's driver directory and the whole of /var/lib/gib (scripts, the
        # NCCL environment) into /home/kubernetes/bin/gib. The two host directories are mounted where CEA mounts them
        # (under /usr/local/home/...): the entry script may write there itself (unverified), so the paths are kept.
        lib, gib = "/usr/local/home/kubernetes/bin/nvidia/lib64", "/usr/local/home/kubernetes/bin/gib"
        script = f"set -ex\n/scripts/container_entry.sh install\ncp -r /var/lib/gib/lib64/. {lib}\ncp -r /var/lib/gib/. {gib}\n"
        volumes = [_host_path("nvidia-lib64", HOST_NVIDIA_LIB), _host_path("gib", HOST_GIB)]
        mounts = [{"name": "nvidia-lib64", "mountPath": lib}, {"name": "gib", "mountPath": gib}]
        init: list[dict[str, Any]] = []
    else:
        # TCPX / TCPXO (CEA nccl-tcpx(o)-installer @992db81): `container_entry.sh install --install-nccl` unpacks the
        # plugin and NCCL under /var/lib/tcpx(o) (the host's /var/lib, as CEA mounts it), then lib64 is copied into
        # GKE's driver directory, the host's /home/kubernetes/bin mounted at /usr/local.
        state = "tcpx" if kind == "gpudirect-tcpx" else "tcpxo"
        script = (f"set -ex\nchmod 755 /scripts/container_entry.sh\n/scripts/container_entry.sh install --install-nccl\n"
                  f"mkdir -p /usr/local/nvidia/lib64\ncp -r /var/lib/{state}/lib64/. /usr/local/nvidia/lib64\n")
        volumes = [_host_path("var-lib", "/var/lib", "Directory"), _host_path("kubernetes-bin", "/home/kubernetes/bin")]
        mounts = [{"name": "var-lib", "mountPath": "/var/lib"}, {"name": "kubernetes-bin", "mountPath": "/usr/local"}]
        init = [] if kind == "gpudirect-tcpx" else [{
            # A3 Mega's host preparation, in the host's namespaces (hostPID, nsenter into PID 1).
            "name": "host-setup", "image": HOST_SETUP_IMAGE,
            "command": ["nsenter", "--target", "1", "--all", "--", "sh", "-c", TCPXO_HOST_SETUP],
            "securityContext": {"privileged": True},
        }]
    install = {
        "name": "install", "image": image, "command": ["/bin/sh", "-c", script],
        "securityContext": {"privileged": True},  # it writes into the host's driver directory
        "resources": _INSTALL_REQUESTS, "volumeMounts": mounts,
    }
    return _daemon_set(INSTALLER_NAMES[kind], plans, {"volumes": volumes, "initContainers": [*init, install],
                                                      "containers": [_PAUSE]})


def _nri_device_injector(plans: list[NodePoolPlan]) -> dict[str, Any]:
    """The containerd NRI plugin that adds the devices a pod's annotation names to that container (CEA
    nri_device_injector @992db81): privileged, with the host's /dev and NRI socket directory. That GKE's containerd
    has NRI on for these node versions: unverified here."""
    return _daemon_set("nri-device-injector", plans, {
        "volumes": [_host_path("dev", "/dev", "Directory"), _host_path("nri", "/var/run/nri")],
        "containers": [{
            "name": "device-injector", "image": NRI_INJECTOR_IMAGE, "securityContext": {"privileged": True},
            "resources": _INSTALL_REQUESTS,
            "volumeMounts": [{"name": "dev", "mountPath": "/dev"}, {"name": "nri", "mountPath": "/var/run/nri"}],
        }],
    })


def kubeconfig(cluster: str, endpoint: str, certificate_authority: str) -> str:
    """A kubeconfig whose token comes from gke-gcloud-auth-plugin, as `gcloud container clusters get-credentials`
    writes it (JSON, which is YAML)."""
    return json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": cluster, "preferences": {},
        "clusters": [{"name": cluster, "cluster": {"server": f"https://{endpoint}",
                                                   "certificate-authority-data": certificate_authority}}],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": cluster}}],
        "users": [{"name": cluster, "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1", "command": "gke-gcloud-auth-plugin",
            "provideClusterInfo": True,
            "installHint": "Install gke-gcloud-auth-plugin: gcloud components install gke-gcloud-auth-plugin",
        }}}],
    })
