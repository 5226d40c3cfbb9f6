"""The EKS cluster and its GPU node groups, read from the resource graph of the real program run offline, and the
Kubernetes objects it applies checked against the Kubernetes OpenAPI of the cluster's version."""

from __future__ import annotations

import base64
import copy
import itertools
import json

import kubernetes_validate
import pytest

from gpucluster.kube import addons, eks
from gpucluster.kube import storage as volumes
from gpucluster.problems import SpecError
from gpucluster.validate import load_spec

from .helpers import of_type, one, preview_spec

CLUSTER = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LT = "aws:ec2/launchTemplate:LaunchTemplate"
RESERVATION = "cr-0123456789abcdef0"

EKS_SPEC = {
    "name": "k", "cloud": "aws", "region": "us-east-1", "zones": ["us-east-1a", "us-east-1b"],
    "kubernetes": {"version": "1.35", "teams": [{"name": "research"}],
                   "admins": ["arn:aws:iam::123456789012:role/platform-admin"]},
    "pools": [
        {"name": "reserved", "instanceType": "p5.48xlarge", "size": {"min": 2, "max": 2}, "zones": ["us-east-1a"],
         "capacity": {"type": "reservation", "reservationId": RESERVATION}},
        {"name": "spot", "instanceType": "p4d.24xlarge", "size": {"min": 0, "max": 4}, "zones": ["us-east-1a"],
         "capacity": {"type": "spot"}},
    ],
    "storage": {"scratch": {}, "shared": {"throughputGbps": 10}, "buckets": {}},
    "tags": {"owner": "team", "costCenter": "cc-1", "project": "proj"},
}


def eks_spec(**changes) -> dict:
    spec = copy.deepcopy(EKS_SPEC)
    spec.update(copy.deepcopy(changes))
    return spec


@pytest.fixture(scope="module")
def eks_preview():
    return preview_spec(EKS_SPEC)


def groups_by_pool(result) -> dict:
    return {g.inputs["labels"]["gpucluster.dev/pool"]: g for g in of_type(result, NODE_GROUP)
            if "gpucluster.dev/pool" in g.inputs.get("labels", {})}


def template_of(result, group):
    """The launch template a node group's `launchTemplate` input came from (a graph link, not a name)."""
    urns = group.dependencies["launchTemplate"]
    return next(r for r in of_type(result, LT) if r.urn in urns)


def test_control_plane_is_private_encrypted_and_logged(eks_preview):
    cluster = one(eks_preview, CLUSTER).inputs
    assert cluster["vpcConfig"]["endpointPrivateAccess"] is True and cluster["vpcConfig"]["endpointPublicAccess"] is False
    assert cluster["encryptionConfig"]["resources"] == ["secrets"]
    assert set(cluster["enabledClusterLogTypes"]) == {"api", "audit", "authenticator", "controllerManager", "scheduler"}
    assert cluster["accessConfig"]["authenticationMode"] == "API"
    assert cluster["version"] == "1.35" and cluster["bootstrapSelfManagedAddons"] is False
    entry = one(eks_preview, "aws:eks/accessEntry:AccessEntry").inputs
    assert entry["principalArn"] == "arn:aws:iam::123456789012:role/platform-admin"
    association = one(eks_preview, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation").inputs
    assert association["policyArn"].endswith("AmazonEKSClusterAdminPolicy")


def test_public_endpoint_only_for_listed_networks():
    spec = eks_spec(kubernetes={**EKS_SPEC["kubernetes"], "publicAccessCidrs": ["203.0.113.0/24"]})
    vpc = one(preview_spec(spec), CLUSTER).inputs["vpcConfig"]
    assert vpc["endpointPublicAccess"] is True and vpc["publicAccessCidrs"] == ["203.0.113.0/24"]


def test_node_groups_take_capacity_labels_and_taints_from_the_pool(eks_preview):
    groups = groups_by_pool(eks_preview)
    reserved, spot = groups["reserved"].inputs, groups["spot"].inputs
    assert reserved["capacityType"] == "ON_DEMAND" and spot["capacityType"] == "SPOT"
    assert reserved["amiType"] == spot["amiType"] == "AL2023_x86_64_NVIDIA"
    assert {"key": "gpucluster.dev/spot", "value": "true", "effect": "NO_SCHEDULE"} in spot["taints"]
    assert all(t["key"] != "gpucluster.dev/spot" for t in reserved["taints"])
    assert {"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"} in reserved["taints"]
    assert reserved["scalingConfig"] == {"minSize": 2, "desiredSize": 2, "maxSize": 2}
    assert spot["instanceTypes"] == ["p4d.24xlarge"]


def test_launch_templates_carry_the_full_efa_layout_placement_and_reservation(eks_preview):
    groups = groups_by_pool(eks_preview)
    reserved, spot = template_of(eks_preview, groups["reserved"]).inputs, template_of(eks_preview, groups["spot"]).inputs
    assert sum(i["interfaceType"] == "efa-only" for i in reserved["networkInterfaces"]) == 32  # p5.48xlarge
    assert sum(i["interfaceType"] == "efa-only" for i in spot["networkInterfaces"]) == 4  # p4d: 4 EFA cards, card 0 device 1 too
    assert all(i["associatePublicIpAddress"] == "false" for i in reserved["networkInterfaces"])
    assert all("subnetId" not in i for i in reserved["networkInterfaces"])  # forbidden in a node group's template
    assert "iamInstanceProfile" not in reserved  # the node group brings it
    assert reserved["capacityReservationSpecification"] == {"capacityReservationTarget": {"capacityReservationId": RESERVATION}}
    assert "placement" not in reserved  # a reservation decides where its instances land
    assert spot["placement"]["groupName"]  # a cluster placement group for the fabric pool
    assert reserved["metadataOptions"]["httpTokens"] == "required"


def test_local_nvme_becomes_ephemeral_storage_through_nodeadm(eks_preview):
    template = template_of(eks_preview, groups_by_pool(eks_preview)["reserved"]).inputs
    user_data = base64.b64decode(template["userData"]).decode()
    assert "Content-Type: application/node.eks.aws" in user_data and '"strategy": "RAID0"' in user_data
    without_scratch = preview_spec(eks_spec(storage={}))
    template = template_of(without_scratch, groups_by_pool(without_scratch)["reserved"]).inputs
    assert "userData" not in template


def test_capacity_block_names_its_type_in_the_template():
    block = {"name": "block", "instanceType": "p5.48xlarge", "size": {"min": 2, "max": 2}, "zones": ["us-east-1a"],
             "capacity": {"type": "capacity-block", "reservationId": RESERVATION}}
    result = preview_spec(eks_spec(pools=[block]))
    group = groups_by_pool(result)["block"]
    template = template_of(result, group).inputs
    assert group.inputs["capacityType"] == "CAPACITY_BLOCK" and "instanceTypes" not in group.inputs
    assert template["instanceType"] == "p5.48xlarge" and template["instanceMarketOptions"] == {"marketType": "capacity-block"}


def test_networking_add_ons_exist_before_any_node_group(eks_preview):
    addons_by_name = {a.inputs["addonName"]: a for a in of_type(eks_preview, "aws:eks/addon:Addon")}
    assert set(addons_by_name) == set(eks.ADDON_NAMES)
    for group in of_type(eks_preview, NODE_GROUP):
        for name in ("vpc-cni", "kube-proxy", "eks-pod-identity-agent"):
            assert addons_by_name[name].urn in group.depends_on, (group.name, name)
    s3 = addons_by_name["aws-mountpoint-s3-csi-driver"].inputs
    assert s3["podIdentityAssociations"][0]["serviceAccount"] == "s3-csi-driver-sa"


def test_pinned_add_on_versions_are_used_as_given():
    spec = eks_spec(kubernetes={**EKS_SPEC["kubernetes"], "addonVersions": {"vpc-cni": "v1.20.4-eksbuild.1"}})
    found = {a.inputs["addonName"]: a.inputs for a in of_type(preview_spec(spec), "aws:eks/addon:Addon")}
    assert found["vpc-cni"]["addonVersion"] == "v1.20.4-eksbuild.1"
    assert "addonVersion" not in found["coredns"]  # EKS's default when installed, which EKS then keeps


def test_update_mode_runs_with_ids_and_arns():
    """`pulumi up` shapes: outputs known, the kubeconfig built from the cluster's endpoint."""
    result = preview_spec(EKS_SPEC, preview=False)
    provider = one(result, "pulumi:providers:kubernetes")
    assert provider.inputs["kubeconfig"] == "[secret]"  # built from the cluster's outputs, and never shown
    groups = groups_by_pool(result)
    template = template_of(result, groups["reserved"]).inputs
    primary = next(i for i in template["networkInterfaces"] if i["deviceIndex"] == 0 and i["networkCardIndex"] == 0)
    cluster_group = one(result, CLUSTER)
    assert len(primary["securityGroups"]) == 3 and all(g.startswith("sg-") for g in primary["securityGroups"])
    assert cluster_group.urn in template_of(result, groups["reserved"]).depends_on  # the cluster's own group


def test_kubeconfig_gets_its_token_from_the_aws_cli():
    config = json.loads(eks.kubeconfig("c", "https://ABC.gr7.us-east-1.eks.amazonaws.com", "Q0E=", "us-east-1"))
    user = config["users"][0]["user"]["exec"]
    assert user["command"] == "aws" and user["args"][:4] == ["eks", "get-token", "--cluster-name", "c"]
    assert config["clusters"][0]["cluster"] == {"server": "https://ABC.gr7.us-east-1.eks.amazonaws.com",
                                                "certificate-authority-data": "Q0E="}


def test_every_kubernetes_object_goes_through_the_cluster_provider(eks_preview):
    provider = one(eks_preview, "pulumi:providers:kubernetes")
    objects = [r for r in eks_preview.resources if r.type.startswith("kubernetes:")]
    assert objects and all(r.provider and r.provider.startswith(provider.urn) for r in objects)
    assert not any(r.name.startswith("default") for r in of_type(eks_preview, "pulumi:providers:kubernetes"))


@pytest.mark.parametrize("order", [("a", "b"), ("b", "a")])
def test_node_groups_do_not_depend_on_pool_order(order):
    pools = [{"name": n, "instanceType": t, "size": {"min": 0, "max": 2}, "zones": ["us-east-1a"], "capacity": {"type": "spot"}}
             for n, t in zip(order, ("p5.48xlarge", "g6e.48xlarge"))]
    result = preview_spec(eks_spec(pools=sorted(pools, key=lambda p: p["instanceType"])))
    by_type = {g.inputs["instanceTypes"][0]: g.inputs["labels"]["gpucluster.dev/pool"] for g in groups_by_pool(result).values()}
    assert by_type == {"p5.48xlarge": order[0], "g6e.48xlarge": order[1]}


@pytest.mark.parametrize(("change", "path"), [
    ({"pools": [{"name": "p", "instanceType": "p5.48xlarge", "size": {"max": 2}, "zones": ["us-east-1a"],
                 "capacity": {"type": "on-demand", "fallback": ["spot"]}}]}, "pools[0].capacity"),
    ({"zones": ["us-east-1a"]}, "zones"),
    ({"pools": [{"name": "p", "instanceType": "trn1.32xlarge", "size": {"max": 2}, "zones": ["us-east-1a"]}]}, "pools[0].instanceType"),
    ({"pools": [{"name": "p", "instanceType": "p5.48xlarge", "size": {"max": 2}, "zones": ["us-east-1a"],
                 "rollout": {"strategy": "manual"}}]}, "pools[0].rollout.strategy"),
    ({"pools": [{"name": "p", "instanceType": "p5.48xlarge", "size": {"max": 2}, "zones": ["us-east-1a"],
                 "imageId": "ami-0123456789abcdef0"}]}, "pools[0].imageId"),
])
def test_what_a_kubernetes_pool_cannot_be_is_refused_by_field(change, path):
    with pytest.raises(SpecError) as error:
        load_spec(eks_spec(**change))
    assert path in [p.path for p in error.value.problems]


def test_gpu_software_values_turn_off_what_the_image_has():
    spec, _ = load_spec(EKS_SPEC)
    values = addons.gpu_operator_values(spec)
    assert values["driver"] == {"enabled": False} and values["toolkit"] == {"enabled": False}
    assert values["dcgmExporter"] == {"enabled": True}
    assert {"name": "MOFED_ENABLED", "value": "false"} in values["devicePlugin"]["env"]  # EFA pools
    tolerated = {(t["key"], t["value"]) for t in values["daemonsets"]["tolerations"]}
    assert tolerated == {("nvidia.com/gpu", "present"), ("gpucluster.dev/spot", "true")}
    efa = addons.efa_device_plugin_values(spec)
    assert efa["supportedInstanceLabels"]["values"] == ["p4d.24xlarge", "p5.48xlarge"]
    assert [r.chart.name for r in addons.releases(spec)] == ["gpu-operator", "aws-efa-k8s-device-plugin", "jobset", "kueue"]


def test_device_plugin_choice_installs_only_the_plugin():
    spec, _ = load_spec(eks_spec(kubernetes={**EKS_SPEC["kubernetes"], "gpuSoftware": "device-plugin"}))
    charts = [r.chart.name for r in addons.releases(spec)]
    assert "gpu-operator" not in charts and "nvidia-device-plugin" in charts
    assert addons.device_plugin_values(spec)["mofedEnabled"] is False


@pytest.mark.parametrize("version", ["1.31", "1.35", "1.36"])
def test_storage_objects_match_the_kubernetes_openapi(version):
    objects = [*volumes.fsx_lustre("research", "fs-0123456789abcdef0", "fs-0123.fsx.us-east-1.amazonaws.com", "abcdefgh", 1200),
               *volumes.s3_bucket("research", "datasets", "my-datasets"), *volumes.s3_bucket("research", "checkpoints", "my-ckpt"),
               *volumes.managed_lustre("research", "proj", "europe-west4-b", "lustre-1", "10.0.0.2", "lfs", 18000),
               *volumes.gcs_bucket("research", "datasets", "my-datasets")]
    for obj in objects:
        kubernetes_validate.validate(obj, version, strict=True)
    claims = [o for o in objects if o["kind"] == "PersistentVolumeClaim"]
    assert all(o["spec"]["storageClassName"] == "" for o in claims)  # static: no provisioner makes anything
    volumes_ = [o for o in objects if o["kind"] == "PersistentVolume"]
    assert all(v["spec"]["persistentVolumeReclaimPolicy"] == "Retain" for v in volumes_)


def test_a_schema_error_is_caught():
    """The check above can fail: a misspelt field is refused by the strict schema."""
    pv = volumes.fsx_lustre("research", "fs-1", "dns", "mount", 1200)[0]
    pv["spec"]["acessModes"] = pv["spec"].pop("accessModes")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(pv, "1.35", strict=True)


@pytest.mark.parametrize("names", [("reserved", "spot"), ("spot", "reserved")])
def test_queue_tries_reserved_then_spot_whatever_the_names(names):
    from gpucluster.kube import kueue

    pools = [{**EKS_SPEC["pools"][0], "name": names[0]}, {**EKS_SPEC["pools"][1], "name": names[1]}]
    spec, _ = load_spec(eks_spec(pools=list(reversed(pools))))
    group = kueue.cluster_queue(spec)["spec"]["resourceGroups"][0]
    assert [f["name"] for f in group["flavors"]] == [names[0], names[1]]  # the reservation first, then spot
    quota = {f["name"]: {r["name"]: r["nominalQuota"] for r in f["resources"]} for f in group["flavors"]}
    assert quota[names[0]]["nvidia.com/gpu"] == 2 * 8 and quota[names[0]]["vpc.amazonaws.com/efa"] == 2 * 32
    assert quota[names[1]]["nvidia.com/gpu"] == 4 * 8 and quota[names[1]]["vpc.amazonaws.com/efa"] == 4 * 4
    assert set(group["coveredResources"]) == {"cpu", "memory", "nvidia.com/gpu", "vpc.amazonaws.com/efa", "hugepages-2Mi"}
    flavors = {f["metadata"]["name"]: f["spec"] for f in kueue.resource_flavors(spec)}
    assert {"key": "gpucluster.dev/spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"} in flavors[names[1]]["tolerations"]
    assert flavors[names[1]]["nodeLabels"] == {"gpucluster.dev/pool": names[1], "eks.amazonaws.com/capacityType": "SPOT",
                                               "node.kubernetes.io/instance-type": "p4d.24xlarge"}


def test_spot_workloads_are_never_deactivated_for_good():
    import yaml

    from gpucluster.kube import kueue

    spec, _ = load_spec(EKS_SPEC)
    config = yaml.safe_load(kueue.kueue_values(spec)["managerConfig"]["controllerManagerConfigYaml"])
    assert config["waitForPodsReady"]["requeuingStrategy"]["backoffLimitCount"] is None  # null: endless (kueue #15255)
    assert "jobset.x-k8s.io/jobset" in config["integrations"]["frameworks"]
    queues = kueue.local_queues(spec)
    assert [(q["metadata"]["namespace"], q["spec"]["clusterQueue"]) for q in queues] == [("research", "k")]



MIXED = [
    {"name": "block", "instanceType": "p5.48xlarge", "size": {"min": 2, "max": 2}, "zones": ["us-east-1a"],
     "capacity": {"type": "capacity-block", "reservationId": RESERVATION}},
    {"name": "spot", "instanceType": "p5en.48xlarge", "size": {"max": 4}, "zones": ["us-east-1c"], "capacity": {"type": "spot"}},
    {"name": "dev", "instanceType": "g6e.12xlarge", "size": {"max": 3}},
]


@pytest.mark.parametrize("pools", list(itertools.permutations(MIXED)), ids=lambda p: "-".join(x["name"] for x in p))
def test_three_pools_of_different_types_sources_and_zones_in_every_order(pools):
    result = preview_spec(eks_spec(pools=list(pools), zones=["us-east-1a", "us-east-1b", "us-east-1c"]))
    groups = groups_by_pool(result)
    subnets = {r.urn: r.inputs["availabilityZone"] for r in of_type(result, "aws:ec2/subnet:Subnet")}
    zones = {pool: sorted(subnets[u] for u in group.dependencies["subnetIds"] if u in subnets) for pool, group in groups.items()}
    assert {pool: g.inputs["capacityType"] for pool, g in groups.items()} == {"block": "CAPACITY_BLOCK", "spot": "SPOT", "dev": "ON_DEMAND"}
    assert zones["block"] == ["us-east-1a"] and zones["spot"] == ["us-east-1c"] and len(zones["dev"]) == 1
    efa = {pool: sum(i["interfaceType"] in ("efa", "efa-only") for i in template_of(result, g).inputs["networkInterfaces"])
           for pool, g in groups.items()}
    assert efa == {"block": 32, "spot": 16, "dev": 1}


def test_checkpoint_settings_on_a_kubernetes_pool_are_a_warning_not_silence():
    pools = [{**EKS_SPEC["pools"][1], "checkpoint": {"command": "kill -USR1 1"}}]
    _, warnings = load_spec(eks_spec(pools=pools))
    assert [(w.path, w.severity) for w in warnings] == [("pools[0].checkpoint", "warning")]
    _, warnings = load_spec(EKS_SPEC)
    assert warnings == []
