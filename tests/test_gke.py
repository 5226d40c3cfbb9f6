"""The GKE cluster and its GPU node pools, read from the resource graph of the real program run offline; the GKE
networking objects and the NCCL installer; the cost of a GKE cluster."""

from __future__ import annotations

import copy
import json

import kubernetes_validate
import pytest

from gpucluster.cost import estimate, prices
from gpucluster.kube import gke
from gpucluster.kube.nodes import gke_pod_networks, node_pool_plans
from gpucluster.preview.engine import run_program
from gpucluster.preview.render import as_json
from gpucluster.problems import SpecError
from gpucluster.validate import load_spec

from .helpers import PROJECT, of_type, one
from .test_preview import preview_stack

CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"
H = 730
ULTRA = {
    "name": "u", "cloud": "gcp", "region": "europe-west4", "zones": ["europe-west4-a"], "kubernetes": {},
    "pools": [
        {"name": "reserved", "instanceType": "a3-ultragpu-8g", "size": {"min": 2, "max": 2},
         "capacity": {"type": "reservation", "reservationName": "r1"}},
        {"name": "spot", "instanceType": "a3-ultragpu-8g", "size": {"max": 4}, "capacity": {"type": "spot"}},
        {"name": "flex", "instanceType": "a3-ultragpu-8g", "size": {"max": 4}, "capacity": {"type": "flex-start", "maxRunHours": 24}},
    ],
    "storage": {"scratch": {}, "shared": {"throughputGbps": 10}, "buckets": {}},
    "tags": {"owner": "team", "costCenter": "cc-1", "project": "proj"},
}


def preview_gcp(spec: dict, preview: bool = True):
    config = {"gcp:region": spec["region"], "gcp:project": "p", "gpucluster:cluster": json.dumps(spec)}
    return run_program(str(PROJECT.main), PROJECT.name, "test", config, preview=preview)


@pytest.fixture(scope="module")
def ultra():
    return preview_gcp(ULTRA)


def pools_by_name(result) -> dict:
    return {p.inputs["nodeConfig"]["labels"]["gpucluster.dev/pool"]: p.inputs for p in of_type(result, NODE_POOL)
            if "gpucluster.dev/pool" in p.inputs["nodeConfig"].get("labels", {})}


def test_control_plane_is_private_encrypted_and_multi_networked(ultra):
    cluster = one(ultra, CLUSTER)
    inputs = cluster.inputs
    assert inputs["privateClusterConfig"] == {"enablePrivateNodes": True, "enablePrivateEndpoint": True}
    assert inputs["datapathProvider"] == "ADVANCED_DATAPATH" and inputs["enableMultiNetworking"] is True
    assert inputs["workloadIdentityConfig"] == {"workloadPool": "p.svc.id.goog"}
    assert inputs["releaseChannel"] == {"channel": "REGULAR"} and inputs["removeDefaultNodePool"] is True
    assert inputs["databaseEncryption"]["state"] == "ENCRYPTED"
    key = one(ultra, "gcp:kms/cryptoKey:CryptoKey")
    assert key.urn in cluster.dependencies["databaseEncryption"]  # the storage key, by link
    assert inputs["addonsConfig"]["lustreCsiDriverConfig"] == {"enabled": True, "enableLegacyLustrePort": True}
    assert inputs["addonsConfig"]["gcsFuseCsiDriverConfig"] == {"enabled": True}
    assert "DCGM" in inputs["monitoringConfig"]["enableComponents"]


def test_gpu_node_pools_take_fabric_capacity_and_storage_from_the_pool(ultra):
    pools = pools_by_name(ultra)
    reserved, spot, flex = pools["reserved"], pools["spot"], pools["flex"]
    assert reserved["nodeConfig"]["reservationAffinity"] == {
        "consumeReservationType": "SPECIFIC_RESERVATION", "key": "compute.googleapis.com/reservation-name", "values": ["r1"]}
    assert spot["nodeConfig"]["spot"] is True and spot["placementPolicy"] == {"type": "COMPACT"}
    assert {"key": "cloud.google.com/gke-spot", "value": "true", "effect": "NO_SCHEDULE"} in spot["nodeConfig"]["taints"]
    assert flex["queuedProvisioning"] == {"enabled": True} and flex["nodeConfig"]["flexStart"] is True
    assert flex["autoscaling"]["totalMinNodeCount"] == 0 and flex["management"]["autoRepair"] is False
    assert flex["nodeConfig"]["maxRunDuration"] == "86400s"
    for pool in (reserved, spot, flex):
        config = pool["nodeConfig"]
        assert config["guestAccelerators"] == [{"type": "nvidia-h200-141gb", "count": 8,
                                                "gpuDriverInstallationConfig": {"gpuDriverVersion": "LATEST"}}]
        assert config["gpudirectStrategy"] == "RDMA" and config["gvnic"] == {"enabled": True}
        assert config["ephemeralStorageLocalSsdConfig"] == {"localSsdCount": 32}
        assert len(pool["networkConfig"]["additionalNodeNetworkConfigs"]) == 9  # the second gVNIC and 8 RDMA NICs
        assert pool["networkConfig"]["enablePrivateNodes"] is True
        assert "@p.iam.gserviceaccount.com" in config["serviceAccount"]
        assert config["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}  # pods reach only their own identity


@pytest.mark.parametrize("order", [("a", "b"), ("b", "a")])
def test_node_pools_do_not_depend_on_pool_order(order):
    spec = copy.deepcopy(ULTRA)
    spec["pools"] = [{**spec["pools"][1], "name": order[0]}, {**spec["pools"][0], "name": order[1]}]
    pools = pools_by_name(preview_gcp(spec))
    assert pools[order[0]]["nodeConfig"]["spot"] is True
    assert pools[order[1]]["nodeConfig"]["reservationAffinity"]["consumeReservationType"] == "SPECIFIC_RESERVATION"


def test_gke_networks_match_the_pod_annotations_and_the_rdma_network(ultra):
    spec, _ = load_spec(ULTRA)
    objects = [r for r in ultra.resources if r.type.startswith("kubernetes:networking.gke.io")]
    param_sets = {r.inputs["metadata"]["name"]: r.inputs["spec"] for r in objects if r.type.endswith(":GKENetworkParamSet")}
    networks = {name for _, name in gke_pod_networks(node_pool_plans(spec)[0].plan)}
    assert set(param_sets) == networks == {f"rdma-{i}" for i in range(8)}
    rdma_vpc = next(r for r in of_type(ultra, "gcp:compute/network:Network") if "networkProfile" in r.inputs)
    assert {p["vpc"] for p in param_sets.values()} == {rdma_vpc.inputs["name"]}
    assert all(p["deviceMode"] == "RDMA" for p in param_sets.values())
    subnets = {r.inputs["name"] for r in of_type(ultra, "gcp:compute/subnetwork:Subnetwork")}
    assert {p["vpcSubnet"] for p in param_sets.values()} <= subnets


@pytest.mark.parametrize("version", ["1.33", "1.35", "1.36"])
def test_the_nccl_installer_matches_the_kubernetes_openapi(version):
    spec, _ = load_spec(ULTRA)
    (installer,) = gke.nccl_installers(spec)
    kubernetes_validate.validate(installer, version, strict=True)
    terms = installer["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == ["nvidia-h200-141gb"]


def test_every_kubernetes_object_goes_through_the_cluster_provider(ultra):
    provider = one(ultra, "pulumi:providers:kubernetes")
    objects = [r for r in ultra.resources if r.type.startswith("kubernetes:")]
    assert objects and all(r.provider and r.provider.startswith(provider.urn) for r in objects)
    kinds = {r.type for r in objects}
    assert {"kubernetes:apps/v1:DaemonSet", "kubernetes:kueue.x-k8s.io/v1beta2:ClusterQueue"} <= kinds


def test_a3_mega_with_its_fabric_is_refused_until_tcpxo_is_built():
    spec = {**ULTRA, "region": "us-central1", "zones": ["us-central1-a"], "storage": {},
            "pools": [{"name": "mega", "instanceType": "a3-megagpu-8g", "size": {"max": 2}}]}
    with pytest.raises(SpecError) as error:
        load_spec(spec)
    assert any(p.path == "pools[0].fabric" and "gpudirect-tcpxo" in p.message for p in error.value.problems)


def test_example_stack_has_the_cluster_and_its_pools():  # its packs: test_preview, every example stack
    result = preview_stack("gke-a3-ultra-kueue")
    assert one(result, CLUSTER) and len(of_type(result, NODE_POOL)) == 3  # system, reserved, spot


def test_gke_cost_by_hand_in_us_central1():
    book = prices.load("gcp")
    services = book.region_services("us-central1")
    spec = {**ULTRA, "region": "us-central1", "zones": ["us-central1-a"], "storage": {},
            "pools": [{"name": "spot", "instanceType": "a3-megagpu-8g", "fabric": "off", "size": {"max": 4}, "capacity": {"type": "spot"}},
                      {"name": "od", "instanceType": "a3-megagpu-8g", "fabric": "off", "size": {"min": 1, "max": 1}}]}
    cost = estimate(as_json(preview_gcp(spec))["resources"])
    lines = {line["name"]: line for line in cost["lines"]}
    mega = book.instance("us-central1", "a3-megagpu-8g")
    assert lines["u-gke"]["monthly"]["max"] == pytest.approx(services.price("gke_cluster_hour") * H)
    assert lines["u-gke-spot"]["monthly"]["max"] == pytest.approx(4 * mega.spot * H)
    assert lines["u-gke-od"]["monthly"]["max"] == pytest.approx(mega.on_demand * H)
    assert lines["u-gke-system"]["monthly"]["max"] == pytest.approx(2 * services.price("general_purpose_hour", "e2-standard-4") * H)
    assert cost["pools"]["spot"]["gpus"]["max"] == 32


def test_kubeconfig_gets_its_token_from_the_gke_auth_plugin():
    config = json.loads(gke.kubeconfig("c", "10.0.0.2", "Q0E="))
    assert config["clusters"][0]["cluster"]["server"] == "https://10.0.0.2"
    assert config["users"][0]["user"]["exec"]["command"] == "gke-gcloud-auth-plugin"
