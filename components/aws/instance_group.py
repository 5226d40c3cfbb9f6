"""GpuInstanceGroup: a launch template carrying the type's full fabric layout, and the auto scaling group."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from gpucluster import naming
from gpucluster.capacity import SPOT_STRATEGY
from gpucluster.fabric import AwsInterface
from gpucluster.images import default_image
from gpucluster.plan import PoolPlan
from gpucluster.spec import Capacity, Rollout

from .launch_template import NodeTemplateArgs, node_launch_template

ROOT_DEVICE = "/dev/sda1"  # Ubuntu-based DLAMIs


@dataclass
class LifecycleHook:
    name: str
    heartbeat_seconds: int
    transition: str = "autoscaling:EC2_INSTANCE_TERMINATING"
    default_result: str = "CONTINUE"  # if the node never answers, let it go rather than hold it


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
    user_data: pulumi.Input[str] | None = None  # plain text; encoded here
    instance_profile_arn: pulumi.Input[str] | None = None
    lifecycle_hooks: list[LifecycleHook] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    rollout: Rollout | None = None  # rolling: an instance refresh replaces running nodes; None: new nodes only

    @classmethod
    def for_pool(cls, plan: PoolPlan, *, subnet_ids: list[pulumi.Input[str]], nodes_security_group_id: pulumi.Input[str],
                 efa_security_group_id: pulumi.Input[str], placement_group: pulumi.Input[str] | None,
                 user_data: pulumi.Input[str] | None, instance_profile_arn: pulumi.Input[str] | None,
                 tags: dict[str, str]) -> GpuInstanceGroupArgs:
        """The group of a planned pool, in the network given: what the pool decides is taken from the plan alone, for
        the cluster components and the package's building blocks alike."""
        pool = plan.pool
        return cls(
            instance_type=plan.instance.name,
            alternate_types=list(pool.alternate_types),
            interfaces=plan.interfaces,
            subnet_ids=subnet_ids,
            nodes_security_group_id=nodes_security_group_id,
            efa_security_group_id=efa_security_group_id,
            placement_group=pool.capacity.placement_group or placement_group,
            min_size=pool.size.min,
            desired_size=pool.size.desired_or_min,
            max_size=pool.size.max,
            capacity=pool.capacity,
            rollout=pool.rollout if plan.rolling else None,
            image_id=pool.image_id or default_image(plan.instance),  # validation refuses a pool without either
            root_volume_gb=pool.root_volume_gb,
            user_data=user_data,
            instance_profile_arn=instance_profile_arn,
            tags={**tags, "gpucluster:purpose": pool.purpose},
        )


class GpuInstanceGroup(pulumi.ComponentResource):
    """Nodes of one type (or of types sharing one fabric layout) behind an auto scaling group.

    Nodes get no public IP on any interface, require IMDSv2, and boot from an encrypted root volume.
    The primary interface carries both security groups; EFA-only interfaces carry only the EFA group,
    since they move no IP traffic. Capacity sources render as AWS supports them (gpucluster.capacity):
    reservations through the group's reservation preference, spot above an on-demand base through a
    mixed instances policy with capacity rebalancing, capacity blocks through the template's market type.
    """

    launch_template_id: pulumi.Output[str]
    auto_scaling_group_name: pulumi.Output[str]

    def __init__(self, name: str, args: GpuInstanceGroupArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpucluster:aws:GpuInstanceGroup", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = {**args.tags, "Name": name}
        plan = args.capacity.plan()
        mixed = bool(args.alternate_types) or plan.spot

        template = node_launch_template(
            name,
            NodeTemplateArgs(
                interfaces=args.interfaces,
                primary_security_groups=[args.nodes_security_group_id],
                efa_security_group_id=args.efa_security_group_id,
                root_device=ROOT_DEVICE,
                root_volume_gb=args.root_volume_gb,
                capacity=args.capacity,
                instance_type=None if mixed else args.instance_type,
                image_id=args.image_id,
                user_data=args.user_data,
                instance_profile_arn=args.instance_profile_arn,
                tags=args.tags,
            ),
            child,
        )
        # "$Latest" reaches new nodes only; an instance refresh starts when the version the group names changes.
        version = template.latest_version.apply(str) if args.rollout else "$Latest"
        launch = {"id": template.id, "version": version}
        group = aws.autoscaling.Group(
            naming.auto_scaling_group(name),
            min_size=args.min_size,
            desired_capacity=args.desired_size,
            max_size=args.max_size,
            vpc_zone_identifiers=args.subnet_ids,
            placement_group=args.placement_group,
            launch_template=None if mixed else launch,
            mixed_instances_policy=self._mixed(args, launch) if mixed else None,
            capacity_rebalance=plan.spot or None,
            instance_refresh={
                "strategy": "Rolling",
                "preferences": {"min_healthy_percentage": args.rollout.min_healthy_percent,
                                "instance_warmup": str(args.rollout.warmup_seconds), "skip_matching": True},
            } if args.rollout else None,
            capacity_reservation_specification=self._reservation(args.capacity),
            initial_lifecycle_hooks=[
                {"name": h.name, "lifecycle_transition": h.transition, "heartbeat_timeout": h.heartbeat_seconds,
                 "default_result": h.default_result}
                for h in args.lifecycle_hooks
            ] or None,
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
    def _reservation(capacity: Capacity) -> dict | None:
        preference = capacity.plan().reservation_preference
        if preference is None:
            return None
        target = (
            {"capacity_reservation_ids": [capacity.reservation_id]}
            if capacity.reservation_id
            else {"capacity_reservation_resource_group_arns": [capacity.reservation_group_arn]}
        )
        return {"capacity_reservation_preference": preference, "capacity_reservation_target": target}

    @staticmethod
    def _mixed(args: GpuInstanceGroupArgs, launch: dict) -> dict:
        plan = args.capacity.plan()
        return {
            "launch_template": {
                "launch_template_specification": {"launch_template_id": launch["id"], "version": launch["version"]},
                "overrides": [{"instance_type": t} for t in [args.instance_type, *args.alternate_types]],
            },
            "instances_distribution": {
                "on_demand_allocation_strategy": "prioritized",
                "on_demand_base_capacity": plan.on_demand_base,
                "on_demand_percentage_above_base_capacity": plan.on_demand_percentage_above_base,
                "spot_allocation_strategy": SPOT_STRATEGY if plan.spot else None,
            },
        }

