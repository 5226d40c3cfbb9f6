"""Price books: per cloud, what instances and storage cost per region, and where each figure comes from."""

from __future__ import annotations

from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..catalog import Source
from ..yamlio import safe_load

HOURS_PER_MONTH = 730  # the convention of the clouds' calculators and of Infracost


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InstancePrice(_Strict):
    """USD per instance-hour. Spot is a recent observation; capacity-block is an effective hourly rate."""

    on_demand: float | None = Field(default=None, ge=0)
    spot: float | None = Field(default=None, ge=0)
    capacity_block: float | None = Field(default=None, ge=0)
    sources: tuple[str, ...] = Field(min_length=1)

    def sources_for(self, market: str) -> tuple[str, ...]:
        """The sources behind one market's figure (on-demand, spot, capacity-block). Sources are named for what they
        cover: a `capacity-block-*` source backs the capacity-block rate only, a `spot-*` source the spot figure
        only; the others (list prices, catalogs covering both) back on demand and spot."""
        def market_of(source: str) -> str | None:
            return "capacity-block" if "capacity-block" in source else "spot" if source.startswith("spot") else None

        return tuple(s for s in self.sources if market_of(s) in (None, market))


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
    gcs_gb_month: dict[str, float | list[str]] | None = None  # by storage class; under a region or a multi-region
    cloud_nat_hour: dict[str, float | list[str]] | None = None  # "gateway" (at the 32-VM cap), "per_vm", "ip"
    cloud_nat_gb_processed: dict[str, float | list[str]] | None = None  # usage-billed: listed, never estimated
    cloud_kms_key_version_month: dict[str, float | list[str]] | None = None  # by protection level
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

    def sources_of(self, table: str) -> list[str]:
        return list((getattr(self, table) or {}).get("sources", []))


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

    def source_date(self, key: str) -> date:
        return source_date(self.sources[key].date)


def source_date(text: str) -> date:
    """A source's date as the price files give it: a day (2026-07-20) or a month (2026-08, read as its first day, so
    a price is never taken for younger than it is)."""
    return date.fromisoformat(text if len(text) > 7 else f"{text}-01")


class Finding(_Strict):
    region: str
    instance_type: str
    reason: str


class ImportedPrices(_Strict):
    """A layer of instance prices an importer (gpucluster.cost.skypilot) derived from a public catalog, with the rows
    it refused and the figures it kept out because the book's own figures disagree. It fills the book's gaps: a
    figure the book has always wins."""

    cloud: str
    sources: dict[str, Source]
    instances: dict[str, dict[str, InstancePrice]]
    refused: list[Finding] = Field(default_factory=list)
    disagreements: list[Finding] = Field(default_factory=list)


def merged(book: PriceBook, imported: ImportedPrices) -> PriceBook:
    """The book with the layer's figures where the book has none (per market), each figure keeping its source."""
    raw = book.model_dump(mode="json", exclude_none=True)
    used = set()
    for region, types in imported.instances.items():
        target = raw["instances"].setdefault(region, {})
        for instance_type, price in types.items():
            entry = target.setdefault(instance_type, {"sources": []})
            taken = [m for m in ("on_demand", "spot") if getattr(price, m) is not None and m not in entry]
            for market in taken:
                entry[market] = getattr(price, market)
            if taken:
                entry["sources"] = list(dict.fromkeys([*entry["sources"], *price.sources]))
                used.update(price.sources)
            if not entry["sources"]:
                del target[instance_type]  # nothing taken for a type the book did not have
    raw["sources"].update({k: v.model_dump() for k, v in imported.sources.items() if k in used})
    return PriceBook.model_validate(raw)


def price_file(cloud: str) -> Path:
    return Path(str(resources.files(__package__).joinpath(f"data/{cloud}.yaml")))


def layer_file(cloud: str) -> Path:
    """The imported layer beside the book (python -m gpucluster.cost.skypilot writes it)."""
    return price_file(cloud).with_name(f"{cloud}-skypilot.yaml")


def parse(text: str) -> PriceBook:
    return PriceBook.model_validate(safe_load(text))


@cache
def load(cloud: str) -> PriceBook:
    """The cloud's price file as it is (what `prices refresh` rewrites)."""
    return parse(price_file(cloud).read_text())


def load_layer(cloud: str) -> ImportedPrices | None:
    layer = layer_file(cloud)
    return ImportedPrices.model_validate(safe_load(layer.read_text())) if layer.exists() else None


@cache
def effective(cloud: str) -> PriceBook:
    """The prices the cost model uses: the cloud's book, with its imported layer merged under it."""
    layer = load_layer(cloud)
    return merged(load(cloud), layer) if layer else load(cloud)
