"""What every cluster component outputs, in one shape on every cloud where the concept is the same: its pools, its
GPUs, its network and its storage (README, "Outputs"). The plain parts are decided here, once; the components add
the ids the cloud assigns (a group's name, a VPC's id) and the few figures only one cloud has."""

from __future__ import annotations

from typing import Any

from .plan import PoolPlan, lustre_plan, managed_lustre_plan
from .spec import ClusterSpec


def pool_summary(plan: PoolPlan, owned: bool = False) -> dict[str, Any]:
    """A pool's type, zones, size, GPUs, capacity sources and rollout. The nodes of an existing cluster are owned:
    no capacity source to buy from, and no group that rolls them."""
    pool = plan.pool
    summary = {
        "instanceType": plan.instance.name,
        "zones": list(plan.zones),
        "min": pool.size.min,
        "max": pool.size.max,
        "gpusPerNode": plan.gpus_per_node,
        "capacity": ["owned"] if owned else list(pool.capacity.sources),
    }
    return summary if owned else {**summary, "rollout": "rolling" if plan.rolling else "manual"}


def gpu_totals(plans: list[PoolPlan]) -> dict[str, int]:
    return {"min": sum(p.gpus_per_node * p.pool.size.min for p in plans),
            "max": sum(p.gpus_per_node * p.pool.size.max for p in plans)}


def shared_file_system(spec: ClusterSpec, file_system_id: Any) -> dict[str, Any] | None:
    """The shared file system's id, mount point and size (FSx for Lustre or Managed Lustre), None without one."""
    plan = (lustre_plan if spec.cloud == "aws" else managed_lustre_plan)(spec)
    if plan is None:
        return None
    return {"id": file_system_id, "mount": spec.storage.shared.mount, "capacityGiB": plan.capacity_gib,
            "throughputMBps": round(plan.throughput_mbps)}


def cluster_outputs(spec: ClusterSpec, plans: list[PoolPlan], pools: dict[str, dict[str, Any]],
                    network: dict[str, Any] | None, storage: dict[str, Any] | None) -> dict[str, Any]:
    """A cluster component's outputs: `pools` holds each pool's summary with the component's own keys added. What
    the cluster lacks (a network on an existing cluster, a shared file system) is left out, as the engine leaves
    out a null output."""
    outputs = {
        "cluster": spec.name,
        "cloud": spec.cloud,
        "region": spec.region,
        "pools": {plan.pool.name: {**pool_summary(plan, owned=spec.cloud == "kubernetes"), **pools.get(plan.pool.name, {})}
                  for plan in plans},
        "gpus": gpu_totals(plans),
        "network": network,
        "storage": {k: v for k, v in storage.items() if v is not None} if storage else None,
    }
    return {k: v for k, v in outputs.items() if v is not None}
