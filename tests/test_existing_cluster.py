"""Existing clusters (cloud kubernetes): InfiniBand and RoCE in pods through the Network Operator, the GPU Operator
with GPUDirect RDMA, Kueue with a topology, the job template, cost and power, and the packs. Every custom resource is
checked against the vendored CRDs of the pinned releases, built-in objects against the Kubernetes OpenAPI."""

from __future__ import annotations

import copy
import itertools
import json

import pytest
import yaml

from gpucluster.catalog import MetalFabric, load
from gpucluster.kube import addons, jobset, kueue, rdma, schemas
from gpucluster.kube.site import site_record
from gpucluster.policies.harness import evaluate
from gpucluster.problems import SpecError
from gpucluster.validate import load_spec

from .helpers import PROJECT, of_type, one
from gpucluster.preview.engine import run_program
from gpucluster.preview.render import as_json

TYPES = {
    "dgx-h100": {},
    "dgx-b200": {},
    "hgx-h200": {"cpusPerNode": 192, "memoryGibPerNode": 2048},
    "hgx-h100-roce": {"cpusPerNode": 128, "memoryGibPerNode": 1024},
}


def existing(*pools: dict, rdma_settings: dict | None = None, **changes) -> dict:
    kube = {"version": "1.34", "teams": [{"name": "research"}, {"name": "product"}]}
    types = {p["instanceType"] for p in pools}
    if types & {"dgx-h100", "dgx-b200"} and types - {"dgx-h100", "dgx-b200"}:  # DGX OS beside other servers
        kube["gpuDriver"] = "host"
        rdma_settings = {"networkDriver": "host", **(rdma_settings or {})}
    if rdma_settings is not None:
        kube["rdma"] = rdma_settings
    return {"name": "site", "cloud": "kubernetes", "region": "eu-central-fra2",
            "site": {"country": "DE", "context": "admin"}, "kubernetes": kube,
            "pools": list(pools) or [metal("h100", "dgx-h100", 4)],
            "tags": {"owner": "o", "costCenter": "c", "project": "p"}, **changes}


def metal(name: str, node_type: str, nodes: int, **fields) -> dict:
    return {"name": name, "instanceType": node_type, "nodeSelector": {"example.com/pool": name},
            "size": {"min": nodes, "max": nodes}, **TYPES.get(node_type, {}), **fields}


def spec_of(data: dict):
    return load_spec(data)[0]


def problems_of(data: dict) -> dict[str, str]:
    with pytest.raises(SpecError) as err:
        load_spec(data)
    found: dict[str, str] = {}
    for problem in err.value.problems:
        found[problem.path] = " | ".join(filter(None, [found.get(problem.path), problem.message]))
    return found


def all_objects(spec) -> list[dict]:
    return [site_record(spec), *rdma.fabric_objects(spec), *kueue.queue_objects(spec)]


def assert_schema_valid(objects: list[dict], version: str) -> None:
    found = {f"{o['kind']}/{o['metadata']['name']}": schemas.check_object(o, version) for o in objects}
    assert all(problems == [] for problems in found.values()), found


# The catalog ------------------------------------------------------------------------------------------------------

def test_bare_metal_types_have_a_port_per_gpu_and_sources():
    catalog = load("kubernetes")
    assert {"dgx-h100", "dgx-h200", "dgx-b200", "hgx-h100", "hgx-h200", "hgx-b200", "hgx-h100-roce",
            "hgx-h200-roce", "hgx-b200-roce"} <= set(catalog.names())
    for node in catalog:
        fabric = node.fabric
        assert isinstance(fabric, MetalFabric) and node.sources
        nic = fabric.compute_nics[0]
        assert fabric.compute_ports == node.gpus == 8, node.name  # rail-optimised: one 400G port per GPU
        assert nic.rate_gbps == 400 and nic.pci_vendor == "15b3" and nic.vf_device == "101e"
        assert nic.pci_device == {"ConnectX-7": "1021", "BlueField-3": "a2dc"}[nic.model]
        assert nic.link_type == ("ethernet" if node.name.endswith("-roce") else "infiniband")
        assert node.accelerator.board_power_w in (700, 1000)
    assert catalog["dgx-h100"].fabric.system_power_kw == 10.2 and catalog["dgx-b200"].fabric.system_power_kw == 14.3


# Validation -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("data", "path", "says"), [
    (existing(rdma_settings={"selectors": {"deviceIds": ["101b"]}}), "kubernetes.rdma.selectors.deviceIds", "PCI device 1021"),
    (existing(rdma_settings={"selectors": {"linkTypes": ["ethernet"]}}), "kubernetes.rdma.selectors.linkTypes", "run infiniband"),
    (existing(rdma_settings={"selectors": {"ifNames": ["eth9"]}}), "kubernetes.rdma.selectors.ifNames", "ibp24s0"),
    (existing(rdma_settings={"networkDriver": "container"}), "kubernetes.rdma.networkDriver", "installed twice"),
    (existing(rdma_settings={"sharedSlots": 4}), "kubernetes.rdma.sharedSlots", "below the 8 GPUs"),
    (existing(rdma_settings={"devices": "sriov", "vfsPerPort": 200}), "kubernetes.rdma.vfsPerPort", "127 virtual functions"),
    (existing(metal("a", "hgx-b200", 2, cpusPerNode=None)), "pools[0].cpusPerNode", "required for hgx-b200"),
    (existing(metal("a", "dgx-h100", 2, cpusPerNode=100)), "pools[0].cpusPerNode", "has 224"),
    (existing(metal("a", "dgx-h100", 2), metal("b", "dgx-b200", 2, nodeSelector={"example.com/pool": "a"})),
     "pools[1].nodeSelector", "counted twice"),
    (existing(metal("a", "dgx-h100", 2, nodeSelector={})), "pools[0].nodeSelector", "required"),
    (existing(metal("a", "p5.48xlarge", 2)), "pools[0].instanceType", "unknown node type"),
    (existing(metal("a", "dgx-h100", 2, size={"min": 0, "max": 2})), "pools[0].size", "fixed number"),
    (existing(metal("a", "dgx-h100", 2, capacity={"type": "spot"})), "pools[0].capacity", "there already"),
    (existing(metal("a", "hgx-h100", 2, cpusPerNode=96, memoryGibPerNode=1024), rdma_settings={"perRail": True}),
     "kubernetes.rdma.perRail", "interface names"),
    (existing(metal("a", "hgx-h100-roce", 2)), "pools[0].interfaces", "RoCE gives each port an address"),
    (existing(metal("a", "hgx-h100-roce", 2, interfaces=["ens1"])), "pools[0].interfaces", "1 names for the 8"),
    (existing(metal("a", "dgx-h100", 2, interfaces=[f"x{i}" for i in range(8)])), "pools[0].interfaces", "are known"),
    (existing(rdma_settings={"ipOverFabric": True, "ipPool": "10.0.0.0/28"}), "kubernetes.rdma.ipPool", "larger range"),
    (existing(zones=["a"]), "zones", "no zones"),
    (existing(site=None), "site", "needs a site"),
    (existing(region="Frankfurt 2"), "region", "lowercase"),
    (existing(residency={"allowedRegions": ["Germany"]}), "residency.allowedRegions[0]", "country code"),
])
def test_refused_before_anything_runs(data, path, says):
    problems = problems_of(data)
    assert path in problems and says in problems[path], problems


def test_the_baseline_of_those_cases_is_valid():
    assert spec_of(existing()).pools[0].instance_type == "dgx-h100"


def test_mixed_node_types_need_an_explicit_driver_choice():
    data = existing(metal("a", "dgx-h100", 2), metal("b", "hgx-h200", 2))
    assert spec_of(data)
    del data["kubernetes"]["gpuDriver"], data["kubernetes"]["rdma"]
    problems = problems_of(data)
    assert "mix node types" in problems["kubernetes.gpuDriver"] and "mix node types" in problems["kubernetes.rdma.networkDriver"]


def test_driver_and_nfd_twice_are_caught_in_the_merged_chart_values():
    twice = existing()
    twice["kubernetes"]["chartValues"] = {"network-operator": {"nfd": {"enabled": True}}}
    assert "run 2 times" in problems_of(twice)["kubernetes.chartValues"]
    twice["kubernetes"]["nodeFeatureDiscovery"] = "cluster"
    twice["kubernetes"]["chartValues"] = {}
    assert spec_of(twice)  # the cluster's own NFD, both charts' off: once
    twice["kubernetes"]["chartValues"] = {"gpu-operator": {"nfd": {"enabled": True}}}
    assert "(gpu-operator, the cluster" in problems_of(twice)["kubernetes.chartValues"]
    driver = existing()
    driver["kubernetes"]["chartValues"] = {"gpu-operator": {"driver": {"enabled": True}}}
    assert "installed twice" in problems_of(driver)["kubernetes.chartValues.gpu-operator.driver.enabled"]
    gpu = existing()
    gpu["kubernetes"]["gpuDriver"] = "container"
    assert "installed twice" in problems_of(gpu)["kubernetes.gpuDriver"]


def test_fields_of_existing_clusters_are_refused_on_the_clouds():
    data = {"name": "c", "cloud": "aws", "region": "us-east-1", "zones": ["us-east-1a", "us-east-1b"],
            "kubernetes": {"rdma": {}, "topology": ["a/b"]},
            "pools": [{"name": "p", "instanceType": "p5.48xlarge", "size": {"max": 1}, "nodeSelector": {"a": "b"}}],
            "tags": {"owner": "o", "costCenter": "c", "project": "p"}}
    problems = problems_of(data)
    assert {"kubernetes.rdma", "kubernetes.topology", "pools[0].nodeSelector"} <= set(problems), problems
    assert "needs at least one zone" in problems_of({**data, "zones": [], "kubernetes": None})["zones"]


# Combinations: several node types, both name orders -----------------------------------------------------------------

@pytest.mark.parametrize("order", list(itertools.permutations(["dgx-h100", "dgx-b200", "hgx-h200"])))
def test_three_infiniband_types_share_one_resource_whatever_the_order(order):
    spec = spec_of(existing(*(metal(f"p{i}", t, 2 + i) for i, t in enumerate(order))))
    config = rdma.shared_plugin_config(spec)
    assert config == {"configList": [{"resourceName": "ib_shared", "rdmaHcaMax": 63, "selectors": {
        "vendors": ["15b3"], "deviceIDs": ["1021"], "linkTypes": ["infiniband"]}}]}  # names unknown for two types
    assert_schema_valid(all_objects(spec), "1.34")
    queue = kueue.cluster_queue(spec)
    assert "rdma/ib_shared" in queue["spec"]["resourceGroups"][0]["coveredResources"]
    for pool in spec.pools:
        job = jobset.job_template(spec, pool=pool.name)
        assert schemas.check_object(job, "1.34") == []


@pytest.mark.parametrize("order", [("ib", "roce"), ("roce", "ib")])
def test_infiniband_and_roce_pools_get_a_resource_each(order):
    pools = {"ib": metal("ib", "dgx-h100", 2),
             "roce": metal("roce", "hgx-h100-roce", 2, interfaces=[f"ens{i}np0" for i in range(8)])}
    data = existing(*(pools[name] for name in order))
    spec = spec_of(data)
    entries = {e["resourceName"]: e["selectors"] for e in rdma.shared_plugin_config(spec)["configList"]}
    assert set(entries) == {"ib_shared", "roce_shared"}
    assert entries["ib_shared"]["linkTypes"] == ["infiniband"] and entries["roce_shared"]["linkTypes"] == ["ethernet"]
    assert entries["ib_shared"]["ifNames"][0].startswith("ibp") and entries["roce_shared"]["ifNames"][0].startswith("ens")
    kinds = [o["kind"] for o in rdma.fabric_objects(spec)]
    assert kinds.count("MacvlanNetwork") == 16 and kinds.count("IPPool") == 8  # a rail each, per team; RoCE only
    assert_schema_valid(all_objects(spec), "1.34")
    roce_job = jobset.job_template(spec, pool="roce", team="product")
    networks = roce_job["spec"]["replicatedJobs"][0]["template"]["spec"]["template"]["metadata"]["annotations"][rdma.NETWORKS_ANNOTATION]
    assert networks.split(",") == [f"product-roce-rail{i}" for i in range(8)]
    ib_job = jobset.job_template(spec, pool="ib")
    env = {e["name"]: e["value"] for e in ib_job["spec"]["replicatedJobs"][0]["template"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["NCCL_IB_HCA"] == "=mlx5_0,mlx5_3,mlx5_4,mlx5_5,mlx5_6,mlx5_9,mlx5_10,mlx5_11"


def test_per_rail_resources_select_one_interface_each():
    spec = spec_of(existing(rdma_settings={"perRail": True}))
    config = rdma.shared_plugin_config(spec)["configList"]
    assert [e["resourceName"] for e in config] == [f"ib_rail{i}" for i in range(8)]
    assert config[0]["selectors"]["ifNames"] == ["ibp24s0"]
    job = jobset.job_template(spec)
    limits = job["spec"]["replicatedJobs"][0]["template"]["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert all(limits[f"rdma/ib_rail{i}"] == "1" for i in range(8))
    assert_schema_valid(all_objects(spec), "1.34")


def test_sriov_gives_a_vf_per_port_and_isolated_networks():
    spec = spec_of(existing(metal("a", "dgx-h100", 2), metal("b", "dgx-b200", 3),
                            rdma_settings={"devices": "sriov", "vfsPerPort": 4}))
    objects = rdma.fabric_objects(spec)
    policies = [o for o in objects if o["kind"] == "SriovNetworkNodePolicy"]
    assert [p["spec"]["nodeSelector"] for p in policies] == [{"example.com/pool": "a"}, {"example.com/pool": "b"}]
    assert policies[0]["spec"]["nicSelector"]["pfNames"][0] == "ibp24s0" and "pfNames" not in policies[1]["spec"]["nicSelector"]
    assert {p["spec"]["linkType"] for p in policies} == {"IB"} and all(p["spec"]["isRdma"] for p in policies)
    assert "rdmaSharedDevicePlugin" not in rdma.nic_cluster_policy(spec)["spec"]
    assert sorted(o["metadata"]["name"] for o in objects if o["kind"] == "SriovIBNetwork") == ["product-ib-vf", "research-ib-vf"]
    assert dict(kueue.node_pool_plans(spec)[0].rdma) == {"nvidia.com/ib_vf": 32}
    assert_schema_valid(all_objects(spec), "1.34")
    job = jobset.job_template(spec, pool="b")
    template = job["spec"]["replicatedJobs"][0]["template"]["spec"]["template"]
    assert template["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/ib_vf"] == "8"
    assert template["metadata"]["annotations"][rdma.NETWORKS_ANNOTATION].split(",") == ["research-ib-vf"] * 8


def test_the_pools_order_does_not_change_the_fabric():
    def objects(order):
        pools = {"ib": metal("ib", "dgx-h100", 2),
                 "roce": metal("roce", "hgx-h100-roce", 2, interfaces=[f"ens{i}np0" for i in range(8)])}
        found = rdma.fabric_objects(spec_of(existing(*(pools[name] for name in order), rdma_settings=settings)))
        # Each object by its identity: the contents (address slices, the plugin's config) must not depend on order.
        return {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]): o for o in found}

    for settings in ({}, {"devices": "sriov"}, {"perRail": True, "ipOverFabric": True}):
        assert objects(("ib", "roce")) == objects(("roce", "ib")), settings


def test_ipoib_only_when_asked_on_infiniband():
    plain = spec_of(existing())
    assert [o["kind"] for o in rdma.fabric_objects(plain)] == ["NicClusterPolicy"]
    assert "secondaryNetwork" not in rdma.nic_cluster_policy(plain)["spec"]
    ip = spec_of(existing(rdma_settings={"ipOverFabric": True}))
    objects = rdma.fabric_objects(ip)
    ipoib = [o for o in objects if o["kind"] == "IPoIBNetwork"]
    assert [(o["spec"]["master"], o["spec"]["networkNamespace"]) for o in ipoib] == [("ibp24s0", "research"), ("ibp24s0", "product")]
    assert set(rdma.nic_cluster_policy(ip)["spec"]["secondaryNetwork"]) == {"multus", "cniPlugins", "ipoib"}
    assert_schema_valid(all_objects(ip), "1.34")


def test_gpu_operator_is_told_the_drivers_and_gpudirect():
    dgx = {r.chart.name: r.values for r in addons.releases(spec_of(existing()))}
    assert dgx["gpu-operator"]["driver"] == {"enabled": False, "rdma": {"enabled": False, "useHostMofed": True}}
    assert dgx["gpu-operator"]["nfd"] == {"enabled": True} and dgx["network-operator"]["nfd"]["enabled"] is False
    hgx = spec_of(existing(metal("a", "hgx-h200", 2), rdma_settings={"gpuDirect": "peermem"}))
    values = {r.chart.name: r.values for r in addons.releases(hgx)}
    assert values["gpu-operator"]["driver"] == {"enabled": True, "rdma": {"enabled": True, "useHostMofed": False}}
    assert rdma.nic_cluster_policy(hgx)["spec"]["ofedDriver"]["image"] == "doca-driver"
    nfd = existing()
    nfd["kubernetes"]["nodeFeatureDiscovery"] = "network-operator"
    values = {r.chart.name: r.values for r in addons.releases(spec_of(nfd))}
    assert values["gpu-operator"]["nfd"]["enabled"] is False and values["network-operator"]["nfd"]["enabled"] is True


def test_a_broken_plugin_config_is_caught_by_the_webhook_schema():
    policy = rdma.nic_cluster_policy(spec_of(existing()))
    config = json.loads(policy["spec"]["rdmaSharedDevicePlugin"]["config"])
    config["configList"][0]["selectors"]["colour"] = ["blue"]
    policy["spec"]["rdmaSharedDevicePlugin"]["config"] = json.dumps(config)
    assert any("colour" in p for p in schemas.check_object(policy, "1.34"))
    policy["spec"]["rdmaSharedDevicePlugin"]["image"] = 5
    assert any("rdmaSharedDevicePlugin.image" in p for p in schemas.check_object(policy, "1.34"))


# Topology -----------------------------------------------------------------------------------------------------------

def test_topology_levels_end_at_the_node_and_jobs_can_stay_within_a_unit():
    data = existing()
    data["kubernetes"]["topology"] = ["example.com/su", "example.com/leaf"]
    spec = spec_of(data)
    topology = kueue.topology(spec)[0]
    assert [level["nodeLabel"] for level in topology["spec"]["levels"]] == ["example.com/su", "example.com/leaf", "kubernetes.io/hostname"]
    assert all(f["spec"]["topologyName"] == "site" for f in kueue.resource_flavors(spec))
    assert_schema_valid(all_objects(spec), "1.34")

    def annotations(**kw):
        return jobset.job_template(spec, **kw)["spec"]["replicatedJobs"][0]["template"]["spec"]["template"]["metadata"]["annotations"]

    assert annotations() == {"kueue.x-k8s.io/podset-preferred-topology": "example.com/su"}
    assert annotations(within="example.com/leaf") == {"kueue.x-k8s.io/podset-required-topology": "example.com/leaf"}
    with pytest.raises(jobset.JobTemplateError, match="--within 'rack'.*levels: example.com/su"):
        annotations(within="rack")


# The program, previewed ---------------------------------------------------------------------------------------------

def preview_existing(data: dict, **config):
    values = {"gpucluster:cluster": json.dumps(data), **config}
    return run_program(str(PROJECT.main), PROJECT.name, "test", values)


@pytest.fixture(scope="module")
def dgx_stack():
    raw = yaml.safe_load((PROJECT.root / "stacks" / "Pulumi.onprem-dgx-h100-ib.yaml").read_text())
    return preview_existing(raw["config"]["gpucluster:cluster"])


def test_the_example_stack_creates_only_objects_in_the_cluster(dgx_stack):
    packages = {r.type.split(":", 1)[0] for r in dgx_stack.resources if r.custom}
    assert packages <= {"kubernetes", "pulumi"}
    provider = one(dgx_stack, "pulumi:providers:kubernetes")
    assert provider.inputs["context"] == "dgx-h100-admin"
    policy = one(dgx_stack, "kubernetes:mellanox.com/v1alpha1:NicClusterPolicy")
    assert policy.inputs["metadata"]["name"] == "nic-cluster-policy"
    releases = {r.inputs["name"]: r for r in of_type(dgx_stack, "kubernetes:helm.sh/v3:Release")}
    assert set(releases) == {"network-operator", "gpu-operator", "jobset", "kueue"}
    namespaces = {r.inputs["metadata"]["name"]: r for r in of_type(dgx_stack, "kubernetes:core/v1:Namespace")}
    for chart in ("network-operator", "gpu-operator"):
        release = releases[chart]
        assert release.inputs.get("createNamespace") is False
        assert namespaces[release.inputs["namespace"]].urn in release.depends_on
        assert namespaces[release.inputs["namespace"]].inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    assert all(urn in policy.depends_on for urn in (r.urn for r in releases.values()))


def test_a_kubeconfig_from_the_stack_secret():
    data = existing()
    data["site"] = {"country": "DE", "kubeconfig": "stack-secret"}
    result = preview_existing(data, **{"gpucluster:kubeconfig": "apiVersion: v1\nkind: Config\n"})
    assert one(result, "pulumi:providers:kubernetes").inputs["kubeconfig"] == "[secret]"  # kept secret, not in the clear


# Cost and power -----------------------------------------------------------------------------------------------------

def test_owned_nodes_are_priced_amortised_with_power_and_energy(dgx_stack):
    from gpucluster.cost import estimate
    cost = estimate(as_json(dgx_stack)["resources"])
    lines = {line["name"]: line for line in cost["lines"]}
    assert lines["h100"]["hourly"]["max"] == pytest.approx(32 * 14.5)
    assert cost["power"]["kw"]["max"] == pytest.approx(32 * 10.2 * 1.3, abs=0.01)  # DGX H100 maximum, PUE 1.3
    assert lines["h100-energy"]["hourly"]["max"] == pytest.approx(32 * 10.2 * 1.3 * 0.21, abs=0.01)
    assert cost["pools"]["h100"]["gpus"]["max"] == 256


def test_nodes_without_a_price_are_listed_unpriced_and_still_draw_power():
    from gpucluster.cost import estimate
    data = existing(metal("a", "hgx-b200", 4, cpusPerNode=192, memoryGibPerNode=2048), metal("b", "dgx-b200", 2, usdPerNodeHour=30))
    cost = estimate(as_json(preview_existing(data))["resources"])
    assert any("4 x hgx-b200 are owned nodes with no list price" in u["reason"] for u in cost["unpriced"])
    assert [line["name"] for line in cost["lines"]] == ["b"]
    # hgx-b200: board power 8 x 1000 W with the host overhead; dgx-b200: its published 14.3 kW.
    assert cost["power"]["kw"]["max"] == pytest.approx(4 * 8 * 1.0 * 10.2 / 5.6 + 2 * 14.3, abs=0.01)


# The packs ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("allowed", "violates"), [(["eu"], False), (["DE"], False), (["eu-central-fra2"], False),
                                                     (["US"], True), (["us-east-1"], True)])
def test_the_site_is_held_to_the_residency(dgx_stack, allowed, violates):
    found = [v for v in evaluate(dgx_stack, {"sovereignty": {"allowed-regions": {"allowedRegions": allowed}}})
             if v.policy == "allowed-regions"]
    assert bool(found) == violates, found
    if violates:
        assert "eu-central-fra2 (DE)" in found[0].message


def test_our_namespaces_pass_and_an_unlabelled_operator_namespace_is_found(dgx_stack):
    policies = {"kubernetes-pod-security-labels", "kubernetes-no-privileged-pods"}
    assert not [v for v in evaluate(dgx_stack, {}) if v.policy in policies]
    graph = copy.deepcopy(dgx_stack)
    namespace = next(r for r in graph.resources if r.type == "kubernetes:core/v1:Namespace"
                     and r.inputs["metadata"]["name"] == "nvidia-network-operator")
    namespace.inputs["metadata"]["labels"] = {}
    messages = [v.message for v in evaluate(graph, {}) if v.policy == "kubernetes-pod-security-labels"]
    assert any("sets no pod-security.kubernetes.io/enforce label" in m for m in messages)
    assert any("installs network-operator into namespace nvidia-network-operator" in m for m in messages)


def test_a_privileged_daemon_outside_the_operator_namespaces_is_found():
    # The GKE example's NCCL installers are privileged DaemonSets in kube-system.
    raw = yaml.safe_load((PROJECT.root / "stacks" / "Pulumi.gke-a3-ultra-kueue.yaml").read_text())["config"]
    result = run_program(str(PROJECT.main), PROJECT.name, "test", {k: v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()})
    assert not [v for v in evaluate(result, {}) if v.policy == "kubernetes-no-privileged-pods"]
    graph = copy.deepcopy(result)
    daemon = next(r for r in graph.resources if r.type == "kubernetes:apps/v1:DaemonSet")
    daemon.inputs["metadata"]["namespace"] = "research"
    found = [v for v in evaluate(graph, {}) if v.policy == "kubernetes-no-privileged-pods"]
    assert found and "in namespace research" in found[0].message
