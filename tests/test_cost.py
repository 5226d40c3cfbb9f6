"""The cost model against arithmetic done here by hand from the catalog and the price book."""

from __future__ import annotations

import json

import pytest

from gpucluster import catalog, cli
from gpucluster.cost import estimate, prices
from gpucluster.preview.render import as_json

from .helpers import ROOT, pool, preview_spec, spec_with
from .test_preview import preview_stack

H = 730
BOOK = prices.effective("aws")  # the book with its imported SkyPilot layer, as the cost model reads it
P5 = BOOK.instance("us-east-1", "p5.48xlarge")
SVC = BOOK.region_services("us-east-1")
NETWORK = (SVC.price("nat_gateway_hour") + SVC.price("public_ipv4_hour")) * H  # one NAT gateway and its address


def cost_of(stack: str) -> dict:
    return estimate(as_json(preview_stack(stack))["resources"])


def test_default_stack_by_hand():
    cost = cost_of("aws-p5-train")
    nodes = 16 * P5.on_demand * H
    volumes = 16 * 200 * SVC.price("ebs_gp3_gb_month")
    for scale in ("min", "max"):
        assert cost["total"]["monthly"][scale] == pytest.approx(nodes + volumes + NETWORK)
    pool_cost = cost["pools"]["train"]
    assert pool_cost["gpus"] == {"min": 128, "desired": 128, "max": 128}
    assert pool_cost["usdPerGpuHour"] == pytest.approx((16 * P5.on_demand + volumes / H) / 128, abs=1e-4)
    assert pool_cost["onDemandUsdPerGpuHour"] == pytest.approx(P5.on_demand / 8, abs=1e-4)
    assert [u for u in cost["unpriced"] if not u["usageBilled"]] == []  # flow logs: billed by volume, listed


def test_spot_stack_by_hand():
    cost = cost_of("aws-p5-spot")
    fsx = 132_000 * SVC.fsx_lustre_persistent_2_gb_month[1000]
    s3 = 200_000 * SVC.price("s3_gb_month", "INTELLIGENT_TIERING") + 20_000 * SVC.price("s3_gb_month", "STANDARD")
    fixed = fsx + s3 + SVC.price("kms_key_month") + NETWORK
    assert cost["total"]["monthly"]["min"] == pytest.approx(fixed)  # scaled to zero: storage and network only
    nodes = 32 * P5.spot * H  # the spot price imported from SkyPilot's catalog: the highest us-east-1 zone
    assert cost["total"]["monthly"]["max"] == pytest.approx(fixed + nodes + 32 * 200 * SVC.price("ebs_gp3_gb_month"))
    assert "skypilot-catalog-aws" in P5.sources_for("spot") and "capacity-block-us-east-1" not in P5.sources_for("spot")
    assert [u for u in cost["unpriced"] if not u["usageBilled"]] == []
    assert cost["pools"]["train"]["usdPerGpuHour"] is not None and cost["pools"]["train"]["gpus"]["max"] == 256


def test_capacity_block_stack_by_hand():
    cost = cost_of("aws-p5-capacity-block")
    nodes = 16 * P5.capacity_block * H
    buckets = 50_000 * SVC.price("s3_gb_month", "INTELLIGENT_TIERING") + 10_000 * SVC.price("s3_gb_month", "STANDARD")
    expected = nodes + 16 * 200 * SVC.price("ebs_gp3_gb_month") + buckets + SVC.price("kms_key_month") + NETWORK
    for scale in ("min", "max"):
        assert cost["total"]["monthly"][scale] == pytest.approx(expected)
    assert cost["pools"]["train"]["usdPerGpuHour"] < cost["pools"]["train"]["onDemandUsdPerGpuHour"]


def test_spot_above_an_on_demand_base_is_split_by_hand():
    book = prices.PriceBook.model_validate({
        **BOOK.model_dump(mode="json"),
        "instances": {"us-east-1": {"p5.48xlarge": {"on_demand": 50.0, "spot": 20.0, "sources": ["price-us-east-1"]}}},
    })
    spec = spec_with(pools=[pool(size={"min": 1, "desired": 3, "max": 10},
                                 capacity={"type": "on-demand", "fallback": ["spot"], "onDemandBase": 2})])
    cost = estimate(as_json(preview_spec(spec))["resources"], book=book)
    instances = {line["description"]: line["hourly"] for line in cost["lines"] if line["kind"] == "instances"}
    assert instances["p5.48xlarge on-demand at $50.00/h"] == {"min": 50.0, "desired": 100.0, "max": 100.0}
    assert instances["p5.48xlarge spot at $20.00/h"] == {"min": 0.0, "desired": 20.0, "max": 160.0}


def test_power_by_hand():
    power = cost_of("aws-p5-train")["power"]
    per_node_kw = 8 * catalog.load("aws")["p5.48xlarge"].accelerator.board_power_w * 10.2 / 5.6 / 1000
    assert power["kw"]["max"] == pytest.approx(16 * per_node_kw, abs=1e-3)
    assert power["kwhPerMonth"]["max"] == pytest.approx(16 * per_node_kw * H, abs=0.1)


def test_trainium_power_is_unknown_not_zero():
    power = estimate(as_json(preview_spec(spec_with(zones=["us-east-1b"], pools=[pool(instanceType="trn1.32xlarge")])))["resources"])["power"]
    assert power["unknownFor"] == ["trn1.32xlarge"] and power["kw"]["max"] == 0


def test_unknown_types_are_listed_never_counted_as_zero():
    resources = [{"urn": "urn:x::aws:rds/instance:Instance::db", "type": "aws:rds/instance:Instance", "name": "db",
                  "parent": None, "inputs": {}}]
    cost = estimate(resources)
    assert cost["lines"] == [] and cost["unpriced"] == [
        {"resource": "urn:x::aws:rds/instance:Instance::db", "type": "aws:rds/instance:Instance",
         "reason": "the cost model has no price for aws:rds/instance:Instance", "usageBilled": False}]


def test_every_price_cites_a_listed_source():
    with pytest.raises(ValueError, match="prices cite sources that are not listed"):
        prices.PriceBook.model_validate({**BOOK.model_dump(mode="json"), "sources": {}})


def test_cost_command_and_diff(tmp_path, capsys):
    assert cli.main(["cost", "aws-p5-train", "--project", str(ROOT)]) == 0
    assert "p5.48xlarge on-demand at $55.04/h" in capsys.readouterr().out
    base, head = tmp_path / "base.json", tmp_path / "head.json"
    for path, stack in ((base, "aws-p5-train"), (head, "aws-p5-capacity-block")):
        assert cli.main(["preview", stack, "--json", "--project", str(ROOT)]) == 0
        path.write_text(capsys.readouterr().out)
    assert cli.main(["cost", "--diff", str(base), str(head), "--format", "json"]) == 0
    change = json.loads(capsys.readouterr().out)
    before = json.loads(base.read_text())["cost"]["total"]["monthly"]["max"]
    after = json.loads(head.read_text())["cost"]["total"]["monthly"]["max"]
    assert change["total"]["max"] == pytest.approx(after - before, abs=0.01)
    assert {(line["name"], line["status"]) for line in change["lines"]} >= {
        ("p5-train-train-asg", "removed"), ("p5-block-train-asg", "added")}
    assert cli.main(["cost", "--diff", str(base), str(head), "--format", "markdown"]) == 0
    markdown = capsys.readouterr().out
    assert markdown.startswith("### Monthly cost change") and "| total |" in markdown


def test_diff_of_something_else_is_a_usage_error(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert cli.main(["cost", "--diff", str(bad), str(bad)]) == 2
    assert "needs two preview JSON files" in capsys.readouterr().err
