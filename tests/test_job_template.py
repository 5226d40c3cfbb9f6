"""The queues and the job template: checked against the CRDs of the pinned Kueue and JobSet releases and the
Kubernetes OpenAPI, fitted to the pool, and refused with the flag named when they cannot be made."""

from __future__ import annotations

import copy
import itertools
import subprocess
import sys

import pytest
import yaml

from gpucluster.kube import jobset, kueue, schemas
from gpucluster.kube.nodes import EFA_RESOURCE, node_pool_plans
from gpucluster.validate import load_spec

from .helpers import ROOT
from .test_eks import EKS_SPEC, eks_spec

needs_crds = pytest.mark.skipif(
    not any(schemas.crd_directory().glob("*/*.yaml")),
    reason=f"no Kueue/JobSet CRDs under {schemas.crd_directory()} (set ${schemas.CRD_DIR_ENV}; see gpucluster/kube/schemas.py)",
)
THREE_POOLS = [
    {"name": "reserved", "instanceType": "p5.48xlarge", "size": {"min": 2, "max": 2}, "zones": ["us-east-1a"],
     "capacity": {"type": "reservation", "reservationId": "cr-0123456789abcdef0"}},
    {"name": "spot", "instanceType": "p5.48xlarge", "size": {"max": 4}, "zones": ["us-east-1a"], "capacity": {"type": "spot"}},
    {"name": "dev", "instanceType": "g6e.12xlarge", "size": {"max": 3}, "zones": ["us-east-1b"]},
]
GCP_FLEX = {
    "name": "g", "cloud": "gcp", "region": "europe-west4", "zones": ["europe-west4-a"], "kubernetes": {},
    "pools": [{"name": "flex", "instanceType": "a3-ultragpu-8g", "size": {"max": 4}, "capacity": {"type": "flex-start"}},
              {"name": "spot", "instanceType": "a3-ultragpu-8g", "size": {"max": 4}, "capacity": {"type": "spot"}}],
    "tags": {"owner": "team", "costCenter": "cc-1", "project": "proj"},
}


def _objects(spec) -> list[dict]:
    objects = kueue.queue_objects(spec)
    if spec.cloud == "aws":
        objects.append(jobset.job_template(spec))
    return objects


@needs_crds
@pytest.mark.parametrize("pools", list(itertools.permutations(THREE_POOLS)), ids=lambda p: "-".join(x["name"] for x in p))
def test_queues_and_job_match_the_crds_and_the_kubernetes_schema(pools):
    spec, _ = load_spec(eks_spec(pools=list(pools)))
    for obj in _objects(spec):
        assert schemas.check_object(obj, spec.kubernetes.version) == [], obj["kind"]
    flavors = kueue.cluster_queue(spec)["spec"]["resourceGroups"][0]["flavors"]
    assert [f["name"] for f in flavors] == ["reserved", "spot", "dev"]  # whatever the order in the spec


@needs_crds
def test_gke_flex_start_goes_through_a_provisioning_request_check():
    spec, _ = load_spec(GCP_FLEX)
    objects = kueue.queue_objects(spec)
    for obj in objects:
        assert schemas.check_object(obj, "1.35") == [], obj["kind"]
    queue = kueue.cluster_queue(spec)
    assert queue["spec"]["admissionChecksStrategy"]["admissionChecks"] == [{"name": "flex-start", "onFlavors": ["flex"]}]
    assert [f["name"] for f in queue["spec"]["resourceGroups"][0]["flavors"]] == ["spot", "flex"]


@needs_crds
@pytest.mark.parametrize(("kind", "mutate"), [
    ("ClusterQueue", lambda o: o["spec"].__setitem__("cohort", "old-v1beta1-field")),
    ("ResourceFlavor", lambda o: o["spec"].__setitem__("nodeLabel", {})),
    ("JobSet", lambda o: o["spec"]["replicatedJobs"][0].__setitem__("replica", 1)),
    ("JobSet", lambda o: o["spec"]["replicatedJobs"][0]["template"]["spec"]["template"]["spec"]["containers"][0]
     .__setitem__("securityContxt", {})),
])
def test_a_misspelt_or_retired_field_is_refused(kind, mutate):
    spec, _ = load_spec(EKS_SPEC)
    obj = copy.deepcopy(next(o for o in _objects(spec) if o["kind"] == kind))
    mutate(obj)
    assert schemas.check_object(obj, "1.35")


def test_an_unknown_kind_says_where_schemas_were_looked_for(monkeypatch, tmp_path):
    monkeypatch.setenv(schemas.CRD_DIR_ENV, str(tmp_path))
    with pytest.raises(schemas.NoSchema, match=str(tmp_path)):
        schemas.check_object({"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "x"}}, "1.35")


@pytest.mark.parametrize("pool_name", ["reserved", "spot", "dev"])
def test_the_job_fills_one_node_of_the_pool_and_no_more(pool_name):
    spec, _ = load_spec(eks_spec(pools=THREE_POOLS))
    pool = next(p for p in node_pool_plans(spec) if p.name == pool_name)
    job = jobset.job_template(spec, pool=pool_name, nodes=2)
    pod = job["spec"]["replicatedJobs"][0]["template"]["spec"]["template"]["spec"]
    requests = pod["containers"][0]["resources"]["requests"]
    assert int(requests["nvidia.com/gpu"]) == pool.gpus_per_node
    assert int(requests.get(EFA_RESOURCE, 0)) == pool.efa_per_node  # every EFA device of the node, or none
    assert int(requests["cpu"]) < pool.plan.instance.vcpus
    assert pod["nodeSelector"] == {"node.kubernetes.io/instance-type": pool.plan.instance.name}
    tolerated = {t["key"] for t in pod["tolerations"]}
    assert ("gpucluster.dev/spot" in tolerated) == (pool.plan.instance.name == "p5.48xlarge")  # a spot pool of that type
    assert "IPC_LOCK" in pod["containers"][0]["securityContext"]["capabilities"]["add"]
    assert {"name": "shm", "emptyDir": {"medium": "Memory"}} in pod["volumes"]
    assert job["spec"]["replicatedJobs"][0]["template"]["spec"]["parallelism"] == 2


def test_checkpoints_go_to_the_shared_file_system_else_the_bucket():
    spec, _ = load_spec(EKS_SPEC)
    env = {e["name"]: e.get("value") for e in
           jobset.job_template(spec)["spec"]["replicatedJobs"][0]["template"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["CHECKPOINT_DIR"] == "/fsx/checkpoints/train"
    spec, _ = load_spec(eks_spec(storage={"buckets": {}}))
    assert jobset.checkpoint_directory(spec, "train") == "/checkpoints/train"


@pytest.mark.parametrize(("args", "message"), [
    (["--pool", "nope"], "--pool 'nope': the stack has no such pool; its pools: reserved, spot"),
    (["--nodes", "0"], "--nodes 0: pool 'reserved' has at most 8 nodes; give 1 to 8"),
    (["--nodes", "9"], "--nodes 9: pool 'reserved' has at most 8 nodes"),
    (["--team", "ops"], "--team 'ops': the stack's teams are research, product"),
    (["--name", "Train"], "--name 'Train'"),
])
def test_cli_refuses_what_cannot_be_made_with_exit_2(args, message):
    run = subprocess.run([sys.executable, "-m", "gpucluster.cli", "job-template", "eks-p5-kueue", *args],
                         cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 2 and message in run.stderr and "Traceback" not in run.stderr


def test_cli_prints_a_jobset_for_the_example_stack():
    run = subprocess.run([sys.executable, "-m", "gpucluster.cli", "job-template", "eks-p5-kueue", "--pool", "spot",
                          "--nodes", "4", "--team", "product"], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    job = yaml.safe_load(run.stdout)
    assert job["kind"] == "JobSet" and job["metadata"]["namespace"] == "product"
    assert job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "product"
    assert job["spec"]["replicatedJobs"][0]["template"]["spec"]["completions"] == 4


def test_cli_refuses_a_stack_without_kubernetes():
    run = subprocess.run([sys.executable, "-m", "gpucluster.cli", "job-template", "aws-p5-train"], cwd=ROOT,
                         capture_output=True, text=True)
    assert run.returncode == 2 and "no `kubernetes:` section" in run.stderr


@needs_crds
def test_a_gke_rdma_job_names_the_networks_the_cluster_defines():
    import json

    from gpucluster.kube import gke

    spec, _ = load_spec({**GCP_FLEX, "storage": {"buckets": {}}})
    job = jobset.job_template(spec, pool="spot", nodes=2)
    assert schemas.check_object(job, "1.35") == []
    pod = job["spec"]["replicatedJobs"][0]["template"]["spec"]["template"]
    interfaces = json.loads(pod["metadata"]["annotations"]["networking.gke.io/interfaces"])
    defined = {o["metadata"]["name"] for o in gke.network_objects(spec, {"rdma": "vpc"}, {f"rdma-{i}": "s" for i in range(8)})}
    assert {i["network"] for i in interfaces[1:]} == defined and len(interfaces) == 9
    assert pod["metadata"]["annotations"]["gke-gcsfuse/volumes"] == "true"
    container = pod["spec"]["containers"][0]
    assert container["command"][:2] == ["/bin/bash", "-c"] and "set_nccl_env.sh" in container["command"][2]
    assert {"name": "gib", "mountPath": "/usr/local/gib"} in container["volumeMounts"]


@pytest.mark.parametrize("stack_spec", [EKS_SPEC, {**GCP_FLEX, "storage": {"buckets": {}}}], ids=["eks", "gke"])
def test_the_jobs_pods_match_the_kubernetes_openapi_without_the_crds(stack_spec):
    spec, _ = load_spec(stack_spec)
    job = jobset.job_template(spec, nodes=2)
    assert schemas.job_template_problems(job, "1.35") == []
    broken = copy.deepcopy(job)
    template = broken["spec"]["replicatedJobs"][0]["template"]["spec"]
    template["paralelism"] = template.pop("parallelism")  # misspelt: the strict schema knows no such field
    assert schemas.job_template_problems(broken, "1.35")
