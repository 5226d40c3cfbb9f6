"""The cost of Kubernetes clusters against arithmetic done here from the catalog and the price books: the EKS and GKE
control-plane fees, EKS node groups priced like auto scaling groups (found through their launch templates), GKE node
pools priced like instance groups, the system nodes. First on our EksCluster, then on programs written directly against
pulumi_aws.eks and pulumi_gcp.container (tests/fixtures/kube/), previewed offline."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from gpucluster.catalog import load as load_catalog
from gpucluster.cost import estimate, prices
from gpucluster.cost.model import HOST_POWER_FACTOR
from gpucluster.preview.engine import PreviewResult, run_program
from gpucluster.preview.render import as_json

from .helpers import preview_spec
from .test_eks import EKS_SPEC, eks_spec

H = 730
BOOK = prices.effective("aws")  # with its imported layer, as the cost model reads it
SVC = BOOK.region_services("us-east-1")
P5, P4D = BOOK.instance("us-east-1", "p5.48xlarge"), BOOK.instance("us-east-1", "p4d.24xlarge")
P5EN = BOOK.instance("us-east-1", "p5en.48xlarge")
GCP = prices.effective("gcp")
GSVC = GCP.region_services("us-central1")
MEGA = GCP.instance("us-central1", "a3-megagpu-8g")
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "kube"


def run_fixture(name: str, region: str | None = None, **settings) -> PreviewResult:
    """Preview tests/fixtures/kube/<name>.py offline with `fixture:<key>` settings (JSON)."""
    config = {"aws:region": region or "us-east-1"} if name == "eks" else {"gcp:project": "p", "gcp:region": region or "us-central1"}
    config.update({f"fixture:{key}": json.dumps(value) for key, value in settings.items()})
    return run_program(str(FIXTURES / f"{name}.py"), "fixture", "dev", config)


def cost_of(name: str, region: str | None = None, **settings) -> dict:
    return estimate(as_json(run_fixture(name, region, **settings))["resources"])


def unpriced(cost: dict, name: str) -> list[str]:
    return [u["reason"] for u in cost["unpriced"] if u["resource"].endswith(f"::{name}")]


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


# The price book figures these tests trace to (a change of price must be a change here too) ----------------------------

def test_the_figures_come_from_the_books():
    assert (SVC.price("eks_cluster_hour", "standard"), SVC.price("eks_cluster_hour", "extended")) == (0.1, 0.6)
    assert (P5.on_demand, P5.capacity_block, P5EN.spot) == (55.04, 39.33, 27.2)
    assert (SVC.price("general_purpose_hour", "m7i.xlarge"), SVC.price("ebs_gp3_gb_month")) == (0.2016, 0.08)
    assert GSVC.price("gke_cluster_hour") == 0.1 and (MEGA.on_demand, MEGA.spot) == (92.21, 28.17)
    assert (GSVC.price("general_purpose_hour", "e2-standard-4"), GSVC.price("general_purpose_hour", "n2-standard-4")) == (0.134023, 0.194236)
    for book, table in ((BOOK, SVC.eks_cluster_hour), (BOOK, SVC.general_purpose_hour), (GCP, GSVC.general_purpose_hour),
                        (GCP, GSVC.gke_cluster_hour)):
        assert table["sources"] and set(table["sources"]) <= set(book.sources)  # every figure names where it comes from


# EKS, on a program written against pulumi_aws.eks --------------------------------------------------------------------

@pytest.mark.parametrize(("support", "rate", "says"), [
    ("STANDARD", 0.1, "STANDARD: EKS upgrades the version at the end of standard support"),
    ("EXTENDED", 0.6, "upgradePolicy.supportType EXTENDED: priced at the extended-support rate"),
    (None, 0.6, "no upgradePolicy.supportType, so the EKS API's default, EXTENDED"),
])
def test_eks_fee_by_support_type(support, rate, says):
    fee = lines_by_name(cost_of("eks", support=support))["gpu"]
    assert fee["monthly"] == {s: pytest.approx(rate * H) for s in ("min", "desired", "max")}
    assert fee["description"] == f"EKS cluster, {'standard' if rate == 0.1 else 'extended'} support" and says in fee["note"]
    if rate == 0.6:
        assert "($0.1/h until then)" in fee["note"]  # the standard rate applies while the version is in standard support


def test_eks_node_groups_by_hand():
    """train: p5.48xlarge on demand through its launch template (1/2/4 nodes, 200 GB gp3 root); burst: p5en.48xlarge
    spot by its instance types (0/0/2); system: 2 m7i.xlarge."""
    cost = cost_of("eks")
    lines = lines_by_name(cost)
    assert lines["train"]["monthly"] == pytest.approx({"min": 55.04 * H, "desired": 2 * 55.04 * H, "max": 4 * 55.04 * H})
    assert lines["train-volumes"]["monthly"] == pytest.approx({"min": 200 * 0.08, "desired": 2 * 200 * 0.08, "max": 4 * 200 * 0.08})
    assert lines["burst"]["monthly"] == pytest.approx({"min": 0, "desired": 0, "max": 2 * 27.2 * H})
    assert "root volumes (20 GiB each" in lines["burst"]["note"]  # no template: EKS's own, not priced, and said so
    assert lines["system"]["monthly"]["max"] == pytest.approx(2 * 0.2016 * H)
    assert cost["total"]["monthly"]["max"] == pytest.approx(0.1 * H + 1.0 + 4 * 55.04 * H + 4 * 200 * 0.08 + 2 * 27.2 * H + 2 * 0.2016 * H)
    assert cost["unpriced"] == []
    assert cost["pools"]["train"]["gpus"] == {"min": 8, "desired": 16, "max": 32} and cost["pools"]["burst"]["gpus"]["max"] == 16
    assert cost["pools"]["burst"]["usdPerGpuHour"] == pytest.approx(27.2 / 8)
    catalog = load_catalog("aws")
    per_node = {t: catalog[t].accelerator.count * catalog[t].accelerator.board_power_w * HOST_POWER_FACTOR / 1000
                for t in ("p5.48xlarge", "p5en.48xlarge")}
    assert cost["power"]["kw"]["max"] == pytest.approx(4 * per_node["p5.48xlarge"] + 2 * per_node["p5en.48xlarge"], abs=1e-3)


def test_eks_capacity_block_group_prices_at_the_block_rate():
    block = {"name": "block", "templateType": "p5.48xlarge", "capacity": "CAPACITY_BLOCK", "min": 2, "max": 2, "template": True,
             "publicIp": "false", "block": "cr-0123456789abcdef0"}
    cost = cost_of("eks", groups=[block])
    assert lines_by_name(cost)["block"]["monthly"]["max"] == pytest.approx(2 * 39.33 * H)
    assert lines_by_name(cost)["block"]["description"] == "p5.48xlarge capacity-block at $39.33/h"


ON_DEMAND_P5 = {"templateType": "p5.48xlarge", "capacity": "ON_DEMAND", "min": 1, "max": 3, "template": True, "publicIp": "false"}
SPOT_P5EN = {"types": ["p5en.48xlarge"], "capacity": "SPOT", "min": 0, "max": 2}


@pytest.mark.parametrize("order", ["as-written", "reversed"])
@pytest.mark.parametrize("names", [("alpha", "beta"), ("beta", "alpha")])
def test_two_node_groups_cost_the_same_in_either_name_order(names, order):
    groups = [{**ON_DEMAND_P5, "name": names[0]}, {**SPOT_P5EN, "name": names[1]}]
    cost = cost_of("eks", groups=groups if order == "as-written" else groups[::-1])
    expected = 0.1 * H + 1.0 + 3 * 55.04 * H + 3 * 200 * 0.08 + 2 * 27.2 * H
    assert cost["total"]["monthly"]["max"] == pytest.approx(expected)
    assert cost["total"]["monthly"]["min"] == pytest.approx(0.1 * H + 1.0 + 55.04 * H + 200 * 0.08)
    assert cost["pools"][names[0]]["gpus"]["max"] == 24 and cost["pools"][names[1]]["gpus"]["max"] == 16


def test_a_node_groups_pool_is_its_pool_tag_else_its_name():
    cost = cost_of("eks", groups=[{**ON_DEMAND_P5, "name": "gpu-a", "pool": "train"}, {**SPOT_P5EN, "name": "gpu-b"}])
    assert set(cost["pools"]) == {"train", "gpu-b"}
    assert lines_by_name(cost)["gpu-a"]["pool"] == "train"


@pytest.mark.parametrize(("group", "reason"), [
    ({"types": ["p5.48xlarge"], "capacity": "SOMETHING", "min": 1, "max": 1}, "capacity type 'SOMETHING' is not one the cost model knows"),
    ({"types": ["m7i.xlarge"], "capacity": "SPOT", "min": 1, "max": 1}, "no spot price for 'm7i.xlarge' in us-east-1"),
    ({"types": ["c7i.large"], "capacity": "ON_DEMAND", "min": 1, "max": 1}, "no on-demand price for 'c7i.large' in us-east-1"),
])
def test_a_node_group_the_model_cannot_price_stays_unpriced(group, reason):
    cost = cost_of("eks", groups=[{**group, "name": "odd"}])
    assert any(reason in r for r in unpriced(cost, "odd")) and "odd" not in lines_by_name(cost)


# GKE, on a program written against pulumi_gcp.container ---------------------------------------------------------------

def test_gke_fee_and_system_and_spot_pools_by_hand():
    cost = cost_of("gke")
    lines = lines_by_name(cost)
    assert lines["gke"]["monthly"]["max"] == pytest.approx(0.1 * H)
    assert "credit per billing account, not per cluster, so it is not subtracted" in lines["gke"]["note"]
    assert lines["system"]["monthly"]["max"] == pytest.approx(2 * 0.134023 * H)  # one node in each of two zones
    assert lines["train"]["monthly"] == pytest.approx({"min": 0, "desired": 0, "max": 4 * 28.17 * H})
    assert cost["pools"]["train"]["gpus"]["max"] == 32 and cost["unpriced"] == []


def gke_pool(**fields) -> dict:
    return {"name": "train", "machine": "a3-megagpu-8g", "nodeLocations": ["us-central1-a", "us-central1-b"], **fields}


@pytest.mark.parametrize(("market", "fields", "rate"), [
    ("on-demand", {}, 92.21),
    ("spot", {"spot": True}, 28.17),
    ("spot", {"flexStart": True}, 28.17),  # flex-start VMs at the spot rate, as instance groups get them
])
def test_gke_node_pool_spot_against_on_demand(market, fields, rate):
    """Per-zone autoscaling limits times the pool's two zones: 1..3 per zone is 2..6 nodes."""
    cost = cost_of("gke", pools=[gke_pool(autoscaling={"min_node_count": 1, "max_node_count": 3}, **fields)])
    line = lines_by_name(cost)["train"]
    assert line["description"] == f"a3-megagpu-8g {market} at ${rate:,.2f}/h"
    assert line["monthly"] == pytest.approx({"min": 2 * rate * H, "desired": 2 * rate * H, "max": 6 * rate * H})
    assert ("flex-start VMs at the spot rate" in line["note"]) == ("flexStart" in fields)


@pytest.mark.parametrize(("settings", "pool", "nodes", "note"), [
    ({}, {"nodeCount": 1}, 3, "GKE's default of 3 zones of us-central1"),  # regional, no node locations anywhere
    ({"location": "us-central1-a"}, {"nodeCount": 2}, 2, None),  # zonal
    ({"nodeLocations": ["us-central1-a", "us-central1-b", "us-central1-c", "us-central1-f"]}, {"nodeCount": 1}, 4, None),  # the cluster's
    ({}, {"initialNodeCount": 1, "autoscaling": {"total_min_node_count": 1, "total_max_node_count": 5}}, None, None),
])
def test_gke_per_zone_counts_follow_the_zones(settings, pool, nodes, note):
    cost = cost_of("gke", pools=[{"name": "sys", "machine": "n2-standard-4", **pool}], **settings)
    line = lines_by_name(cost)["sys"]
    if nodes is None:  # totals do not depend on zones; the initial count (per zone, times GKE's 3) sets desired
        assert line["monthly"] == pytest.approx({"min": 0.194236 * H, "desired": 3 * 0.194236 * H, "max": 5 * 0.194236 * H})
    else:
        assert line["monthly"]["max"] == pytest.approx(nodes * 0.194236 * H)
    assert (note in line["note"]) if note else "default of 3 zones" not in line["note"]


def test_a_node_pool_lands_where_its_linked_cluster_is():
    """The provider says europe-west4 (no a3-megagpu-8g prices there); the pool names no location; the cluster its
    `cluster` input links to is in us-central1, so that is where its nodes are priced."""
    cost = cost_of("gke", region="europe-west4", pools=[gke_pool(nodeCount=1)])
    assert lines_by_name(cost)["train"]["monthly"]["max"] == pytest.approx(2 * 92.21 * H)


def test_gke_local_ssd_beyond_what_the_machine_bundles_is_unpriced():
    bundled = cost_of("gke", pools=[gke_pool(nodeCount=1, localSsd=16)])
    assert unpriced(bundled, "train") == [] and "16 local SSD(s) per node, in the machine price" in lines_by_name(bundled)["train"]["note"]
    extra = cost_of("gke", pools=[{"name": "l4", "machine": "g2-standard-12", "nodeLocations": ["us-central1-a"], "nodeCount": 1, "localSsd": 2}])
    assert lines_by_name(extra)["l4"]["monthly"]["max"] == pytest.approx(GCP.instance("us-central1", "g2-standard-12").on_demand * H)
    assert unpriced(extra, "l4") == ["2 local SSD(s) per node beyond the 0 g2-standard-12 comes with; no local SSD price in the price book"]


def test_a_kept_default_pool_is_priced_or_listed_and_autopilot_is_usage_billed():
    kept = cost_of("gke", removeDefault=False, defaultNodeConfig={"machine_type": "n2-standard-4"}, pools=[])
    assert lines_by_name(kept)["gke-default-pool"]["monthly"]["max"] == pytest.approx(3 * 0.194236 * H)  # 1 per zone x 3 zones
    bare = cost_of("gke", removeDefault=False, pools=[])  # GKE's default machine type, e2-medium: not in the book
    assert unpriced(bare, "gke") == ["gke-default-pool: no on-demand price for 'e2-medium' in us-central1 in the price book"]
    autopilot = cost_of("gke", autopilot=True, pools=[])
    assert lines_by_name(autopilot)["gke"]["description"] == "GKE Autopilot cluster"
    assert [u["usageBilled"] for u in autopilot["unpriced"] if u["resource"].endswith("::gke")] == [True]


def test_gke_attached_gpus_on_a_type_outside_the_catalog_are_not_priced_as_a_plain_vm():
    pool = {"name": "n1", "machine": "n2-standard-4", "nodeCount": 1, "nodeLocations": ["us-central1-a"],
            "gpus": [{"type": "nvidia-tesla-t4", "count": 1}]}
    cost = cost_of("gke", pools=[pool])
    assert unpriced(cost, "n1") == ["n2-standard-4 with attached GPUs is not in the catalog"] and "n1" not in lines_by_name(cost)
