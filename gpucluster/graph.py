"""Reading the previewed resource graph: links between resources, regions, tags, and what a group launches.

Pulumi-free, so the cost model and the policies (which see the same resources through the policy SDK, converted
to this shape by `gpucluster.policies.common.as_graph`) share one reading. Resources are dicts in the shape of
the preview JSON (README, "Preview JSON"): `urn`, `type`, `name`, `parent`, `provider`, `inputs`, and
`dependencies` (input name -> URNs that input's value came from). Related resources are found through those
links only, never through names, sort order or a shared parent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SCALES = ("min", "desired", "max")
COMPUTED = "<computed>"
GCS_BUCKET = "gcp:storage/bucket:Bucket"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
INSTANCE_TEMPLATE = "gcp:compute/instanceTemplate:InstanceTemplate"
GCS_MULTI_REGIONS = {"US", "EU", "ASIA"}
_GCP_ZONE = re.compile(r"^([a-z]+-[a-z]+\d+)-[a-z]$")
_DEFAULT_PROVIDER = re.compile(r"^default(_\d+_\d+_\d+.*)?$")  # the engine's names: default, default_7_10_0


def is_default_provider(type_: str, name: str) -> bool:
    """Whether a resource is a package's default provider, which the engine registers (not the program)."""
    return type_.startswith("pulumi:providers:") and _DEFAULT_PROVIDER.match(name) is not None


def _known(value: Any) -> bool:
    return isinstance(value, str) and value not in ("", COMPUTED)


def region_of(type_: str, inputs: Mapping[str, Any], provider_inputs: Mapping[str, Any] | None) -> str | None:
    """Where a resource lands: its own region argument (a GCS bucket's location, a GCP zone's region), else its
    provider's (explicit or default). The one decision the cost model and the sovereignty pack both use."""
    if type_ == GCS_BUCKET and _known(inputs.get("location")):
        location = str(inputs.get("location"))
        return location.upper() if location.upper() in GCS_MULTI_REGIONS else location.lower()
    if _known(inputs.get("region")):
        return str(inputs.get("region"))
    if type_.startswith("gcp:"):
        for key in ("zone", "location"):
            value = inputs.get(key)
            if _known(value):
                zone = _GCP_ZONE.match(str(value))
                return zone.group(1) if zone else str(value)
    region = (provider_inputs or {}).get("region")
    return str(region) if _known(region) else None


class Graph:
    """Previewed resources with their links: what an input depends on, what depends on a resource, providers."""

    def __init__(self, resources: Iterable[Mapping[str, Any]]):
        self.resources = list(resources)
        self.by_urn = {r["urn"]: r for r in self.resources}
        self._referrers: dict[tuple[str, str], list[Mapping[str, Any]]] | None = None
        self._default_providers = {
            r["type"].rsplit(":", 1)[-1]: r for r in self.resources
            if is_default_provider(r["type"], r["name"])
        }

    def of_type(self, *types: str) -> list[Mapping[str, Any]]:
        return [r for r in self.resources if r["type"] in types]

    def linked(self, resource: Mapping[str, Any], *inputs: str, type_: str | tuple[str, ...] | None = None) -> list[Mapping[str, Any]]:
        """The resources the given inputs of `resource` depend on (optionally only those of `type_`, one or several)."""
        dependencies = resource.get("dependencies") or {}
        found = [self.by_urn[u] for name in inputs for u in dependencies.get(name, ()) if u in self.by_urn]
        wanted = (type_,) if isinstance(type_, str) else type_
        return [r for r in found if wanted is None or r["type"] in wanted]

    def referrers(self, resource: Mapping[str, Any], type_: str, input_name: str) -> list[Mapping[str, Any]]:
        """Resources of `type_` whose input `input_name` depends on `resource` (a bucket's settings, say)."""
        if self._referrers is None:
            self._referrers = {}
            for r in self.resources:
                for name, urns in (r.get("dependencies") or {}).items():
                    for urn in urns:
                        self._referrers.setdefault((urn, name), []).append(r)
        return [r for r in self._referrers.get((resource["urn"], input_name), ()) if r["type"] == type_]

    def provider(self, resource: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The explicit provider a resource names, else its package's default provider."""
        explicit = resource.get("provider")
        if explicit:
            return self.by_urn.get(explicit)
        return self._default_providers.get(resource["type"].split(":", 1)[0])

    def region(self, resource: Mapping[str, Any]) -> str | None:
        provider = self.provider(resource)
        return region_of(resource["type"], resource["inputs"], provider["inputs"] if provider else None)

    def template_of(self, group: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The launch or instance template a group launches: the one its template inputs depend on."""
        templates = self.linked(group, "launchTemplate", "mixedInstancesPolicy", "versions", type_=(LAUNCH_TEMPLATE, INSTANCE_TEMPLATE))
        return templates[0] if templates else None


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
