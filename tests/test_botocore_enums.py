"""Every enum-like value the components emit is one AWS's own service models allow (botocore)."""

from __future__ import annotations

import re
from functools import cache

import botocore.session
import pytest

from gpucluster import catalog

from .helpers import PROJECT, pool, preview_spec, spec_with
from .test_preview import preview_stack

LT = "aws:ec2/launchTemplate:LaunchTemplate"
ASG = "aws:autoscaling/group:Group"
FSX = "aws:fsx/lustreFileSystem:LustreFileSystem"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"


@cache
def model(service: str):
    return botocore.session.get_session().get_service_model(service)


def ec2_enum(shape: str) -> frozenset[str]:
    return enum("ec2", shape)


@cache
def enum(service: str, shape: str) -> frozenset[str]:
    values = model(service).shape_for(shape).enum
    assert values, f"{shape} has no enum in the {service} model"
    return frozenset(values)


@cache
def documented_values(service: str, structure: str, member: str) -> frozenset[str]:
    """Values listed as <dt>...</dt> in a member's documentation, where the model has no enum."""
    doc = model(service).shape_for(structure).members[member].documentation
    values = frozenset(re.findall(r"<dt>([^<\s]+)", doc) or re.findall(r"<code>([^<]+)</code>", doc))
    assert values, f"{structure}.{member}: no values in its documentation"
    return values


def persistent_2_throughputs() -> frozenset[int]:
    """'For PERSISTENT_2 SSD storage: 125, 250, 500, 1000 MB/s/TiB' in the fsx model's documentation."""
    doc = model("fsx").shape_for("CreateFileSystemLustreConfiguration").members["PerUnitStorageThroughput"].documentation
    match = re.search(r"PERSISTENT_2</code> SSD storage: ([\d, ]+) MB/s/TiB", doc)
    assert match, doc
    return frozenset(int(v) for v in match.group(1).split(","))


def valid_lustre_capacities(up_to: int) -> frozenset[int]:
    """'1200 GiB, 2400 GiB, and increments of 2400 GiB' for PERSISTENT_2 SSD, in the fsx model's documentation."""
    doc = model("fsx").shape_for("CreateFileSystemRequest").members["StorageCapacity"].documentation
    match = re.search(r"using SSD storage type, the valid values are (\d+) GiB, (\d+) GiB, and increments of (\d+) GiB", doc)
    assert match, doc
    first, second, step = (int(v) for v in match.groups())
    return frozenset([first, *range(second, up_to, step)])


# (resource type, path to the value, allowed values)
CHECKS = [
    (LT, "networkInterfaces[].interfaceType", lambda: ec2_enum("NetworkInterfaceType")),
    (LT, "metadataOptions.httpTokens", lambda: ec2_enum("LaunchTemplateHttpTokensState")),
    (LT, "metadataOptions.httpEndpoint", lambda: ec2_enum("LaunchTemplateInstanceMetadataEndpointState")),
    (LT, "metadataOptions.instanceMetadataTags", lambda: ec2_enum("LaunchTemplateInstanceMetadataTagsState")),
    (LT, "blockDeviceMappings[].ebs.volumeType", lambda: ec2_enum("VolumeType")),
    (LT, "instanceMarketOptions.marketType", lambda: ec2_enum("MarketType")),
    (LT, "tagSpecifications[].resourceType", lambda: ec2_enum("ResourceType")),
    (LT, "instanceType", lambda: ec2_enum("InstanceType")),
    ("aws:ec2/placementGroup:PlacementGroup", "strategy", lambda: ec2_enum("PlacementStrategy")),
    ("aws:ec2/vpcEndpoint:VpcEndpoint", "vpcEndpointType", lambda: ec2_enum("VpcEndpointType")),
    ("aws:ec2/eip:Eip", "domain", lambda: ec2_enum("DomainType")),
    (ASG, "mixedInstancesPolicy.launchTemplate.overrides[].instanceType", lambda: ec2_enum("InstanceType")),
    (ASG, "mixedInstancesPolicy.instancesDistribution.onDemandAllocationStrategy",
     lambda: documented_values("autoscaling", "InstancesDistribution", "OnDemandAllocationStrategy")),
    (ASG, "mixedInstancesPolicy.instancesDistribution.spotAllocationStrategy",
     lambda: documented_values("autoscaling", "InstancesDistribution", "SpotAllocationStrategy")),
    (ASG, "capacityReservationSpecification.capacityReservationPreference",
     lambda: enum("autoscaling", "CapacityReservationPreference")),
    (ASG, "instanceRefresh.strategy", lambda: enum("autoscaling", "RefreshStrategy")),
    (ASG, "initialLifecycleHooks[].lifecycleTransition",
     lambda: documented_values("autoscaling", "LifecycleHookSpecification", "LifecycleTransition")),
    (ASG, "initialLifecycleHooks[].defaultResult",
     lambda: documented_values("autoscaling", "LifecycleHookSpecification", "DefaultResult")),
    (FSX, "deploymentType", lambda: enum("fsx", "LustreDeploymentType")),
    (FSX, "storageType", lambda: enum("fsx", "StorageType")),
    (FSX, "dataCompressionType", lambda: enum("fsx", "DataCompressionType")),
    (FSX, "perUnitStorageThroughput", persistent_2_throughputs),
    (FSX, "storageCapacity", lambda: valid_lustre_capacities(1_000_000)),
    ("aws:fsx/dataRepositoryAssociation:DataRepositoryAssociation", "s3.autoImportPolicy.events[]", lambda: enum("fsx", "EventType")),
    ("aws:fsx/dataRepositoryAssociation:DataRepositoryAssociation", "s3.autoExportPolicy.events[]", lambda: enum("fsx", "EventType")),
    (LIFECYCLE, "rules[].transitions[].storageClass", lambda: enum("s3", "TransitionStorageClass")),
    (LIFECYCLE, "rules[].status", lambda: enum("s3", "ExpirationStatus")),
    ("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
     "rules[].applyServerSideEncryptionByDefault.sseAlgorithm", lambda: enum("s3", "ServerSideEncryption")),
    ("aws:s3/bucketOwnershipControls:BucketOwnershipControls", "rule.objectOwnership", lambda: enum("s3", "ObjectOwnership")),
    ("aws:s3/bucketVersioning:BucketVersioning", "versioningConfiguration.status", lambda: enum("s3", "BucketVersioningStatus")),
]


def values_at(data, path: str) -> list:
    """All values at a dotted path; `name[]` walks every item of a list."""
    found = [data]
    for part in path.split("."):
        step = []
        for item in found:
            if not isinstance(item, dict) or part.rstrip("[]") not in item:
                continue
            value = item[part.rstrip("[]")]
            step.extend(value if part.endswith("[]") else [value])
        found = step
    return found


def _graphs():
    """Every example stack, plus variants that reach the capacity models and the mixed-instances path."""
    graphs = [preview_stack(name) for name in PROJECT.stacks()]
    graphs.append(preview_spec(spec_with(pools=[pool(capacity={"type": "spot"})])))
    graphs.append(preview_spec(spec_with(pools=[pool(capacity={"type": "capacity-block", "reservationId": "cr-0123456789abcdef0"})])))
    graphs.append(preview_spec(spec_with(
        region="us-east-2", zones=["us-east-2a"],
        pools=[pool(alternateTypes=["p5e.48xlarge"], capacity={"type": "spot"}), pool(name="od", alternateTypes=["p5e.48xlarge"])],
    )))
    graphs.append(preview_spec(spec_with(
        pools=[pool(capacity={"type": "reservation", "reservationId": "cr-0123456789abcdef0"})],
        storage={"shared": {"throughputGbps": 3, "exportDatasets": True}, "buckets": {}},  # the opt-in export too
    )))
    graphs.append(preview_spec(spec_with(pools=[pool(purpose="inference")])))  # rolling: an instance refresh
    return graphs


@pytest.fixture(scope="module")
def emitted():
    table: dict[tuple[str, str], list] = {}
    for graph in _graphs():
        for reg in graph.resources:
            for type_, path, _ in CHECKS:
                if reg.type == type_:
                    table.setdefault((type_, path), []).extend(values_at(reg.inputs, path))
    return table


@pytest.mark.parametrize("type_, path, allowed", CHECKS, ids=[f"{t.split(':')[-1]}.{p}" for t, p, _ in CHECKS])
def test_emitted_values_are_allowed_by_botocore(type_, path, allowed, emitted):
    values = emitted.get((type_, path), [])
    assert values, f"no {type_} emitted a value at {path}: the check would prove nothing"
    bad = sorted(set(values) - allowed())
    assert not bad, f"{type_} {path}: {bad} not in botocore's allowed values"


def test_every_catalog_type_is_an_ec2_instance_type():
    assert set(catalog.load("aws").names()) <= ec2_enum("InstanceType")
