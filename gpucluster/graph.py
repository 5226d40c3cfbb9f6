"""Reading resources of the previewed graph: tags, and what an auto scaling group launches. Pulumi-free, so the
cost model and the policies (which see the same properties, wrapped) share one reading."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SCALES = ("min", "desired", "max")


def tags_of(props: Mapping[str, Any]) -> dict[str, str] | None:
    """A resource's tags (GCP: labels), or None when it takes none. Auto scaling groups list theirs."""
    key = "tags" if "tags" in props else "labels" if "labels" in props else None
    if key is None:
        return None
    tags = props.get(key) or {}
    if isinstance(tags, Sequence) and not isinstance(tags, str):
        return {t["key"]: t["value"] for t in tags}
    return dict(tags)


@dataclass(frozen=True)
class GroupNodes:
    """An AWS auto scaling group's nodes by scale, split by how they are bought."""

    instance_type: str | None
    nodes: dict[str, int]
    on_demand: dict[str, int]
    spot: dict[str, int]
    capacity_block: bool
    reserved: bool

    @property
    def markets(self) -> dict[str, dict[str, int]]:
        if self.capacity_block:
            return {"capacity-block": self.nodes}
        return {"on-demand": self.on_demand, "spot": self.spot}


def group_nodes(group: Mapping[str, Any], template: Mapping[str, Any] | None) -> GroupNodes:
    """What a group launches, from its properties and its launch template's."""
    template = template or {}
    policy = group.get("mixedInstancesPolicy") or {}
    overrides = (policy.get("launchTemplate") or {}).get("overrides") or []
    instance_type = template.get("instanceType") or (overrides[0].get("instanceType") if overrides else None)
    low = int(group.get("minSize", 0))
    nodes = {"min": low, "desired": int(group.get("desiredCapacity", low)), "max": int(group.get("maxSize", 0))}
    distribution = policy.get("instancesDistribution") or {}
    base = int(distribution.get("onDemandBaseCapacity", 0))
    above = int(distribution.get("onDemandPercentageAboveBaseCapacity", 100))
    spot = {s: round(max(0, n - base) * (100 - above) / 100) for s, n in nodes.items()}
    capacity_block = (template.get("instanceMarketOptions") or {}).get("marketType") == "capacity-block"
    reservation = group.get("capacityReservationSpecification") or {}
    return GroupNodes(
        instance_type=instance_type,
        nodes=nodes,
        on_demand={s: nodes[s] - spot[s] for s in SCALES},
        spot=spot,
        capacity_block=capacity_block,
        reserved=capacity_block or bool(reservation.get("capacityReservationPreference")),
    )
