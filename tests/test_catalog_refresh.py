"""`gpucluster catalog refresh --cloud aws` against EC2's data as moto serves it over HTTP (moto's server on loopback),
and against answers botocore's Stubber checks against EC2's service model for the answers moto cannot give (malformed,
incomplete, inconsistent ones): the catalog file changes only when every answer was complete and consistent."""

from __future__ import annotations

import copy
import shutil
from functools import cache

import boto3
import pytest
import yaml
from botocore.stub import Stubber
from moto import mock_aws

from gpucluster import catalog, cli
from gpucluster.catalog import refresh
from gpucluster.refresh_io import RefreshError

from .moto_catalog import ORIGIN, clients, shipped_date

SHIPPED = refresh.catalog_file()
QUIET = {"progress": lambda *a: None}


@pytest.fixture
def catalog_copy(tmp_path):
    path = tmp_path / "aws.yaml"
    shutil.copy(SHIPPED, path)
    return path


def test_the_catalog_lists_every_accelerated_type_ec2_offers():
    """Against the data moto's DescribeInstanceTypes and DescribeInstanceTypeOfferings answer from, read whole."""
    from moto.ec2.models.instance_types import INSTANCE_TYPE_OFFERINGS, INSTANCE_TYPES

    offered = {o["InstanceType"] for region in INSTANCE_TYPE_OFFERINGS["availability-zone"].values() for o in region}
    accelerated = {name for name, description in INSTANCE_TYPES.items() if refresh.accelerated(description)}
    assert len(accelerated & offered) > 60  # GPU, Trainium, Inferentia, Qualcomm, FPGA and media types
    assert set(catalog.load("aws").names()) == accelerated & offered


def test_refreshing_some_regions_rebuilds_them_and_keeps_the_others(catalog_copy, moto_server):
    """The shipped file is what a full refresh from moto builds (tests/moto_catalog.py --check rebuilds all of it); a
    region refreshed on the same day gives the same bytes, the other regions' zones kept as they were."""
    refresh.refresh_aws(["eu-north-1"], clients(moto_server), path=catalog_copy, today=shipped_date(),
                        origin=ORIGIN, **QUIET)
    assert catalog_copy.read_bytes() == SHIPPED.read_bytes()


def test_a_region_refreshed_replaces_its_zones_only(catalog_copy, moto_server):
    raw = yaml.safe_load(catalog_copy.read_text())
    p5 = next(t for t in raw["instance_types"] if t["name"] == "p5.48xlarge")
    p5["zones"]["us-east-1"] = ["us-east-1z"]  # stale: the refresh of us-east-1 replaces it
    p5["zones"]["xx-made-up-1"] = ["xx-made-up-1a"]  # a region not refreshed now: kept
    catalog_copy.write_text(yaml.safe_dump(raw, sort_keys=False))
    types = {t.name: t for t in refresh.refresh_aws(["us-east-1"], clients(moto_server), path=catalog_copy, **QUIET)}
    shipped = catalog.load("aws")["p5.48xlarge"].zones
    assert types["p5.48xlarge"].zones["us-east-1"] == shipped["us-east-1"]
    assert types["p5.48xlarge"].zones["xx-made-up-1"] == ("xx-made-up-1a",)
    assert types["p5.48xlarge"].zones["us-west-2"] == shipped["us-west-2"]


@cache
def _described_by_moto() -> dict[str, dict]:
    """moto's DescribeInstanceTypes answers for the types the cases need, as EC2 documents the shape; asked when a
    case runs, not when the tests are collected."""
    with mock_aws():
        described = boto3.client("ec2", region_name="us-east-1").describe_instance_types(
            InstanceTypes=["p5.48xlarge", "p6-b300.48xlarge", "m5.large"])["InstanceTypes"]
    return {d["InstanceType"]: d for d in described}


def _entry(name: str) -> dict:
    return copy.deepcopy(_described_by_moto()[name])


def _stubbed(offerings: list[dict], described: list[dict]):
    """An EC2 client for us-east-1 whose answers Stubber checks against EC2's service model."""
    ec2 = boto3.client("ec2", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(ec2)
    stub.add_response("describe_instance_type_offerings", {"InstanceTypeOfferings": offerings},
                      {"LocationType": "availability-zone"})
    if described is not None:
        stub.add_response("describe_instance_types", {"InstanceTypes": described},
                          {"InstanceTypes": sorted({o["InstanceType"] for o in offerings})})
    stub.activate()
    return ec2


def _offer(name: str, zone: str = "us-east-1a") -> dict:
    return {"InstanceType": name, "LocationType": "availability-zone", "Location": zone}


def _without_efa_info(d: dict) -> dict:
    network = {k: v for k, v in d["NetworkInfo"].items() if k != "EfaInfo"}
    return {**d, "NetworkInfo": network}


def _all_cards_efa(d: dict) -> dict:
    cards = [{**c, "InterfaceTypes": ["interface", "efa", "efa-only"]} for c in d["NetworkInfo"]["NetworkCards"]]
    return {**d, "NetworkInfo": {**d["NetworkInfo"], "NetworkCards": cards}}


@pytest.mark.parametrize(
    "offerings, described, message",
    [
        ([_offer("p5.48xlarge")], lambda: [], r"offers \['p5.48xlarge'\] in its zones, but DescribeInstanceTypes does not describe them"),
        ([_offer("p5.48xlarge", "us-west-2a")], lambda: None, "offers p5.48xlarge in 'us-west-2a', not a zone of us-east-1"),
        ([_offer("p5.48xlarge")], lambda: [_without_efa_info(_entry("p5.48xlarge"))], "EfaSupported without EfaInfo"),
        ([_offer("p6-b300.48xlarge")], lambda: [_all_cards_efa(_entry("p6-b300.48xlarge"))],
         r"curated ENA-only cards \[0\] differ from EC2's interface types"),
        ([_offer("m5.large")], lambda: [_entry("m5.large")], "no accelerated instance type is offered in us-east-1"),
        ([_offer("p5.48xlarge")], lambda: [_entry("p5.48xlarge")],
         r"curated entries for \['p6-b300.48xlarge'\], which EC2 does not list"),
    ],
    ids=["undescribed", "foreign-zone", "efa-without-info", "curated-disagrees", "nothing-accelerated", "stale-curated"],
)
def test_an_incomplete_or_inconsistent_answer_leaves_the_file_untouched(tmp_path, offerings, described, message):
    """Every region refreshed at once from an empty file: nothing of the old file can fill a gap."""
    described = described()
    path = tmp_path / "aws.yaml"
    path.write_text("cloud: aws\nsources: {}\ninstance_types: []\n")
    before = path.read_bytes()
    with pytest.raises(RefreshError, match=message):
        refresh.refresh_aws(["us-east-1"], lambda region: _stubbed(offerings, described), path=path, **QUIET)
    assert path.read_bytes() == before


def test_a_curated_figure_without_its_source_is_refused(tmp_path, catalog_copy, moto_server):
    curated = yaml.safe_load(refresh.curated_file().read_text())
    del curated["sources"]["power"]
    bad = tmp_path / "aws-curated.yaml"
    bad.write_text(yaml.safe_dump(curated))
    before = catalog_copy.read_bytes()
    with pytest.raises(RefreshError, match=r"cites undefined sources \['power'\]"):
        refresh.refresh_aws(["us-east-1"], clients(moto_server), path=catalog_copy, curated_path=bad, **QUIET)
    assert catalog_copy.read_bytes() == before


def test_cli_refreshes_from_the_endpoint_and_says_when_it_could_not(catalog_copy, moto_server, monkeypatch, capsys):
    monkeypatch.setattr(refresh, "catalog_file", lambda cloud="aws": catalog_copy)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL_EC2", moto_server)
    assert cli.main(["catalog", "refresh", "--cloud", "aws", "--regions", "eu-north-1"]) == 0
    out = capsys.readouterr().out
    assert f"refreshed {catalog_copy} from eu-north-1:" in out and "accelerated types" in out

    before = catalog_copy.read_bytes()
    monkeypatch.setenv("AWS_ENDPOINT_URL_EC2", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    assert cli.main(["catalog", "refresh", "--cloud", "aws", "--regions", "eu-north-1"]) == cli.EXIT_FAILED
    err = capsys.readouterr().err
    assert "EndpointConnectionError" in err and "the catalog file is unchanged" in err
    assert catalog_copy.read_bytes() == before
