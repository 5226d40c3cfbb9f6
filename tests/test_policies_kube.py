"""The Kubernetes control-plane policies, on our EKS stack and on programs written directly against pulumi_aws.eks and
pulumi_gcp.container, each with a passing and a failing case; the sovereignty pack covers the cluster's region."""

from __future__ import annotations

import copy
import textwrap

import pytest

from gpucluster.policies.harness import evaluate
from gpucluster.preview.engine import run_program

from .helpers import preview_spec
from .test_eks import EKS_SPEC

EKS = "aws:eks/cluster:Cluster"
POLICIES = {"kubernetes-api-private", "kubernetes-secrets-encrypted", "kubernetes-audit-logs"}


@pytest.fixture(scope="module")
def eks():
    return preview_spec(EKS_SPEC)


def findings(graph, policy=None):
    return [v for v in evaluate(graph, {}) if policy is None or v.policy == policy]


def with_cluster(graph, change):
    graph = copy.deepcopy(graph)
    change(next(r for r in graph.resources if r.type == EKS).inputs)
    return graph


def test_our_eks_cluster_passes(eks):
    assert not {v.policy for v in findings(eks)} & POLICIES


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


GKE_PROGRAM = """
import pulumi_gcp as gcp

gcp.container.Cluster("{name}", location="europe-west4", initial_node_count=1, deletion_protection=False,
    private_cluster_config={private},
    master_authorized_networks_config={authorized},
    database_encryption={encryption})
"""
PRIVATE = {"enable_private_nodes": True, "enable_private_endpoint": True, "master_ipv4_cidr_block": "172.16.0.0/28"}
ENCRYPTED = {"state": "ENCRYPTED", "key_name": "projects/p/locations/europe-west4/keyRings/r/cryptoKeys/k"}


def gke_findings(tmp_path, private, authorized, encryption) -> set[tuple[str, str]]:
    main = tmp_path / "__main__.py"
    main.write_text(textwrap.dedent(GKE_PROGRAM.format(name="gke", private=private, authorized=authorized, encryption=encryption)))
    graph = run_program(str(main), "user", "dev", {"gcp:project": "p", "gcp:region": "europe-west4"})
    return {(v.policy, v.message) for v in evaluate(graph, {}) if v.policy in POLICIES}


def test_a_private_encrypted_gke_cluster_passes(tmp_path):
    assert gke_findings(tmp_path, PRIVATE, None, ENCRYPTED) == set()


@pytest.mark.parametrize(("private", "authorized", "encryption", "policy", "message"), [
    (None, None, ENCRYPTED, "kubernetes-api-private", "nodes get public IPs"),
    ({**PRIVATE, "enable_private_endpoint": False}, None, ENCRYPTED, "kubernetes-api-private", "public to ['0.0.0.0/0']"),
    ({**PRIVATE, "enable_private_endpoint": False}, {"cidr_blocks": [{"cidr_block": "0.0.0.0/0"}]}, ENCRYPTED,
     "kubernetes-api-private", "public to ['0.0.0.0/0']"),
    (PRIVATE, None, {"state": "DECRYPTED"}, "kubernetes-secrets-encrypted", "not encrypted with a key of yours"),
])
def test_a_gke_cluster_that_breaks_a_rule_is_found(tmp_path, private, authorized, encryption, policy, message):
    found = gke_findings(tmp_path, private, authorized, encryption)
    assert any(p == policy and message in m for p, m in found), found


def test_a_gke_endpoint_open_only_to_listed_networks_passes(tmp_path):
    authorized = {"cidr_blocks": [{"cidr_block": "203.0.113.0/24"}]}
    assert gke_findings(tmp_path, {**PRIVATE, "enable_private_endpoint": False}, authorized, ENCRYPTED) == set()
