"""The packs on Kubernetes clusters: on our EKS stack, and on programs written directly against pulumi_aws.eks and
pulumi_gcp.container (tests/fixtures/kube/), previewed and evaluated offline as the engine would. Each policy has a
passing and a failing case."""

from __future__ import annotations

import copy

import pytest

from gpucluster.policies.harness import evaluate
from gpucluster.policies.waivers import Layer, combine

from .helpers import preview_spec
from .test_cost_kube import run_fixture
from .test_eks import EKS_SPEC

EKS = "aws:eks/cluster:Cluster"
KUBE_POLICIES = {"kubernetes-api-private", "kubernetes-nodes-private", "kubernetes-secrets-encrypted", "kubernetes-audit-logs"}


@pytest.fixture(scope="module")
def eks():
    return preview_spec(EKS_SPEC)


def findings(graph, policy=None, config=None):
    return [v for v in evaluate(graph, config or {}) if policy is None or v.policy == policy]


def by_name(graph, policy, config=None) -> dict[str, list[str]]:
    """A policy's findings by the name of the resource they are on."""
    found: dict[str, list[str]] = {}
    for v in findings(graph, policy, config):
        found.setdefault((v.resource or "").rsplit("::", 1)[-1], []).append(v.message.splitlines()[-1])
    return found


def with_cluster(graph, change):
    graph = copy.deepcopy(graph)
    change(next(r for r in graph.resources if r.type == EKS).inputs)
    return graph


# Our EksCluster ---------------------------------------------------------------------------------------------------------

def test_our_eks_cluster_passes(eks):
    assert not {v.policy for v in findings(eks)} & (KUBE_POLICIES | {"no-primitive-roles", "customer-managed-keys"})


@pytest.mark.parametrize(("change", "policy", "message"), [
    (lambda i: i["vpcConfig"].update(endpointPublicAccess=True), "kubernetes-api-private", "public to ['0.0.0.0/0']"),
    (lambda i: i["vpcConfig"].update(endpointPublicAccess=True, publicAccessCidrs=["0.0.0.0/0"]), "kubernetes-api-private", "public"),
    (lambda i: i["vpcConfig"].update(endpointPrivateAccess=False), "kubernetes-api-private", "not reachable privately"),
    (lambda i: i.pop("encryptionConfig"), "kubernetes-secrets-encrypted", "not envelope-encrypted"),
    (lambda i: i["encryptionConfig"].update(resources=[]), "kubernetes-secrets-encrypted", "not envelope-encrypted"),
    (lambda i: i.update(enabledClusterLogTypes=["api"]), "kubernetes-audit-logs", "['audit', 'authenticator']"),
])
def test_an_eks_cluster_that_breaks_a_rule_is_found(eks, change, policy, message):
    found = findings(with_cluster(eks, change), policy)
    assert found and message in found[0].message


def test_a_public_endpoint_limited_to_listed_networks_passes(eks):
    graph = with_cluster(eks, lambda i: i["vpcConfig"].update(endpointPublicAccess=True, publicAccessCidrs=["203.0.113.0/24"]))
    assert findings(graph, "kubernetes-api-private") == []


def test_the_cluster_region_is_held_to_the_residency(eks):
    outside = [v for v in evaluate(eks, {"sovereignty": {"allowed-regions": {"allowedRegions": ["eu"]}}})
               if v.policy == "allowed-regions"]
    assert any(v.resource.endswith("::k-eks") and "us-east-1" in v.message for v in outside)


# EKS, written against pulumi_aws.eks: security -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def eks_fixture():
    return run_fixture("eks")


def test_a_private_encrypted_logged_eks_program_passes(eks_fixture):
    assert not {v.policy for v in findings(eks_fixture)} & (KUBE_POLICIES | {"customer-managed-keys", "no-public-endpoints"})


@pytest.mark.parametrize(("endpoint", "message"), [
    ({"endpoint_private_access": True, "endpoint_public_access": True}, "the API endpoint is public to ['0.0.0.0/0']"),
    ({"endpoint_private_access": True}, "the API endpoint is public to ['0.0.0.0/0']"),  # public access is EKS's default
    ({"endpoint_private_access": True, "endpoint_public_access": True, "public_access_cidrs": ["10.0.0.0/8", "0.0.0.0/0"]},
     "the API endpoint is public to ['0.0.0.0/0']"),
    ({"endpoint_private_access": False, "endpoint_public_access": False}, "the API endpoint is not reachable privately"),
    ({"endpoint_private_access": True, "endpoint_public_access": True, "public_access_cidrs": ["203.0.113.0/24"]}, None),
])
def test_eks_api_endpoint(endpoint, message):
    found = by_name(run_fixture("eks", endpoint=endpoint), "kubernetes-api-private")
    assert (found == {}) if message is None else any(m.startswith(message) for m in found["gpu"])


def test_eks_secrets_and_logs():
    assert by_name(run_fixture("eks", encryption=False), "kubernetes-secrets-encrypted")["gpu"][0].startswith(
        "Kubernetes secrets are not envelope-encrypted")
    assert by_name(run_fixture("eks", logs=["api", "scheduler"]), "kubernetes-audit-logs") == {
        "gpu": ["control-plane logs ['audit', 'authenticator'] are off: add them to enabledClusterLogTypes"]}


def group(name="gpu", **fields) -> dict:
    return {"name": name, "templateType": "p5.48xlarge", "capacity": "ON_DEMAND", "min": 1, "max": 1, **fields}


@pytest.mark.parametrize(("fields", "map_public", "message"), [
    ({"template": True, "publicIp": "true"}, False, "its launch template gpu-lt gives a public IP to the interface(s) on network card(s) [0]"),
    ({"types": ["p5.48xlarge"], "templateType": None}, True, "its nodes get public IPs: it launches into subnet(s) ['nodes']"),
    ({"template": True, "publicIp": None}, True, "its nodes get public IPs: it launches into subnet(s) ['nodes']"),  # template silent
    ({"template": True, "publicIp": "false"}, True, None),  # the template's primary interface decides over the subnet
    ({"types": ["p5.48xlarge"], "templateType": None}, False, None),  # a private subnet
])
def test_eks_nodes_get_no_public_ips_through_templates_or_subnets(fields, map_public, message):
    graph = run_fixture("eks", mapPublicIp=map_public, groups=[group(**fields)])
    found = by_name(graph, "kubernetes-nodes-private")
    assert (found == {}) if message is None else found["gpu"][0].startswith(message)


# GKE, written against pulumi_gcp.container: security --------------------------------------------------------------------

@pytest.fixture(scope="module")
def gke_fixture():
    return run_fixture("gke")


def test_a_private_encrypted_gke_program_on_its_own_account_passes(gke_fixture):
    assert not {v.policy for v in findings(gke_fixture)} & (KUBE_POLICIES | {"no-primitive-roles", "customer-managed-keys"})


PUBLIC_ENDPOINT = {"enable_private_nodes": True, "enable_private_endpoint": False, "master_ipv4_cidr_block": "172.16.0.0/28"}


@pytest.mark.parametrize(("settings", "message"), [
    ({"private": PUBLIC_ENDPOINT}, "the API endpoint is public to ['0.0.0.0/0']"),  # no authorised networks: everyone
    ({"private": PUBLIC_ENDPOINT, "authorized": {"cidr_blocks": [{"cidr_block": "0.0.0.0/0"}]}}, "the API endpoint is public to ['0.0.0.0/0']"),
    ({"private": PUBLIC_ENDPOINT, "authorized": {"cidr_blocks": [{"cidr_block": "203.0.113.0/24"}], "gcp_public_cidrs_access_enabled": True}},
     "the API endpoint admits every Google Cloud public IP address"),
    ({"private": PUBLIC_ENDPOINT, "authorized": {"cidr_blocks": [{"cidr_block": "203.0.113.0/24"}]}}, None),
    ({"private": PUBLIC_ENDPOINT, "authorized": {}}, None),  # authorised networks on, none listed: no external access
    ({"private": {"enable_private_nodes": True}, "endpoints": {"ip_endpoints_config": {"enabled": False}}}, None),  # DNS endpoint only
])
def test_gke_api_endpoint(settings, message):
    found = by_name(run_fixture("gke", **settings), "kubernetes-api-private")
    assert (found == {}) if message is None else found["gke"][0].startswith(message)


def test_gke_secrets_encryption():
    found = by_name(run_fixture("gke", encryption={"state": "DECRYPTED"}), "kubernetes-secrets-encrypted")
    assert found["gke"][0].startswith("Kubernetes secrets are not encrypted with a key of yours")


SYSTEM = {"name": "system", "machine": "e2-standard-4", "nodeLocations": ["us-central1-a"], "nodeCount": 1}


@pytest.mark.parametrize(("settings", "expected"), [
    ({"private": {"enable_private_nodes": False}, "endpoints": {"ip_endpoints_config": {"enabled": False}}},
     {"gke": ["nodes get public IPs (node pools ['system'] inherit it): set privateClusterConfig.enablePrivateNodes true"]}),
    ({"pools": [{**SYSTEM, "private": False}]}, {"system": ["its nodes get public IPs: networkConfig.enablePrivateNodes is false"]}),
    ({"private": None, "endpoints": {"ip_endpoints_config": {"enabled": False}}, "pools": [{**SYSTEM, "private": True}]}, {}),
    ({"private": None, "removeDefault": False, "pools": []},
     {"gke": ["nodes get public IPs: set privateClusterConfig.enablePrivateNodes true"]}),  # the default pool is public
])
def test_gke_nodes_are_private(settings, expected):
    settings = {"pools": [SYSTEM], **settings}
    assert by_name(run_fixture("gke", **settings), "kubernetes-nodes-private") == expected


@pytest.mark.parametrize(("account", "found"), [
    ("own", False), (None, True), ("default", True), ("123456789-compute@developer.gserviceaccount.com", True),
    ("nodes@p.iam.gserviceaccount.com", False),
])
def test_gke_node_pools_on_the_default_compute_account(account, found):
    graph = run_fixture("gke", pools=[{**SYSTEM, "account": account}])
    flagged = by_name(graph, "no-primitive-roles")
    assert ("system" in flagged) == found
    if found:
        assert flagged["system"][0].startswith("its nodes run as the Compute Engine default service account")


def test_a_kept_default_pool_on_the_default_account_is_found_on_the_cluster():
    flagged = by_name(run_fixture("gke", removeDefault=False, pools=[]), "no-primitive-roles")
    assert flagged["gke"][0].startswith("the nodes of its default node pool run as the Compute Engine default service account")


# Sovereignty: residency and customer-managed keys -------------------------------------------------------------------------

EU = {"sovereignty": {"allowed-regions": {"allowedRegions": ["eu"]}}}


def test_eks_cluster_and_node_groups_are_held_to_the_residency(eks_fixture):
    outside = by_name(eks_fixture, "allowed-regions", EU)
    assert {"gpu", "train", "burst", "system"} <= set(outside) and all("us-east-1" in m for m in outside["gpu"])
    assert by_name(eks_fixture, "allowed-regions", {"sovereignty": {"allowed-regions": {"allowedRegions": ["us-east-1"]}}}) == {}
    inside = run_fixture("eks", region="eu-central-1")
    assert not {"gpu", "train", "burst", "system"} & set(by_name(inside, "allowed-regions", EU))


def test_gke_cluster_and_node_pools_are_held_to_the_residency():
    pools = [{**SYSTEM, "name": "zoned"}, {"name": "named", "machine": "e2-standard-4", "nodeCount": 1,
                                           "clusterId": "projects/p/locations/us-central1/clusters/other"}]
    outside = by_name(run_fixture("gke", pools=pools), "allowed-regions", EU)
    assert outside["gke"] == ["lands in us-central1, outside the allowed ['eu']"]  # the cluster's location
    assert outside["zoned"] == ["lands in us-central1, outside the allowed ['eu']"]  # its node locations
    assert outside["named"] == ["lands in us-central1, outside the allowed ['eu']"]  # the location in its cluster's id
    inside = by_name(run_fixture("gke", location="europe-west4", pools=[{**SYSTEM, "nodeLocations": ["europe-west4-a"]}]),
                     "allowed-regions", EU)
    assert not {"gke", "system"} & set(inside)


def test_a_node_pool_of_a_stack_cluster_lands_where_the_cluster_is_not_where_the_provider_points():
    """The provider defaults to us-central1; the cluster is in europe-west4 and the pool (no location, no node
    locations) takes its cluster's id, not known at preview: the cluster is checked, the pool is not blamed for the
    provider's region."""
    pool = {"name": "bare", "machine": "e2-standard-4", "nodeCount": 1}
    found = by_name(run_fixture("gke", location="europe-west4", pools=[pool]), "allowed-regions", EU)
    assert "gke" not in found and "bare" not in found


@pytest.mark.parametrize(("fixture", "settings", "resource", "message"), [
    ("eks", {"encryption": False}, "gpu", "Kubernetes secrets are encrypted only under keys AWS owns"),
    ("gke", {"encryption": {"state": "DECRYPTED"}}, "gke", "Kubernetes secrets are encrypted only under Google's keys"),
    ("gke", {"pools": [{**SYSTEM, "bootKey": False}]}, "system", "the boot disks of its nodes have no customer-managed key"),
    ("gke", {"removeDefault": False, "defaultNodeConfig": {"service_account": "nodes@p.iam.gserviceaccount.com"}, "pools": []},
     "gke", "the boot disks of the nodes of its default node pool have no customer-managed key"),
])
def test_kubernetes_data_needs_customer_managed_keys(fixture, settings, resource, message):
    found = by_name(run_fixture(fixture, **settings), "customer-managed-keys")
    assert found[resource][0].startswith(message)


# Cost: the budget and GPU caps count node groups and node pools -----------------------------------------------------------

def test_budget_and_gpu_caps_count_eks_node_groups(eks_fixture):
    """train (p5, up to 4 nodes, 32 GPUs) and burst (p5en spot, up to 2, 16 GPUs): 48 GPUs; $220.25 + $54.40 an hour of
    nodes at max size, plus the control plane and the key."""
    over = by_name(eks_fixture, "stack-budget", {"cost": {"stack-budget": {"maxHourlyUsd": 200}}})
    assert over["train"][0].startswith("estimated $275.") and "largest: train $220.16" in over["train"][0]
    assert by_name(eks_fixture, "stack-budget", {"cost": {"stack-budget": {"maxHourlyUsd": 300}}}) == {}
    assert by_name(eks_fixture, "gpus-per-stack", {"cost": {"gpus-per-stack": {"maxGpus": 40}}}) == {
        "fixture-dev": ["the stack can grow to 48 GPUs, above the cap of 40"]}
    assert by_name(eks_fixture, "gpus-per-stack", {"cost": {"gpus-per-stack": {"maxGpus": 48}}}) == {}
    assert by_name(eks_fixture, "gpus-per-pool", {"cost": {"gpus-per-pool": {"maxGpusPerPool": 16}}}) == {
        "train": ["pool 'train' can grow to 32 GPUs, above the cap of 16 per pool"]}


def test_budget_and_gpu_caps_count_gke_node_pools(gke_fixture):
    assert by_name(gke_fixture, "gpus-per-stack", {"cost": {"gpus-per-stack": {"maxGpus": 16}}}) == {
        "fixture-dev": ["the stack can grow to 32 GPUs, above the cap of 16"]}
    over = by_name(gke_fixture, "stack-budget", {"cost": {"stack-budget": {"maxMonthlyUsd": 50_000}}})
    assert "largest: train $82,256.40" in over["train"][0]
    assert by_name(gke_fixture, "stack-budget", {"cost": {"stack-budget": {"maxMonthlyUsd": 100_000}}}) == {}


def test_on_demand_guard_and_spot_or_zero_read_node_groups_and_pools():
    od = run_fixture("eks", groups=[group("train", template=True, publicIp="false", pool="train", purpose="training")])
    assert by_name(od, "no-unreserved-on-demand-large-gpus") == {
        "train": ["1 on-demand p5.48xlarge node(s) without a reservation or capacity block; reserve the capacity, use spot, or list the pool in allowPools"]}
    assert by_name(od, "no-unreserved-on-demand-large-gpus", {"cost": {"no-unreserved-on-demand-large-gpus": {"allowPools": ["train"]}}}) == {}
    assert by_name(od, "training-pools-spot-or-scale-to-zero")["train"][0].startswith("a training pool on on-demand capacity keeps 1 node(s)")
    block = run_fixture("eks", groups=[group("train", capacity="CAPACITY_BLOCK", min=2, max=2, template=True, publicIp="false",
                                             block="cr-0123456789abcdef0", purpose="training")])
    assert by_name(block, "no-unreserved-on-demand-large-gpus") == {} and by_name(block, "training-pools-spot-or-scale-to-zero") == {}
    labels = {"gpucluster-pool": "train", "gpucluster-purpose": "training"}
    pool = {"name": "train", "machine": "a3-megagpu-8g", "nodeLocations": ["us-central1-a"], "nodeCount": 1, "labels": labels}
    assert by_name(run_fixture("gke", pools=[pool]), "training-pools-spot-or-scale-to-zero")["train"][0].startswith(
        "a training pool on on-demand capacity keeps 1 node(s)")
    assert by_name(run_fixture("gke", pools=[{**pool, "spot": True}]), "training-pools-spot-or-scale-to-zero") == {}


def test_cost_allocation_tags_on_node_groups_and_pools():
    assert by_name(run_fixture("eks", groups=[group(types=["m7i.xlarge"], templateType=None, untagged=True)]), "cost-allocation-tags") == {
        "gpu": ["missing cost-allocation tag(s) ['owner', 'cost-center', 'project']"]}
    assert by_name(run_fixture("gke", pools=[{**SYSTEM, "unlabelled": True}]), "cost-allocation-tags") == {
        "system": ["missing cost-allocation tag(s) ['owner', 'cost-center', 'project']"]}
    assert by_name(run_fixture("eks"), "cost-allocation-tags") == by_name(run_fixture("gke"), "cost-allocation-tags") == {}


# Levels and waivers: the new policies go through the same config as every other -----------------------------------------

def test_kubernetes_policies_are_mandatory_and_can_be_waived_only_visibly():
    graph = run_fixture("eks", mapPublicIp=True, groups=[group(types=["p5.48xlarge"], templateType=None)])
    (finding,) = findings(graph, "kubernetes-nodes-private")
    assert (finding.pack, finding.enforcement, finding.severity) == ("security", "mandatory", "high")
    lowered = {"security": {"kubernetes-nodes-private": "advisory"}}
    (waived,) = findings(graph, "kubernetes-nodes-private", lowered)
    assert waived.enforcement == "advisory"
    _, waivers = combine([Layer("gpucluster:policy (stack)", lowered)])
    assert [str(w) for w in waivers] == ["security/kubernetes-nodes-private: mandatory -> advisory, set by gpucluster:policy (stack)"]
    assert findings(graph, "kubernetes-nodes-private", {"security": {"kubernetes-nodes-private": "disabled"}}) == []
