"""Kueue objects and chart values: a flavor per pool, one cluster queue that tries the pools in order, a local queue
per team. Pure dicts (Kueue v0.19.2 API `kueue.x-k8s.io/v1beta2`, apis/kueue/v1beta2/*_types.go).

Why the queue looks the way it does:
- A flavor per pool, selecting the pool's nodes by label and tolerating its taints, so an admitted job lands on the
  pool Kueue counted it against (and may land on spot nodes only when admitted to the spot flavor).
- The flavors are listed reserved first, then spot, then on-demand: Kueue assigns the first flavor with room, so
  capacity already paid for is used first and full price last. `whenCanBorrow: TryNextFlavor` keeps the search going
  instead of borrowing.
- Quotas are each pool at its maximum size, so Kueue admits no more than the pools can hold.
- `waitForPodsReady` requeues a job whose pods do not all start (spot dried up mid-start) and frees its quota for
  others; `backoffLimitCount` is left unset (endless requeues, capped at an hour between tries), because a finite count
  deactivates the job for good and it never comes back when spot returns (kubernetes-sigs/kueue issue #15255).
"""

from __future__ import annotations

from typing import Any

import yaml

from ..spec import ClusterSpec
from .nodes import EFA_RESOURCE, NodePoolPlan, node_pool_plans

API = "kueue.x-k8s.io/v1beta2"
HUGEPAGES = "hugepages-2Mi"
WAIT_FOR_PODS_READY = {
    "timeout": "10m",  # pulling a multi-GB training image onto a fresh GPU node takes minutes
    "blockAdmission": False,  # other jobs may start while one waits for its pods
    "requeuingStrategy": {"timestamp": "Eviction", "backoffBaseSeconds": 60, "backoffMaxSeconds": 3600},
}


def kueue_values(spec: ClusterSpec) -> dict[str, Any]:
    configuration = {
        "apiVersion": "config.kueue.x-k8s.io/v1beta2",
        "kind": "Configuration",
        "waitForPodsReady": WAIT_FOR_PODS_READY,
        "integrations": {"frameworks": ["batch/job", "jobset.x-k8s.io/jobset"]},
    }
    return {"managerConfig": {"controllerManagerConfigYaml": yaml.safe_dump(configuration, sort_keys=False)}}


def resource_flavors(spec: ClusterSpec) -> list[dict[str, Any]]:
    return [{
        "apiVersion": API, "kind": "ResourceFlavor",
        "metadata": {"name": pool.name},
        "spec": {"nodeLabels": pool.selector, "tolerations": [t.toleration() for t in pool.taints]},
    } for pool in node_pool_plans(spec)]


def _quota(pool: NodePoolPlan, resource: str) -> str | int:
    nodes = pool.plan.pool.size.max
    instance = pool.plan.instance
    if resource == "cpu":
        return instance.vcpus * nodes
    if resource == "memory":
        return f"{int(instance.memory_gib * nodes)}Gi"
    if resource == HUGEPAGES:
        return f"{pool.hugepages_mib_per_node * nodes}Mi"
    return pool.per_node().get(resource, 0) * nodes


def covered_resources(pools: list[NodePoolPlan]) -> list[str]:
    """Every resource a job may request: Kueue refuses a job that requests one the queue does not cover."""
    devices = sorted({resource for pool in pools for resource in pool.per_node()} - {EFA_RESOURCE})
    fabric = [EFA_RESOURCE, HUGEPAGES] if any(pool.efa_per_node for pool in pools) else []
    return ["cpu", "memory", *devices, *fabric]


def cluster_queue(spec: ClusterSpec) -> dict[str, Any]:
    pools = node_pool_plans(spec)
    resources = covered_resources(pools)
    queue: dict[str, Any] = {
        "apiVersion": API, "kind": "ClusterQueue",
        "metadata": {"name": spec.name},
        "spec": {
            "namespaceSelector": {"matchExpressions": [
                {"key": "kubernetes.io/metadata.name", "operator": "In", "values": [t.name for t in spec.kubernetes.teams]}]},
            "queueingStrategy": "BestEffortFIFO",  # a big job waiting for room does not hold up small ones behind it
            "flavorFungibility": {"whenCanBorrow": "TryNextFlavor", "whenCanPreempt": "TryNextFlavor"},
            "resourceGroups": [{
                "coveredResources": resources,
                "flavors": [{"name": pool.name, "resources": [{"name": r, "nominalQuota": _quota(pool, r)} for r in resources]}
                            for pool in pools],
            }],
        },
    }
    queued = [pool.name for pool in pools if pool.source == "flex-start" and spec.cloud == "gcp"]
    if queued:  # GKE flex-start nodes come through a ProvisioningRequest per job (dynamic workload scheduler)
        queue["spec"]["admissionChecksStrategy"] = {"admissionChecks": [{"name": "flex-start", "onFlavors": queued}]}
    return queue


def flex_start_checks(spec: ClusterSpec) -> list[dict[str, Any]]:
    """GKE: the admission check that asks for flex-start nodes before a job on those flavors is admitted."""
    if not any(pool.source == "flex-start" for pool in node_pool_plans(spec)) or spec.cloud != "gcp":
        return []
    return [
        {"apiVersion": API, "kind": "ProvisioningRequestConfig", "metadata": {"name": "flex-start"},
         "spec": {"provisioningClassName": "queued-provisioning.gke.io", "managedResources": ["nvidia.com/gpu"],
                  "podSetUpdates": {"nodeSelector": [{"key": "autoscaling.gke.io/provisioning-request",
                                                      "valueFromProvisioningClassDetail": "ResizeRequestName"}]}}},
        {"apiVersion": API, "kind": "AdmissionCheck", "metadata": {"name": "flex-start"},
         "spec": {"controllerName": "kueue.x-k8s.io/provisioning-request",
                  "parameters": {"apiGroup": "kueue.x-k8s.io", "kind": "ProvisioningRequestConfig", "name": "flex-start"}}},
    ]


def local_queues(spec: ClusterSpec) -> list[dict[str, Any]]:
    """One per team, named after it, in its namespace: a job sets `kueue.x-k8s.io/queue-name: <team>`."""
    return [{"apiVersion": API, "kind": "LocalQueue", "metadata": {"name": team.name, "namespace": team.name},
             "spec": {"clusterQueue": spec.name}} for team in spec.kubernetes.teams]


def queue_objects(spec: ClusterSpec) -> list[dict[str, Any]]:
    """Everything, in the order it can be applied."""
    return [*resource_flavors(spec), *flex_start_checks(spec), cluster_queue(spec), *local_queues(spec)]
