"""The job template: a JobSet that fills whole nodes of a pool with the pool's fabric, checked against the JobSet CRD
and the Kubernetes OpenAPI; refused, naming the flag, where it cannot be made; printed by `gpucluster job-template`."""

from __future__ import annotations

import contextlib
import io
import json
import shlex
import subprocess
import sys

import pytest
import yaml

from gpucluster import cli
from gpucluster.kube import gke, jobset, kueue, schemas
from gpucluster.kube.nodes import node_pool_plans
from gpucluster.validate import load_spec

from .helpers import ROOT
from .test_eks import EKS_SPEC, eks_spec
from .test_kube_queues import QUEUED_TOLERATION, RESERVED, SPOT, SPOT_TOLERATION, checked, gcp_spec

THREE_AWS = [{**RESERVED, "name": "reserved"}, {**SPOT, "name": "spot", "instanceType": "p5.48xlarge"},
             {"name": "dev", "instanceType": "g6e.12xlarge", "size": {"max": 3}, "zones": ["us-east-1b"]}]


def aws(pools: list[dict] = THREE_AWS, **changes):
    spec, _ = load_spec(eks_spec(pools=pools, **changes))
    return spec


def job_pod(job: dict) -> dict:
    return job["spec"]["replicatedJobs"][0]["template"]["spec"]["template"]


def trainer(job: dict) -> dict:
    return job_pod(job)["spec"]["containers"][0]


def env_of(container: dict) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def quantity_mib(value: str) -> int:
    assert value.endswith("Mi"), value
    return int(value[:-2])


def all_pools_jobs():
    """(spec, pool name, job) for every pool of both clouds' test specs."""
    for spec in (aws(), gcp_spec()):
        for pool in node_pool_plans(spec):
            yield spec, pool.name, jobset.job_template(spec, pool=pool.name, nodes=2)


# -- the job fills one node of its pool, no more ---------------------------------------------------------------------

@pytest.mark.parametrize("case", list(all_pools_jobs()), ids=lambda c: f"{c[0].cloud}-{c[1]}")
def test_the_job_asks_for_one_whole_node_of_its_pool_and_no_more(case):
    spec, name, job = case
    pool = next(p for p in node_pool_plans(spec) if p.name == name)
    instance = pool.plan.instance
    requests = trainer(job)["resources"]["requests"]
    assert int(requests["nvidia.com/gpu"]) == pool.gpus_per_node
    assert int(requests.get("vpc.amazonaws.com/efa", 0)) == pool.efa_per_node  # every EFA device of the node, or none
    assert quantity_mib(requests.get("hugepages-2Mi", "0Mi")) == pool.hugepages_mib_per_node
    assert 0.8 * instance.vcpus <= int(requests["cpu"]) < instance.vcpus
    assert 0.8 * instance.memory_gib * 1024 <= quantity_mib(requests["memory"]) < instance.memory_gib * 1024
    limits = trainer(job)["resources"]["limits"]
    assert all(limits[r] == requests[r] for r in requests if r != "cpu")  # devices and huge pages: limit = request


def test_the_pods_requests_fit_the_queues_quota_of_the_flavor():
    spec = aws()
    quotas = {f["name"]: {r["name"]: r["nominalQuota"] for r in f["resources"]}
              for f in kueue.cluster_queue(spec)["spec"]["resourceGroups"][0]["flavors"]}
    for pool in node_pool_plans(spec):
        nodes = pool.plan.pool.size.max
        requests = trainer(jobset.job_template(spec, pool=pool.name, nodes=nodes))["resources"]["requests"]
        assert int(requests["cpu"]) * nodes <= quotas[pool.name]["cpu"]
        assert quantity_mib(requests["memory"]) * nodes <= quantity_mib(quotas[pool.name]["memory"])
        assert int(requests["nvidia.com/gpu"]) * nodes == quotas[pool.name]["nvidia.com/gpu"]


def test_one_pod_per_node_ranked_by_completion_index_with_rank_0_at_its_hostname():
    spec = aws()
    job = jobset.job_template(spec, pool="spot", nodes=3, name="llm")
    workers = job["spec"]["replicatedJobs"][0]
    assert workers["name"] == "workers" and workers["replicas"] == 1
    template = workers["template"]["spec"]
    assert (template["parallelism"], template["completions"], template["completionMode"]) == (3, 3, "Indexed")
    command = trainer(job)["command"]
    assert command[0] == "torchrun" and command[-1] == "train.py"
    assert {"--nnodes=3", "--nproc-per-node=8", "--node-rank=$(JOB_COMPLETION_INDEX)",
            "--master-addr=llm-workers-0-0.llm", "--master-port=29500"} <= set(command)
    assert job["spec"]["network"] == {"enableDNSHostnames": True, "publishNotReadyAddresses": True}


def test_the_command_is_what_torchrun_starts():
    job = jobset.job_template(aws(), command=["pretrain.py", "--config", "a b.yaml"])
    assert trainer(job)["command"][-3:] == ["pretrain.py", "--config", "a b.yaml"]
    rdma = jobset.job_template(gcp_spec(), pool="ultra", command=["pretrain.py", "--config", "a b.yaml"])
    assert shlex.split(trainer(rdma)["command"][2])[-3:] == ["pretrain.py", "--config", "a b.yaml"]


# -- placement: the team's queue, the pool's nodes -------------------------------------------------------------------

def test_the_job_goes_to_the_teams_namespace_and_queue():
    spec = aws(kubernetes={"version": "1.35", "teams": [{"name": "research"}, {"name": "product"}]})
    job = jobset.job_template(spec, team="product")
    assert job["metadata"]["namespace"] == "product"
    assert job["metadata"]["labels"] == {"kueue.x-k8s.io/queue-name": "product"}
    assert jobset.job_template(spec)["metadata"]["namespace"] == "research"  # the first team by default


def test_a_named_pool_pins_the_job_to_it():
    spec = aws()
    for pool in node_pool_plans(spec):
        pod = job_pod(jobset.job_template(spec, pool=pool.name))["spec"]
        assert pod["nodeSelector"] == pool.selector
        assert pod["tolerations"] == [t.toleration() for t in pool.taints]
        assert (SPOT_TOLERATION in pod["tolerations"]) == (pool.source == "spot")


def test_by_default_the_job_may_run_on_every_pool_of_the_first_pools_type_in_queue_order():
    spec = aws()
    pod = job_pod(jobset.job_template(spec))["spec"]
    assert pod["nodeSelector"] == {"node.kubernetes.io/instance-type": "p5.48xlarge"}  # reserved, then spot: both p5
    assert SPOT_TOLERATION in pod["tolerations"]
    assert not any(t["key"] == "gpucluster.dev/pool" for t in pod["tolerations"])


def test_a_gke_flex_start_job_tolerates_queued_provisioning_nodes():
    pod = job_pod(jobset.job_template(gcp_spec(), pool="high"))["spec"]
    assert QUEUED_TOLERATION in pod["tolerations"]


def test_defaults_first_gpu_pool_in_queue_order_and_two_nodes():
    spec = aws(pools=[THREE_AWS[2], THREE_AWS[1], THREE_AWS[0]])  # listed dev, spot, reserved
    job = jobset.job_template(spec)
    assert job_pod(job)["spec"]["nodeSelector"]["node.kubernetes.io/instance-type"] == "p5.48xlarge"
    assert jobset.DEFAULT_NODES == 2
    big = aws(pools=[{**SPOT, "name": "big", "size": {"max": 16}}])
    assert jobset.job_template(big)["spec"]["replicatedJobs"][0]["template"]["spec"]["parallelism"] == 2
    one_node = aws(pools=[{**RESERVED, "name": "solo", "size": {"min": 1, "max": 1}}])
    assert jobset.job_template(one_node)["spec"]["replicatedJobs"][0]["template"]["spec"]["parallelism"] == 1


# -- the fabric ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("pool", "rdma_reads"), [("reserved", True), ("spot", True), ("dev", False)])
def test_efa_pods_get_the_libfabric_settings(pool, rdma_reads):
    container = trainer(jobset.job_template(aws(), pool=pool))
    env = env_of(container)
    assert env["FI_PROVIDER"] == "efa" and env["NCCL_SOCKET_IFNAME"] == "eth0"
    assert (env.get("FI_EFA_USE_DEVICE_RDMA") == "1") == rdma_reads  # g6e's EFA has no RDMA reads
    assert "IPC_LOCK" in container["securityContext"]["capabilities"]["add"]


def test_a_pool_without_efa_gets_no_efa_settings():
    spec = aws(pools=[{**RESERVED, "name": "plain", "fabric": "off"}])
    container = trainer(jobset.job_template(spec))
    assert "FI_PROVIDER" not in env_of(container) and "vpc.amazonaws.com/efa" not in container["resources"]["requests"]


def test_gke_pods_name_the_networks_the_cluster_defines():
    spec = gcp_spec()
    defined = {o["metadata"]["name"] for o in gke.network_objects(
        spec, {"rdma": "roce-vpc", **{f"gpu-{i}": f"vpc-{i}" for i in range(8)}},
        {**{f"rdma-{i}": f"s{i}" for i in range(8)}, **{f"gpu-{i}": f"s{i}" for i in range(8)}})}
    for name, nics in (("ultra", 8), ("mega", 8), ("high", 4)):
        annotations = job_pod(jobset.job_template(spec, pool=name))["metadata"]["annotations"]
        assert annotations["networking.gke.io/default-interface"] == "eth0"
        interfaces = json.loads(annotations["networking.gke.io/interfaces"])
        assert interfaces[0] == {"interfaceName": "eth0", "network": "default"} and len(interfaces) == 1 + nics
        assert {i["network"] for i in interfaces[1:]} <= defined, name
        assert annotations["gke-gcsfuse/volumes"] == "true"  # the spec has buckets


def test_gke_rdma_pods_source_the_gib_settings():
    pod = job_pod(jobset.job_template(gcp_spec(), pool="ultra"))
    container = pod["spec"]["containers"][0]
    assert container["command"][:2] == ["/bin/bash", "-c"]
    assert container["command"][2].startswith("source /usr/local/gib/scripts/set_nccl_env.sh && exec torchrun ")
    assert {"name": "gib", "mountPath": "/usr/local/gib"} in container["volumeMounts"]
    assert {"name": "gib", "hostPath": {"path": gke.HOST_GIB}} in pod["spec"]["volumes"]
    assert "initContainers" not in pod["spec"]  # gIB needs no daemon


def test_gke_tcpxo_pods_run_the_daemon_as_a_native_sidecar_and_source_the_nccl_profile():
    pod = job_pod(jobset.job_template(gcp_spec(), pool="mega"))
    daemon, = pod["spec"]["initContainers"]
    assert daemon["name"] == "tcpxo-daemon" and daemon["restartPolicy"] == "Always"  # ends with the trainer
    assert daemon["image"] == jobset.TCPXO_DAEMON_IMAGE and "--num_nics=8" in daemon["args"][0]
    assert "startupProbe" in daemon
    devices = yaml.safe_load(pod["metadata"]["annotations"]["devices.gke.io/container.tcpxo-daemon"])
    assert {"path": "/dev/dmabuf_import_helper"} in devices and {"path": "/dev/nvidia7"} in devices
    container = pod["spec"]["containers"][0]
    assert env_of(container)["NCCL_LIB_DIR"] == "/usr/local/nvidia/lib64"
    assert container["command"][2].startswith("source ${NCCL_LIB_DIR}/nccl-env-profile.sh && exec torchrun ")


def test_gke_tcpx_pods_share_the_daemons_socket_and_use_the_four_gpu_nics():
    pod = job_pod(jobset.job_template(gcp_spec(), pool="high"))
    daemon, = pod["spec"]["initContainers"]
    assert daemon["name"] == "tcpx-daemon" and daemon["restartPolicy"] == "Always"
    container = pod["spec"]["containers"][0]
    env = env_of(container)
    assert env["NCCL_GPUDIRECTTCPX_SOCKET_IFNAME"] == "eth1,eth2,eth3,eth4"
    socket = env["NCCL_GPUDIRECTTCPX_UNIX_CLIENT_PREFIX"]
    assert {"name": "tcpx-socket", "mountPath": socket} in container["volumeMounts"]
    assert {"name": "tcpx-socket", "mountPath": socket} in daemon["volumeMounts"]
    assert "devices.gke.io/container.tcpx-daemon" in pod["metadata"]["annotations"]
    assert container["command"][0] == "torchrun"  # TCPX has no profile script to source


# -- storage ---------------------------------------------------------------------------------------------------------

def test_shared_memory_scratch_shared_file_system_and_checkpoints():
    spec, _ = load_spec(EKS_SPEC)  # scratch, FSx for Lustre at /fsx, buckets
    pod = job_pod(jobset.job_template(spec))["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    assert volumes["shm"] == {"name": "shm", "emptyDir": {"medium": "Memory"}} and mounts["shm"] == "/dev/shm"
    assert volumes["scratch"] == {"name": "scratch", "emptyDir": {}} and mounts["scratch"] == spec.storage.scratch.mount
    assert volumes["shared"]["persistentVolumeClaim"]["claimName"] == "shared-fs" and mounts["shared"] == "/fsx"
    assert volumes["checkpoints"]["persistentVolumeClaim"] == {"claimName": "checkpoints", "readOnly": False}
    assert env_of(pod["containers"][0])["CHECKPOINT_DIR"] == "/fsx/checkpoints/train"


def test_without_a_shared_file_system_checkpoints_go_to_the_bucket():
    spec = aws(storage={"buckets": {}})
    assert env_of(trainer(jobset.job_template(spec, name="run7")))["CHECKPOINT_DIR"] == "/checkpoints/run7"
    bare = aws(storage={})
    assert "CHECKPOINT_DIR" not in env_of(trainer(jobset.job_template(bare)))


def test_a_node_taken_away_restarts_the_set_without_spending_a_restart():
    job = jobset.job_template(aws())
    policy = job["spec"]["failurePolicy"]
    assert policy["maxRestarts"] == jobset.MAX_RESTARTS
    assert policy["rules"] == [{"name": "node-lost", "action": "RestartJobSetAndIgnoreMaxRestarts",
                                "onJobFailureReasons": ["PodFailurePolicy"]}]
    template = job["spec"]["replicatedJobs"][0]["template"]["spec"]
    disrupted = [{"type": "DisruptionTarget", "status": "True"}]
    assert template["podFailurePolicy"]["rules"][0]["onPodConditions"] == disrupted
    assert template["backoffLimit"] == 0 and job_pod(job)["spec"]["restartPolicy"] == "Never"


# -- schemas ---------------------------------------------------------------------------------------------------------

SCHEMA_SPECS = {"aws": lambda: aws(), "gcp": gcp_spec, "eks-example": lambda: load_spec(EKS_SPEC)[0]}


@pytest.mark.parametrize("which", list(SCHEMA_SPECS))
def test_every_pools_job_matches_the_kubernetes_openapi_without_the_crds(which):
    spec = SCHEMA_SPECS[which]()
    for pool in [None, *(p.name for p in node_pool_plans(spec))]:
        job = jobset.job_template(spec, pool=pool)
        assert schemas.job_template_problems(job, spec.kubernetes.version) == [], pool


@pytest.mark.parametrize("which", list(SCHEMA_SPECS))
def test_every_pools_job_matches_the_jobset_crd(which):
    spec = SCHEMA_SPECS[which]()
    for pool in [None, *(p.name for p in node_pool_plans(spec))]:
        assert checked(jobset.job_template(spec, pool=pool), spec.kubernetes.version) == [], pool


@pytest.mark.parametrize("version", ["1.31", "1.36"])
def test_the_job_matches_the_oldest_and_newest_supported_kubernetes(version):
    spec = aws(kubernetes={"version": version, "teams": [{"name": "research"}]})
    assert schemas.job_template_problems(jobset.job_template(spec), version) == []


@pytest.mark.parametrize(("mutate", "says"), [
    (lambda j: j["spec"]["replicatedJobs"][0].__setitem__("replica", 1), "replica"),
    (lambda j: j["spec"]["failurePolicy"]["rules"][0].__setitem__("action", "RestartForever"), "RestartForever"),
    (lambda j: j["metadata"]["labels"].__setitem__("kueue.x-k8s.io/queue-name", "Not A Queue"), "label value"),
])
def test_a_broken_jobset_is_refused_by_the_crd(mutate, says):
    job = jobset.job_template(aws())
    assert checked(job, "1.35") == []
    mutate(job)
    problems = checked(job, "1.35")
    assert problems and says in " ".join(problems)


@pytest.mark.parametrize(("mutate", "says"), [
    (lambda t: t.__setitem__("paralelism", t.pop("parallelism")), "paralelism"),
    (lambda t: t["template"]["spec"]["containers"][0].__setitem__("securityContxt", {}), "securityContxt"),
    # An env value must be a string (YAML's `value: 1` is not); a port a number. (The OpenAPI leaves quantity syntax
    # and enum values such as restartPolicy to the API server: those are not checked offline.)
    (lambda t: t["template"]["spec"]["containers"][0]["env"][0].__setitem__("value", 1), "env"),
    (lambda t: t["template"]["spec"]["initContainers"][0].__setitem__("volumeMounts", [{"name": "sys"}]), "mountPath"),
])
def test_a_broken_pod_is_refused_by_the_kubernetes_openapi(mutate, says):
    job = jobset.job_template(gcp_spec(), pool="mega")
    mutate(job["spec"]["replicatedJobs"][0]["template"]["spec"])
    problems = schemas.job_template_problems(job, "1.35")
    assert problems and says in " ".join(problems)


# -- refusals --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("kwargs", "message"), [
    ({"pool": "nope"}, "--pool 'nope': the stack has no such pool; its pools: reserved, spot, dev"),
    ({"nodes": 0}, "--nodes 0: pool 'reserved' has at most 2 nodes; give 1 to 2"),
    ({"pool": "dev", "nodes": 4}, "--nodes 4: pool 'dev' has at most 3 nodes; give 1 to 3"),
    ({"team": "ops"}, "--team 'ops': the stack has no such team; its teams: research"),
    ({"name": "Train"}, "--name 'Train'"),
    ({"command": []}, "--command is empty"),
])
def test_what_cannot_be_made_is_refused_naming_the_flag(kwargs, message):
    with pytest.raises(jobset.JobTemplateError) as refused:
        jobset.job_template(aws(), **kwargs)
    assert message in str(refused.value)


def test_a_stack_without_kubernetes_is_refused():
    spec, _ = load_spec({k: v for k, v in eks_spec(storage={}).items() if k != "kubernetes"})
    with pytest.raises(jobset.JobTemplateError, match="no `kubernetes:` section"):
        jobset.job_template(spec)


# -- the command line ------------------------------------------------------------------------------------------------

def run_cli(*args: str) -> subprocess.CompletedProcess:
    """`gpucluster job-template ARGS` in the checkout, run in this process through the command's own entry point
    (cli.main, argparse's exit included); the first test runs the installed command itself."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), contextlib.chdir(ROOT):
        try:
            code = cli.main(["job-template", *args])
        except SystemExit as exit_:
            code = exit_.code
    return subprocess.CompletedProcess(["gpucluster", "job-template", *args], code, out.getvalue(), err.getvalue())


def test_cli_prints_a_jobset_that_loads_for_the_eks_example():
    run = subprocess.run([sys.executable, "-m", "gpucluster.cli", "job-template", "eks-p5-kueue", "--pool", "spot",
                          "--nodes", "4", "--team", "product", "--command", "pretrain.py --config 'base model.yaml'"],
                         cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    job = yaml.safe_load(run.stdout)
    assert job["kind"] == "JobSet" and job["metadata"]["namespace"] == "product"
    assert job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "product"
    assert job["spec"]["replicatedJobs"][0]["template"]["spec"]["completions"] == 4
    assert trainer(job)["command"][-3:] == ["pretrain.py", "--config", "base model.yaml"]
    assert int(trainer(job)["resources"]["requests"]["vpc.amazonaws.com/efa"]) == 32


def test_cli_prints_a_jobset_that_loads_for_the_gke_example():
    run = run_cli("gke-a3-ultra-kueue")
    assert run.returncode == 0, run.stderr
    job = yaml.safe_load(run.stdout)
    assert "networking.gke.io/interfaces" in job_pod(job)["metadata"]["annotations"]
    assert schemas.job_template_problems(job, "1.35") == []


@pytest.mark.parametrize(("args", "message"), [
    (["--pool", "nope"], "--pool 'nope': the stack has no such pool; its pools: reserved, spot"),
    (["--nodes", "0"], "--nodes 0: pool 'reserved' has at most 8 nodes; give 1 to 8"),
    (["--pool", "spot", "--nodes", "17"], "--nodes 17: pool 'spot' has at most 16 nodes; give 1 to 16"),
    (["--team", "ops"], "--team 'ops': the stack has no such team; its teams: research, product"),
    (["--name", "Train"], "--name 'Train'"),
    (["--command", "train.py 'unclosed"], "--command \"train.py 'unclosed\""),
    (["--command", ""], "--command is empty"),
])
def test_cli_refuses_what_cannot_be_made_with_exit_2(args, message):
    run = run_cli("eks-p5-kueue", *args)
    assert run.returncode == 2, run.stdout
    assert message in run.stderr and "Traceback" not in run.stderr


def test_cli_refuses_a_stack_without_kubernetes():
    run = run_cli("aws-p5-train")
    assert run.returncode == 2 and "no `kubernetes:` section" in run.stderr and "Traceback" not in run.stderr


def test_cli_refuses_an_unknown_stack():
    run = run_cli("no-such-stack")
    assert run.returncode == 2 and "no stack 'no-such-stack'" in run.stderr and "Traceback" not in run.stderr


def test_the_gcp_spec_covers_every_gpudirect_transport():
    spec = gcp_spec()
    assert [jobset.transport(spec, p) for p in node_pool_plans(spec)] == [
        "gpudirect-rdma", "gpudirect-tcpxo", "gpudirect-tcpx"]  # ultra, mega, high in queue order
