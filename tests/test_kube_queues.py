"""The Kueue objects: a flavor per pool tried in queue order whatever the pools are called, quotas of every pool at its
maximum, team queues, the manager configuration; every object checked against the CRDs of Kueue v0.19.2."""

from __future__ import annotations

import copy
import itertools
import json

import pytest
import yaml

from gpucluster.kube import kueue, schemas
from gpucluster.kube.nodes import node_pool_plans
from gpucluster.preview.stackfile import read_stack
from gpucluster.spec import ClusterSpec
from gpucluster.validate import load_spec

from .helpers import PROJECT
from .test_eks import RESERVATION, eks_spec

SPOT_TOLERATION = {"key": "gpucluster.dev/spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
QUEUED_TOLERATION = {"key": "cloud.google.com/gke-queued", "operator": "Equal", "value": "true", "effect": "NoSchedule"}

# One pool per capacity source, each of another type; named in the tests.
RESERVED = {"instanceType": "p5.48xlarge", "size": {"min": 2, "max": 2}, "zones": ["us-east-1a"],
            "capacity": {"type": "reservation", "reservationId": RESERVATION}}
SPOT = {"instanceType": "p4d.24xlarge", "size": {"max": 4}, "zones": ["us-east-1a"], "capacity": {"type": "spot"}}
ON_DEMAND = {"instanceType": "g6e.12xlarge", "size": {"max": 3}, "zones": ["us-east-1b"]}
SHAPES = {"reservation": RESERVED, "spot": SPOT, "on-demand": ON_DEMAND}
# Each pool at its maximum, worked out by hand from the catalog (p5.48xlarge: 192 vCPU, 2048 GiB, 8 GPUs, 32 EFA;
# p4d.24xlarge: 96, 1152, 8, 4; g6e.12xlarge: 48, 384, 4, 1) and 5120 MiB of EFA huge pages a node.
EXPECTED_QUOTA = {
    "reservation": {"cpu": 384, "memory": "4194304Mi", "nvidia.com/gpu": 16, "vpc.amazonaws.com/efa": 64,
                    "hugepages-2Mi": "10240Mi"},
    "spot": {"cpu": 384, "memory": "4718592Mi", "nvidia.com/gpu": 32, "vpc.amazonaws.com/efa": 16,
             "hugepages-2Mi": "20480Mi"},
    "on-demand": {"cpu": 144, "memory": "1179648Mi", "nvidia.com/gpu": 12, "vpc.amazonaws.com/efa": 3,
                  "hugepages-2Mi": "15360Mi"},
}
NAMES = ("alpha", "bravo", "charlie")

GCP = {
    "name": "g", "cloud": "gcp", "region": "us-central1", "zones": ["us-central1-b"],
    "kubernetes": {"version": "1.35", "teams": [{"name": "research"}, {"name": "product"}]},
    "pools": [
        {"name": "ultra", "instanceType": "a3-ultragpu-8g", "size": {"max": 2},
         "capacity": {"type": "reservation", "reservationName": "r1"}},
        {"name": "mega", "instanceType": "a3-megagpu-8g", "size": {"max": 4}, "capacity": {"type": "spot"}},
        {"name": "high", "instanceType": "a3-highgpu-8g", "size": {"max": 3}, "capacity": {"type": "flex-start"}},
    ],
    "storage": {"scratch": {}, "buckets": {}},
    "tags": {"owner": "team", "costCenter": "cc-1", "project": "proj"},
}


def gcp_spec(data: dict = GCP) -> ClusterSpec:
    """The GCP spec, parsed but not validated: validation refuses A3 High and Mega pools with their fabric on until
    the GKE node pools set up TCPX(O) (gpucluster/validate.py), while the queue and the job template serve them."""
    return ClusterSpec.model_validate(copy.deepcopy(data))


def aws_spec(sources: list[str], names: list[str], teams: tuple[str, ...] = ("research",)) -> ClusterSpec:
    pools = [{**copy.deepcopy(SHAPES[source]), "name": name} for source, name in zip(sources, names)]
    spec, _ = load_spec(eks_spec(pools=pools, kubernetes={"version": "1.35", "teams": [{"name": t} for t in teams]}))
    return spec


def example_spec(stack: str) -> ClusterSpec:
    spec, _ = load_spec(json.loads(read_stack(PROJECT, stack).values["gpucluster:cluster"]))
    return spec


def checked(obj: dict, version: str) -> list[str]:
    """The object's problems against the vendored CRDs or the Kubernetes OpenAPI (a kind with neither fails)."""
    return schemas.check_object(obj, version)


def flavors_of(queue: dict) -> list[dict]:
    return queue["spec"]["resourceGroups"][0]["flavors"]


def quotas_of(queue: dict) -> dict[str, dict]:
    return {f["name"]: {r["name"]: r["nominalQuota"] for r in f["resources"]} for f in flavors_of(queue)}


# -- flavor order and quotas follow the capacity source, not the names -----------------------------------------------

CASES = [(sources, names) for count in (2, 3) for sources in itertools.permutations(list(SHAPES)[:count])
         for names in itertools.permutations(NAMES[:count])]


@pytest.mark.parametrize(("sources", "names"), CASES, ids=lambda v: "-".join(v))
def test_flavors_go_reserved_spot_on_demand_with_each_pool_at_its_maximum(sources, names):
    spec = aws_spec(list(sources), list(names))
    by_source = dict(zip(sources, names))
    queue = kueue.cluster_queue(spec)
    order = [s for s in ("reservation", "spot", "on-demand") if s in by_source]
    assert [f["name"] for f in flavors_of(queue)] == [by_source[s] for s in order]
    quotas = quotas_of(queue)
    for source, name in by_source.items():
        assert quotas[name] == EXPECTED_QUOTA[source], source


def test_every_quota_is_size_max_times_one_node():
    spec = aws_spec(["spot", "reservation", "on-demand"], list(NAMES))
    quotas = quotas_of(kueue.cluster_queue(spec))
    for pool in node_pool_plans(spec):
        instance, nodes = pool.plan.instance, pool.plan.pool.size.max
        assert quotas[pool.name]["cpu"] == instance.vcpus * nodes
        assert quotas[pool.name]["memory"] == f"{int(instance.memory_gib * 1024) * nodes}Mi"
        assert quotas[pool.name]["nvidia.com/gpu"] == pool.gpus_per_node * nodes
        assert quotas[pool.name]["vpc.amazonaws.com/efa"] == pool.efa_per_node * nodes


def test_a_pool_without_a_resource_gets_a_zero_quota_for_it():
    pools = [{**RESERVED, "name": "big"}, {**ON_DEMAND, "name": "small", "fabric": "off"}]
    spec, _ = load_spec(eks_spec(pools=pools))
    quotas = quotas_of(kueue.cluster_queue(spec))
    assert quotas["small"]["vpc.amazonaws.com/efa"] == 0 and quotas["small"]["hugepages-2Mi"] == "0Mi"
    assert quotas["big"]["vpc.amazonaws.com/efa"] == 64


def test_every_flavor_lists_the_covered_resources_in_their_order():
    # Kueue's CRD rule (x-kubernetes-validations, not evaluated offline) and its webhook: same count, same order.
    for spec in (aws_spec(["on-demand", "spot", "reservation"], list(NAMES)), gcp_spec()):
        group = kueue.cluster_queue(spec)["spec"]["resourceGroups"][0]
        for flavor in group["flavors"]:
            assert [r["name"] for r in flavor["resources"]] == group["coveredResources"]


def test_covered_resources_are_those_the_pools_offer():
    aws = kueue.cluster_queue(aws_spec(["reservation", "spot"], ["a", "b"]))
    assert aws["spec"]["resourceGroups"][0]["coveredResources"] == [
        "cpu", "memory", "nvidia.com/gpu", "vpc.amazonaws.com/efa", "hugepages-2Mi"]
    gcp = kueue.cluster_queue(gcp_spec())
    assert gcp["spec"]["resourceGroups"][0]["coveredResources"] == ["cpu", "memory", "nvidia.com/gpu"]


def test_a_job_that_does_not_fit_a_flavor_tries_the_next():
    fungibility = kueue.cluster_queue(aws_spec(["reservation", "spot"], ["a", "b"]))["spec"]["flavorFungibility"]
    assert fungibility == {"whenCanBorrow": "TryNextFlavor", "whenCanPreempt": "TryNextFlavor"}


# -- flavors select their pool and tolerate its taints ---------------------------------------------------------------

@pytest.mark.parametrize("names", [("a", "b"), ("b", "a")])
def test_the_spot_flavor_tolerates_the_spot_taint_and_the_reserved_one_does_not(names):
    spec = aws_spec(["reservation", "spot"], list(names))
    flavors = {f["metadata"]["name"]: f["spec"] for f in kueue.resource_flavors(spec)}
    reserved, spot = flavors[names[0]], flavors[names[1]]
    assert SPOT_TOLERATION in spot["tolerations"] and SPOT_TOLERATION not in reserved["tolerations"]
    gpu = {"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"}
    assert gpu in spot["tolerations"] and gpu in reserved["tolerations"]
    assert spot["nodeLabels"] == {"gpucluster.dev/pool": names[1], "node.kubernetes.io/instance-type": "p4d.24xlarge",
                                  "eks.amazonaws.com/capacityType": "SPOT"}
    assert reserved["nodeLabels"]["eks.amazonaws.com/capacityType"] == "ON_DEMAND"


def test_flavor_labels_are_the_labels_the_pools_nodes_carry():
    spec = gcp_spec()
    flavors = {f["metadata"]["name"]: f["spec"] for f in kueue.resource_flavors(spec)}
    for pool in node_pool_plans(spec):
        assert flavors[pool.name]["nodeLabels"] == pool.selector
        assert all(taint.toleration() in flavors[pool.name]["tolerations"] for taint in pool.taints)
    assert flavors["mega"]["nodeLabels"]["cloud.google.com/gke-spot"] == "true"


# -- GKE flex-start goes through a ProvisioningRequest ---------------------------------------------------------------

def test_gke_flex_start_flavors_wait_for_a_provisioning_request_and_no_other_does():
    spec = gcp_spec()
    queue = kueue.cluster_queue(spec)
    assert [f["name"] for f in flavors_of(queue)] == ["ultra", "mega", "high"]  # reservation, spot, flex-start
    checks = queue["spec"]["admissionChecksStrategy"]["admissionChecks"]
    assert checks == [{"name": "flex-start", "onFlavors": ["high"]}]
    config, check = kueue.flex_start_checks(spec)
    assert config["kind"] == "ProvisioningRequestConfig"
    assert config["spec"]["provisioningClassName"] == "queued-provisioning.gke.io"
    assert check["spec"]["parameters"] == {"apiGroup": "kueue.x-k8s.io", "kind": "ProvisioningRequestConfig",
                                           "name": config["metadata"]["name"]}
    flavors = {f["metadata"]["name"]: f["spec"] for f in kueue.resource_flavors(spec)}
    assert QUEUED_TOLERATION in flavors["high"]["tolerations"]
    assert QUEUED_TOLERATION not in flavors["ultra"]["tolerations"]


def test_a_queue_without_flex_start_has_no_admission_check():
    spec = aws_spec(["reservation", "spot"], ["a", "b"])
    assert "admissionChecksStrategy" not in kueue.cluster_queue(spec)["spec"]
    assert kueue.flex_start_checks(spec) == []
    assert {o["kind"] for o in kueue.queue_objects(spec)} == {"ResourceFlavor", "ClusterQueue", "LocalQueue"}


# -- teams -----------------------------------------------------------------------------------------------------------

def test_each_team_has_a_local_queue_in_its_namespace_and_only_teams_may_submit():
    spec = aws_spec(["reservation", "spot"], ["a", "b"], teams=("research", "product"))
    queues = kueue.local_queues(spec)
    assert [(q["metadata"]["name"], q["metadata"]["namespace"], q["spec"]["clusterQueue"]) for q in queues] == [
        ("research", "research", "k"), ("product", "product", "k")]
    selector = kueue.cluster_queue(spec)["spec"]["namespaceSelector"]
    assert selector == {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In",
                                              "values": ["research", "product"]}]}


def test_objects_come_in_an_order_that_applies():
    kinds = [o["kind"] for o in kueue.queue_objects(gcp_spec())]
    assert kinds == ["ResourceFlavor"] * 3 + ["ProvisioningRequestConfig", "AdmissionCheck", "ClusterQueue"] + [
        "LocalQueue"] * 2


# -- the manager's configuration -------------------------------------------------------------------------------------

def test_spot_workloads_are_requeued_for_ever_with_a_capped_backoff():
    config = yaml.safe_load(kueue.kueue_values(gcp_spec())["managerConfig"]["controllerManagerConfigYaml"])
    assert config["apiVersion"] == "config.kueue.x-k8s.io/v1beta2" and config["kind"] == "Configuration"
    wait = config["waitForPodsReady"]
    assert wait["timeout"] == "10m" and wait["blockAdmission"] is False
    strategy = wait["requeuingStrategy"]
    # Present and null: endless requeues (kubernetes-sigs/kueue #15255), not left to a default.
    assert "backoffLimitCount" in strategy and strategy["backoffLimitCount"] is None
    assert strategy["backoffBaseSeconds"] == 60 and strategy["backoffMaxSeconds"] == 3600
    assert "jobset.x-k8s.io/jobset" in config["integrations"]["frameworks"]


def test_the_charts_own_manager_settings_are_kept():
    # The values replace the chart's YAML whole: its ports must stay those the chart's Services and probes use.
    config = yaml.safe_load(kueue.kueue_values(gcp_spec())["managerConfig"]["controllerManagerConfigYaml"])
    assert config["webhook"] == {"port": 9443} and config["metrics"] == {"bindAddress": ":8443"}
    assert config["health"] == {"healthProbeBindAddress": ":8081"} and config["leaderElection"]["leaderElect"] is True


# -- checked against Kueue's CRDs ------------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda: aws_spec(["on-demand", "spot", "reservation"], list(NAMES)),
    gcp_spec,
    lambda: example_spec("eks-p5-kueue"),
    lambda: example_spec("gke-a3-ultra-kueue"),
], ids=["aws-three-pools", "gcp-a3-ultra-mega-high", "eks-p5-kueue", "gke-a3-ultra-kueue"])
def test_every_queue_object_matches_the_kueue_crds(make):
    spec = make()
    for obj in kueue.queue_objects(spec):
        assert checked(obj, spec.kubernetes.version) == [], obj["kind"]


@pytest.mark.parametrize(("kind", "mutate", "says"), [
    ("ClusterQueue", lambda o: o["spec"].__setitem__("cohort", "v1beta1-field"), "cohort"),
    ("ClusterQueue", lambda o: o["spec"]["flavorFungibility"].__setitem__("whenCanBorrow", "Borrow"), "Borrow"),
    ("ClusterQueue", lambda o: o["spec"]["resourceGroups"][0]["flavors"][0]["resources"][0]
     .__setitem__("nominalQuota", "lots"), "nominalQuota"),
    ("ResourceFlavor", lambda o: o["spec"].__setitem__("nodeLabel", {}), "nodeLabel"),
    ("ResourceFlavor", lambda o: o["metadata"].__setitem__("name", "Spot_Pool"), "DNS-1123"),
    ("LocalQueue", lambda o: o["spec"].__setitem__("clusterQueues", "k"), "clusterQueues"),
    ("AdmissionCheck", lambda o: o["spec"].pop("controllerName"), "controllerName"),
])
def test_a_misspelt_retired_or_malformed_field_is_refused(kind, mutate, says):
    obj = copy.deepcopy(next(o for o in kueue.queue_objects(gcp_spec()) if o["kind"] == kind))
    assert checked(obj, "1.35") == []
    mutate(obj)
    problems = checked(obj, "1.35")
    assert problems and says in " ".join(problems)


def test_a_kind_without_a_crd_is_an_error_never_a_pass(monkeypatch, tmp_path):
    monkeypatch.setenv(schemas.CRD_DIR_ENV, str(tmp_path))
    flavor = kueue.resource_flavors(gcp_spec())[0]
    with pytest.raises(schemas.NoSchema, match=f"no schema for kueue.x-k8s.io/v1beta2 ResourceFlavor.*{tmp_path}"):
        schemas.check_object(flavor, "1.35")
