"""The launch template every GPU node boots from, for auto scaling groups and EKS managed node groups alike: the type's
full fabric layout, IMDSv2, an encrypted root volume, no public address."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from gpucluster import naming
from gpucluster.fabric import AwsInterface
from gpucluster.spec import Capacity


@dataclass
class NodeTemplateArgs:
    interfaces: tuple[AwsInterface, ...]
    primary_security_groups: list[pulumi.Input[str]]  # on the primary interface, with the EFA group
    efa_security_group_id: pulumi.Input[str]
    root_device: str
    root_volume_gb: int
    capacity: Capacity = field(default_factory=Capacity)
    instance_type: str | None = None  # None where the group chooses among several types
    image_id: str | None = None  # None where EKS picks the image from the node group's AMI type
    user_data: pulumi.Input[str] | None = None  # encoded here
    instance_profile_arn: pulumi.Input[str] | None = None  # EKS managed node groups bring their own
    reservation_in_template: bool = False  # EKS node groups target a reservation here; auto scaling groups do it themselves
    placement_group: pulumi.Input[str] | None = None  # EKS node groups place through the template
    tags: dict[str, str] = field(default_factory=dict)


def node_launch_template(name: str, args: NodeTemplateArgs, opts: pulumi.ResourceOptions) -> aws.ec2.LaunchTemplate:
    plan = args.capacity.plan()
    return aws.ec2.LaunchTemplate(
        naming.launch_template(name),
        instance_type=args.instance_type,
        image_id=args.image_id,
        update_default_version=True,
        # One-minute metrics: a few dollars a month per node, against tens of dollars an hour for the node itself.
        monitoring={"enabled": True},
        network_interfaces=[_interface(i, args) for i in args.interfaces],
        metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
            http_endpoint="enabled",
            http_tokens="required",
            # Two hops let containers on the node reach IMDSv2 (one is the container bridge).
            http_put_response_hop_limit=2,
            instance_metadata_tags="enabled",  # the interruption watcher reads its group's name from tags
        ),
        block_device_mappings=[
            aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                device_name=args.root_device,
                ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                    volume_size=args.root_volume_gb, volume_type="gp3", encrypted="true", delete_on_termination="true",
                ),
            )
        ],
        iam_instance_profile={"arn": args.instance_profile_arn} if args.instance_profile_arn else None,
        user_data=pulumi.Output.from_input(args.user_data).apply(_base64) if args.user_data else None,
        instance_market_options={"market_type": "capacity-block"} if plan.capacity_block else None,
        capacity_reservation_specification=_reservation(args),
        placement={"group_name": args.placement_group} if args.placement_group else None,
        tag_specifications=[
            aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags={**args.tags, "Name": name})
            for kind in ("instance", "volume", "network-interface")
        ],
        tags={**args.tags, "Name": name},
        opts=opts,
    )


def _interface(interface: AwsInterface, args: NodeTemplateArgs) -> aws.ec2.LaunchTemplateNetworkInterfaceArgs:
    primary = interface.network_card_index == 0 and interface.device_index == 0
    # EFA-only interfaces move no IP traffic, so they carry only the EFA group.
    groups = [*args.primary_security_groups, args.efa_security_group_id] if primary else [args.efa_security_group_id]
    return aws.ec2.LaunchTemplateNetworkInterfaceArgs(
        network_card_index=interface.network_card_index,
        device_index=interface.device_index,
        interface_type=interface.interface_type,
        security_groups=groups,
        associate_public_ip_address="false",
        delete_on_termination="true",
    )


def _reservation(args: NodeTemplateArgs) -> dict | None:
    capacity = args.capacity
    plan = capacity.plan()
    if plan.capacity_block:  # a block is always targeted in the template, with its market type
        return {"capacity_reservation_target": {"capacity_reservation_id": capacity.reservation_id}}
    if not (args.reservation_in_template and plan.reserved):
        return None
    target = ({"capacity_reservation_id": capacity.reservation_id} if capacity.reservation_id
              else {"capacity_reservation_resource_group_arn": capacity.reservation_group_arn})
    return {"capacity_reservation_target": target}


def _base64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()
