"""The cost of an EKS cluster against arithmetic done here from the catalog and the price book: the control-plane
fee, GPU node groups priced like auto scaling groups (found through their launch templates), the system nodes."""

from __future__ import annotations

import copy

import pytest

from gpucluster.cost import estimate, prices
from gpucluster.preview.render import as_json

from .helpers import preview_spec
from .test_eks import EKS_SPEC, eks_spec

H = 730
BOOK = prices.load("aws")
SVC = BOOK.region_services("us-east-1")
P5, P4D = BOOK.instance("us-east-1", "p5.48xlarge"), BOOK.instance("us-east-1", "p4d.24xlarge")


def resources_of(spec: dict) -> list[dict]:
    return as_json(preview_spec(spec))["resources"]


def lines_by_name(cost: dict) -> dict[str, dict]:
    return {line["name"]: line for line in cost["lines"]}


def test_control_plane_fee_and_node_groups_by_hand():
    cost = estimate(resources_of(EKS_SPEC))
    lines = lines_by_name(cost)
    assert lines["k-eks"]["monthly"]["max"] == pytest.approx(SVC.price("eks_cluster_hour", "standard") * H)
    assert lines["k-eks-reserved"]["monthly"]["min"] == pytest.approx(2 * P5.on_demand * H)  # a reservation bills on demand
    assert lines["k-eks-system"]["monthly"]["max"] == pytest.approx(2 * SVC.price("general_purpose_hour", "m7i.xlarge") * H)
    assert lines["k-eks-reserved-volumes"]["monthly"]["max"] == pytest.approx(2 * 200 * SVC.price("ebs_gp3_gb_month"))
    assert cost["pools"]["reserved"]["gpus"]["max"] == 16 and cost["pools"]["spot"]["gpus"]["max"] == 32
    in_cluster = [u for u in cost["unpriced"] if u["type"].startswith(("kubernetes:", "aws:eks/addon"))]
    assert in_cluster == []  # objects in the cluster and EKS add-ons bill nothing themselves


def test_spot_node_groups_price_at_spot_or_say_why_not():
    cost = estimate(resources_of(EKS_SPEC))
    spot = [line for line in cost["lines"] if line["name"] == "k-eks-spot"]
    if P4D.spot is None:
        assert any(u["resource"].endswith("k-eks-spot") and "no spot price for p4d.24xlarge" in u["reason"] for u in cost["unpriced"])
    else:
        assert spot[0]["monthly"]["max"] == pytest.approx(4 * P4D.spot * H)


def test_extended_support_costs_six_times_standard():
    resources = resources_of(EKS_SPEC)
    cluster = next(r for r in resources if r["type"] == "aws:eks/cluster:Cluster")
    cluster["inputs"]["upgradePolicy"] = {"supportType": "EXTENDED"}
    fee = lines_by_name(estimate(resources))["k-eks"]
    assert fee["monthly"]["max"] == pytest.approx(SVC.price("eks_cluster_hour", "extended") * H)
    del cluster["inputs"]["upgradePolicy"]  # what the EKS API applies when none is given
    assert lines_by_name(estimate(resources))["k-eks"]["description"] == "EKS cluster, extended support"


def test_capacity_block_node_group_prices_at_the_block_rate():
    block = {"name": "block", "instanceType": "p5.48xlarge", "size": {"min": 2, "max": 2}, "zones": ["us-east-1a"],
             "capacity": {"type": "capacity-block", "reservationId": "cr-0123456789abcdef0"}}
    cost = estimate(resources_of(eks_spec(pools=[block])))
    assert lines_by_name(cost)["k-eks-block"]["monthly"]["max"] == pytest.approx(2 * P5.capacity_block * H)


@pytest.mark.parametrize("names", [("a", "b"), ("b", "a")])
def test_two_node_groups_of_different_types_cost_the_same_in_either_name_order(names):
    pools = copy.deepcopy(EKS_SPEC["pools"])
    pools[0]["name"], pools[1]["name"] = names
    cost = estimate(resources_of(eks_spec(pools=pools)))
    baseline = estimate(resources_of(EKS_SPEC))
    assert cost["total"] == baseline["total"]
    assert cost["pools"][names[0]]["gpus"] == baseline["pools"]["reserved"]["gpus"]
