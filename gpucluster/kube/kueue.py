"""Kueue objects and chart values: a flavor per pool, one cluster queue that tries the pools in order, a local queue
per team. Pure dicts, no Pulumi: the workloads component applies them, the tests check them against Kueue's CRDs.

API `kueue.x-k8s.io/v1beta2` of Kueue v0.19.2 (apis/kueue/v1beta2/*_types.go; the storage version since v0.16,
v1beta1 is still served but deprecated, CHANGELOG-0.16.md).

Why the queue looks the way it does:
- A flavor per pool, selecting the pool's nodes by the pool's labels and tolerating its taints, so an admitted job
  lands on the pool Kueue counted it against, and lands on spot nodes only when admitted to a spot flavor (Kueue
  injects the admitted flavor's node labels and tolerations into the job's pods).
- One resource group, flavors in queue order: capacity already paid for (capacity blocks, reservations), then spot,
  then on-demand, then flex-start. Kueue assigns the first flavor in that order where the job fits, so the order of the
  pools in the spec does not matter, only their capacity source.
- Quotas are each pool at its maximum size, so Kueue admits no more than the pools can hold.
"""

from __future__ import annotations

from typing import Any

import yaml

from ..spec import ClusterSpec
from .nodes import EFA_RESOURCE, NodePoolPlan, Taint, node_pool_plans

# kubernetes-sigs/kueue tag v0.19.2, commit 8eab68778fc1b52affe165fdf5af29d1e9b4f3cb (2026-08-20); the Helm chart
# oci://registry.k8s.io/kueue/charts/kueue of the same version (charts/kueue/README.md at that tag).
KUEUE_VERSION = "0.19.2"
API = "kueue.x-k8s.io/v1beta2"
CONFIG_API = "config.kueue.x-k8s.io/v1beta2"
HUGEPAGES = "hugepages-2Mi"
# What a job sets to enter a LocalQueue (site/content/en/docs/tasks/run/jobsets.md at v0.19.2).
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"

# GKE taints the nodes of a queued-provisioning (flex-start) node pool itself; pods there must tolerate it
# (Cluster Toolkit examples/gke-a4/nccl-jobset-example.yaml, XPK src/xpk/core/capacity.py).
GKE_QUEUED_TAINT = Taint("cloud.google.com/gke-queued", "true")
FLEX_START_CHECK = "flex-start"  # the AdmissionCheck and ProvisioningRequestConfig for GKE flex-start flavors

# The chart's own manager configuration (charts/kueue/values.yaml, managerConfig.controllerManagerConfigYaml, at
# v0.19.2): the values replace that YAML whole, so what it sets is kept here and only the rest is ours.
_CHART_MANAGER_CONFIG = {
    "health": {"healthProbeBindAddress": ":8081"},
    "metrics": {"bindAddress": ":8443"},
    "webhook": {"port": 9443},
    "leaderElection": {"leaderElect": True, "resourceName": "c1f6bfd2.kueue.x-k8s.io"},
    "controller": {"groupKindConcurrency": {
        "Job.batch": 5, "Pod": 5, "Workload.kueue.x-k8s.io": 10, "LocalQueue.kueue.x-k8s.io": 5,
        "ClusterQueue.kueue.x-k8s.io": 5, "ResourceFlavor.kueue.x-k8s.io": 1}},
    "clientConnection": {"qps": 300, "burst": 500},
}
# The kinds jobs are submitted as here: Jobs, and JobSets (the job template). Listing only these keeps Kueue's
# webhooks off the kinds nobody queues (the chart's default list adds Ray, MPI, Pods, Deployments, ...).
FRAMEWORKS = ["batch/job", "jobset.x-k8s.io/jobset"]

# waitForPodsReady (apis/config/v1beta2/configuration_types.go at v0.19.2; defaults in defaults.go).
WAIT_FOR_PODS_READY = {
    # An admitted job whose pods are not all running after this long (spot dried up while its nodes were coming, a
    # node failed) is evicted and requeued, and its quota goes to others. Long enough for a multi-GB training image
    # to be pulled onto a fresh GPU node; Kueue's default is 30m.
    "timeout": "10m",
    # Other jobs are admitted while one waits for its pods: true would hold the whole queue behind one slow start.
    "blockAdmission": False,
    "requeuingStrategy": {
        "timestamp": "Eviction",  # the backoff counts from the eviction, not from the job's creation
        # null: requeue for ever. A count deactivates the job once it is reached (Workload .spec.active=false), and
        # nothing brings it back when spot capacity returns, so a spot job would be lost for good (kubernetes-sigs/kueue
        # issue #15255). Set explicitly (null is also Kueue's default) so the choice shows in the rendered values.
        "backoffLimitCount": None,
        # Exponential backoff from a minute (Kueue's default base), capped at an hour between tries: a job waiting
        # out dry spot still comes back within the hour after capacity returns.
        "backoffBaseSeconds": 60,
        "backoffMaxSeconds": 3600,
    },
}


def kueue_values(spec: ClusterSpec) -> dict[str, Any]:
    """Helm values for the Kueue chart: the manager configuration (`config.kueue.x-k8s.io/v1beta2` Configuration)
    with the JobSet integration on and `waitForPodsReady` set deliberately: a job whose pods do not all start within
    10 minutes is evicted and requeued, without holding up other admissions, and it is requeued for ever
    (`backoffLimitCount: null`) with a backoff from 1 minute capped at 1 hour. A finite count would deactivate a spot
    job for good while spot capacity is dry, and it would not come back when capacity returns (kubernetes-sigs/kueue
    #15255)."""
    configuration = {
        "apiVersion": CONFIG_API,
        "kind": "Configuration",
        **_CHART_MANAGER_CONFIG,
        "waitForPodsReady": WAIT_FOR_PODS_READY,
        "integrations": {"frameworks": FRAMEWORKS},
    }
    return {"managerConfig": {"controllerManagerConfigYaml": yaml.safe_dump(configuration, sort_keys=False)}}


def pool_tolerations(spec: ClusterSpec, pool: NodePoolPlan) -> list[dict[str, str]]:
    """What a pod needs to tolerate to run on the pool's nodes: the pool's taints (accelerator, spot) and, on GKE
    flex-start pools, the taint GKE puts on queued-provisioning nodes."""
    taints = list(pool.taints)
    if spec.cloud == "gcp" and pool.source == "flex-start":
        taints.append(GKE_QUEUED_TAINT)
    return [taint.toleration() for taint in taints]


def resource_flavors(spec: ClusterSpec) -> list[dict[str, Any]]:
    """A ResourceFlavor per pool, named after it: its node labels select the pool, its tolerations are the pool's."""
    topology = {"topologyName": spec.name} if topology_levels(spec) else {}
    return [{
        "apiVersion": API, "kind": "ResourceFlavor",
        "metadata": {"name": pool.name},
        "spec": {"nodeLabels": dict(pool.selector), "tolerations": pool_tolerations(spec, pool), **topology},
    } for pool in node_pool_plans(spec)]


HOSTNAME_LABEL = "kubernetes.io/hostname"


def topology_levels(spec: ClusterSpec) -> list[str]:
    """Existing clusters: the spec's fabric levels, coarsest first, then the node itself (Kueue allows the hostname as
    the last level only, and then honours node taints; concepts/topology.md at v0.19.2)."""
    levels = spec.kubernetes.topology if spec.kubernetes else []
    return [*levels, HOSTNAME_LABEL] if levels else []


def topology(spec: ClusterSpec) -> list[dict[str, Any]]:
    """The cluster's Topology, named after it, which every flavor names: Kueue then admits a job only where its pods
    fit within the domains it asks for (topology-aware scheduling, on by default since v0.14)."""
    levels = topology_levels(spec)
    if not levels:
        return []
    return [{"apiVersion": API, "kind": "Topology", "metadata": {"name": spec.name},
             "spec": {"levels": [{"nodeLabel": label} for label in levels]}}]


def covered_resources(pools: list[NodePoolPlan]) -> list[str]:
    """Every resource a job may request: Kueue does not admit a job that requests a resource its queue does not
    cover. cpu and memory, each accelerator resource, and the EFA devices and the huge pages libfabric uses where any
    pool has EFA."""
    devices = sorted({resource for pool in pools for resource in pool.per_node()} - {EFA_RESOURCE})
    fabric = [EFA_RESOURCE, HUGEPAGES] if any(pool.efa_per_node for pool in pools) else []
    return ["cpu", "memory", *devices, *fabric]


def per_node_quantities(pool: NodePoolPlan) -> dict[str, int]:
    """What one node of the pool offers, in the units the quota counts: vCPUs, MiB of memory and huge pages, devices."""
    return {
        "cpu": pool.cpus,
        "memory": int(pool.memory_gib * 1024),  # MiB: whole, where a fraction of a GiB would be cut off
        HUGEPAGES: pool.hugepages_mib_per_node,
        **pool.per_node(),
    }


def nominal_quota(pool: NodePoolPlan, resource: str) -> int | str:
    """The pool at its maximum size: size.max times what one node offers (0 where the pool has none of it)."""
    total = per_node_quantities(pool).get(resource, 0) * pool.plan.pool.size.max
    return f"{total}Mi" if resource in ("memory", HUGEPAGES) else total


def flex_start_flavors(spec: ClusterSpec) -> list[str]:
    """GKE flex-start pools: their nodes come through a ProvisioningRequest per job (queued provisioning)."""
    if spec.cloud != "gcp":
        return []
    return [pool.name for pool in node_pool_plans(spec) if pool.source == "flex-start"]


def cluster_queue(spec: ClusterSpec) -> dict[str, Any]:
    """The cluster's one ClusterQueue, named after the cluster, over every pool."""
    pools = node_pool_plans(spec)
    resources = covered_resources(pools)
    queue_spec: dict[str, Any] = {
        # Only the teams' namespaces may submit (the API server labels every namespace kubernetes.io/metadata.name).
        "namespaceSelector": {"matchExpressions": [{
            "key": "kubernetes.io/metadata.name", "operator": "In",
            "values": [team.name for team in spec.kubernetes.teams]}]},
        "queueingStrategy": "BestEffortFIFO",  # a big job waiting for room does not hold up small ones behind it
        # A job that does not fit the first flavor is tried on the next one anyway; these two make Kueue also move on
        # where it could borrow (a cohort joined later) or preempt in the current flavor, rather than stop there: the
        # next pool with free room beats evicting someone (whenCanBorrow's default is MayStopSearch;
        # concepts/cluster_queue.md, "FlavorFungibility").
        "flavorFungibility": {"whenCanBorrow": "TryNextFlavor", "whenCanPreempt": "TryNextFlavor"},
        "resourceGroups": [{
            "coveredResources": resources,
            # Flavors in node_pool_plans order (reserved, spot, on-demand, flex-start): the order Kueue tries them.
            "flavors": [{"name": pool.name,
                         "resources": [{"name": r, "nominalQuota": nominal_quota(pool, r)} for r in resources]}
                        for pool in pools],
        }],
    }
    if flavors := flex_start_flavors(spec):
        # The check runs only for jobs assigned a flex-start flavor; the others are admitted on quota alone.
        queue_spec["admissionChecksStrategy"] = {"admissionChecks": [{"name": FLEX_START_CHECK, "onFlavors": flavors}]}
    return {"apiVersion": API, "kind": "ClusterQueue", "metadata": {"name": spec.name}, "spec": queue_spec}


def flex_start_checks(spec: ClusterSpec) -> list[dict[str, Any]]:
    """GKE flex-start: a ProvisioningRequestConfig asking for `queued-provisioning.gke.io` capacity, and the
    AdmissionCheck that uses it (Kueue docs, concepts/admission_check/provisioning_request.md; GKE's values as XPK's
    templates/kueue_config.yaml.j2 sets them). Kueue admits such a job only once GKE has the nodes for all its pods,
    and pins the pods to those nodes through the request's name."""
    if not flex_start_flavors(spec):
        return []
    config = {
        "apiVersion": API, "kind": "ProvisioningRequestConfig", "metadata": {"name": FLEX_START_CHECK},
        "spec": {
            "provisioningClassName": "queued-provisioning.gke.io",
            "managedResources": ["nvidia.com/gpu"],
            "podSetUpdates": {"nodeSelector": [{"key": "autoscaling.gke.io/provisioning-request",
                                                "valueFromProvisioningClassDetail": "ResizeRequestName"}]},
        },
    }
    check = {
        "apiVersion": API, "kind": "AdmissionCheck", "metadata": {"name": FLEX_START_CHECK},
        "spec": {"controllerName": "kueue.x-k8s.io/provisioning-request",
                 "parameters": {"apiGroup": "kueue.x-k8s.io", "kind": "ProvisioningRequestConfig",
                                "name": FLEX_START_CHECK}},
    }
    return [config, check]


def local_queues(spec: ClusterSpec) -> list[dict[str, Any]]:
    """One LocalQueue per team, named after it, in its namespace: a job sets `kueue.x-k8s.io/queue-name: <team>`."""
    return [{"apiVersion": API, "kind": "LocalQueue", "metadata": {"name": team.name, "namespace": team.name},
             "spec": {"clusterQueue": spec.name}} for team in spec.kubernetes.teams]


def queue_objects(spec: ClusterSpec) -> list[dict[str, Any]]:
    """Every Kueue object, in an order that can be applied: what a ClusterQueue names (flavors, checks) before it,
    and the LocalQueues that name it after it."""
    return [*topology(spec), *resource_flavors(spec), *flex_start_checks(spec), cluster_queue(spec), *local_queues(spec)]
