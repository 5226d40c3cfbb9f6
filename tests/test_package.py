"""The component package (provider/): its inputs are generated from the spec, and the provider, started as the
Pulumi engine starts a plugin, serves a schema documenting every spec field and constructs the clusters under a
mock resource monitor, refusing what a stack file would be refused."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent import futures

import grpc
import pytest
import yaml
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc, resource_pb2_grpc

from components.package import generate
from gpucluster.preview.engine import RecordingMonitor
from gpucluster.preview.mocks import PreviewMocks
from gpucluster.preview.services import serve_engine
from gpucluster.spec import ClusterSpec

from .helpers import ROOT

PROJECT, STACK = "lab", "dev"
STACK_URN = f"urn:pulumi:{STACK}::{PROJECT}::pulumi:pulumi:Stack::{PROJECT}-{STACK}"
SPEC = {
    "name": "pkg", "region": "us-east-1", "zones": ["us-east-1a"],
    "pools": [{"name": "train", "instanceType": "p5.48xlarge", "size": {"min": 1, "max": 2}}],
    "storage": {"buckets": {"datasetSizeTb": 1}},
    "tags": {"owner": "ml", "costCenter": "cc-1", "project": "lab"},
}


def test_args_are_what_the_generator_writes_from_the_spec():
    assert generate.TARGET.read_text() == generate.render(), "run `python -m components.package.generate`"


class _Monitor(RecordingMonitor):
    """The offline preview's recording monitor, for a project and stack of the test's own (it runs outside a
    Pulumi program, so it cannot ask the runtime for them)."""

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        if parent and parent != STACK_URN:
            type_ = parent.split("::")[2] + "$" + type_
        return f"urn:pulumi:{STACK}::{PROJECT}::{type_}::{name}"


def _monitor_service(monitor: RecordingMonitor):
    """The mock monitor behind the ResourceMonitor gRPC service the provider's components register through."""
    methods = [name for name in dir(resource_pb2_grpc.ResourceMonitorServicer) if not name.startswith("_")]
    handlers = {name: (lambda method: lambda self, request, context: method(request))(getattr(monitor, name))
                for name in methods if hasattr(pulumi_mocks.MockMonitor, name)}
    return type("MonitorService", (resource_pb2_grpc.ResourceMonitorServicer,), handlers)()


@pytest.fixture(scope="module")
def provider():
    """The provider as the Python language host runs a plugin: `python <plugin folder> <engine address>`; it prints
    its port and serves the ResourceProvider service."""
    monitor = _Monitor(PreviewMocks("us-east-1", preview=True, project=PROJECT))
    monitor.stack_urn = STACK_URN
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    resource_pb2_grpc.add_ResourceMonitorServicer_to_server(_monitor_service(monitor), server)
    monitor_port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    with serve_engine(STACK_URN) as (engine, engine_address):
        process = subprocess.Popen([sys.executable, str(ROOT / "provider"), engine_address], cwd=ROOT,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            port = int(process.stdout.readline().strip())
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                yield provider_pb2_grpc.ResourceProviderStub(channel), monitor, f"127.0.0.1:{monitor_port}"
        finally:
            process.kill()
            process.wait()
            server.stop(0)


@pytest.fixture(scope="module")
def schema(provider):
    stub, _, _ = provider
    return json.loads(stub.GetSchema(provider_pb2.GetSchemaRequest(version=0), timeout=120).schema)


def _types(schema: dict, ref: str) -> dict:
    return schema["types"][ref.rsplit("/", 1)[1]]


def test_the_schema_has_every_spec_field_with_its_description(schema):
    spec = ClusterSpec.model_json_schema(by_alias=True)
    assert {f"gpucluster:index:{name}" for name in ("AwsCluster", "GcpCluster", "KubernetesCluster")} <= set(schema["resources"])
    cluster = schema["resources"]["gpucluster:index:AwsCluster"]
    assert cluster["isComponent"] and cluster["description"]
    assert set(cluster["inputProperties"]) == set(spec["properties"]) - generate.LEFT_OUT
    assert set(cluster.get("requiredInputs", [])) == set(spec["required"]) - generate.LEFT_OUT
    missing = []

    def compare(properties: dict, model: dict, where: str) -> None:
        assert set(properties) == set(model["properties"]) - (generate.LEFT_OUT if where == "ClusterSpec" else set()), where
        for key, prop in properties.items():
            if not prop.get("description"):
                missing.append(f"{where}.{key}")
            ref = prop.get("$ref") or prop.get("items", {}).get("$ref") or prop.get("additionalProperties", {}).get("$ref")
            if ref and ref.startswith("#/types/") and "properties" in _types(schema, ref):
                definition = model["properties"][key]
                target = json.dumps(definition).split('"$ref": "#/$defs/', 1)[1].split('"', 1)[0]
                compare(_types(schema, ref)["properties"], spec["$defs"][target], target)

    compare(cluster["inputProperties"], spec, "ClusterSpec")
    assert not missing, f"spec fields without a description: {missing}"
    gcp = schema["resources"]["gpucluster:index:GcpCluster"]["inputProperties"]
    assert "project" in gcp and gcp["project"]["description"]
    assert "kubeconfig" in schema["resources"]["gpucluster:index:KubernetesCluster"]["inputProperties"]


def test_every_component_describes_every_input_and_output(schema):
    """Inherited fields included: the analyzer reads docstrings in the class that declares a field only."""
    undescribed = [f"{token}.{key}" for token, resource in schema["resources"].items()
                   for key, prop in {**resource["inputProperties"], **resource["properties"]}.items()
                   if not prop.get("description")]
    assert not undescribed


def test_outputs_are_the_same_shape_on_every_cloud(schema):
    outputs = {name: schema["resources"][f"gpucluster:index:{name}"]["properties"] for name in ("AwsCluster", "GcpCluster")}
    assert set(outputs["AwsCluster"]) == set(outputs["GcpCluster"]) == {"pools", "gpus", "network", "storage"}
    for name in ("AwsCluster", "GcpCluster", "KubernetesCluster"):
        properties = schema["resources"][f"gpucluster:index:{name}"]["properties"]
        assert properties["pools"]["additionalProperties"]["$ref"].endswith(":PoolOutputs")
        assert all(p["description"] for p in properties.values())
    pool = schema["types"]["gpucluster:index:PoolOutputs"]["properties"]
    assert {"instanceType", "zones", "min", "max", "gpusPerNode", "capacity"} <= set(pool)


def _struct(value: dict) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(value)
    return struct


def _construct(provider, type_: str, name: str, inputs: dict, config: dict):
    stub, _, monitor_address = provider
    return stub.Construct(provider_pb2.ConstructRequest(
        project=PROJECT, stack=STACK, config=config, dryRun=True, parallel=4, monitorEndpoint=monitor_address,
        type=type_, name=name, parent=STACK_URN, inputs=_struct(inputs), organization="organization",
    ), timeout=300)


def test_construct_builds_the_cluster_the_stack_program_builds(provider):
    _, monitor, _ = provider
    response = _construct(provider, "gpucluster:index:AwsCluster", "pkg", SPEC, {"aws:region": "us-east-1"})
    assert response.urn == f"urn:pulumi:{STACK}::{PROJECT}::gpucluster:index:AwsCluster::pkg"
    by_urn = {r.urn: r for r in monitor.registrations}
    inner = next(r for r in monitor.registrations if r.type == "gpucluster:aws:GpuCluster")
    assert inner.parent == response.urn  # the stack program's component, under the package's
    group = next(r for r in monitor.registrations if r.type == "aws:autoscaling/group:Group")
    template = next(r for r in monitor.registrations if r.type == "aws:ec2/launchTemplate:LaunchTemplate")
    assert len(template.inputs["networkInterfaces"]) == 33  # the full EFA layout of p5.48xlarge
    assert group.inputs["maxSize"] == 2
    chain, urn = [], group.urn
    while urn in by_urn:
        chain.append(by_urn[urn].type)
        urn = by_urn[urn].parent
    assert chain[-1] == "gpucluster:index:AwsCluster" and urn == STACK_URN
    state = json_format.MessageToDict(response.state)  # unknowns stay the engine's sentinel
    train = state["pools"]["train"]
    assert (train["instanceType"], train["gpusPerNode"], train["zones"]) == ("p5.48xlarge", 8, ["us-east-1a"])
    assert state["gpus"] == {"min": 8, "max": 16}
    assert {"datasetBucket", "checkpointBucket", "kmsKey"} <= set(state["storage"])


def test_construct_refuses_what_a_stack_file_is_refused(provider):
    cluster = yaml.safe_load((ROOT / "tests/invalid/cluster-placement-across-zones.yaml").read_text())["cluster"]
    inputs = {k: v for k, v in cluster.items() if k != "cloud"}
    with pytest.raises(grpc.RpcError) as refused:
        _construct(provider, "gpucluster:index:AwsCluster", "bad", inputs, {"aws:region": "us-east-1"})
    assert "AwsCluster 'bad'" in refused.value.details() and "pools[0].placement" in refused.value.details()
    _, monitor, _ = provider
    assert not any(r.name == "bad" for r in monitor.registrations)  # nothing half-done


def test_the_plugin_describes_itself(provider):
    stub, _, _ = provider
    assert stub.GetPluginInfo(empty_pb2.Empty(), timeout=30).version


def test_the_readme_yaml_program_constructs(provider):
    """The YAML example in the README: its resource type is the package's, and its properties construct."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split("YAML (`Pulumi.yaml`):\n\n```yaml\n", 1)[1].split("```", 1)[0]
    program = yaml.safe_load(block)
    (resource,) = program["resources"].values()
    package, component = resource["type"].split(":")
    assert program["packages"][package].endswith("/provider")
    response = _construct(provider, f"{package}:index:{component}", "readme", resource["properties"], {"aws:region": "us-east-1"})
    assert json_format.MessageToDict(response.state)["gpus"] == {"min": 16, "max": 16}
