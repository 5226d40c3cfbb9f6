"""GCP price refresh against Cloud Billing Catalog answers recorded in the API's JSON shape (Sku resources)."""

from __future__ import annotations

import json
import shutil

import pytest
from google.cloud import billing_v1

from gpucluster import catalog
from gpucluster.cost import prices, refresh

REGION = "us-central1"
# Unit prices (USD) of the recorded SKUs, per family: core per vCPU-hour, RAM per GiB-hour, GPU per GPU-hour.
UNITS = {
    "a2-highgpu": (0.031611, 0.004237, 2.933908),
    "a2-ultragpu": (0.031611, 0.004237, 3.92),
    "a3-highgpu": (0.029159, 0.002594, 10.98),
    "a3-megagpu": (0.029159, 0.002594, 10.65),
    "a3-ultragpu": (0.034, 0.0031, 9.3),
    "a4-highgpu": (0.036, 0.0033, 11.06),
    "g2-standard": (0.024988, 0.002928, 0.56),
}
# Families priced by another's SKUs (sku_match in the GCP price file): A2 Mega by A2 High's, A3 Edge by A3 High's.
UNITS |= {"a2-megagpu": UNITS["a2-highgpu"], "a3-edgegpu": UNITS["a3-highgpu"]}
SPOT_SHARE = 0.4  # recorded spot SKUs cost this share of on demand, for families that sell spot


def sku(sku_id: str, description: str, group: str, usage: str, unit: str, usd: float, region: str = REGION) -> billing_v1.Sku:
    units, nanos = int(usd), round((usd - int(usd)) * 1e9)
    return billing_v1.Sku.from_json(json.dumps({
        "name": f"{refresh.COMPUTE_SERVICE}/skus/{sku_id}", "skuId": sku_id, "description": description,
        "category": {"serviceDisplayName": "Compute Engine", "resourceFamily": "Compute", "resourceGroup": group, "usageType": usage},
        "serviceRegions": [region],
        "pricingInfo": [{"effectiveTime": "2026-11-01T00:00:00Z", "pricingExpression": {
            "usageUnit": unit, "displayQuantity": 1, "baseUnit": unit, "baseUnitConversionFactor": 1,
            "tieredRates": [{"startUsageAmount": 0, "unitPrice": {"currencyCode": "USD", "units": str(units), "nanos": nanos}}]}}],
    }))


def recorded_skus(spot_families: set[str]) -> list[billing_v1.Sku]:
    book = prices.load("gcp")
    answer, seen = [], set()
    for family, (core, ram, gpu) in UNITS.items():
        match = book.sku_match[family]
        for usage, share, prefix in (("OnDemand", 1.0, ""), ("Preemptible", SPOT_SHARE, refresh.SPOT_PREFIX)):
            if usage == "Preemptible" and family not in spot_families:
                continue
            for key, group, unit, price in (("core", "CPU", "h", core), ("ram", "RAM", "GiBy.h", ram), ("gpu", "GPU", "h", gpu)):
                description = f"{prefix}{match[key]} running in Americas"
                if description not in seen:  # families may share a SKU (A2 High and Ultra share core and RAM)
                    seen.add(description)
                    answer.append(sku(f"{family}-{usage}-{key}", description, group, usage, unit, price * share))
    answer.append(sku("other", "N2 Instance Core running in Americas", "CPU", "OnDemand", "h", 0.03))  # not ours
    return answer


class RecordedCatalog:
    def __init__(self, skus):
        self.skus = skus
        self.parents = []

    def list_skus(self, parent):
        self.parents.append(parent)
        return iter(self.skus)


@pytest.fixture
def price_copy(tmp_path):
    path = tmp_path / "gcp.yaml"
    shutil.copy(prices.price_file("gcp"), path)
    return path


def test_machine_prices_are_their_sku_sums(price_copy):
    client = RecordedCatalog(recorded_skus(spot_families={"a3-megagpu", "g2-standard"}))
    book = refresh.refresh_gcp([REGION], client, path=price_copy, progress=lambda *a: None)
    assert client.parents == [refresh.COMPUTE_SERVICE]
    offered = [t for t in catalog.load("gcp") if REGION in t.zones]
    assert {t.name for t in offered} == set(book.instances[REGION])
    for machine in offered:
        core, ram, gpu = UNITS[machine.name.rsplit("-", 1)[0]]
        expected = machine.vcpus * core + machine.memory_gib * ram + machine.gpus * gpu
        entry = book.instance(REGION, machine.name)
        assert entry.on_demand == pytest.approx(expected, abs=1e-3), machine.name
        family = machine.name.rsplit("-", 1)[0]
        assert (entry.spot is not None) == (family in {"a3-megagpu", "g2-standard"})
        if entry.spot is not None:
            assert entry.spot == pytest.approx(expected * SPOT_SHARE, abs=1e-3)
    assert prices.parse(price_copy.read_text()) == book
    assert book.sku_match == prices.load("gcp").sku_match


@pytest.mark.parametrize(
    "spoil, message",
    [
        (lambda skus: [s for s in skus if "Nvidia H200" not in s.description], "no OnDemand GPU SKU in us-central1 starts with 'Nvidia H200 141GB GPU'"),
        (lambda skus: skus + [skus[0]], "2 OnDemand CPU SKUs"),
        (lambda skus: [], "returned no Compute Engine SKUs"),
        (lambda skus: [billing_v1.Sku(sku_id=s.sku_id, description=s.description, category=s.category, service_regions=s.service_regions)
                       for s in skus], "has no price"),
    ],
)
def test_incomplete_answers_leave_the_file_untouched(price_copy, spoil, message):
    before = price_copy.read_bytes()
    with pytest.raises(refresh.RefreshError, match=message):
        refresh.refresh_gcp([REGION], RecordedCatalog(spoil(recorded_skus(set()))), path=price_copy, progress=lambda *a: None)
    assert price_copy.read_bytes() == before
