"""`gpucluster job-template`: a JobSet (jobset.x-k8s.io/v1alpha2, JobSet v0.12.0) for a multi-node PyTorch job that fills
whole nodes of one pool, submitted to a team's Kueue queue.

Layout (JobSet's PyTorch example and the Indexed Job pattern): one replicated job `workers` with one Job of N pods,
one pod per node; the node rank is the pod's completion index; rank 0 is reachable at
`<name>-workers-0-0.<name>` through the headless service JobSet creates.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..spec import ClusterSpec
from . import gke
from .nodes import NodePoolPlan, gke_pod_networks, node_pool_plans
from .storage import BUCKET_CLAIMS, SHARED_CLAIM

API = "jobset.x-k8s.io/v1alpha2"
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
# NVIDIA's PyTorch container from NGC (monthly releases, tagged YY.MM-py3): CUDA, NCCL and torchrun in one image.
# Pin your own build in production.
DEFAULT_IMAGE = "nvcr.io/nvidia/pytorch:25.10-py3"
MASTER_PORT = 29500  # torchrun's default
RANK_ANNOTATION = "batch.kubernetes.io/job-completion-index"
# What the node keeps for itself (kubelet, system daemons, the device plugins): the pod asks for the rest.
HEADROOM = 0.9
_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$")  # <name>-workers-<i>-<j> must stay a DNS label

# libfabric on EFA (EKS user guide, "Run machine learning training on Amazon EKS with Elastic Fabric Adapter"; AWS's
# NCCL tests for EKS): the EFA provider, GPUDirect RDMA reads where the NIC supports them, fork-safe buffers.
EFA_ENV = {"FI_PROVIDER": "efa", "FI_EFA_USE_DEVICE_RDMA": "1", "FI_EFA_FORK_SAFE": "1", "NCCL_DEBUG": "WARN"}


# GKE A3 Ultra and A4 (container-engine-accelerators gpudirect-rdma NCCL test): the NVIDIA libraries GKE installs on
# the node, and the gIB plugin's directory with its environment script.
GIB_DIR = "/usr/local/gib"
GIB_ENV = {"LD_LIBRARY_PATH": "/usr/local/nvidia/lib64"}


class JobTemplateError(ValueError):
    """A flag the template cannot honour; the message names the flag, the value and what is allowed."""


def _pool(spec: ClusterSpec, name: str | None) -> NodePoolPlan:
    pools = node_pool_plans(spec)
    if name is None:
        return pools[0]
    for pool in pools:
        if pool.name == name:
            return pool
    raise JobTemplateError(f"--pool {name!r}: the stack has no such pool; its pools: {', '.join(p.name for p in pools)}")


def _quantity_mib(mib: float) -> str:
    return f"{int(mib)}Mi"


def _resources(pool: NodePoolPlan) -> dict[str, dict[str, Any]]:
    instance = pool.plan.instance
    requests: dict[str, Any] = {
        "cpu": str(int(instance.vcpus * HEADROOM)),
        "memory": _quantity_mib(instance.memory_gib * 1024 * HEADROOM),
        **{resource: str(count) for resource, count in pool.per_node().items()},
    }
    if pool.hugepages_mib_per_node:
        requests["hugepages-2Mi"] = f"{pool.hugepages_mib_per_node}Mi"
    return {"requests": requests, "limits": dict(requests)}  # equal: the pod gets the node's devices, guaranteed


def _volumes(spec: ClusterSpec) -> tuple[list[dict], list[dict]]:
    volumes = [{"name": "shm", "emptyDir": {"medium": "Memory"}}]  # NCCL and data loaders share memory through /dev/shm
    mounts = [{"name": "shm", "mountPath": "/dev/shm"}]
    storage = spec.storage
    if storage.scratch:  # the node's ephemeral storage is its NVMe RAID0 array
        volumes.append({"name": "scratch", "emptyDir": {}})
        mounts.append({"name": "scratch", "mountPath": storage.scratch.mount})
    if storage.shared:
        volumes.append({"name": "shared", "persistentVolumeClaim": {"claimName": SHARED_CLAIM}})
        mounts.append({"name": "shared", "mountPath": storage.shared.mount})
    if storage.buckets:
        for role, claim in BUCKET_CLAIMS.items():
            volumes.append({"name": role, "persistentVolumeClaim": {"claimName": claim, "readOnly": role == "datasets"}})
            mounts.append({"name": role, "mountPath": f"/{role}", "readOnly": role == "datasets"})
    return volumes, mounts


def checkpoint_directory(spec: ClusterSpec, name: str) -> str | None:
    """Where the job writes checkpoints: the shared file system, else the checkpoints bucket, per job."""
    if spec.storage.shared:
        return f"{spec.storage.shared.mount}/checkpoints/{name}"
    if spec.storage.buckets:
        return f"/checkpoints/{name}"
    return None


def job_template(spec: ClusterSpec, pool: str | None = None, nodes: int | None = None, team: str | None = None,
                 name: str = "train", image: str = DEFAULT_IMAGE, script: str = "train.py") -> dict[str, Any]:
    if spec.kubernetes is None:
        raise JobTemplateError("the stack's cluster has no `kubernetes:` section: its pools are VM groups, not node pools")
    node_pool = _pool(spec, pool)
    size = node_pool.plan.pool.size.max
    nodes = size if nodes is None else nodes
    if not 1 <= nodes <= size:
        raise JobTemplateError(f"--nodes {nodes}: pool '{node_pool.name}' has at most {size} nodes; give 1 to {size}")
    teams = [t.name for t in spec.kubernetes.teams]
    team = teams[0] if team is None else team
    if team not in teams:
        raise JobTemplateError(f"--team {team!r}: the stack's teams are {', '.join(teams)}")
    if not _NAME.match(name):
        raise JobTemplateError(f"--name {name!r}: use 1-40 lowercase letters, digits and '-', starting with a letter")

    # The pool's instance type, not the pool: Kueue then admits the job to the first flavor of that type with room
    # (the reservation, then spot, then on-demand) and adds that pool's labels; the job tolerates all their taints.
    type_label = node_pool.instance_type_label
    siblings = [p for p in node_pool_plans(spec) if type_label and p.instance_type_label == type_label] or [node_pool]
    selector = type_label or node_pool.selector
    tolerations = []
    for taint in (t for p in siblings for t in p.taints):
        if taint.toleration() not in tolerations:
            tolerations.append(taint.toleration())
    checkpoints = checkpoint_directory(spec, name)
    volumes, mounts = _volumes(spec)
    rdma = spec.cloud == "gcp" and gke.transport(node_pool) == "gpudirect-rdma"
    env = [
        {"name": "NODE_RANK", "valueFrom": {"fieldRef": {"fieldPath": f"metadata.annotations['{RANK_ANNOTATION}']"}}},
        *({"name": k, "value": v} for k, v in (EFA_ENV if node_pool.efa_per_node else {}).items()),
        *({"name": k, "value": v} for k, v in (GIB_ENV if rdma else {}).items()),
        *([{"name": "CHECKPOINT_DIR", "value": checkpoints}] if checkpoints else []),
    ]
    torchrun = [
        "torchrun", f"--nnodes={nodes}", f"--nproc-per-node={node_pool.gpus_per_node}", "--node-rank=$(NODE_RANK)",
        f"--master-addr={name}-workers-0-0.{name}", f"--master-port={MASTER_PORT}", script,
    ]
    command = torchrun
    annotations: dict[str, str] = {}
    if rdma:  # NCCL's gIB plugin sets its own environment from a script the installer put on the node
        command = ["/bin/bash", "-c", f"source {GIB_DIR}/scripts/set_nccl_env.sh && exec {' '.join(torchrun)}"]
        volumes += [{"name": "gib", "hostPath": {"path": gke.HOST_GIB}},
                    {"name": "nvidia", "hostPath": {"path": "/home/kubernetes/bin/nvidia"}}]
        mounts += [{"name": "gib", "mountPath": GIB_DIR}, {"name": "nvidia", "mountPath": "/usr/local/nvidia"}]
        annotations["networking.gke.io/default-interface"] = "eth0"
        annotations["networking.gke.io/interfaces"] = json.dumps(
            [{"interfaceName": "eth0", "network": "default"}]
            + [{"interfaceName": nic, "network": network} for nic, network in gke_pod_networks(node_pool.plan)])
    if spec.cloud == "gcp" and spec.storage.buckets:
        annotations["gke-gcsfuse/volumes"] = "true"  # the GCS FUSE driver injects its sidecar into annotated pods
    pod = {
        "metadata": {"labels": {QUEUE_LABEL: team}, **({"annotations": annotations} if annotations else {})},
        "spec": {
            "restartPolicy": "Never",  # a failed worker fails its Job; JobSet then restarts the whole set
            "nodeSelector": selector,
            "tolerations": tolerations,
            "containers": [{
                "name": "trainer",
                "image": image,
                "command": command,
                "ports": [{"containerPort": MASTER_PORT, "name": "rendezvous"}],
                "env": env,
                "resources": _resources(node_pool),
                # NCCL and libfabric pin (lock) their buffers; without IPC_LOCK the limit is 64 KiB.
                "securityContext": {"capabilities": {"add": ["IPC_LOCK"]}},
                "volumeMounts": mounts,
            }],
            "volumes": volumes,
        },
    }
    return {
        "apiVersion": API,
        "kind": "JobSet",
        "metadata": {"name": name, "namespace": team, "labels": {QUEUE_LABEL: team}},
        "spec": {
            "network": {"enableDNSHostnames": True, "publishNotReadyAddresses": True},
            # Spot nodes go away: restart the set from its last checkpoint a few times before giving up.
            "failurePolicy": {"maxRestarts": 3},
            "replicatedJobs": [{
                "name": "workers",
                "replicas": 1,
                "template": {"spec": {
                    "parallelism": nodes, "completions": nodes, "completionMode": "Indexed", "backoffLimit": 0,
                    "template": pod,
                }},
            }],
        },
    }

