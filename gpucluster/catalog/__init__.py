"""The hardware catalog: accelerated instance types per cloud, with the sources of every figure."""

from __future__ import annotations

import difflib
from functools import cache
from importlib import resources

from ..yamlio import safe_load
from .models import (
    Accelerator,
    AcceleratorKind,
    Architecture,
    AwsFabric,
    CapacityType,
    Cloud,
    GcpFabric,
    InstanceType,
    LinkType,
    LocalDisks,
    MetalFabric,
    Nic,
    Source,
)

__all__ = [
    "Accelerator",
    "AcceleratorKind",
    "Architecture",
    "AwsFabric",
    "CapacityType",
    "Catalog",
    "Cloud",
    "GcpFabric",
    "InstanceType",
    "LinkType",
    "LocalDisks",
    "MetalFabric",
    "Nic",
    "Source",
    "load",
]


class Catalog:
    """All instance types of one cloud, looked up by name."""

    def __init__(self, cloud: Cloud, types: list[InstanceType]):
        self.cloud = cloud
        self._types = {t.name: t for t in types}

    def __contains__(self, name: str) -> bool:
        return name in self._types

    def __getitem__(self, name: str) -> InstanceType:
        return self._types[name]

    def __iter__(self):
        return iter(self._types.values())

    def names(self) -> list[str]:
        return sorted(self._types)

    def closest(self, name: str, limit: int = 3) -> list[str]:
        return difflib.get_close_matches(name, self.names(), n=limit, cutoff=0.5)

    def regions(self) -> set[str]:
        return {region for t in self for region in t.zones}


@cache
def load(cloud: Cloud) -> Catalog:
    text = resources.files(__package__).joinpath(f"data/{cloud}.yaml").read_text()
    raw = safe_load(text)
    sources = {key: Source(**value) for key, value in raw["sources"].items()}
    types = []
    for entry in raw["instance_types"]:
        entry = dict(entry, cloud=cloud, sources=tuple(sources[key] for key in entry["sources"]))
        types.append(InstanceType.model_validate(entry))
    return Catalog(cloud, types)
