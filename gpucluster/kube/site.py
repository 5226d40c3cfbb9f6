"""The record of an existing cluster's site: a ConfigMap the toolkit applies in the cluster, naming where it is
(region, country), its pools (node type, node count, amortised price) and its power figures. It is the graph's
account of hardware nothing in the graph creates, so the cost model and the sovereignty pack read it like any other
resource (and people and tools in the cluster can too: `kubectl -n kube-system get configmap gpucluster-site`)."""

from __future__ import annotations

import json
from typing import Any

from ..spec import ClusterSpec

RECORD_LABEL = "gpucluster.dev/record"  # value "site": the ConfigMap the cost model and the packs read
RECORD_NAME = "gpucluster-site"
RECORD_NAMESPACE = "kube-system"


def site_record(spec: ClusterSpec) -> dict[str, Any]:
    site = spec.site
    pools = [{"name": pool.name, "nodeType": pool.instance_type, "nodes": pool.size.max,
              "nodeSelector": dict(pool.node_selector), "usdPerNodeHour": pool.usd_per_node_hour}
             for pool in spec.pools]
    data = {
        "cluster": spec.name,
        "region": spec.region,
        "country": site.country,
        "pools": json.dumps(pools, sort_keys=True),
        "tags": json.dumps(spec.tags.as_dict(), sort_keys=True),
    }
    if site.power_usage_effectiveness is not None:
        data["powerUsageEffectiveness"] = f"{site.power_usage_effectiveness:g}"
    if site.usd_per_kwh is not None:
        data["usdPerKwh"] = f"{site.usd_per_kwh:g}"
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": RECORD_NAME, "namespace": RECORD_NAMESPACE, "labels": {RECORD_LABEL: "site"}},
            "data": data}


def is_site_record(resource: dict[str, Any]) -> bool:
    """A ConfigMap of the preview graph (its inputs) that is a site record."""
    labels = ((resource.get("inputs") or {}).get("metadata") or {}).get("labels") or {}
    return resource.get("type") == "kubernetes:core/v1:ConfigMap" and labels.get(RECORD_LABEL) == "site"
