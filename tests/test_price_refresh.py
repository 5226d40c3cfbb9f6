"""Price refresh: the Price List API through botocore's Stubber (responses in AWS's documented shape) and spot
price history from moto in server mode on loopback. All or nothing: a bad answer leaves the file untouched."""

from __future__ import annotations

import json
import shutil

import boto3
import pytest
from botocore.stub import ANY, Stubber

from gpucluster import catalog, cli
from gpucluster.cost import prices, refresh

REGION = "us-west-2"
TYPES = [t.name for t in catalog.load("aws") if REGION in t.zones]


def product(instance_type: str, usd: str, region: str = REGION) -> str:
    """One Price List product as get_products returns it: a JSON document in a string."""
    sku, term = f"SKU{abs(hash(instance_type)) % 10**8}", "JRTCKXETXF"
    return json.dumps({
        "product": {"productFamily": "Compute Instance", "sku": sku,
                    "attributes": {"instanceType": instance_type, "regionCode": region, "operatingSystem": "Linux",
                                   "tenancy": "Shared", "preInstalledSw": "NA", "capacitystatus": "Used"}},
        "serviceCode": "AmazonEC2",
        "terms": {"OnDemand": {f"{sku}.{term}": {
            "offerTermCode": term, "sku": sku, "effectiveDate": "2026-11-01T00:00:00Z", "termAttributes": {},
            "priceDimensions": {f"{sku}.{term}.6YS6EN2CT7": {
                "unit": "Hrs", "beginRange": "0", "endRange": "Inf", "appliesTo": [], "rateCode": f"{sku}.{term}.6YS6EN2CT7",
                "description": f"${usd} per On Demand Linux {instance_type} Instance Hour",
                "pricePerUnit": {"USD": usd}}}}}},
        "version": "20261101000000", "publicationDate": "2026-11-01T00:00:00Z",
    })



@pytest.fixture
def ec2_for(moto_server, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return lambda region: boto3.client("ec2", region_name=region, endpoint_url=moto_server)


@pytest.fixture
def price_copy(tmp_path):
    path = tmp_path / "aws.yaml"
    shutil.copy(prices.price_file("aws"), path)
    return path


def stubbed_pricing(answers: list[dict]):
    client = boto3.client("pricing", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    for answer in answers:
        stubber.add_response("get_products", answer, {"ServiceCode": "AmazonEC2", "Filters": ANY, "FormatVersion": "aws_v1"})
    stubber.activate()
    return client, stubber


def good_answers() -> list[dict]:
    return [{"PriceList": [product(t, f"{10 + i}.5000000000")], "FormatVersion": "aws_v1"} for i, t in enumerate(TYPES)]


def test_refresh_rewrites_the_region_from_the_apis(price_copy, ec2_for):
    pricing, stubber = stubbed_pricing(good_answers())
    seen = []
    book = refresh.refresh_aws([REGION], pricing, ec2_for, path=price_copy, progress=lambda d, t, label: seen.append((d, t)))
    stubber.assert_no_pending_responses()
    assert seen[-1][0] == seen[-1][1] == len(TYPES) + 1
    reread = prices.parse(price_copy.read_text())
    assert reread == book
    for i, instance_type in enumerate(TYPES):
        entry = reread.instance(REGION, instance_type)
        assert entry.on_demand == 10 + i + 0.5
        assert entry.spot is not None and entry.spot > 0  # moto answers every zone with its placeholder price
        assert set(entry.sources) == {f"on-demand-{REGION}", f"spot-{REGION}"}
    assert reread.sources[f"on-demand-{REGION}"].ref.startswith("AWS Price List API")
    original = prices.load("aws")
    assert reread.instances["us-east-1"] == original.instances["us-east-1"], "other regions are left alone"
    assert reread.services == original.services


def test_capacity_block_rates_survive_a_refresh(price_copy, ec2_for):
    answers = [{"PriceList": [product(t, "1.0", "us-east-1")], "FormatVersion": "aws_v1"}
               for t in catalog.load("aws").names() if "us-east-1" in catalog.load("aws")[t].zones]
    pricing, _ = stubbed_pricing(answers)
    book = refresh.refresh_aws(["us-east-1"], pricing, ec2_for, path=price_copy, progress=lambda *a: None)
    assert book.instance("us-east-1", "p5.48xlarge").capacity_block == prices.load("aws").instance("us-east-1", "p5.48xlarge").capacity_block


@pytest.mark.parametrize(
    "break_it, message",
    [
        (lambda a: a[3].update(PriceList=[]), "expected one Linux on-demand product"),
        (lambda a: a[0].update(PriceList=[json.dumps({"product": {}})]), "malformed Price List product"),
        (lambda a: a[1].update(PriceList=["not json"]), "malformed Price List product"),
        (lambda a: a[2].update(PriceList=[product(TYPES[2], "free")]), "no USD hourly price"),
    ],
)
def test_bad_answers_leave_the_file_untouched(price_copy, ec2_for, break_it, message):
    before = price_copy.read_bytes()
    answers = good_answers()
    break_it(answers)
    pricing, _ = stubbed_pricing(answers)
    with pytest.raises(refresh.RefreshError, match=message):
        refresh.refresh_aws([REGION], pricing, ec2_for, path=price_copy, progress=lambda *a: None)
    assert price_copy.read_bytes() == before


def test_command_reports_failure_and_keeps_the_file(monkeypatch, capsys, ec2_for):
    before = prices.price_file("aws").read_bytes()
    pricing, _ = stubbed_pricing([{"PriceList": [], "FormatVersion": "aws_v1"}])
    monkeypatch.setattr(boto3, "client", lambda service, region_name=None: pricing if service == "pricing" else ec2_for(region_name))
    assert cli.main(["prices", "refresh", "--cloud", "aws", "--region", REGION]) == 1
    assert "the price file is unchanged" in capsys.readouterr().err
    assert prices.price_file("aws").read_bytes() == before
