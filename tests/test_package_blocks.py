"""The package's building blocks (AWS: network, GPU instance group, spot pool, storage; GCP: network, GPU instance
group, storage): the schema documents every input; Construct under the mock monitor builds the resources the stack
program's component builds in a cluster; an input a stack file would be refused is refused with the same code and
message, and nothing is registered."""

from __future__ import annotations

import json
from collections import Counter

import grpc
import pytest
import yaml
from google.protobuf import json_format

from gpucluster.cost.expected_size import EXPECTED_SIZE_LABEL
from gpucluster.problems import SpecError
from gpucluster.validate import load_spec

from .helpers import ROOT, pool, preview_spec, spec_with
from .test_gcp import GCP as GCP_SPEC, preview_gcp, with_pool
from .test_package import _construct, provider, schema  # noqa: F401 (fixtures)

AWS = {"aws:region": "us-east-1"}
TAGS = {"owner": "ml", "costCenter": "cc-1", "project": "lab"}
GCP = {"gcp:project": "p-1", "gcp:region": "us-central1"}
BLOCKS = ("AwsNetwork", "AwsGpuInstanceGroup", "AwsSpotPool", "AwsStorage", "GcpNetwork", "GcpGpuInstanceGroup", "GcpStorage")


def _group(**inputs) -> dict:
    """A one-zone p5.48xlarge group's inputs, as another language sends them, with `inputs` replaced."""
    return {"instanceType": "p5.48xlarge", "zones": ["us-east-1a"], "subnetIds": ["subnet-a"],
            "nodesSecurityGroupId": "sg-nodes", "efaSecurityGroupId": "sg-efa", "size": {"min": 1, "max": 2},
            "tags": TAGS, **inputs}


def _under(registrations, root_urn: str) -> list:
    """Every registration below `root_urn`, at any depth."""
    parents = {r.urn: r.parent for r in registrations}

    def below(urn: str) -> bool:
        while urn in parents:
            urn = parents[urn]
            if urn == root_urn:
                return True
        return False

    return [r for r in registrations if below(r.urn)]


def _types_under(registrations, component_type: str, name: str | None = None) -> Counter:
    """How many resources of each type the (one) component of `component_type` holds."""
    (root,) = [r for r in registrations if r.type == component_type and (name is None or r.name == name)]
    return Counter(r.type for r in _under(registrations, root.urn))


def _stack_problem(spec: dict, code: str):
    """The problem with `code` that load_spec finds in a stack file's spec."""
    with pytest.raises(SpecError) as refused:
        load_spec(spec)
    return next(p for p in refused.value.problems if p.code == code)


def test_the_schema_documents_every_block_input_and_output(schema):
    for block in BLOCKS:
        resource = schema["resources"][f"gpucluster:index:{block}"]
        assert resource["isComponent"] and resource["description"], block
        undocumented = [f"{block}.{key}" for key, prop in {**resource["inputProperties"], **resource["properties"]}.items()
                        if not prop.get("description")]
        assert not undocumented
    group = schema["resources"]["gpucluster:index:AwsGpuInstanceGroup"]
    assert set(group["requiredInputs"]) == {"instanceType", "zones", "subnetIds", "nodesSecurityGroupId",
                                            "efaSecurityGroupId", "size", "tags"}
    # The spec's own shapes are the generated types the cluster components take.
    assert group["inputProperties"]["size"]["$ref"].endswith(":SizeArgs")
    assert group["inputProperties"]["capacity"]["$ref"].endswith(":CapacityArgs")
    spot = schema["resources"]["gpucluster:index:AwsSpotPool"]["inputProperties"]
    assert set(group["inputProperties"]) - {"userData"} <= set(spot)
    network = schema["resources"]["gpucluster:index:AwsNetwork"]
    assert set(network["properties"]) == {"vpcId", "privateSubnetIds", "nodesSecurityGroupId", "efaSecurityGroupId",
                                          "placementGroups"}


def test_a_network_is_the_one_a_cluster_builds(provider):
    _, monitor, _ = provider
    inputs = {"zones": ["us-east-1a", "us-east-1b"], "tags": TAGS, "placementGroups": ["train"],
              "network": {"cidr": "10.1.0.0/16", "flowLogRetentionDays": 30}}
    response = _construct(provider, "gpucluster:index:AwsNetwork", "lab", inputs, AWS)
    built = _types_under(monitor.registrations, "gpucluster:aws:ClusterNetwork", "lab")
    subnets = [r for r in _under(monitor.registrations, response.urn) if r.type == "aws:ec2/subnet:Subnet"]
    assert {r.inputs["cidrBlock"] for r in subnets} == {"10.1.0.0/20", "10.1.16.0/20", "10.1.240.0/20"}
    # The cluster with the same zones, address plan and an EFA pool that gets a placement group.
    cluster = preview_spec(spec_with(zones=["us-east-1a", "us-east-1b"], network={"cidr": "10.1.0.0/16", "flowLogRetentionDays": 30}))
    assert built == _types_under(cluster.resources, "gpucluster:aws:ClusterNetwork")
    assert built["aws:ec2/vpc:Vpc"] == 1 and built["aws:ec2/placementGroup:PlacementGroup"] == 1
    state = json_format.MessageToDict(response.state)
    assert set(state["privateSubnetIds"]) == {"us-east-1a", "us-east-1b"} and set(state["placementGroups"]) == {"train"}


def test_a_group_gets_the_full_efa_layout_of_its_type(provider):
    _, monitor, _ = provider
    response = _construct(provider, "gpucluster:index:AwsGpuInstanceGroup", "p5", _group(placementGroup="pg-1"), AWS)
    under = _under(monitor.registrations, response.urn)
    (template,) = [r for r in under if r.type == "aws:ec2/launchTemplate:LaunchTemplate"]
    interfaces = Counter(i["interfaceType"] for i in template.inputs["networkInterfaces"])
    assert interfaces == {"interface": 1, "efa-only": 32}
    (group,) = [r for r in under if r.type == "aws:autoscaling/group:Group"]
    assert (group.inputs["minSize"], group.inputs["maxSize"], group.inputs["placementGroup"]) == (1, 2, "pg-1")
    assert group.inputs["vpcZoneIdentifiers"] == ["subnet-a"]
    cluster = preview_spec(spec_with(pools=[pool(size={"min": 1, "max": 2})]))
    built = _types_under(monitor.registrations, "gpucluster:aws:GpuInstanceGroup", "p5")
    assert built == _types_under(cluster.resources, "gpucluster:aws:GpuInstanceGroup")
    state = json_format.MessageToDict(response.state)
    assert (state["gpusPerNode"], state["efaInterfacesPerNode"]) == (8, 32)


def test_a_spot_pool_is_the_one_a_cluster_builds_for_spot(provider):
    _, monitor, _ = provider
    inputs = _group(checkpoint={"heartbeatSeconds": 900}, checkpointBucket="lab-checkpoints")
    response = _construct(provider, "gpucluster:index:AwsSpotPool", "spot", inputs, AWS)
    under = _under(monitor.registrations, response.urn)
    (group,) = [r for r in under if r.type == "aws:autoscaling/group:Group"]
    (hook,) = group.inputs["initialLifecycleHooks"]
    assert hook["heartbeatTimeout"] == 900 and group.inputs["capacityRebalance"] is True
    (template,) = [r for r in under if r.type == "aws:ec2/launchTemplate:LaunchTemplate"]
    assert template.inputs["userData"]  # the watcher that checkpoints and completes the hook
    cluster = preview_spec(spec_with(pools=[pool(size={"min": 1, "max": 2}, capacity={"type": "spot"})]))
    built = _types_under(monitor.registrations, "gpucluster:aws:SpotTrainingPool", "spot")
    assert built == _types_under(cluster.resources, "gpucluster:aws:SpotTrainingPool")
    assert built["aws:sqs/queue:Queue"] == 1 and built["aws:cloudwatch/eventRule:EventRule"] == 2


@pytest.mark.parametrize("shared, gpus", [({"throughputGbps": 10}, None), ({"throughputGbpsPerGpu": 2}, 16)])
def test_storage_is_the_one_a_cluster_builds(provider, shared, gpus):
    """Sized as a cluster sizes it: a per-GPU target counts the GPUs given, as a cluster counts its pools' (the
    spec's one pool: 2 p5.48xlarge, 16 GPUs)."""
    _, monitor, _ = provider
    name = f"data-{gpus}"
    inputs = {"vpcId": "vpc-1", "nodesSecurityGroupId": "sg-nodes", "lustreSubnetId": "subnet-a", "tags": TAGS,
              "buckets": {"datasetSizeTb": 5}, "shared": shared, **({"gpus": gpus} if gpus else {})}
    response = _construct(provider, "gpucluster:index:AwsStorage", name, inputs, AWS)
    (fsx,) = [r for r in _under(monitor.registrations, response.urn) if r.type == "aws:fsx/lustreFileSystem:LustreFileSystem"]
    cluster = preview_spec(spec_with(storage={"buckets": {"datasetSizeTb": 5}, "shared": shared}))
    (stack_fsx,) = [r for r in cluster.resources if r.type == "aws:fsx/lustreFileSystem:LustreFileSystem"]
    assert (fsx.inputs["storageCapacity"], fsx.inputs["perUnitStorageThroughput"]) == \
        (stack_fsx.inputs["storageCapacity"], stack_fsx.inputs["perUnitStorageThroughput"])
    built = _types_under(monitor.registrations, "gpucluster:aws:TieredStorage", name)
    assert built == _types_under(cluster.resources, "gpucluster:aws:TieredStorage")
    assert built["aws:s3/bucket:Bucket"] == 3 and built["aws:kms/key:Key"] == 1


@pytest.mark.parametrize("inputs, stack_pool, code, path", [
    (_group(instanceType="p9.48xlarge"), pool(instanceType="p9.48xlarge"), "GPC-TYPE-UNKNOWN", "instanceType"),
    (_group(instanceType="p6-b200.48xlarge"), pool(instanceType="p6-b200.48xlarge", zones=["us-east-1a"]),
     "GPC-POOL-ZONE-OFFER", "zones[0]"),
    (_group(zones=["us-east-1a", "us-east-1b"], subnetIds=["subnet-a", "subnet-b"], placementGroup="pg-1"),
     pool(zones=["us-east-1a", "us-east-1b"], placement="cluster"), "GPC-PLACEMENT-ZONES", "placementGroup"),
    (_group(zones=["us-east-1a", "us-east-1b"], subnetIds=["subnet-a", "subnet-b"]),
     pool(zones=["us-east-1a", "us-east-1b"]), "GPC-FABRIC-ZONES", "zones"),
    (_group(size={"min": 3, "max": 2}), pool(size={"min": 3, "max": 2}), "GPC-SIZE-ORDER", "size"),
])
def test_a_group_is_refused_what_a_stack_file_is_refused(provider, inputs, stack_pool, code, path):
    _, monitor, _ = provider
    name = f"refused-{code.lower()}"
    with pytest.raises(grpc.RpcError) as refused:
        _construct(provider, "gpucluster:index:AwsGpuInstanceGroup", name, inputs, AWS)
    stack = _stack_problem(spec_with(zones=inputs["zones"], pools=[stack_pool]), code)
    assert f"AwsGpuInstanceGroup {name!r}" in refused.value.details()
    assert f"error: {path}: [{code}] {stack.message}" in refused.value.details()
    assert not any(r.name.startswith(name) for r in monitor.registrations)  # nothing half-done


def test_a_spot_pool_without_spot_or_a_bucket_is_refused(provider):
    _, monitor, _ = provider
    for name, inputs, said in [("no-spot", _group(capacity={"type": "on-demand"}, checkpointBucket="b"),
                                "capacity: [GPC-INPUT-MISMATCH]"),
                               ("no-bucket", _group(), "checkpointBucket: [GPC-INPUT-MISSING] required")]:
        with pytest.raises(grpc.RpcError) as refused:
            _construct(provider, "gpucluster:index:AwsSpotPool", name, inputs, AWS)
        assert said in refused.value.details()
        assert not any(r.name.startswith(name) for r in monitor.registrations)


def test_a_network_is_refused_what_a_stack_file_is_refused(provider):
    inputs = {"zones": ["us-east-1a", "us-west-2a"], "tags": TAGS}
    with pytest.raises(grpc.RpcError) as refused:
        _construct(provider, "gpucluster:index:AwsNetwork", "badnet", inputs, AWS)
    stack = _stack_problem(spec_with(zones=["us-east-1a", "us-west-2a"]), "GPC-ZONE-REGION")
    assert f"error: zones[1]: [GPC-ZONE-REGION] {stack.message}" in refused.value.details()


def test_the_readme_blocks_program_constructs(provider):
    """The README's YAML program of a network and a group in it: its types are the package's, and its properties
    construct, the group's references to the network standing for the values the engine would resolve them to."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split("YAML, a network and a GPU instance group in it:\n\n```yaml\n", 1)[1].split("```", 1)[0]
    resources = yaml.safe_load(block)["resources"]
    network = resources.pop("net")
    ((name, group),) = resources.items()
    assert (network["type"], group["type"]) == ("gpucluster:AwsNetwork", "gpucluster:AwsGpuInstanceGroup")
    _construct(provider, "gpucluster:index:AwsNetwork", "readme-net", network["properties"], AWS)
    references = {key for key, value in group["properties"].items() if "${net." in json.dumps(value)}
    assert references == {"subnetIds", "nodesSecurityGroupId", "efaSecurityGroupId", "placementGroup"}
    resolved = {**group["properties"], "subnetIds": ["subnet-a"], "nodesSecurityGroupId": "sg-nodes",
                "efaSecurityGroupId": "sg-efa", "placementGroup": "pg-readme"}
    response = _construct(provider, "gpucluster:index:AwsGpuInstanceGroup", f"readme-{name}", resolved, AWS)
    assert json_format.MessageToDict(response.state)["efaInterfacesPerNode"] == 32


# A3 Ultra: two host gVNICs and eight RDMA NICs on the RoCE network (the GCP tests' spot pool of two VMs).
A3_ULTRA_SUBNETS = {"host": "host-link", "host-2": "host-2-link", **{f"rdma-{i}": f"rdma-{i}-link" for i in range(8)}}


def _gcp_group(**inputs) -> dict:
    return {"instanceType": "a3-ultragpu-8g", "zone": "us-central1-b", "subnets": A3_ULTRA_SUBNETS, "kmsKey": "key-1",
            "serviceAccount": "nodes@p-1.iam.gserviceaccount.com", "size": {"max": 2, "desired": 2},
            "capacity": {"type": "spot"}, "tags": TAGS, **inputs}


def test_gcp_networks_are_the_ones_a_cluster_builds_for_its_machine_types(provider):
    _, monitor, _ = provider
    inputs = {"zone": "us-central1-b", "machineTypes": ["a3-ultragpu-8g"], "tags": TAGS}
    response = _construct(provider, "gpucluster:index:GcpNetwork", "gnet", inputs, GCP)
    built = _types_under(monitor.registrations, "gpucluster:gcp:ClusterNetwork", "gnet")
    assert built == _types_under(preview_gcp(GCP_SPEC).resources, "gpucluster:gcp:ClusterNetwork")
    assert built["gcp:compute/subnetwork:Subnetwork"] == 10  # host, host-2 and the RoCE network's eight
    assert set(json_format.MessageToDict(response.state)["subnets"]) == set(A3_ULTRA_SUBNETS)


def test_a_gcp_group_attaches_every_nic_of_its_machine_type(provider):
    _, monitor, _ = provider
    response = _construct(provider, "gpucluster:index:GcpGpuInstanceGroup", "a3u", _gcp_group(), GCP)
    (template,) = [r for r in _under(monitor.registrations, response.urn)
                   if r.type == "gcp:compute/instanceTemplate:InstanceTemplate"]
    nics = template.inputs["networkInterfaces"]
    assert Counter(n["nicType"] for n in nics) == {"GVNIC": 2, "MRDMA": 8}
    assert [n["subnetwork"] for n in nics] == list(A3_ULTRA_SUBNETS.values())
    assert template.inputs["scheduling"]["provisioningModel"] == "SPOT"
    built = _types_under(monitor.registrations, "gpucluster:gcp:GpuInstanceGroup", "a3u")
    assert built == _types_under(preview_gcp(GCP_SPEC).resources, "gpucluster:gcp:GpuInstanceGroup")
    assert json_format.MessageToDict(response.state)["gpusPerNode"] == 8


def test_gcp_storage_is_the_one_a_cluster_builds(provider):
    _, monitor, _ = provider
    shared, buckets = {"throughputGbpsPerGpu": 1}, {"datasetSizeTb": 5, "checkpointSizeTb": 0.5}
    inputs = {"nodeServiceAccount": "nodes@p-1.iam.gserviceaccount.com", "tags": TAGS, "shared": shared,
              "buckets": buckets, "network": "host-link", "zone": "us-central1-b", "gpus": 16}
    response = _construct(provider, "gpucluster:index:GcpStorage", "gdata", inputs, GCP)
    cluster = preview_gcp({**GCP_SPEC, "storage": {"shared": shared, "buckets": buckets}})  # two a3-ultragpu-8g: 16 GPUs
    bucket = "gcp:storage/bucket:Bucket"
    sizes = [{r.name.rsplit("-", 1)[1]: r.inputs["labels"].get(EXPECTED_SIZE_LABEL) for r in graph if r.type == bucket}
             for graph in (_under(monitor.registrations, response.urn), cluster.resources)]
    assert sizes[0] == sizes[1] == {"datasets": "5000", "checkpoints": "500", "logs": None}
    lustre = "gcp:lustre/instance:Instance"
    (mine,) = [r for r in _under(monitor.registrations, response.urn) if r.type == lustre]
    (theirs,) = [r for r in cluster.resources if r.type == lustre]
    assert (mine.inputs["capacityGib"], mine.inputs["perUnitStorageThroughput"]) == \
        (theirs.inputs["capacityGib"], theirs.inputs["perUnitStorageThroughput"])
    assert _types_under(monitor.registrations, "gpucluster:gcp:TieredStorage", "gdata") == \
        _types_under(cluster.resources, "gpucluster:gcp:TieredStorage")


@pytest.mark.parametrize("type_, inputs, stack, code, path", [
    ("GcpGpuInstanceGroup", _gcp_group(instanceType="a3-ultragpu-9g"), with_pool(instanceType="a3-ultragpu-9g"),
     "GPC-TYPE-UNKNOWN", "instanceType"),
    ("GcpGpuInstanceGroup", _gcp_group(capacity={"type": "on-demand"}), with_pool(capacity={"type": "on-demand"}),
     "GPC-ON-DEMAND-UNOFFERED", "capacity.type"),
    ("GcpNetwork", {"zone": "us-central1-f", "machineTypes": ["a3-ultragpu-8g"], "tags": TAGS},
     {**with_pool(zones=["us-central1-f"]), "zones": ["us-central1-f"]}, "GPC-POOL-ZONE-OFFER", "zone"),
])
def test_gcp_blocks_are_refused_what_a_stack_file_is_refused(provider, type_, inputs, stack, code, path):
    _, monitor, _ = provider
    name = f"refused-{code.lower()}-gcp"
    with pytest.raises(grpc.RpcError) as refused:
        _construct(provider, f"gpucluster:index:{type_}", name, inputs, GCP)
    assert f"error: {path}: [{code}] {_stack_problem(stack, code).message}" in refused.value.details()
    assert not any(r.name.startswith(name) for r in monitor.registrations)


def test_a_gcp_group_without_a_subnet_for_each_nic_is_refused(provider):
    subnets = {"host": "host-link", "host-2": "host-2-link"}
    with pytest.raises(grpc.RpcError) as refused:
        _construct(provider, "gpucluster:index:GcpGpuInstanceGroup", "few-subnets", _gcp_group(subnets=subnets), GCP)
    assert "subnets: [GPC-INPUT-MISMATCH] none for ['rdma-0'," in refused.value.details()
