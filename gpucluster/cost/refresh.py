"""Price refresh from the clouds' own APIs, all or nothing: the price file changes only when every answer
was complete and well formed.

GCP: the Cloud Billing Catalog (Compute Engine SKUs). A machine's price is its vCPUs, memory and GPUs, each
priced by its own SKU, matched by the description prefixes in the GCP price file's `sku_match`.

AWS: the Price List API (`pricing.get_products`: Linux, shared tenancy, no pre-installed software, capacity
status Used, on-demand market) for on-demand prices, and `ec2.describe_spot_price_history` for spot, keeping
per region the highest of the latest price in each zone (a conservative figure for a pool that may land in
any of them). Capacity-block rates and service prices are kept as they are.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from ..catalog import load as load_catalog
from ..refresh_io import Progress, RefreshError, progress_bar, write_atomically
from .prices import PriceBook, parse, price_file

__all__ = ["Progress", "RefreshError", "progress_bar", "refresh_aws", "refresh_gcp"]


def _on_demand_filters(region: str, instance_type: str) -> list[dict[str, str]]:
    fields = {
        "regionCode": region,
        "instanceType": instance_type,
        "operatingSystem": "Linux",
        "tenancy": "Shared",
        "preInstalledSw": "NA",
        "capacitystatus": "Used",
        "marketoption": "OnDemand",
    }
    return [{"Type": "TERM_MATCH", "Field": field, "Value": value} for field, value in fields.items()]


def _hourly_usd(product_json: str, region: str, instance_type: str) -> float:
    where = f"{instance_type} in {region}"
    try:
        product = json.loads(product_json)
        offers = product["terms"]["OnDemand"]
        dimensions = [d for offer in offers.values() for d in offer["priceDimensions"].values()]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RefreshError(f"malformed Price List product for {where}: {type(exc).__name__}: {exc}") from None
    hourly = [d for d in dimensions if d.get("unit") == "Hrs"]
    if len(hourly) != 1:
        raise RefreshError(f"expected one hourly price dimension for {where}, found {len(hourly)}")
    try:
        return float(hourly[0]["pricePerUnit"]["USD"])
    except (KeyError, TypeError, ValueError) as exc:
        raise RefreshError(f"no USD hourly price for {where}: {exc}") from None


def fetch_on_demand(pricing, region: str, instance_type: str) -> float:
    products = []
    for page in pricing.get_paginator("get_products").paginate(
        ServiceCode="AmazonEC2", Filters=_on_demand_filters(region, instance_type), FormatVersion="aws_v1"
    ):
        if "PriceList" not in page:
            raise RefreshError(f"Price List answer for {instance_type} in {region} has no PriceList")
        products.extend(page["PriceList"])
    if len(products) != 1:
        raise RefreshError(f"expected one Linux on-demand product for {instance_type} in {region}, got {len(products)}")
    return _hourly_usd(products[0], region, instance_type)


def fetch_spot(ec2, instance_types: list[str]) -> dict[str, float]:
    """Per type, the highest of the latest spot price of each zone."""
    latest: dict[tuple[str, str], tuple[datetime, float]] = {}
    pages = ec2.get_paginator("describe_spot_price_history").paginate(
        InstanceTypes=instance_types, ProductDescriptions=["Linux/UNIX"], StartTime=datetime.now(timezone.utc)
    )
    for page in pages:
        for entry in page.get("SpotPriceHistory", []):
            try:
                key = (entry["InstanceType"], entry["AvailabilityZone"])
                stamp, price = entry["Timestamp"], float(entry["SpotPrice"])
            except (KeyError, TypeError, ValueError) as exc:
                raise RefreshError(f"malformed spot price history entry {entry!r}: {exc}") from None
            if key not in latest or stamp > latest[key][0]:
                latest[key] = (stamp, price)
    spot: dict[str, float] = {}
    for (instance_type, _zone), (_stamp, price) in latest.items():
        spot[instance_type] = max(price, spot.get(instance_type, 0.0))
    return spot


def refresh_aws(
    regions: list[str],
    pricing,
    ec2_for: Callable[[str], Any],
    path: Path | None = None,
    progress: Progress = progress_bar,
    today: date | None = None,
) -> PriceBook:
    """Fetch every catalog type offered in `regions`, then rewrite the price file in one step."""
    path = path or price_file("aws")
    book = parse(path.read_text())
    catalog = load_catalog("aws")
    stamp = (today or date.today()).isoformat()
    work = [(region, t.name) for region in regions for t in catalog if region in t.zones]
    if not work:
        raise RefreshError(f"no catalog type is offered in {regions}")
    on_demand: dict[tuple[str, str], float] = {}
    for done, (region, instance_type) in enumerate(work, start=1):
        on_demand[(region, instance_type)] = fetch_on_demand(pricing, region, instance_type)
        progress(done, len(work) + len(regions), f"{instance_type} {region}")
    spot: dict[str, dict[str, float]] = {}
    for index, region in enumerate(regions, start=1):
        spot[region] = fetch_spot(ec2_for(region), sorted(t for r, t in work if r == region))
        progress(len(work) + index, len(work) + len(regions), f"spot prices {region}")

    entries: dict[str, dict[str, dict]] = {}
    sources = {}
    for region in regions:
        od_key, spot_key = f"on-demand-{region}", f"spot-{region}"
        sources[od_key] = {"covers": f"on-demand price {region} (Linux, shared tenancy)",
                           "ref": "AWS Price List API, pricing.get_products (AmazonEC2)", "date": stamp}
        sources[spot_key] = {"covers": f"spot price {region}: highest of the latest price per zone",
                             "ref": "EC2 describe_spot_price_history (Linux/UNIX)", "date": stamp}
        entries[region] = {}
        for r, instance_type in work:
            if r == region:
                entry = {"on_demand": on_demand[(region, instance_type)], "sources": [od_key]}
                if instance_type in spot[region]:
                    entry.update(spot=spot[region][instance_type], sources=[od_key, spot_key])
                entries[region][instance_type] = entry
    return _merge_and_write(path, book, entries, sources)


def _merge_and_write(path: Path, book: PriceBook, entries: dict[str, dict[str, dict]], sources: dict[str, dict]) -> PriceBook:
    """Replace the instance prices of the refreshed regions, keep everything else, validate, then write."""
    raw = book.model_dump(mode="json", exclude_none=True)
    raw["sources"].update(sources)
    for region, fresh in entries.items():
        old = raw["instances"].get(region, {})
        for instance_type, entry in fresh.items():
            kept = old.get(instance_type, {})
            if "capacity_block" in kept:  # not in the pricing APIs: keep it with its own source
                entry["capacity_block"] = kept["capacity_block"]
                entry["sources"] = entry["sources"] + [s for s in kept["sources"] if "capacity-block" in s]
        raw["instances"][region] = fresh
    used = {s for r in raw["instances"].values() for p in r.values() for s in p["sources"]}
    used |= {s for r in raw.get("services", {}).values() for table in r.values() for s in table.get("sources", [])}
    raw["sources"] = {k: v for k, v in raw["sources"].items() if k in used}
    refreshed = PriceBook.model_validate(raw)
    _write(path, raw, book.cloud)
    return refreshed


COMPUTE_SERVICE = "services/6F81-5844-456A"  # Compute Engine in the Cloud Billing Catalog
SPOT_PREFIX = "Spot Preemptible "


def _unit_price(sku) -> float:
    try:
        rate = sku.pricing_info[0].pricing_expression.tiered_rates[-1].unit_price  # the tier that applies at scale
    except IndexError:
        raise RefreshError(f"SKU {sku.sku_id} ({sku.description}) has no price") from None
    if rate.currency_code != "USD":
        raise RefreshError(f"SKU {sku.sku_id} is priced in {rate.currency_code!r}, not USD")
    return int(rate.units) + rate.nanos / 1e9


def _find_sku(skus: list, prefix: str, group: str, usage: str, region: str, required: bool):
    found = [
        sku for sku in skus
        if sku.description.removeprefix(SPOT_PREFIX).startswith(prefix)
        and sku.category.resource_group == group and sku.category.usage_type == usage and region in sku.service_regions
    ]
    if len(found) == 1:
        return found[0]
    if found:
        raise RefreshError(f"{len(found)} {usage} {group} SKUs in {region} start with '{prefix}'; expected one")
    if required:
        raise RefreshError(f"no {usage} {group} SKU in {region} starts with '{prefix}' (see sku_match in the GCP price file)")
    return None


def refresh_gcp(
    regions: list[str], client, path: Path | None = None, progress: Progress = progress_bar, today: date | None = None
) -> PriceBook:
    """Machine prices as vCPUs x core + GiB x RAM + GPUs x GPU SKU, on demand and (where sold) spot."""
    path = path or price_file("gcp")
    book = parse(path.read_text())
    catalog = load_catalog("gcp")
    progress(0, 1, "reading the Compute Engine SKUs")
    skus = list(client.list_skus(parent=COMPUTE_SERVICE))
    if not skus:
        raise RefreshError("the Cloud Billing Catalog returned no Compute Engine SKUs")
    stamp = (today or date.today()).isoformat()
    work = [(region, t) for region in regions for t in catalog if region in t.zones]
    entries: dict[str, dict[str, dict]] = {region: {} for region in regions}
    for done, (region, machine) in enumerate(work, start=1):
        family = machine.name.rsplit("-", 1)[0]
        match = book.sku_match.get(family)
        if match is None:
            raise RefreshError(f"no sku_match entry for machine family {family} in the GCP price file")
        prices_by_usage = {}
        for usage in ("OnDemand", "Preemptible"):
            parts = [_find_sku(skus, match[key], group, usage, region, required=usage == "OnDemand")
                     for key, group in (("core", "CPU"), ("ram", "RAM"), ("gpu", "GPU"))]
            if all(parts):
                core, ram, gpu = (_unit_price(p) for p in parts)
                prices_by_usage[usage] = machine.vcpus * core + machine.memory_gib * ram + machine.gpus * gpu
        key = f"billing-catalog-{region}"
        entry = {"on_demand": round(prices_by_usage["OnDemand"], 4), "sources": [key]}
        if "Preemptible" in prices_by_usage:
            entry["spot"] = round(prices_by_usage["Preemptible"], 4)
        entries[region][machine.name] = entry
        progress(done, len(work), f"{machine.name} {region}")
    sources = {
        f"billing-catalog-{region}": {
            "covers": f"on-demand and spot price {region}: vCPU, RAM and GPU SKUs summed",
            "ref": f"Cloud Billing Catalog API, {COMPUTE_SERVICE}/skus", "date": stamp,
        }
        for region in regions
    }
    return _merge_and_write(path, book, entries, sources)


def _write(path: Path, raw: dict, cloud: str) -> None:
    """Write next to the file, then rename: a reader sees the old file or the new one, never half of one."""
    header = f"# {cloud.upper()} prices for the cost model, last rewritten by `gpucluster prices refresh --cloud {cloud}`.\n"
    write_atomically(path, header + yaml.safe_dump(raw, sort_keys=False, width=130, default_flow_style=None))
