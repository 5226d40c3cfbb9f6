"""GpuInstanceGroup: a launch template carrying the type's full fabric layout, and the auto scaling group."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from gpucluster.fabric import AwsInterface
from gpucluster.spec import Capacity

# Deep Learning AMIs by accelerator, as SSM public parameters: launch templates resolve these at launch,
# so a group always boots the current image without an AMI lookup at deploy time.
# (Parameter names per "Finding the ID of a DLAMI", docs.aws.amazon.com/dlami/latest/devguide/find-dlami-id.html.)
DEFAULT_IMAGES = {
    "gpu": "resolve:ssm:/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id",
    "trainium": "resolve:ssm:/aws/service/neuron/dlami/multi-framework/ubuntu-22.04/latest/image_id",
}
ROOT_DEVICE = "/dev/sda1"  # Ubuntu-based DLAMIs


@dataclass
class GpuInstanceGroupArgs:
    instance_type: str
    interfaces: tuple[AwsInterface, ...]
    subnet_ids: list[pulumi.Input[str]]
    nodes_security_group_id: pulumi.Input[str]
    efa_security_group_id: pulumi.Input[str]
    min_size: int
    desired_size: int
    max_size: int
    image_id: str
    capacity: Capacity = field(default_factory=Capacity)
    alternate_types: list[str] = field(default_factory=list)
    placement_group: pulumi.Input[str] | None = None
    root_volume_gb: int = 200
    tags: dict[str, str] = field(default_factory=dict)


class GpuInstanceGroup(pulumi.ComponentResource):
    """Nodes of one type (or of types sharing one fabric layout) behind an auto scaling group.

    Nodes get no public IP on any interface, require IMDSv2, and boot from an encrypted root volume.
    The primary interface carries both security groups; EFA-only interfaces carry only the EFA group,
    since they move no IP traffic.
    """

    launch_template_id: pulumi.Output[str]
    auto_scaling_group_name: pulumi.Output[str]

    def __init__(self, name: str, args: GpuInstanceGroupArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpucluster:aws:GpuInstanceGroup", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = {**args.tags, "Name": name}

        template = aws.ec2.LaunchTemplate(
            f"{name}-lt",
            instance_type=None if args.alternate_types else args.instance_type,
            image_id=args.image_id,
            update_default_version=True,
            network_interfaces=[self._interface(i, args) for i in args.interfaces],
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",
                # Two hops let containers on the node reach IMDSv2 (one is the container bridge).
                http_put_response_hop_limit=2,
                instance_metadata_tags="enabled",
            ),
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name=ROOT_DEVICE,
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_size=args.root_volume_gb,
                        volume_type="gp3",
                        encrypted="true",
                        delete_on_termination="true",
                    ),
                )
            ],
            # A mixed-instances group buys spot through its distribution; AWS refuses market options in its template.
            instance_market_options=None if args.alternate_types else self._market(args.capacity),
            capacity_reservation_specification=self._reservation(args.capacity),
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=tags)
                for kind in ("instance", "volume", "network-interface")
            ],
            tags=tags,
            opts=child,
        )
        launch = aws.autoscaling.GroupLaunchTemplateArgs(id=template.id, version="$Latest")
        group = aws.autoscaling.Group(
            f"{name}-asg",
            min_size=args.min_size,
            desired_capacity=args.desired_size,
            max_size=args.max_size,
            vpc_zone_identifiers=args.subnet_ids,
            placement_group=args.placement_group,
            launch_template=None if args.alternate_types else launch,
            mixed_instances_policy=self._mixed(args, template) if args.alternate_types else None,
            tags=[
                aws.autoscaling.GroupTagArgs(key=key, value=value, propagate_at_launch=True)
                for key, value in tags.items()
            ],
            opts=child,
        )
        self.launch_template_id = template.id
        self.auto_scaling_group_name = group.name
        self.register_outputs(
            {"launchTemplateId": self.launch_template_id, "autoScalingGroupName": self.auto_scaling_group_name}
        )

    @staticmethod
    def _interface(interface: AwsInterface, args: GpuInstanceGroupArgs) -> aws.ec2.LaunchTemplateNetworkInterfaceArgs:
        primary = interface.network_card_index == 0 and interface.device_index == 0
        groups = [args.nodes_security_group_id, args.efa_security_group_id] if primary else [args.efa_security_group_id]
        return aws.ec2.LaunchTemplateNetworkInterfaceArgs(
            network_card_index=interface.network_card_index,
            device_index=interface.device_index,
            interface_type=interface.interface_type,
            security_groups=groups,
            associate_public_ip_address="false",
            delete_on_termination="true",
        )

    @staticmethod
    def _market(capacity: Capacity) -> aws.ec2.LaunchTemplateInstanceMarketOptionsArgs | None:
        if capacity.type == "spot":
            return aws.ec2.LaunchTemplateInstanceMarketOptionsArgs(
                market_type="spot",
                spot_options=aws.ec2.LaunchTemplateInstanceMarketOptionsSpotOptionsArgs(
                    instance_interruption_behavior="terminate", spot_instance_type="one-time"
                ),
            )
        if capacity.type == "capacity-block":
            return aws.ec2.LaunchTemplateInstanceMarketOptionsArgs(market_type="capacity-block")
        return None

    @staticmethod
    def _reservation(capacity: Capacity) -> aws.ec2.LaunchTemplateCapacityReservationSpecificationArgs | None:
        if capacity.type not in ("reservation", "capacity-block"):
            return None
        return aws.ec2.LaunchTemplateCapacityReservationSpecificationArgs(
            capacity_reservation_target=aws.ec2.LaunchTemplateCapacityReservationSpecificationCapacityReservationTargetArgs(
                capacity_reservation_id=capacity.reservation_id,
                capacity_reservation_resource_group_arn=capacity.reservation_group_arn,
            )
        )

    @staticmethod
    def _mixed(args: GpuInstanceGroupArgs, template: aws.ec2.LaunchTemplate) -> aws.autoscaling.GroupMixedInstancesPolicyArgs:
        spot = args.capacity.type == "spot"
        spec = aws.autoscaling.GroupMixedInstancesPolicyLaunchTemplateLaunchTemplateSpecificationArgs(
            launch_template_id=template.id, version="$Latest"
        )
        return aws.autoscaling.GroupMixedInstancesPolicyArgs(
            launch_template=aws.autoscaling.GroupMixedInstancesPolicyLaunchTemplateArgs(
                launch_template_specification=spec,
                overrides=[
                    aws.autoscaling.GroupMixedInstancesPolicyLaunchTemplateOverrideArgs(instance_type=t)
                    for t in [args.instance_type, *args.alternate_types]
                ],
            ),
            instances_distribution=aws.autoscaling.GroupMixedInstancesPolicyInstancesDistributionArgs(
                on_demand_allocation_strategy="prioritized",
                on_demand_base_capacity=0,
                on_demand_percentage_above_base_capacity=0 if spot else 100,
                spot_allocation_strategy="price-capacity-optimized" if spot else None,
            ),
        )
