"""`gpucluster job-template`: a JobSet (`jobset.x-k8s.io/v1alpha2`, JobSet v0.12.0) for a multi-node PyTorch job that
fills whole nodes of one pool, submitted to a team's Kueue queue. Pure: a dict, printed as YAML by the CLI.

Layout (JobSet's PyTorch example, site/static/examples/pytorch/resnet-cifar10/resnet.yaml, and the Indexed Job
pattern): one replicated job `workers` with one Job of N pods, one pod per node; each pod runs `torchrun` with the
node's GPUs, its node rank is its completion index (JOB_COMPLETION_INDEX, which the Job controller sets in every
container of an Indexed Job), and rank 0 is reached at `<name>-workers-0-0.<name>` through the headless service JobSet
creates (pod hostname `<jobset>-<replicatedJob>-<jobIndex>-<podIndex>`, subdomain the JobSet's name; jobset_types.go).

What a pod gets, by the pool's fabric:
- EKS with EFA: every EFA device and the huge pages libfabric uses, and the libfabric settings.
- GKE A3 High (GPUDirect-TCPX) and A3 Mega (GPUDirect-TCPXO): the GPU NIC networks, the receive-datapath daemon as a
  native sidecar, the NCCL plugin the installer put on the node.
- GKE A3 Ultra and A4 (GPUDirect RDMA): the RDMA networks and NCCL's gIB plugin with its environment script.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..spec import ClusterSpec
from . import gke, rdma
from .kueue import HUGEPAGES, QUEUE_LABEL, pool_tolerations, topology_levels
from .nodes import NodePoolPlan, gke_pod_networks, node_pool_plans
from .storage import BUCKET_CLAIMS, SHARED_CLAIM

# kubernetes-sigs/jobset tag v0.12.0, commit f22e565ac3cc3265c7c45ef67ecffdc689af5d77 (2026-05-08).
JOBSET_VERSION = "0.12.0"
API = "jobset.x-k8s.io/v1alpha2"
WORKERS = "workers"  # the replicated job's name, part of every pod's hostname

# NVIDIA's PyTorch container from NGC (public, tagged YY.MM-py3, monthly): CUDA, NCCL, PyTorch and torchrun in one
# image. A starting point: pin your own build in production. On EFA pools NCCL also needs AWS's libfabric and the
# aws-ofi-nccl plugin inside the image (the EFA device plugin passes the devices, not the libraries): build on AWS's
# EFA installer or pass --image.
DEFAULT_IMAGE = "nvcr.io/nvidia/pytorch:25.10-py3"
DEFAULT_COMMAND = ("train.py",)  # what torchrun starts on every GPU: the script and its arguments
# Two nodes unless asked: the smallest job that crosses the fabric, admitted soonest, and cheap if started by
# mistake. A whole pool (up to size.max) is one flag away; JobSet restarts every pod when one fails, so the larger
# the job the more a single bad node costs, which is a choice to make knowingly.
DEFAULT_NODES = 2
MASTER_PORT = 29500  # torchrun's default rendezvous port
# What the node keeps for itself (kubelet, system daemons, device plugins, CSI node pods): the pod asks for the rest.
HEADROOM = 0.9
# Restarts of the whole set for failures of the job itself; a node taken away (spot) does not count (failure policy).
MAX_RESTARTS = 3
# <name>-workers-<job>-<pod>-<5 random> must stay a 63-character DNS label (JobSet's webhook refuses longer ones;
# pkg/webhooks/jobset_webhook.go); a JobSet name is a DNS-1035 label.
_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$")

# EFA (libfabric) in pods. FI_PROVIDER=efa keeps libfabric from falling back to TCP without a word. RDMA reads from
# GPU memory (GPUDirect RDMA) exist on the P4d/P4de and P5 families' EFA (awsome-distributed-training
# 1.architectures/efa-cheatsheet.md: harmless there with newer libfabric, needed with aws-ofi-nccl 1.6) and, derived,
# P6; not on G5/G6/G6e, where asking for them is reported to abort the ranks. NCCL's own sockets (bootstrap) go over
# the pod's interface, eth0 (VPC CNI); the EFA devices are not network interfaces in the pod.
EFA_ENV = {"FI_PROVIDER": "efa", "NCCL_SOCKET_IFNAME": "eth0"}
EFA_RDMA_FAMILIES = ("p4d", "p4de", "p5", "p5e", "p5en", "p6-b200", "p6-b300")

# GKE: the NVIDIA libraries (and the GPUDirect NCCL plugins their installers add) on the node
# (container-engine-accelerators @992db81, gpudirect-*/nccl-*-installer.yaml and nccl-test*.yaml).
HOST_NVIDIA = "/home/kubernetes/bin/nvidia"
NVIDIA_LIB = "/usr/local/nvidia/lib64"
# GPUDirect-TCPX (A3 High): the receive-datapath daemon (CEA gpudirect-tcpx/nccl-test-latest.yaml; pairs with the
# installer nccl-plugin-gpudirecttcpx-dev:v3.1.9) and NCCL's settings from its nccl-config.yaml (for a3-highgpu-8g).
TCPX_DAEMON_IMAGE = "us-docker.pkg.dev/gce-ai-infra/gpudirect-tcpx/tcpgpudmarxd-dev:v2.0.12"
TCPX_SOCKET_DIR = "/run/tcpx"
TCPX_ENV = {
    "NCCL_SOCKET_IFNAME": "eth0", "NCCL_GPUDIRECTTCPX_CTRL_DEV": "eth0",
    "NCCL_CROSS_NIC": "0", "NCCL_NET_GDR_LEVEL": "PIX", "NCCL_P2P_PXN_LEVEL": "0",
    "NCCL_ALGO": "Ring,Tree", "NCCL_PROTO": "Simple",
    "NCCL_DYNAMIC_CHUNK_SIZE": "524288", "NCCL_P2P_NET_CHUNKSIZE": "524288", "NCCL_P2P_PCI_CHUNKSIZE": "524288",
    "NCCL_P2P_NVL_CHUNKSIZE": "1048576", "NCCL_BUFFSIZE": "4194304",
    "NCCL_NSOCKS_PERTHREAD": "4", "NCCL_SOCKET_NTHREADS": "1",
    "NCCL_GPUDIRECTTCPX_TX_BINDINGS": "eth1:8-21,112-125;eth2:8-21,112-125;eth3:60-73,164-177;eth4:60-73,164-177",
    "NCCL_GPUDIRECTTCPX_RX_BINDINGS": "eth1:22-35,126-139;eth2:22-35,126-139;eth3:74-87,178-191;eth4:74-87,178-191",
    "NCCL_GPUDIRECTTCPX_PROGRAM_FLOW_STEERING_WAIT_MICROS": "500000",
    # The daemon's socket directory, mounted here in the trainer too (the samples mount it over /tmp, the plugin's
    # default; Cluster Toolkit's A3 High Slurm guide sets this variable instead).
    "NCCL_GPUDIRECTTCPX_UNIX_CLIENT_PREFIX": TCPX_SOCKET_DIR,
}
# GPUDirect-TCPXO (A3 Mega): the daemon of the release of Jan 9, 2026, which must match the installer's
# (nccl-plugin-gpudirecttcpx-dev:v1.0.15; CEA gpudirect-tcpxo/README.md), and NCCL's settings from the profile script
# the installer puts beside the plugin (README "NCCL configs"; best-practice.md).
TCPXO_DAEMON_IMAGE = "us-docker.pkg.dev/gce-ai-infra/gpudirect-tcpxo/tcpgpudmarxd-dev:v1.0.21"
APERTURE_DEVICES = "/dev/aperture_devices"
# GPUDirect RDMA (A3 Ultra, A4): the gIB plugin the installer copied to the node (gke.HOST_GIB), and its NCCL settings
# script (CEA gpudirect-rdma/nccl-test.yaml; XPK src/xpk/core/workload_decorators/rdma_decorator.py).
GIB_DIR = "/usr/local/gib"


class JobTemplateError(ValueError):
    """A flag the template cannot honour; the message names the flag, the value and what is allowed."""


@dataclass
class PodFabric:
    """What a pool's fabric adds to the pod: settings for the trainer, pod annotations, host volumes, native sidecars,
    and a script the trainer sources before torchrun starts."""

    env: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    volumes: list[dict[str, Any]] = field(default_factory=list)
    mounts: list[dict[str, Any]] = field(default_factory=list)
    sidecars: list[dict[str, Any]] = field(default_factory=list)
    setup: str | None = None


def job_template(spec: ClusterSpec, pool: str | None = None, nodes: int | None = None, team: str | None = None,
                 image: str = DEFAULT_IMAGE, command: Sequence[str] = DEFAULT_COMMAND,
                 name: str = "train", within: str | None = None) -> dict[str, Any]:
    """A JobSet running `torchrun <command>` on `nodes` whole nodes of `pool`, in `team`'s namespace and queue.

    Defaults: the first GPU pool in queue order (reserved, spot, on-demand, flex-start), DEFAULT_NODES nodes (at most
    the pool's size.max), the first team. Without `pool` the job selects the pool's instance type and tolerates every
    pool of that type, so Kueue may place it on any of them in queue order; with `pool` it is pinned to that pool.
    Raises JobTemplateError for what cannot be made: no `kubernetes:` section, an unknown pool or team, a node count
    outside 1..size.max, a name JobSet would refuse."""
    if spec.kubernetes is None:
        raise JobTemplateError("the stack's cluster has no `kubernetes:` section: its pools are VM groups, not node "
                               "pools; job-template needs a stack with `kubernetes:`")
    node_pool = choose_pool(spec, pool)
    nodes = choose_nodes(node_pool, nodes)
    team = choose_team(spec, team)
    if not _NAME.match(name):
        raise JobTemplateError(f"--name {name!r}: use 1-40 lowercase letters, digits and '-', starting with a letter "
                               "and ending with a letter or digit")
    if not command:
        raise JobTemplateError("--command is empty: give the program torchrun starts on every GPU and its "
                               "arguments, e.g. --command 'train.py --epochs 3'")
    return {
        "apiVersion": API,
        "kind": "JobSet",
        "metadata": {"name": name, "namespace": team, "labels": {QUEUE_LABEL: team}},
        "spec": {
            # Pods reach each other by hostname, and rank 0's name resolves before it is ready (the defaults, said
            # here because the rendezvous depends on them).
            "network": {"enableDNSHostnames": True, "publishNotReadyAddresses": True},
            "failurePolicy": failure_policy(),
            "replicatedJobs": [{
                "name": WORKERS,
                "replicas": 1,
                "template": {"spec": {
                    "parallelism": nodes, "completions": nodes, "completionMode": "Indexed",
                    "backoffLimit": 0,  # a failed pod fails the Job, and JobSet restarts the whole set
                    "podFailurePolicy": {"rules": [{
                        # A pod that failed because its node went away (spot reclaim, drain, node lost) fails the Job
                        # with reason PodFailurePolicy, which the JobSet rule restarts without counting.
                        "action": "FailJob", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}]},
                    "template": pod_template(spec, node_pool, pinned=pool is not None, name=name, nodes=nodes,
                                             image=image, command=command, team=team, within=within),
                }},
            }],
        },
    }


def choose_pool(spec: ClusterSpec, name: str | None) -> NodePoolPlan:
    """The named pool, or the first GPU pool in queue order."""
    pools = node_pool_plans(spec)
    gpu_pools = [p for p in pools if p.accelerator == "gpu" and p.gpus_per_node]
    if name is None:
        if not gpu_pools:
            raise JobTemplateError("--pool: the stack has no GPU pool to run a PyTorch job on")
        return gpu_pools[0]
    chosen = next((p for p in pools if p.name == name), None)
    if chosen is None:
        raise JobTemplateError(f"--pool {name!r}: the stack has no such pool; its pools: "
                               f"{', '.join(p.name for p in pools)}")
    if chosen not in gpu_pools:
        raise JobTemplateError(f"--pool {name!r}: the pool has no NVIDIA GPUs; GPU pools: "
                               f"{', '.join(p.name for p in gpu_pools) or 'none'}")
    return chosen


def choose_nodes(pool: NodePoolPlan, nodes: int | None) -> int:
    size = pool.plan.pool.size.max
    if nodes is None:
        return min(DEFAULT_NODES, size)
    if not 1 <= nodes <= size:
        raise JobTemplateError(f"--nodes {nodes}: pool '{pool.name}' has at most {size} nodes; give 1 to {size}")
    return nodes


def choose_team(spec: ClusterSpec, team: str | None) -> str:
    teams = [t.name for t in spec.kubernetes.teams]
    if team is None:
        return teams[0]
    if team not in teams:
        raise JobTemplateError(f"--team {team!r}: the stack has no such team; its teams: {', '.join(teams)}")
    return team


def failure_policy() -> dict[str, Any]:
    """Up to MAX_RESTARTS restarts of the whole set for failures of the job itself; restarts after a node was taken
    away (the pod's DisruptionTarget condition, through the Job's podFailurePolicy) do not count, so a spot job is not
    failed for good by reclaims (JobSet site/static/examples/failure-policy/host-maintenance-event-model.yaml)."""
    return {
        "maxRestarts": MAX_RESTARTS,
        "rules": [{"name": "node-lost", "action": "RestartJobSetAndIgnoreMaxRestarts",
                   "onJobFailureReasons": ["PodFailurePolicy"]}],
    }


def placement(spec: ClusterSpec, pool: NodePoolPlan, pinned: bool) -> tuple[dict[str, str], list[dict[str, str]]]:
    """(nodeSelector, tolerations). Pinned: the pool's own selector and tolerations. Otherwise the pool's instance type
    and the tolerations of every pool of that type, so Kueue may admit the job to any of their flavors in queue order
    and adds that flavor's labels; only where all those pools have the same fabric setting (the pod's network
    annotations depend on it)."""
    same_type = [p for p in node_pool_plans(spec)
                 if p.instance_type_label and p.instance_type_label == pool.instance_type_label]
    if pinned or len(same_type) < 2 or any(p.plan.fabric != pool.plan.fabric for p in same_type):
        return dict(pool.selector), pool_tolerations(spec, pool)
    tolerations: list[dict[str, str]] = []
    for toleration in (t for p in same_type for t in pool_tolerations(spec, p)):
        if toleration not in tolerations:
            tolerations.append(toleration)
    return dict(pool.instance_type_label), tolerations


def resources(spec: ClusterSpec, pool: NodePoolPlan) -> dict[str, dict[str, str]]:
    """One node's worth: every GPU and EFA device, the EFA huge pages, the RDMA devices a pod takes (a slot of each
    shared resource, or a VF per port), and CPU and memory a little under the node's.
    Devices and huge pages must be limited as requested; memory is, so a leak kills the pod, not the node; CPU is not,
    so data loaders may use the headroom without CFS throttling (nothing else runs there)."""
    fabric = rdma.pool_fabric(spec, pool.plan.pool) if pool.rdma else None
    rdma_requests = rdma.pod_requests(spec, fabric) if fabric else {}
    devices = {resource: str(rdma_requests.get(resource, count)) for resource, count in pool.per_node().items()}
    hugepages = {HUGEPAGES: f"{pool.hugepages_mib_per_node}Mi"} if pool.hugepages_mib_per_node else {}
    memory = f"{int(pool.memory_gib * 1024 * HEADROOM)}Mi"
    return {
        "requests": {"cpu": str(int(pool.cpus * HEADROOM)), "memory": memory, **devices, **hugepages},
        "limits": {"memory": memory, **devices, **hugepages},
    }


def storage(spec: ClusterSpec, name: str) -> tuple[list[dict], list[dict], dict[str, str]]:
    """(volumes, mounts, env): a memory-backed /dev/shm, the scratch space, the shared file system and the buckets,
    and CHECKPOINT_DIR where the job's checkpoints go."""
    # NCCL and data loaders share memory through /dev/shm; a container's default is 64 MiB.
    volumes: list[dict] = [{"name": "shm", "emptyDir": {"medium": "Memory"}}]
    mounts: list[dict] = [{"name": "shm", "mountPath": "/dev/shm"}]
    if spec.storage.scratch:  # a node's ephemeral storage is its local NVMe (EKS RAID0, GKE local SSD)
        volumes.append({"name": "scratch", "emptyDir": {}})
        mounts.append({"name": "scratch", "mountPath": spec.storage.scratch.mount})
    if spec.storage.shared:
        volumes.append({"name": "shared", "persistentVolumeClaim": {"claimName": SHARED_CLAIM}})
        mounts.append({"name": "shared", "mountPath": spec.storage.shared.mount})
    if spec.storage.buckets:
        for role, claim in BUCKET_CLAIMS.items():
            read_only = role == "datasets"  # checkpoints are written; datasets only read
            volumes.append({"name": role, "persistentVolumeClaim": {"claimName": claim, "readOnly": read_only}})
            mounts.append({"name": role, "mountPath": f"/{role}", "readOnly": read_only})
    directory = checkpoint_directory(spec, name)
    return volumes, mounts, ({"CHECKPOINT_DIR": directory} if directory else {})


def checkpoint_directory(spec: ClusterSpec, name: str) -> str | None:
    """Where the job writes checkpoints: the shared file system, else the checkpoints bucket, a folder per job."""
    if spec.storage.shared:
        return f"{spec.storage.shared.mount}/checkpoints/{name}"
    if spec.storage.buckets:
        return f"/{BUCKET_CLAIMS['checkpoints']}/{name}"
    return None


def transport(spec: ClusterSpec, pool: NodePoolPlan) -> str:
    """The pool's fabric as pods use it: "efa", a GCP transport (catalog `fabric.transport`), "rdma" (an existing
    cluster's InfiniBand or RoCE), or "none"."""
    if spec.cloud == "kubernetes":
        return "rdma" if pool.rdma else "none"
    if spec.cloud == "aws":
        return "efa" if pool.efa_per_node else "none"
    return pool.plan.instance.fabric.transport if pool.plan.fabric else "none"


def pod_fabric(spec: ClusterSpec, pool: NodePoolPlan, team: str) -> PodFabric:
    kind = transport(spec, pool)
    if kind == "efa":
        return efa_fabric(pool)
    if kind == "rdma":
        return rdma_fabric(spec, pool, team)
    fabric = {"gpudirect-tcpx": tcpx_fabric, "gpudirect-tcpxo": tcpxo_fabric, "gpudirect-rdma": gib_fabric}.get(kind)
    return fabric(pool) if fabric else PodFabric()


def efa_fabric(pool: NodePoolPlan) -> PodFabric:
    rdma = {"FI_EFA_USE_DEVICE_RDMA": "1"} if pool.plan.instance.family in EFA_RDMA_FAMILIES else {}
    return PodFabric(env={**EFA_ENV, **rdma})


def rdma_fabric(spec: ClusterSpec, pool: NodePoolPlan, team: str) -> PodFabric:
    """InfiniBand or RoCE through the Network Operator's devices. NCCL's sockets (bootstrap) stay on the pod's own
    interface, eth0. NCCL_IB_HCA names the node type's compute HCAs exactly ('=' prefix) where they are known and the
    pod sees the node's devices (shared plugin): a DGX's storage NICs are RDMA devices too, and NCCL refuses to mix
    InfiniBand and RoCE devices in one job. GPUDirect RDMA through DMA-BUF, or through nvidia-peermem when chosen."""
    fabric = rdma.pool_fabric(spec, pool.plan.pool)
    env = {"NCCL_SOCKET_IFNAME": "eth0",
           "NCCL_DMABUF_ENABLE": "1" if rdma.settings(spec).gpu_direct == "dma-buf" else "0"}
    hcas = [rail.hca for rail in fabric.rails]
    if rdma.settings(spec).devices == "shared" and hcas and all(hcas):
        env["NCCL_IB_HCA"] = "=" + ",".join(hcas)
    networks = [rdma.team_network_name(team, name) for name in rdma.pod_networks(spec, fabric)]
    return PodFabric(env=env, annotations={rdma.NETWORKS_ANNOTATION: ",".join(networks)} if networks else {})


def topology_annotation(spec: ClusterSpec, within: str | None) -> dict[str, str]:
    """Kueue topology-aware scheduling: keep the pods within one domain of `within` (required), else as close as the
    free nodes allow, starting from the coarsest level (preferred). Nothing where the cluster has no topology."""
    levels = topology_levels(spec)
    if within is not None:
        if within not in levels:
            allowed = ", ".join(levels) or "none: the stack's kubernetes.topology is empty"
            raise JobTemplateError(f"--within {within!r}: not a topology level of the cluster; levels: {allowed}")
        return {"kueue.x-k8s.io/podset-required-topology": within}
    return {"kueue.x-k8s.io/podset-preferred-topology": levels[0]} if levels else {}


def gke_network_annotations(pool: NodePoolPlan) -> dict[str, str]:
    """The pod's interfaces: eth0 on the cluster's network, then one per GPU NIC on the Network object the cluster
    defines for it (GKE multi-networking; names from gke_pod_networks, as gke.network_objects names the objects)."""
    interfaces = [{"interfaceName": "eth0", "network": "default"}] + [
        {"interfaceName": nic, "network": network} for nic, network in gke_pod_networks(pool.plan)]
    return {"networking.gke.io/default-interface": "eth0", "networking.gke.io/interfaces": json.dumps(interfaces)}


def _device_list(gpus: int, *extra: str) -> str:
    """The devices GKE's device injector gives a daemon container (annotation devices.gke.io/container.<name>)."""
    paths = [*(f"/dev/nvidia{i}" for i in range(gpus)), "/dev/nvidiactl", "/dev/nvidia-uvm", *extra]
    return "".join(f"- path: {path}\n" for path in paths)


def _host_volume(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "hostPath": {"path": path}}


def _daemon_host_mounts() -> tuple[list[dict], list[dict]]:
    """The host's /sys and /proc/sys, which the TCPX(O) daemons configure the NICs' flows through."""
    volumes = [_host_volume("sys", "/sys"), _host_volume("proc-sys", "/proc/sys")]
    mounts = [{"name": "sys", "mountPath": "/hostsysfs"}, {"name": "proc-sys", "mountPath": "/hostprocsysfs"}]
    return volumes, mounts


def tcpx_fabric(pool: NodePoolPlan) -> PodFabric:
    """A3 High: the TCPX daemon beside the trainer. A native sidecar (an init container that keeps running), so the
    pod completes when training does, as XPK's tcpx decorator runs it (workload_decorators/tcpx_decorator.py)."""
    nics = [nic for nic, _ in gke_pod_networks(pool.plan)]
    host_volumes, host_mounts = _daemon_host_mounts()
    daemon = {
        "name": "tcpx-daemon",
        "image": TCPX_DAEMON_IMAGE,
        "restartPolicy": "Always",
        "command": ["/tcpgpudmarxd/build/app/tcpgpudmarxd", "--gpu_nic_preset", "a3vm", "--gpu_shmem_type", "fd",
                    "--uds_path", TCPX_SOCKET_DIR, "--setup_param", '"--verbose 128 2 0 "'],
        "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}},
        "env": [{"name": "LD_LIBRARY_PATH", "value": NVIDIA_LIB}],
        "volumeMounts": [{"name": "nvidia-lib", "mountPath": NVIDIA_LIB},
                         {"name": "tcpx-socket", "mountPath": TCPX_SOCKET_DIR}, *host_mounts],
    }
    return PodFabric(
        env={"LD_LIBRARY_PATH": NVIDIA_LIB, **TCPX_ENV, "NCCL_GPUDIRECTTCPX_SOCKET_IFNAME": ",".join(nics)},
        annotations={**gke_network_annotations(pool),
                     "devices.gke.io/container.tcpx-daemon": _device_list(pool.gpus_per_node)},
        volumes=[_host_volume("nvidia-lib", f"{HOST_NVIDIA}/lib64"), _host_volume("tcpx-socket", TCPX_SOCKET_DIR),
                 *host_volumes],
        mounts=[{"name": "nvidia-lib", "mountPath": NVIDIA_LIB}, {"name": "tcpx-socket", "mountPath": TCPX_SOCKET_DIR}],
        sidecars=[daemon],
    )


def tcpxo_fabric(pool: NodePoolPlan) -> PodFabric:
    """A3 Mega: the TCPXO daemon as a native sidecar (CEA gpudirect-tcpxo/best-practice.md, "Automatic Sidecar
    Termination", GKE 1.29 and later), with the startup probe that practice gives it, so the trainer starts once the
    daemon is ready; NCCL's settings from the installer's profile (NCCL_LIB_DIR, nccl-env-profile.sh)."""
    nics = len(gke_pod_networks(pool.plan))
    host_volumes, host_mounts = _daemon_host_mounts()
    daemon = {
        "name": "tcpxo-daemon",
        "image": TCPXO_DAEMON_IMAGE,
        "restartPolicy": "Always",
        "command": ["/bin/sh", "-c"],
        "args": ["set -ex\nchmod 755 /fts/entrypoint_rxdm_container.sh\n"
                 f"/fts/entrypoint_rxdm_container.sh --num_hops=2 --num_nics={nics}"],
        "securityContext": {"capabilities": {"add": ["NET_ADMIN", "NET_BIND_SERVICE"]}},
        "env": [{"name": "LD_LIBRARY_PATH", "value": NVIDIA_LIB},
                # The daemon writes this file once it has initialised (about 30 s); no file, no start.
                {"name": "HEALTH_CHECK_LOG_FILE", "value": "/run/health-check"}],
        "startupProbe": {"exec": {"command": ["cat", "/run/health-check"]}, "initialDelaySeconds": 1,
                         "periodSeconds": 5, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 6},
        "volumeMounts": [{"name": "nvidia-lib", "mountPath": NVIDIA_LIB}, *host_mounts],
    }
    return PodFabric(
        env={"LD_LIBRARY_PATH": NVIDIA_LIB, "NCCL_LIB_DIR": NVIDIA_LIB,
             "NCCL_FASTRAK_LLCM_DEVICE_DIRECTORY": APERTURE_DEVICES},
        annotations={**gke_network_annotations(pool),
                     "devices.gke.io/container.tcpxo-daemon": _device_list(pool.gpus_per_node,
                                                                           "/dev/dmabuf_import_helper")},
        volumes=[_host_volume("nvidia-lib", f"{HOST_NVIDIA}/lib64"), _host_volume("aperture-devices", APERTURE_DEVICES),
                 *host_volumes],
        mounts=[{"name": "nvidia-lib", "mountPath": NVIDIA_LIB},
                {"name": "aperture-devices", "mountPath": APERTURE_DEVICES}],
        sidecars=[daemon],
        setup="source ${NCCL_LIB_DIR}/nccl-env-profile.sh",
    )


def gib_fabric(pool: NodePoolPlan) -> PodFabric:
    """A3 Ultra, A4: NCCL's gIB plugin from the node, its settings from the script it ships."""
    return PodFabric(
        env={"LD_LIBRARY_PATH": NVIDIA_LIB},
        annotations=gke_network_annotations(pool),
        volumes=[_host_volume("nvidia", HOST_NVIDIA), _host_volume("gib", gke.HOST_GIB)],
        mounts=[{"name": "nvidia", "mountPath": "/usr/local/nvidia"}, {"name": "gib", "mountPath": GIB_DIR}],
        setup=f"source {GIB_DIR}/scripts/set_nccl_env.sh",
    )


def trainer_command(name: str, nodes: int, pool: NodePoolPlan, command: Sequence[str], setup: str | None) -> list[str]:
    """torchrun with one process per GPU and a static rendezvous at rank 0; the node rank is the pod's completion
    index ($(VAR) is expanded by the kubelet from the container's environment). A fabric's setup script is sourced
    by a shell first, whose exec then hands the process over to torchrun."""
    torchrun = [
        "torchrun", f"--nnodes={nodes}", f"--nproc-per-node={pool.gpus_per_node}",
        "--node-rank=$(JOB_COMPLETION_INDEX)", f"--master-addr={name}-{WORKERS}-0-0.{name}",
        f"--master-port={MASTER_PORT}", *command,
    ]
    if setup is None:
        return torchrun
    return ["/bin/bash", "-c", f"{setup} && exec {shlex.join(torchrun)}"]


def pod_template(spec: ClusterSpec, pool: NodePoolPlan, pinned: bool, name: str, nodes: int, image: str,
                 command: Sequence[str], team: str, within: str | None = None) -> dict[str, Any]:
    node_selector, tolerations = placement(spec, pool, pinned)
    volumes, mounts, storage_env = storage(spec, name)
    fabric = pod_fabric(spec, pool, team)
    annotations = {**fabric.annotations, **topology_annotation(spec, within)}
    if spec.cloud == "gcp" and spec.storage.buckets:
        annotations["gke-gcsfuse/volumes"] = "true"  # the GCS FUSE CSI driver injects its sidecar into such pods
    env = {"NCCL_DEBUG": "WARN", **fabric.env, **storage_env}
    trainer = {
        "name": "trainer",
        "image": image,
        "command": trainer_command(name, nodes, pool, command, fabric.setup),
        "ports": [{"containerPort": MASTER_PORT, "name": "rendezvous"}],
        "env": [{"name": key, "value": value} for key, value in env.items()],
        "resources": resources(spec, pool),
        # NCCL and libfabric pin (lock) their buffers in memory; without IPC_LOCK a container may lock only 64 KiB.
        "securityContext": {"capabilities": {"add": ["IPC_LOCK"]}},
        "volumeMounts": [*mounts, *fabric.mounts],
    }
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",  # a failed worker fails its Job; JobSet then restarts the whole set
        "nodeSelector": node_selector,
        "tolerations": tolerations,
        **({"initContainers": fabric.sidecars} if fabric.sidecars else {}),
        "containers": [trainer],
        "volumes": [*volumes, *fabric.volumes],
    }
    return {**({"metadata": {"annotations": annotations}} if annotations else {}), "spec": pod_spec}
