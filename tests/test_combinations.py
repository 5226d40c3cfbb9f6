"""Several pools of different types and capacity sources, in every name order: the cost model and the cost policies
must give each pool its own figures (found through the graph's links), whatever the pools are called."""

from __future__ import annotations

import copy

import pytest

from gpucluster.catalog import load as load_catalog
from gpucluster.cost import estimate
from gpucluster.cost.prices import load as load_prices
from gpucluster.policies.harness import evaluate
from gpucluster.preview.render import as_json

from .helpers import of_type, one, preview_spec, spec_with

# Three pools that differ in type, GPUs, zone and how their nodes are bought.
AWS_POOLS = [
    {"instanceType": "p5en.48xlarge", "size": {"max": 4}, "capacity": {"type": "spot"}, "zones": ["us-east-1a"]},
    {"instanceType": "g6e.48xlarge", "size": {"min": 1, "max": 2}, "zones": ["us-east-1c"]},
    {"instanceType": "p5.48xlarge", "size": {"min": 4, "max": 4}, "zones": ["us-east-1a"],
     "capacity": {"type": "capacity-block", "reservationId": "cr-0123456789abcdef0"}},
]
NAMES = ["alpha", "mid", "zulu"]


def _named(pools: list[dict], names: list[str]) -> list[dict]:
    return [{**copy.deepcopy(p), "name": n} for p, n in zip(pools, names)]


def _market(pool: dict) -> str:
    return pool.get("capacity", {}).get("type", "on-demand").replace("-", "_")


def _expected_aws(pools: list[dict]) -> dict[str, dict]:
    """Each pool's GPUs and instance cost at max size, straight from the catalog and the price book."""
    catalog, book = load_catalog("aws"), load_prices("aws")
    expected = {}
    for p in pools:
        price = getattr(book.instance("us-east-1", p["instanceType"]), _market(p))
        expected[p["name"]] = {"gpus": catalog[p["instanceType"]].gpus * p["size"]["max"], "hourly": price * p["size"]["max"],
                               "type": p["instanceType"]}
    return expected


def _orders(count: int) -> list[list[str]]:
    """Each pool under each name: the names rotated, and for two pools both orders."""
    names = NAMES[:count]
    return [names[i:] + names[:i] for i in range(count)]


@pytest.fixture(scope="module", params=[(2, order) for order in _orders(2)] + [(3, order) for order in _orders(3)],
                ids=lambda p: f"{p[0]}-pools-{'-'.join(p[1])}")
def aws_stack(request):
    count, names = request.param
    pools = _named(AWS_POOLS[:count], names)
    spec = spec_with(zones=["us-east-1a", "us-east-1c"], pools=pools)
    result = preview_spec(spec)
    return result, _expected_aws(pools)


def _pool_of_group(result, group_urn: str) -> str:
    group = next(r for r in result.resources if r.urn == group_urn)
    return {t["key"]: t["value"] for t in group.inputs["tags"]}["gpucluster:pool"]


def test_each_pool_is_priced_from_its_own_template(aws_stack):
    result, expected = aws_stack
    cost = estimate(as_json(result)["resources"])
    assert set(cost["pools"]) == set(expected)
    for name, pool in cost["pools"].items():
        assert pool["gpus"]["max"] == expected[name]["gpus"]
        instance_lines = [line for line in cost["lines"] if line.get("pool") == name and line["kind"] == "instances"]
        assert [line["description"].split()[0] for line in instance_lines] == [expected[name]["type"]]
        assert instance_lines[0]["hourly"]["max"] == pytest.approx(expected[name]["hourly"])
    assert not [u for u in cost["unpriced"] if "catalog" in u["reason"] or "template" in u["reason"]]


def test_per_pool_gpu_cap_names_exactly_the_pools_over_it(aws_stack):
    result, expected = aws_stack
    cap = 31  # between the small pool (16 GPUs) and the large ones (32)
    found = [v for v in evaluate(result, {"cost": {"gpus-per-pool": {"maxGpusPerPool": cap}}}) if v.policy == "gpus-per-pool"]
    assert {_pool_of_group(result, v.resource) for v in found} == {n for n, e in expected.items() if e["gpus"] > cap}


def test_stack_gpu_cap_counts_each_pool_once(aws_stack):
    result, expected = aws_stack
    total = sum(e["gpus"] for e in expected.values())
    at_cap = [v for v in evaluate(result, {"cost": {"gpus-per-stack": {"maxGpus": total}}}) if v.policy == "gpus-per-stack"]
    below = [v for v in evaluate(result, {"cost": {"gpus-per-stack": {"maxGpus": total - 1}}}) if v.policy == "gpus-per-stack"]
    assert at_cap == []
    assert len(below) == 1 and f"{total} GPUs" in below[0].message


def test_budget_sees_every_pool(aws_stack):
    result, expected = aws_stack
    instances = sum(e["hourly"] for e in expected.values())
    found = [v for v in evaluate(result, {"cost": {"stack-budget": {"maxHourlyUsd": instances - 1}}}) if v.policy == "stack-budget"]
    assert len(found) == 1 and found[0].enforcement == "mandatory"
    spent = float(found[0].message.split("$")[1].split(" ")[0].replace(",", ""))
    assert spent >= instances  # instances plus volumes, NAT and the rest


def test_on_demand_guard_flags_only_the_plain_on_demand_pool(aws_stack):
    result, expected = aws_stack
    config = {"cost": {"no-unreserved-on-demand-large-gpus": {"families": ["g6e", "p5", "p5en"]}}}
    found = [v for v in evaluate(result, config) if v.policy == "no-unreserved-on-demand-large-gpus"]
    assert {_pool_of_group(result, v.resource) for v in found} == {n for n, e in expected.items() if e["type"] == "g6e.48xlarge"}


# GCP: a pool without a fabric listed first, in another zone than the RDMA pool ----------------------------------

GCP_POOLS = [
    {"instanceType": "g2-standard-24", "size": {"min": 2, "max": 2}, "capacity": {"type": "spot"}, "zones": ["us-central1-a"]},
    {"instanceType": "a3-ultragpu-8g", "size": {"min": 2, "max": 2}, "capacity": {"type": "spot"}, "zones": ["us-central1-b"]},
]
GCP_SPEC = spec_with(cloud="gcp", region="us-central1", zones=["us-central1-a", "us-central1-b"],
                     storage={"shared": {"throughputGbps": 1}})


def _gcp_preview(pools):
    import json

    from gpucluster.preview.engine import run_program

    from .helpers import PROJECT

    spec = {**GCP_SPEC, "pools": pools}
    config = {"gcp:region": "us-central1", "gcp:project": "proj-1", "gpucluster:cluster": json.dumps(spec)}
    return run_program(str(PROJECT.main), PROJECT.name, "test", config)


@pytest.fixture(scope="module", params=_orders(2), ids="-".join)
def gcp_stack(request):
    pools = _named(GCP_POOLS, request.param)
    return _gcp_preview(pools), pools


def test_gcp_fabric_and_storage_follow_the_rdma_pool(gcp_stack):
    result, _ = gcp_stack
    rdma = next(r for r in of_type(result, "gcp:compute/network:Network") if r.inputs.get("networkProfile"))
    assert rdma.inputs["networkProfile"].endswith("/us-central1-b-vpc-roce")
    assert one(result, "gcp:lustre/instance:Instance").inputs["location"] == "us-central1-b"
    zones = {r.inputs["zone"] for r in of_type(result, "gcp:compute/instanceGroupManager:InstanceGroupManager")}
    assert zones == {"us-central1-a", "us-central1-b"}


def test_gcp_pools_priced_from_their_own_templates(gcp_stack):
    result, pools = gcp_stack
    catalog, book = load_catalog("gcp"), load_prices("gcp")
    cost = estimate(as_json(result)["resources"])
    for p in pools:
        nodes = p["size"]["max"]
        assert cost["pools"][p["name"]]["gpus"]["max"] == catalog[p["instanceType"]].gpus * nodes
        assert cost["pools"][p["name"]]["hourly"]["max"] == pytest.approx(book.instance("us-central1", p["instanceType"]).spot * nodes)
    small = next(p for p in pools if p["instanceType"] == "g2-standard-24")
    cap = catalog["g2-standard-24"].gpus * small["size"]["max"]
    found = [v for v in evaluate(result, {"cost": {"gpus-per-pool": {"maxGpusPerPool": cap}}}) if v.policy == "gpus-per-pool"]
    big = next(p["name"] for p in pools if p is not small)
    assert len(found) == 1 and f"pool '{big}'" in found[0].message
