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


@cache
def model(service: str):
    return botocore.session.get_session().get_service_model(service)


@cache
def ec2_enum(shape: str) -> frozenset[str]:
    values = model("ec2").shape_for(shape).enum
    assert values, f"{shape} has no enum in the ec2 model"
    return frozenset(values)


@cache
def documented_values(service: str, structure: str, member: str) -> frozenset[str]:
    """Values listed as <dt>...</dt> in a member's documentation, where the model has no enum."""
    doc = model(service).shape_for(structure).members[member].documentation
    values = frozenset(re.findall(r"<dt>([^<\s]+)", doc))  # "price-capacity-optimized (recommended)"
    assert values, f"{structure}.{member}: no values in its documentation"
    return values


# (resource type, path to the value, allowed values)
CHECKS = [
    (LT, "networkInterfaces[].interfaceType", lambda: ec2_enum("NetworkInterfaceType")),
    (LT, "metadataOptions.httpTokens", lambda: ec2_enum("LaunchTemplateHttpTokensState")),
    (LT, "metadataOptions.httpEndpoint", lambda: ec2_enum("LaunchTemplateInstanceMetadataEndpointState")),
    (LT, "metadataOptions.instanceMetadataTags", lambda: ec2_enum("LaunchTemplateInstanceMetadataTagsState")),
    (LT, "blockDeviceMappings[].ebs.volumeType", lambda: ec2_enum("VolumeType")),
    (LT, "instanceMarketOptions.marketType", lambda: ec2_enum("MarketType")),
    (LT, "instanceMarketOptions.spotOptions.instanceInterruptionBehavior", lambda: ec2_enum("InstanceInterruptionBehavior")),
    (LT, "instanceMarketOptions.spotOptions.spotInstanceType", lambda: ec2_enum("SpotInstanceType")),
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
