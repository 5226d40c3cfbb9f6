"""What the AWS components declare, read from the resource graph of the real program run offline."""

from __future__ import annotations

import json

import pulumi
import pytest
import yaml

from gpucluster.preview.engine import run_program
from gpucluster.problems import SpecError
from gpucluster.validate import load_spec

from .helpers import BASE_SPEC, ROOT, of_type, one, pool, preview_spec, spec_with

LT = "aws:ec2/launchTemplate:LaunchTemplate"
ASG = "aws:autoscaling/group:Group"
SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
PG = "aws:ec2/placementGroup:PlacementGroup"


def test_component_types_and_parents(p5_preview):
    by_urn = {r.urn: r for r in p5_preview.resources}
    cluster = one(p5_preview, "gpucluster:aws:GpuCluster")
    network = one(p5_preview, "gpucluster:aws:ClusterNetwork")
    group = one(p5_preview, "gpucluster:aws:GpuInstanceGroup")
    assert network.parent == cluster.urn and group.parent == cluster.urn
    assert by_urn[cluster.parent].type == "pulumi:pulumi:Stack"
    for reg in p5_preview.resources:
        if reg.type.startswith("aws:"):
            assert by_urn[reg.parent].type.startswith("gpucluster:aws:"), reg.urn
    assert one(p5_preview, LT).parent == group.urn and one(p5_preview, PG).parent == network.urn


def test_components_register_their_outputs(p5_preview):
    outputs = {urn.rsplit("::", 2)[1].split("$")[-1]: out for urn, out in p5_preview.component_outputs.items()}
    assert {"vpcId", "privateSubnetIds", "efaSecurityGroupId", "placementGroups"} <= set(outputs["gpucluster:aws:ClusterNetwork"])
    assert {"launchTemplateId", "autoScalingGroupName"} <= set(outputs["gpucluster:aws:GpuInstanceGroup"])
    assert outputs["gpucluster:aws:GpuCluster"]["pools"]["train"]["autoScalingGroup"].startswith("t-train-asg-")


def test_launch_template_carries_full_p5_fabric_and_hardening(p5_preview):
    lt = one(p5_preview, LT).inputs
    interfaces = lt["networkInterfaces"]
    assert len(interfaces) == 33
    assert [i["interfaceType"] for i in interfaces].count("efa-only") == 32
    assert all(i["associatePublicIpAddress"] == "false" for i in interfaces)
    assert len(interfaces[0]["securityGroups"]) == 2 and all(len(i["securityGroups"]) == 1 for i in interfaces[1:])
    assert lt["metadataOptions"]["httpTokens"] == "required"
    root = lt["blockDeviceMappings"][0]["ebs"]
    assert root["encrypted"] == "true" and root["volumeType"] == "gp3"
    assert lt["instanceType"] == "p5.48xlarge"
    assert lt["imageId"].startswith("resolve:ssm:/aws/service/deeplearning/")
    assert {t["resourceType"] for t in lt["tagSpecifications"]} == {"instance", "volume", "network-interface"}


def test_efa_security_group_references_only_itself(p5_preview):
    efa_rules = [r for r in of_type(p5_preview, INGRESS) + of_type(p5_preview, EGRESS) if "-efa-" in r.name]
    assert len(efa_rules) == 2
    for rule in efa_rules:
        assert rule.inputs["ipProtocol"] == "-1"
        assert "cidrIpv4" not in rule.inputs
        assert rule.inputs["referencedSecurityGroupId"] == rule.inputs["securityGroupId"]
    assert not of_type(p5_preview, INGRESS)[1:], "the only ingress rule is the EFA self rule"


def test_self_reference_is_the_same_group_when_ids_are_known():
    result = preview_spec(BASE_SPEC, preview=False)
    rules = [r for r in of_type(result, INGRESS) + of_type(result, EGRESS) if "-efa-" in r.name]
    efa_group_ids = {r.inputs["securityGroupId"] for r in rules} | {r.inputs["referencedSecurityGroupId"] for r in rules}
    assert len(efa_group_ids) == 1 and next(iter(efa_group_ids)).startswith("sg-")


def test_network_shape(p5_preview):
    subnets = of_type(p5_preview, "aws:ec2/subnet:Subnet")
    assert {s.inputs["cidrBlock"] for s in subnets} == {"10.0.0.0/20", "10.0.240.0/20"}
    assert all(s.inputs["mapPublicIpOnLaunch"] is False for s in subnets)
    endpoint = one(p5_preview, "aws:ec2/vpcEndpoint:VpcEndpoint").inputs
    assert endpoint["serviceName"] == "com.amazonaws.us-east-1.s3" and endpoint["vpcEndpointType"] == "Gateway"
    assert one(p5_preview, "aws:ec2/natGateway:NatGateway")
    assert one(p5_preview, PG).inputs["strategy"] == "cluster"


def test_every_taggable_resource_carries_cost_tags(p5_preview):
    for reg in p5_preview.resources:
        if reg.type.startswith("aws:") and "tags" in reg.inputs and reg.type != ASG:
            assert {"owner", "cost-center", "project", "gpucluster:cluster"} <= set(reg.inputs["tags"]), reg.urn
    asg_tags = {t["key"]: t for t in one(p5_preview, ASG).inputs["tags"]}
    assert asg_tags["cost-center"]["propagateAtLaunch"] is True


def test_group_uses_placement_group_and_sizes(p5_preview):
    asg = one(p5_preview, ASG).inputs
    assert (asg["minSize"], asg["desiredCapacity"], asg["maxSize"]) == (2, 2, 2)
    assert asg["placementGroup"] == one(p5_preview, PG).inputs.get("name") or asg["placementGroup"].startswith("t-net-train-")
    assert len(asg["vpcZoneIdentifiers"]) == 1


def test_non_fabric_pool_spreads_over_zones_without_placement_group():
    spec = spec_with(zones=["us-east-1a", "us-east-1b", "us-east-1c"], pools=[pool(instanceType="g6.xlarge", size={"min": 0, "max": 8})])
    result = preview_spec(spec)
    assert of_type(result, PG) == []
    assert len(one(result, ASG).inputs["vpcZoneIdentifiers"]) == 3
    assert one(result, ASG).inputs.get("placementGroup") is None
    assert [i["interfaceType"] for i in one(result, LT).inputs["networkInterfaces"]] == ["interface"]
    assert one(result, LT).inputs["imageId"].endswith("base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id")


def test_trainium_pool_boots_the_neuron_image():
    result = preview_spec(spec_with(pools=[pool(instanceType="trn1.32xlarge", zones=[], size={"min": 1, "max": 1})], zones=["us-east-1b"]))
    assert "/neuron/" in one(result, LT).inputs["imageId"]
    assert len(one(result, LT).inputs["networkInterfaces"]) == 9


@pytest.mark.parametrize(
    "capacity, preference",
    [
        ({"type": "reservation", "reservationId": "cr-0123456789abcdef0"}, "capacity-reservations-only"),
        ({"type": "reservation", "fallback": ["on-demand"], "reservationId": "cr-0123456789abcdef0"}, "capacity-reservations-first"),
    ],
)
def test_reservations_render_as_the_group_preference(capacity, preference):
    result = preview_spec(spec_with(pools=[pool(capacity=capacity)]))
    spec = one(result, ASG).inputs["capacityReservationSpecification"]
    assert spec == {"capacityReservationPreference": preference,
                    "capacityReservationTarget": {"capacityReservationIds": ["cr-0123456789abcdef0"]}}
    assert of_type(result, PG) == [], "no placement group is forced onto reserved capacity"
    assert "instanceMarketOptions" not in one(result, LT).inputs


def test_capacity_block_uses_its_market_and_its_reservation():
    capacity = {"type": "capacity-block", "reservationId": "cr-0123456789abcdef0"}
    result = preview_spec(spec_with(pools=[pool(capacity=capacity)]))
    lt = one(result, LT).inputs
    assert lt["instanceMarketOptions"] == {"marketType": "capacity-block"}
    assert lt["capacityReservationSpecification"] == {"capacityReservationTarget": {"capacityReservationId": "cr-0123456789abcdef0"}}
    assert "capacityReservationSpecification" not in one(result, ASG).inputs
    assert of_type(result, PG) == []


def test_on_demand_needs_nothing_extra(p5_preview):
    assert "instanceMarketOptions" not in one(p5_preview, LT).inputs
    assert "capacityReservationSpecification" not in one(p5_preview, ASG).inputs
    assert "mixedInstancesPolicy" not in one(p5_preview, ASG).inputs


def test_alternate_types_become_a_mixed_instances_policy():
    spec = spec_with(
        region="us-east-2",
        zones=["us-east-2a"],
        pools=[pool(alternateTypes=["p5e.48xlarge"], capacity={"type": "spot"}, size={"min": 0, "max": 4})],
    )
    result = preview_spec(spec)
    asg = one(result, ASG).inputs
    lt = one(result, LT).inputs
    assert "launchTemplate" not in asg and "instanceType" not in lt and "instanceMarketOptions" not in lt
    policy = asg["mixedInstancesPolicy"]
    assert [o["instanceType"] for o in policy["launchTemplate"]["overrides"]] == ["p5.48xlarge", "p5e.48xlarge"]
    assert policy["instancesDistribution"]["spotAllocationStrategy"] == "price-capacity-optimized"
    assert policy["instancesDistribution"]["onDemandPercentageAboveBaseCapacity"] == 0


def test_no_nat_means_no_public_subnet():
    result = preview_spec(spec_with(network={"nat": False}))
    assert of_type(result, "aws:ec2/natGateway:NatGateway") == []
    assert of_type(result, "aws:ec2/internetGateway:InternetGateway") == []
    assert len(of_type(result, "aws:ec2/subnet:Subnet")) == 1


def test_vpc_logs_its_flows_and_its_default_group_admits_nothing():
    result = preview_spec(spec_with(network={"flowLogRetentionDays": 365}))
    vpc = one(result, "aws:ec2/vpc:Vpc")
    flow = one(result, "aws:ec2/flowLog:FlowLog")
    group = one(result, "aws:cloudwatch/logGroup:LogGroup")
    assert flow.dependencies["vpcId"] == [vpc.urn] and flow.dependencies["logDestination"] == [group.urn]
    assert flow.inputs["trafficType"] == "ALL" and group.inputs["retentionInDays"] == 365
    policy = json.loads(next(p for p in result.resources if p.type == "aws:iam/rolePolicy:RolePolicy" and "flows" in p.name).inputs["policy"])
    assert policy["Statement"][0]["Resource"][0] == f"arn:aws:logs:us-east-1:123456789012:log-group:{group.inputs['name']}"
    default = one(result, "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert default.dependencies["vpcId"] == [vpc.urn] and not default.inputs.get("ingress") and not default.inputs.get("egress")
    assert one(result, "aws:ec2/launchTemplate:LaunchTemplate").inputs["monitoring"] == {"enabled": True}


SPEC_IN_CODE = """
import yaml
from {module} import {component}, {component}Args
from gpucluster.spec import ClusterSpec

case = yaml.safe_load(open({case!r}).read())["cluster"]
spec = ClusterSpec.model_validate(case)  # structurally valid; load_spec would refuse it
{component}("bad", {component}Args({args}))
"""


@pytest.mark.parametrize("module, component, case, args", [
    ("components.aws", "AwsGpuCluster", "cluster-placement-across-zones", "spec"),
    ("components.gcp", "GcpGpuCluster", "flex-start-compact-on-a3-mega", "spec, 'my-project'"),
])
def test_a_spec_built_in_code_is_refused_as_a_stack_file_is(tmp_path, module, component, case, args):
    """`ClusterSpec.model_validate` checks only the structure; the component runs the checks `load_spec` runs, and
    refuses before it registers anything."""
    path = ROOT / "tests/invalid" / f"{case}.yaml"
    cluster = yaml.safe_load(path.read_text())["cluster"]
    with pytest.raises(SpecError) as refused:
        load_spec(cluster)
    main = tmp_path / "__main__.py"
    main.write_text(SPEC_IN_CODE.format(module=module, component=component, case=str(path), args=args))
    config = {f"{cluster['cloud']}:region": cluster["region"]}
    with pytest.raises(pulumi.RunError) as error:
        run_program(str(main), "user", "dev", config)
    message = str(error.value)
    assert message.startswith(f"{component} 'bad': ")
    assert all(p.message in message for p in refused.value.problems if p.severity == "error")
