"""GKE: the cluster and its GPU node pools as registered under the offline preview (GkeCluster on its own, and inside the
real program), checked against the pulumi_gcp SDK's own argument names; the GKE networking objects and the NCCL
installers, checked against the Kubernetes OpenAPI; the cost of a GKE cluster."""

from __future__ import annotations

import copy
import inspect
import ipaddress
import json
import re
import textwrap

import kubernetes_validate
import pulumi_gcp
import pytest
from pulumi_gcp.container import _inputs as container_inputs

from gpucluster import catalog, naming
from gpucluster.cost import estimate, prices
from gpucluster.kube import gke
from gpucluster.kube.nodes import SYSTEM_POOL, gke_pod_networks, node_pool_plans
from gpucluster.preview.engine import SECRET, run_program
from gpucluster.preview.mocks import PROJECT_NUMBER
from gpucluster.preview.render import as_json
from gpucluster.spec import ClusterSpec
from gpucluster.validate import load_spec

from .helpers import PROJECT, of_type, one
from .test_preview import preview_stack

CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"
NETWORK, SUBNETWORK = "gcp:compute/network:Network", "gcp:compute/subnetwork:Subnetwork"
H = 730
TAGS = {"owner": "team", "costCenter": "cc-1", "project": "proj"}
ULTRA = {
    "name": "u", "cloud": "gcp", "region": "europe-west4", "zones": ["europe-west4-a"], "kubernetes": {},
    "pools": [
        {"name": "reserved", "instanceType": "a3-ultragpu-8g", "size": {"min": 2, "max": 2},
         "capacity": {"type": "reservation", "reservationName": "r1"}},
        {"name": "spot", "instanceType": "a3-ultragpu-8g", "size": {"max": 4}, "capacity": {"type": "spot"}},
        {"name": "flex", "instanceType": "a3-ultragpu-8g", "size": {"max": 4}, "capacity": {"type": "flex-start", "maxRunHours": 24}},
    ],
    "storage": {"scratch": {}, "shared": {"throughputGbps": 10}, "buckets": {}},
    "tags": TAGS,
}


def gcp_spec(*pools: dict, **changes) -> dict:
    """A small GKE spec in us-central1-b, where every GPU machine type of the catalog is offered."""
    return {"name": "k", "cloud": "gcp", "region": "us-central1", "zones": ["us-central1-b"], "kubernetes": {},
            "network": {"cidr": "10.40.0.0/16"}, "pools": list(pools), "tags": TAGS, **changes}


def pool(name: str, instance_type: str, **fields) -> dict:
    """A pool of up to 2 nodes; spot on the types Google does not sell as on-demand VMs (A3 Ultra, A4), unless given."""
    if "on-demand" not in catalog.load("gcp")[instance_type].capacity_types:
        fields.setdefault("capacity", {"type": "spot"})
    return {"name": name, "instanceType": instance_type, "size": {"min": 0, "max": 2}, **fields}


def spec_of(data: dict) -> ClusterSpec:
    """The spec as the components get it."""
    return load_spec(data)[0]


# The GCP cluster component used from a program of one's own: it builds the networks, storage and node account and
# hands them to its GkeCluster.
PROGRAM = textwrap.dedent("""
    import json

    import pulumi

    from components.gcp import GcpGpuCluster, GcpGpuClusterArgs
    from gpucluster.validate import load_spec

    spec, _ = load_spec(json.loads(pulumi.Config("gpucluster").require("cluster")))
    cluster = GcpGpuCluster(spec.name, GcpGpuClusterArgs(spec, pulumi.Config("gcp").require("project"))).kubernetes
    pulumi.export("clusterName", cluster.cluster_name)
    pulumi.export("kubeconfig", cluster.kubeconfig)
    pulumi.export("nodePools", {pool: node_pool.name for pool, node_pool in cluster.node_pools.items()})
    pulumi.export("objects", cluster.kubernetes_objects)
    pulumi.export("storage", {"datasets": cluster.storage.dataset_bucket, "key": cluster.storage.kms_key})
""")


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    path = tmp_path_factory.mktemp("gke") / "program.py"
    path.write_text(PROGRAM)
    return str(path)


@pytest.fixture(scope="module")
def run_gke(program):
    def run(data: dict):
        spec_of(data)
        config = {"gcp:region": data["region"], "gcp:project": "p", "gpucluster:cluster": json.dumps(data)}
        return run_program(program, PROJECT.name, "test", config)
    return run


def preview_gcp(spec: dict, preview: bool = True):
    """The real stack program (GcpGpuCluster builds the networks and storage and hands them to GkeCluster)."""
    config = {"gcp:region": spec["region"], "gcp:project": "p", "gpucluster:cluster": json.dumps(spec)}
    return run_program(str(PROJECT.main), PROJECT.name, "test", config, preview=preview)


@pytest.fixture(scope="module")
def ultra():
    return preview_gcp(ULTRA)


@pytest.fixture(scope="module")
def ultra_alone(run_gke):
    return run_gke(ULTRA)


def pools_by_name(result) -> dict:
    """GPU node pools by spec pool (the label every GPU node carries)."""
    return {p.inputs["nodeConfig"]["labels"]["gpucluster.dev/pool"]: p.inputs for p in of_type(result, NODE_POOL)
            if "gpucluster.dev/pool" in p.inputs["nodeConfig"].get("labels", {})}


def by_name(result, type_: str) -> dict:
    return {r.name: r for r in of_type(result, type_)}


# The control plane


@pytest.mark.parametrize("wiring", ["alone", "program"])
def test_control_plane_is_private_encrypted_and_multi_networked(wiring, ultra, ultra_alone):
    result = ultra_alone if wiring == "alone" else ultra
    cluster = one(result, CLUSTER)
    inputs = cluster.inputs
    assert inputs["privateClusterConfig"] == {"enablePrivateNodes": True, "enablePrivateEndpoint": True}
    assert inputs["masterAuthorizedNetworksConfig"] == {"cidrBlocks": [], "gcpPublicCidrsAccessEnabled": False}
    assert inputs["datapathProvider"] == "ADVANCED_DATAPATH" and inputs["enableMultiNetworking"] is True
    assert inputs["networkingMode"] == "VPC_NATIVE"
    assert inputs["workloadIdentityConfig"] == {"workloadPool": "p.svc.id.goog"}
    assert inputs["releaseChannel"] == {"channel": "REGULAR"} and inputs["minMasterVersion"] == "1.35"
    assert inputs["removeDefaultNodePool"] is True and inputs["deletionProtection"] is True
    assert inputs["enableShieldedNodes"] is True
    assert inputs["databaseEncryption"]["state"] == "ENCRYPTED"
    key = one(result, "gcp:kms/cryptoKey:CryptoKey")
    assert key.urn in cluster.dependencies["databaseEncryption"]  # the storage key, by link
    grant = next(r for r in of_type(result, "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember") if r.name.endswith("-secrets-key"))
    assert grant.inputs["member"] == f"serviceAccount:service-{PROJECT_NUMBER}@container-engine-robot.iam.gserviceaccount.com"
    assert grant.urn in cluster.depends_on  # the GKE service agent may use the key before the cluster asks it to
    assert inputs["addonsConfig"]["lustreCsiDriverConfig"] == {"enabled": True, "enableLegacyLustrePort": True}
    assert inputs["addonsConfig"]["gcsFuseCsiDriverConfig"] == {"enabled": True}
    assert inputs["monitoringConfig"] == {"enableComponents": ["SYSTEM_COMPONENTS", "DCGM"], "managedPrometheus": {"enabled": True}}
    assert inputs["maintenancePolicy"]["recurringWindow"]["recurrence"] == "FREQ=WEEKLY;BYDAY=SA,SU"
    assert inputs["nodeConfig"]["serviceAccount"].endswith("@p.iam.gserviceaccount.com")  # the removed default pool too
    assert {"nodeConfig", "initialNodeCount"} <= set(cluster.options["ignoreChanges"])
    assert len(inputs["name"]) <= 40 and re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", inputs["name"])


def test_the_nodes_run_as_the_clusters_own_account_with_the_least_gke_role(ultra_alone):
    account = one(ultra_alone, "gcp:serviceaccount/account:Account")
    assert account.inputs["accountId"] == naming.service_account_id("u", naming.stack_key(PROJECT.name, "test", "u"))
    role = one(ultra_alone, "gcp:projects/iAMMember:IAMMember")
    assert role.inputs["role"] == "roles/container.defaultNodeServiceAccount"
    assert role.inputs["member"] == f"serviceAccount:{account.inputs['accountId']}@p.iam.gserviceaccount.com"
    outputs = ultra_alone.outputs
    assert outputs["kubeconfig"] == SECRET
    assert outputs["clusterName"] == naming.gke_cluster_name("u", naming.stack_key(PROJECT.name, "test", "u"))
    assert outputs["nodePools"] == {"reserved": "reserved", "spot": "spot", "flex": "flex"}


def test_team_namespaces_reach_the_buckets_through_workload_identity(ultra_alone):
    grants = {r.inputs["role"]: r for r in of_type(ultra_alone, "gcp:storage/bucketIAMMember:BucketIAMMember")
              if r.inputs["member"].startswith("principalSet://")}
    member = (f"principalSet://iam.googleapis.com/projects/{PROJECT_NUMBER}/locations/global/workloadIdentityPools/"
              "p.svc.id.goog/namespace/training")
    assert set(grants) == {"roles/storage.objectViewer", "roles/storage.objectUser"}
    assert all(g.inputs["member"] == member for g in grants.values())
    buckets = {r.urn: r for r in of_type(ultra_alone, "gcp:storage/bucket:Bucket")}
    assert buckets[grants["roles/storage.objectViewer"].dependencies["bucket"][0]].name.endswith("-datasets")
    assert buckets[grants["roles/storage.objectUser"].dependencies["bucket"][0]].name.endswith("-checkpoints")


def test_listed_networks_open_the_endpoint_to_them_only(run_gke):
    result = run_gke(gcp_spec(pool("train", "g2-standard-8"), kubernetes={"publicAccessCidrs": ["203.0.113.0/24"]}))
    inputs = one(result, CLUSTER).inputs
    assert inputs["privateClusterConfig"] == {"enablePrivateNodes": True, "enablePrivateEndpoint": False}
    assert inputs["masterAuthorizedNetworksConfig"]["cidrBlocks"] == [{"cidrBlock": "203.0.113.0/24", "displayName": "listed-0"}]
    assert inputs["masterAuthorizedNetworksConfig"]["gcpPublicCidrsAccessEnabled"] is False


def test_pod_and_service_ranges_stay_apart_from_the_spec_network(run_gke):
    inputs = one(run_gke(gcp_spec(pool("train", "g2-standard-8"))), CLUSTER).inputs["ipAllocationPolicy"]
    pods, services = (ipaddress.IPv4Network(inputs[k]) for k in ("clusterIpv4CidrBlock", "servicesIpv4CidrBlock"))
    assert (str(pods), str(services)) == (gke.POD_RANGE, gke.SERVICE_RANGE)
    # A network inside the shared address space is stepped around; a large cluster gets a /24 per node.
    spec = spec_of(gcp_spec(pool("train", "g2-standard-8", size={"max": 3000}), network={"cidr": "100.64.0.0/16"}))
    pods, services = map(ipaddress.IPv4Network, gke.ip_ranges(spec))
    network = ipaddress.IPv4Network("100.64.0.0/16")
    assert not pods.overlaps(network) and not services.overlaps(network) and not pods.overlaps(services)
    assert pods.num_addresses >= 256 * 3000 and pods.subnet_of(gke.SHARED_ADDRESS_SPACE)


def test_multi_networking_only_with_nics_beyond_the_first(run_gke):
    plain = run_gke(gcp_spec(pool("train", "g2-standard-8"), pool("off", "a3-highgpu-8g", fabric="off")))
    assert one(plain, CLUSTER).inputs["enableMultiNetworking"] is False
    assert all("additionalNodeNetworkConfigs" not in p.inputs["networkConfig"] for p in of_type(plain, NODE_POOL))
    assert not [o for o in plain.outputs["objects"]]  # no GPU networks, no installers
    assert one(run_gke(gcp_spec(pool("train", "a3-highgpu-8g"))), CLUSTER).inputs["enableMultiNetworking"] is True


# The GPU node pools


@pytest.mark.parametrize("instance_type, gpu_vpcs, rdma_subnets, host_nics", [
    ("a3-highgpu-8g", 4, 0, 1), ("a3-megagpu-8g", 8, 0, 1), ("a3-ultragpu-8g", 0, 8, 2), ("a4-highgpu-8g", 0, 8, 2),
])
def test_every_gpu_nic_joins_its_network_by_name(run_gke, instance_type, gpu_vpcs, rdma_subnets, host_nics):
    result = run_gke(gcp_spec(pool("train", instance_type)))
    additional = pools_by_name(result)["train"]["networkConfig"]["additionalNodeNetworkConfigs"]
    assert len(additional) == gpu_vpcs + rdma_subnets + host_nics - 1
    networks = {r.name.removeprefix("k-net-"): r.inputs["name"] for r in of_type(result, NETWORK)}
    subnets = {r.name.removeprefix("k-net-"): r.inputs["name"] for r in of_type(result, SUBNETWORK)}
    expected = ([{"network": networks["host-2"], "subnetwork": subnets["host-2"]}] if host_nics == 2 else []) + \
        [{"network": networks[f"gpu-{i}"], "subnetwork": subnets[f"gpu-{i}"]} for i in range(gpu_vpcs)] + \
        [{"network": networks["rdma"], "subnetwork": subnets[f"rdma-{i}"]} for i in range(rdma_subnets)]
    assert additional == expected  # physical names (what GKE looks up), in the node's NIC order
    config = pools_by_name(result)["train"]["nodeConfig"]
    assert ("gpudirectStrategy" in config) == bool(rdma_subnets) and config.get("gpudirectStrategy", "RDMA") == "RDMA"
    # The in-cluster networks name the same VPCs and subnets.
    param_sets = [o for o in result.outputs["objects"] if o["kind"] == "GKENetworkParamSet"]
    assert [(p["spec"]["vpc"], p["spec"]["vpcSubnet"]) for p in param_sets] == \
        [(a["network"], a["subnetwork"]) for a in expected if a["network"] != networks.get("host-2")]


def test_spot_reservation_and_flex_start_pools(ultra_alone):
    pools = pools_by_name(ultra_alone)
    reserved, spot, flex = pools["reserved"], pools["spot"], pools["flex"]
    assert reserved["nodeConfig"]["reservationAffinity"] == {
        "consumeReservationType": "SPECIFIC_RESERVATION", "key": "compute.googleapis.com/reservation-name", "values": ["r1"]}
    assert "placementPolicy" not in reserved and "spot" not in reserved["nodeConfig"]
    assert reserved["autoscaling"]["totalMinNodeCount"] == 2 and reserved["initialNodeCount"] == 2
    assert spot["nodeConfig"]["spot"] is True and spot["placementPolicy"] == {"type": "COMPACT"}
    assert {"key": "cloud.google.com/gke-spot", "value": "true", "effect": "NO_SCHEDULE"} in spot["nodeConfig"]["taints"]
    assert spot["nodeConfig"]["reservationAffinity"] == {"consumeReservationType": "NO_RESERVATION"}
    assert spot["autoscaling"] == {"totalMinNodeCount": 0, "totalMaxNodeCount": 4, "locationPolicy": "ANY"}
    assert flex["queuedProvisioning"] == {"enabled": True} and flex["nodeConfig"]["flexStart"] is True
    assert flex["autoscaling"]["totalMinNodeCount"] == 0 and "initialNodeCount" not in flex
    assert flex["management"] == {"autoRepair": False, "autoUpgrade": True}
    assert flex["nodeConfig"]["reservationAffinity"] == {"consumeReservationType": "NO_RESERVATION"}
    assert flex["nodeConfig"]["labels"]["cloud.google.com/gke-queued"] == "true"
    assert flex["nodeConfig"]["maxRunDuration"] == "86400s"
    assert "placementPolicy" not in flex  # GKE refuses compact placement with queued provisioning on GPU pools
    assert "spot" not in flex["nodeConfig"]
    for config in (p["nodeConfig"] for p in pools.values()):
        assert config["guestAccelerators"] == [{"type": "nvidia-h200-141gb", "count": 8,
                                                "gpuDriverInstallationConfig": {"gpuDriverVersion": "LATEST"}}]
        assert {"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"} in config["taints"]
        assert config["imageType"] == "COS_CONTAINERD" and config["gvnic"] == {"enabled": True}
        assert config["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
        assert config["diskType"] == "hyperdisk-balanced" and config["bootDiskKmsKey"]


def test_node_pools_are_private_shielded_and_upgrade_one_node_at_a_time(ultra_alone):
    for node_pool in of_type(ultra_alone, NODE_POOL):
        inputs = node_pool.inputs
        assert inputs["networkConfig"]["enablePrivateNodes"] is True and inputs["location"] == "europe-west4"
        assert inputs["nodeConfig"]["shieldedInstanceConfig"] == {"enableSecureBoot": True, "enableIntegrityMonitoring": True}
        assert inputs["nodeConfig"]["serviceAccount"].endswith("@p.iam.gserviceaccount.com")
        assert node_pool.options["ignoreChanges"] == ["initialNodeCount"]  # a new size must not replace the pool
        if inputs["name"] != SYSTEM_POOL:
            assert inputs["upgradeSettings"] == {"strategy": "SURGE", "maxSurge": 0, "maxUnavailable": 1}
            assert inputs["nodeLocations"] == ["europe-west4-a"]
    system = next(p.inputs for p in of_type(ultra_alone, NODE_POOL) if p.inputs["name"] == SYSTEM_POOL)
    assert system["nodeConfig"]["machineType"] == "e2-standard-4" and system["nodeCount"] == 2
    assert "taints" not in system["nodeConfig"] and system["nodeConfig"]["labels"] == {"gpucluster.dev/role": "system"}


@pytest.mark.parametrize("instance_type, disks", [("a3-highgpu-8g", 16), ("a3-megagpu-8g", 16), ("a3-ultragpu-8g", 32),
                                                  ("a2-highgpu-8g", 0)])
def test_local_ssds_become_the_nodes_ephemeral_storage(run_gke, instance_type, disks):
    config = pools_by_name(run_gke(gcp_spec(pool("train", instance_type))))["train"]["nodeConfig"]
    assert config.get("ephemeralStorageLocalSsdConfig") == ({"localSsdCount": disks} if disks else None)


def test_two_pools_in_either_order_give_the_same_node_pools(run_gke):
    a = pool("od", "a3-megagpu-8g", size={"min": 1, "max": 2})
    b = pool("sp", "a3-megagpu-8g", capacity={"type": "spot"})
    first, second = (pools_by_name(run_gke(gcp_spec(*pools))) for pools in ([a, b], [b, a]))
    assert first == second and set(first) == {"od", "sp"}


# Every input name is one the pulumi_gcp SDK knows: top-level names are keyword arguments (a wrong one raises under the
# preview already); nested blocks are typed dicts whose keys nothing checks at runtime, so they are checked here.


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def _block(prefix: str, field: str, is_list: bool) -> str:
    """The typed dict of a nested block: list blocks are named for one element (guest_accelerators -> GuestAccelerator)."""
    name = prefix + _camel(field)
    if is_list and name.endswith("s") and hasattr(container_inputs, f"{name[:-1]}ArgsDict"):
        return name[:-1]
    return name


def _unknown_keys(prefix: str, value: dict, path: str, fields: dict[str, object] | None = None) -> list[str]:
    """Keys of `value` that the SDK's typed dict `<prefix>ArgsDict` (or, at the top, the resource's arguments `fields`)
    does not know, at any depth."""
    if fields is None:
        typed = getattr(container_inputs, f"{prefix}ArgsDict", None)
        if typed is None:
            return [f"{path}: the SDK has no {prefix}ArgsDict"]
        fields = typed.__annotations__
    unknown = []
    for key, item in value.items():
        field = _snake(key)
        if field not in fields:
            unknown.append(f"{path}.{key}")
        elif isinstance(item, (dict, list)) and "Mapping[" not in str(fields[field]):  # maps (labels) hold data
            block = _block(prefix, field, isinstance(item, list))
            for element in item if isinstance(item, list) else [item]:
                if isinstance(element, dict):
                    unknown += _unknown_keys(block, element, f"{path}.{key}")
    return unknown


def _arguments(resource) -> dict[str, object]:
    return {name: parameter.annotation for name, parameter in inspect.signature(resource._internal_init).parameters.items()}


def test_cluster_and_node_pool_inputs_are_the_sdks_argument_names(ultra_alone, run_gke):
    mega = run_gke(gcp_spec(pool("train", "a3-megagpu-8g", capacity={"type": "flex-start"}),
                            kubernetes={"publicAccessCidrs": ["203.0.113.0/24"]}))
    for result in (ultra_alone, mega):
        for registration in [*of_type(result, CLUSTER), *of_type(result, NODE_POOL)]:
            resource = pulumi_gcp.container.Cluster if registration.type == CLUSTER else pulumi_gcp.container.NodePool
            assert _unknown_keys(resource.__name__, registration.inputs, registration.name, _arguments(resource)) == []
    # The check finds a misspelt key at any depth, and blocks the SDK has no type for.
    pool_arguments = _arguments(pulumi_gcp.container.NodePool)
    assert _unknown_keys("NodePool", {"autoscaling": {"totalMinNodeCnt": 0}}, "x", pool_arguments) == ["x.autoscaling.totalMinNodeCnt"]
    assert _unknown_keys("NodePool", {"nodeConfig": {"taints": [{"key": "k", "efect": "NO_SCHEDULE"}]}}, "x",
                         pool_arguments) == ["x.nodeConfig.taints.efect"]
    assert _unknown_keys("NodePool", {"nodeConfig": {"labels": {"anyKey": "v"}}}, "x", pool_arguments) == []


# In the real program (GcpGpuCluster hands its networks, account and key to GkeCluster)


def test_program_node_pools_take_fabric_capacity_and_storage_from_the_pool(ultra):
    pools = pools_by_name(ultra)
    reserved, spot, flex = pools["reserved"], pools["spot"], pools["flex"]
    assert reserved["nodeConfig"]["reservationAffinity"]["values"] == ["r1"]
    assert spot["nodeConfig"]["spot"] is True and flex["queuedProvisioning"] == {"enabled": True}
    for node_pool in (reserved, spot, flex):
        config = node_pool["nodeConfig"]
        assert config["gpudirectStrategy"] == "RDMA" and config["ephemeralStorageLocalSsdConfig"] == {"localSsdCount": 32}
        assert len(node_pool["networkConfig"]["additionalNodeNetworkConfigs"]) == 9  # the second gVNIC and 8 RDMA NICs
        assert "@p.iam.gserviceaccount.com" in config["serviceAccount"]


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
    rdma_vpc = next(r for r in of_type(ultra, NETWORK) if "networkProfile" in r.inputs)
    assert {p["vpc"] for p in param_sets.values()} == {rdma_vpc.inputs["name"]}
    assert all(p["deviceMode"] == "RDMA" for p in param_sets.values())
    subnets = {r.inputs["name"] for r in of_type(ultra, SUBNETWORK)}
    assert {p["vpcSubnet"] for p in param_sets.values()} <= subnets


def test_every_kubernetes_object_goes_through_the_cluster_provider(ultra):
    provider = one(ultra, "pulumi:providers:kubernetes")
    objects = [r for r in ultra.resources if r.type.startswith("kubernetes:")]
    assert objects and all(r.provider and r.provider.startswith(provider.urn) for r in objects)
    kinds = {r.type for r in objects}
    assert {"kubernetes:apps/v1:DaemonSet", "kubernetes:kueue.x-k8s.io/v1beta2:ClusterQueue"} <= kinds


@pytest.mark.parametrize(("machine", "transport", "networks", "installers"), [
    ("a3-megagpu-8g", "gpudirect-tcpxo", 8, {"nccl-tcpxo-installer", "nri-device-injector"}),
    ("a3-highgpu-8g", "gpudirect-tcpx", 4, {"nccl-tcpx-installer", "nri-device-injector"}),
])
def test_a3_high_and_mega_get_their_gpu_networks_installers_and_a_job_that_uses_them(machine, transport, networks, installers):
    """TCPX and TCPXO end to end: NetDevice networks per GPU VPC in the cluster, the installers, and a job template
    naming the same networks, all checked against the Kubernetes schema (and the JobSet CRD where it is at hand)."""
    from gpucluster.kube import jobset, schemas

    spec = {**ULTRA, "region": "us-central1", "zones": ["us-central1-a"], "storage": {},
            "pools": [{"name": "train", "instanceType": machine, "size": {"max": 2}, "capacity": {"type": "spot"}}]}
    result = preview_gcp(spec)
    param_sets = [r.inputs for r in result.resources if r.type.endswith(":GKENetworkParamSet")]
    assert len(param_sets) == networks and {p["spec"]["deviceMode"] for p in param_sets} == {"NetDevice"}
    daemonsets = {r.inputs["metadata"]["name"] for r in result.resources if r.type == "kubernetes:apps/v1:DaemonSet"}
    assert installers <= daemonsets
    parsed, _ = load_spec(spec)
    job = jobset.job_template(parsed, nodes=2)
    assert schemas.job_template_problems(job, "1.35") == []
    annotations = job["spec"]["replicatedJobs"][0]["template"]["spec"]["template"]["metadata"]["annotations"]
    named = {i["network"] for i in json.loads(annotations["networking.gke.io/interfaces"])} - {"default"}
    assert named == {p["metadata"]["name"] for p in param_sets}
    assert gke.transport(node_pool_plans(parsed)[0]) == transport


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


# The objects inside the cluster (pure)

TCP_SPEC = gcp_spec(pool("high", "a3-highgpu-8g", capacity={"type": "spot"}), pool("mega", "a3-megagpu-8g"),
                    pool("mflex", "a3-megagpu-8g", capacity={"type": "flex-start"}))
RDMA_SPEC = gcp_spec(pool("ultra", "a3-ultragpu-8g"), pool("b200", "a4-highgpu-8g", capacity={"type": "spot"}))
NAMES = ({"rdma": "vpc-rdma", **{f"gpu-{i}": f"vpc-gpu-{i}" for i in range(8)}},
         {**{f"rdma-{i}": f"sub-rdma-{i}" for i in range(8)}, **{f"gpu-{i}": f"sub-gpu-{i}" for i in range(8)}})


def daemon_sets(data: dict) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in gke.nccl_installer(spec_of(data))}


@pytest.mark.parametrize("data", [TCP_SPEC, RDMA_SPEC], ids=["tcpx-tcpxo", "rdma"])
def test_installers_match_the_kubernetes_openapi(data):
    objects = gke.gke_objects(spec_of(data), *NAMES)
    installers = [o for o in objects if o["kind"] == "DaemonSet"]
    assert installers and objects[len(objects) - len(installers):] == installers  # networks first, then installers
    for installer in installers:
        kubernetes_validate.validate(installer, "1.35", strict=True)
        assert installer["metadata"]["namespace"] == "kube-system"
        pod = installer["spec"]["template"]["spec"]
        assert pod["priorityClassName"] == "system-node-critical" and pod["hostNetwork"] and pod["hostPID"]


def test_each_fabric_gets_its_installer_on_its_own_nodes():
    tcp, rdma = daemon_sets(TCP_SPEC), daemon_sets(RDMA_SPEC)
    assert set(tcp) == {"nccl-tcpx-installer", "nccl-tcpxo-installer", "nri-device-injector"}
    assert set(rdma) == {"nccl-rdma-installer"}
    assert daemon_sets(gcp_spec(pool("train", "g2-standard-8"), pool("off", "a3-megagpu-8g", fabric="off"))) == {}

    def selected(installer):
        terms = installer["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        return {e["key"]: e["values"] for e in terms["nodeSelectorTerms"][0]["matchExpressions"]}

    assert selected(tcp["nccl-tcpx-installer"]) == {gke.ACCELERATOR_LABEL: ["nvidia-h100-80gb"], "gpucluster.dev/pool": ["high"]}
    assert selected(tcp["nccl-tcpxo-installer"]) == {gke.ACCELERATOR_LABEL: ["nvidia-h100-mega-80gb"],
                                                     "gpucluster.dev/pool": ["mega", "mflex"]}
    assert selected(tcp["nri-device-injector"])[gke.ACCELERATOR_LABEL] == ["nvidia-h100-80gb", "nvidia-h100-mega-80gb"]
    assert selected(rdma["nccl-rdma-installer"]) == {gke.ACCELERATOR_LABEL: ["nvidia-b200", "nvidia-h200-141gb"],
                                                     "gpucluster.dev/pool": ["b200", "ultra"]}


def test_installers_tolerate_the_gpu_spot_and_queued_taints_only():
    tolerations = daemon_sets(TCP_SPEC)["nccl-tcpxo-installer"]["spec"]["template"]["spec"]["tolerations"]
    assert {(t["key"], t["value"]) for t in tolerations} == {("nvidia.com/gpu", "present"), ("cloud.google.com/gke-queued", "true")}
    tolerations = daemon_sets(TCP_SPEC)["nccl-tcpx-installer"]["spec"]["template"]["spec"]["tolerations"]
    assert {(t["key"], t["value"]) for t in tolerations} == {("nvidia.com/gpu", "present"), ("cloud.google.com/gke-spot", "true")}
    assert all(t["operator"] == "Equal" and t["effect"] == "NoSchedule" for t in tolerations)


def test_installers_copy_the_pinned_plugin_into_gkes_driver_directory():
    for name, installer in {**daemon_sets(TCP_SPEC), **daemon_sets(RDMA_SPEC)}.items():
        pod = installer["spec"]["template"]["spec"]
        assert installer["spec"]["updateStrategy"] == {"type": "OnDelete"}  # never under a running job
        if name == "nri-device-injector":
            assert pod["containers"][0]["image"] == gke.NRI_INJECTOR_IMAGE and "@sha256:" in gke.NRI_INJECTOR_IMAGE
            continue
        install = pod["initContainers"][-1]
        assert install["image"] in gke.INSTALLER_IMAGES.values()
        assert install["image"].startswith("us-docker.pkg.dev/gce-ai-infra/") and re.search(r":v\d+\.\d+\.\d+$", install["image"])
        assert install["securityContext"] == {"privileged": True}
        host = {v["name"]: v["hostPath"]["path"] for v in pod["volumes"]}
        mounts = {m["name"]: m["mountPath"] for m in install["volumeMounts"]}
        script = install["command"][-1]
        if name == "nccl-rdma-installer":
            assert host == {"nvidia-lib64": gke.HOST_NVIDIA_LIB, "gib": gke.HOST_GIB}
            assert f"cp -r /var/lib/gib/lib64/. {mounts['nvidia-lib64']}" in script
            assert f"cp -r /var/lib/gib/. {mounts['gib']}" in script
            assert "install --install-nccl" not in script  # gIB v1.1.1 brings no NCCL of its own (CEA 2da1c92)
        else:  # the host's /home/kubernetes/bin at /usr/local: /usr/local/nvidia/lib64 is GKE's driver directory
            assert host["kubernetes-bin"] + "/nvidia/lib64" == gke.HOST_NVIDIA_LIB and mounts["kubernetes-bin"] == "/usr/local"
            assert "/usr/local/nvidia/lib64" in script and "install --install-nccl" in script
        assert pod["containers"][0]["image"] == gke.PAUSE_IMAGE
    tcpxo = daemon_sets(TCP_SPEC)["nccl-tcpxo-installer"]["spec"]["template"]["spec"]["initContainers"][0]
    assert tcpxo["command"][:5] == ["nsenter", "--target", "1", "--all", "--"] and "import-helper" in tcpxo["command"][-1]


def test_network_objects_are_named_as_the_pods_name_them():
    for data, mode, count in ((TCP_SPEC, "NetDevice", 8), (RDMA_SPEC, "RDMA", 8)):
        spec = spec_of(data)
        objects = gke.network_objects(spec, *NAMES)
        used = {network for plan in node_pool_plans(spec) for _, network in gke_pod_networks(plan.plan)}
        param_sets = {o["metadata"]["name"]: o["spec"] for o in objects if o["kind"] == "GKENetworkParamSet"}
        networks = {o["metadata"]["name"]: o["spec"] for o in objects if o["kind"] == "Network"}
        assert set(param_sets) == set(networks) == used and len(used) == count
        for name, params in param_sets.items():
            vpc = "rdma" if name.startswith("rdma-") else name
            assert params == {"vpc": NAMES[0][vpc], "vpcSubnet": NAMES[1][name], "deviceMode": mode}
            assert networks[name] == {"type": "Device", "parametersRef": {"group": "networking.gke.io",
                                                                         "kind": "GKENetworkParamSet", "name": name}}
            assert len(name) <= 41  # Device networks' names end up in a socket path


def test_kubeconfig_gets_its_token_from_the_gke_auth_plugin():
    config = json.loads(gke.kubeconfig("c", "10.0.0.2", "Q0E="))
    assert config["clusters"][0]["cluster"] == {"server": "https://10.0.0.2", "certificate-authority-data": "Q0E="}
    assert config["users"][0]["user"]["exec"]["command"] == "gke-gcloud-auth-plugin"
    assert config["users"][0]["user"]["exec"]["provideClusterInfo"] is True


def test_cluster_names_fit_gke():
    name = naming.gke_cluster_name("a" * 31 + "-b", naming.stack_key("p", "s", "c"))
    assert len(name) <= 40 and re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", name)
    assert naming.gke_cluster_name("c", "p/s1/c") != naming.gke_cluster_name("c", "p/s2/c")


@pytest.mark.parametrize(("machine", "region", "zone"), [("a3-ultragpu-8g", "europe-west4", "europe-west4-a"),
                                                          ("a3-megagpu-8g", "us-central1", "us-central1-a"),
                                                          ("a3-highgpu-8g", "us-central1", "us-central1-a")])
def test_gke_networking_objects_match_gkes_crds(machine, region, zone):
    """GKENetworkParamSet and Network against the CRDs of GKE's networking API (GoogleCloudPlatform/gke-networking-api,
    read from the CRD folder like Kueue's); the installers against the Kubernetes OpenAPI."""
    from gpucluster.kube import schemas

    spec, _ = load_spec({**ULTRA, "region": region, "zones": [zone], "storage": {},
                         "pools": [pool("p", machine)]})
    vpcs = {f"gpu-{i}": f"vpc-gpu-{i}" for i in range(8)} | {"rdma": "vpc-rdma"}
    subnets = {f"gpu-{i}": f"subnet-gpu-{i}" for i in range(8)} | {f"rdma-{i}": f"subnet-rdma-{i}" for i in range(8)}
    objects = gke.gke_objects(spec, vpcs, subnets)
    found = {obj["metadata"]["name"]: schemas.check_object(obj, "1.35") for obj in objects}
    assert all(problems == [] for problems in found.values()), found
    broken = copy.deepcopy(next(o for o in objects if o["kind"] == "GKENetworkParamSet"))
    broken["spec"]["deviceMode"] = "Rdma"  # the CRD's enum is NetDevice or RDMA
    assert schemas.check_object(broken, "1.35")
