"""Price books: per cloud, what instances and storage cost per region, and where each figure comes from."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..catalog import Source

HOURS_PER_MONTH = 730  # the convention of the clouds' calculators and of Infracost


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InstancePrice(_Strict):
    """USD per instance-hour. Spot is a recent observation; capacity-block is an effective hourly rate."""

    on_demand: float | None = Field(default=None, ge=0)
    spot: float | None = Field(default=None, ge=0)
    capacity_block: float | None = Field(default=None, ge=0)
    sources: tuple[str, ...] = Field(min_length=1)


class RegionServices(_Strict):
    """Per-region prices other than instances; each table is {key: USD, "sources": [...]}."""

    fsx_lustre_persistent_2_gb_month: dict[int | str, float | list[str]] | None = None
    s3_gb_month: dict[str, float | list[str]] | None = None
    ebs_gp3_gb_month: dict[str, float | list[str]] | None = None
    nat_gateway_hour: dict[str, float | list[str]] | None = None
    public_ipv4_hour: dict[str, float | list[str]] | None = None
    kms_key_month: dict[str, float | list[str]] | None = None
    eks_cluster_hour: dict[str, float | list[str]] | None = None  # "standard" and "extended" support
    gke_cluster_hour: dict[str, float | list[str]] | None = None
    general_purpose_hour: dict[str, float | list[str]] | None = None  # on-demand, by type: nodes without accelerators

    @field_validator("fsx_lustre_persistent_2_gb_month", mode="before")
    @classmethod
    def _tiers_are_numbers(cls, table: dict | None) -> dict | None:
        # JSON round trips turn the MB/s/TiB tier keys into strings; keep them numbers.
        return {int(k) if str(k).isdigit() else k: v for k, v in table.items()} if table else table

    def price(self, table: str, key: str | int = "price") -> float | None:
        values = getattr(self, table)
        value = values.get(key) if values else None
        return value if isinstance(value, (int, float)) else None


class PriceBook(_Strict):
    cloud: str
    currency: str = "USD"
    sources: dict[str, Source]
    instances: dict[str, dict[str, InstancePrice]] = Field(description="region -> instance type -> price")
    services: dict[str, RegionServices] = Field(default_factory=dict, description="region -> other prices")
    sku_match: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="GCP: machine family -> SKU description prefix for core, ram, gpu"
    )

    @model_validator(mode="after")
    def _sources_exist(self) -> PriceBook:
        used = {s for region in self.instances.values() for p in region.values() for s in p.sources}
        for region in self.services.values():
            for table in region.model_dump().values():
                used.update((table or {}).get("sources", []))
        missing = sorted(used - set(self.sources))
        if missing:
            raise ValueError(f"prices cite sources that are not listed: {missing}")
        return self

    def instance(self, region: str, instance_type: str) -> InstancePrice | None:
        return self.instances.get(region, {}).get(instance_type)

    def region_services(self, region: str) -> RegionServices:
        return self.services.get(region, RegionServices())


def price_file(cloud: str) -> Path:
    return Path(str(resources.files(__package__).joinpath(f"data/{cloud}.yaml")))


def parse(text: str) -> PriceBook:
    return PriceBook.model_validate(yaml.safe_load(text))


@cache
def load(cloud: str) -> PriceBook:
    return parse(price_file(cloud).read_text())
