"""The AWS building blocks as the package serves them: the network, a GPU instance group, a spot training pool and
the storage tiers, each worth using without the rest of a cluster (a group in a VPC of your own, storage for groups
you run).

Each takes inputs any language can give (strings, numbers, lists, maps; the spec's own shapes, such as `size` and
`capacity`, in the generated types of args.py), checks them as the parts of a cluster spec they are
(`components.package.checks`), then builds the stack program's component (components/aws) under it, so the same
resources are built as in a cluster: a p5.48xlarge group gets the type's full EFA layout from the catalog.
"""

from typing import Any, NotRequired, Optional, TypedDict

import pulumi

from components.aws import (ClusterNetwork, ClusterNetworkArgs, GpuInstanceGroup, GpuInstanceGroupArgs, SpotTrainingPool,
                            SpotTrainingPoolArgs, TieredStorage, TieredStorageArgs)
from gpucluster import naming
from gpucluster.fabric import efa_device_count
from gpucluster.limits import check_capacity_blocks, check_image_ids, check_tags, check_user_data
from gpucluster.naming import CHECKPOINT_HOOK
from gpucluster.plan import PoolPlan, address_plan, expected_bucket_tb, lustre_plan, node_setup, plan_pool
from gpucluster.spec import ClusterSpec, Network, Pool, Storage, Tags
from gpucluster.userdata import node_script
from gpucluster.validate import check_network, check_pool, check_region, check_zones

from .args import (BucketsArgs, CapacityArgs, CapacityType, CheckpointArgs, NetworkArgs, PoolFabric, PoolPurpose,
                   RolloutArgs, SharedFileSystemArgs, SizeArgs, TagsArgs)
from .checks import BlockInputs, given_or_config, known
from .clusters import documented

BLOCK_POOL = "nodes"  # the pool a group is checked as; it names the group's checkpoints in the bucket
# A group's inputs that are a pool's fields, checked by the Pool model (the rest are the group's own).
POOL_INPUTS = ("instance_type", "alternate_types", "size", "capacity", "fabric", "zones", "image_id", "root_volume_gb",
               "rollout", "purpose", "checkpoint")
# A group's problems at the spec's paths, renamed to its inputs: its pool is pools[0]; its zones are the cluster's.
GROUP_PATHS = {"pools[0]": "", "pools[0].placement": "placementGroup"}


def _spec(name: str, region: str, zones: list[str], tags: Tags, pools: tuple[Pool, ...] = (), network: Optional[Network] = None,
          storage: Optional[Storage] = None) -> ClusterSpec:
    """The cluster spec a block's parts would be, for the checks and plans that read one. Built from parts the spec's
    models have validated; the rest keep the spec's defaults."""
    return ClusterSpec.model_construct(name=name, cloud="aws", region=region, zones=list(zones), tags=tags, pools=list(pools),
                                       network=network or Network(), storage=storage or Storage())


class AwsNetworkArgs(TypedDict):
    """Where the VPC is, its address plan, and the instance groups that get a cluster placement group."""

    zones: pulumi.Input[list[str]]
    """The zones of the region to put a private subnet in, at most 6, each once (us-east-1a)"""
    tags: pulumi.Input[TagsArgs]
    """owner, costCenter and project (and any extra), put on every resource"""
    region: NotRequired[pulumi.Input[str]]
    """The AWS region; default: the aws:region config of the stack"""
    network: NotRequired[pulumi.Input[NetworkArgs]]
    """The address plan (VPC range, per-zone subnets, NAT, flow log retention); default 10.0.0.0/16 in 16 slices"""
    placement_groups: NotRequired[pulumi.Input[list[str]]]
    """Names (one per EFA instance group that wants one) to create a cluster placement group for"""



@documented
class AwsNetwork(pulumi.ComponentResource):
    """The VPC a GPU cluster lives in, as a cluster builds it: one private subnet per zone, NAT egress, an S3 gateway
    endpoint, flow logs, a nodes security group (outbound only) and the EFA security group (all traffic to and from
    its own members only), and cluster placement groups for the instance groups that want one."""

    vpc_id: pulumi.Output[str]
    """The VPC's id"""
    private_subnet_ids: pulumi.Output[dict[str, str]]
    """The private subnets' ids, by zone"""
    nodes_security_group_id: pulumi.Output[str]
    """The nodes' security group (outbound only): an instance group's nodesSecurityGroupId"""
    efa_security_group_id: pulumi.Output[str]
    """The EFA security group: an instance group's efaSecurityGroupId"""
    placement_groups: pulumi.Output[dict[str, str]]
    """The cluster placement groups' names, by the names given in placementGroups"""

    def __init__(self, name: str, args: AwsNetworkArgs, opts: Optional[pulumi.ResourceOptions] = None):
        inputs = BlockInputs(type(self).__name__, name)
        region = given_or_config(inputs, args, "region", "aws:region")
        zones = known(args["zones"], "zones")
        network, tags = inputs.model(Network, args.get("network", {}), "network"), inputs.model(Tags, args["tags"], "tags")
        placement = known(args.get("placement_groups", []), "placementGroups")
        if not inputs.failed:
            spec = _spec(name, region, zones, tags, network=network)
            inputs.check([*check_region(spec), *check_zones(spec), *check_network(spec), *check_tags(spec)], {})
        inputs.refuse_errors()
        super().__init__("gpucluster:index:AwsNetwork", name, {}, opts)
        built = ClusterNetwork(name, ClusterNetworkArgs(
            region=region, addresses=address_plan(spec), nat=network.nat, tags=spec.tags.as_dict(),
            flow_log_retention_days=network.flow_log_retention_days, placement_group_pools=placement,
        ), opts=pulumi.ResourceOptions(parent=self))
        self.vpc_id, self.private_subnet_ids = built.vpc_id, built.private_subnet_ids
        self.nodes_security_group_id, self.efa_security_group_id = built.nodes_security_group_id, built.efa_security_group_id
        self.placement_groups = built.placement_groups
        self.register_outputs({"vpcId": self.vpc_id, "privateSubnetIds": self.private_subnet_ids,
                               "nodesSecurityGroupId": self.nodes_security_group_id,
                               "efaSecurityGroupId": self.efa_security_group_id, "placementGroups": self.placement_groups})


# The analyzer reads a field's docstring in the class that declares it, not in a base class: each args class
# declares every field itself (tests/test_package_blocks.py checks the spot pool takes every group input).
class AwsGpuInstanceGroupArgs(TypedDict):
    """The group's pool fields and network, and what its nodes run at boot."""

    instance_type: pulumi.Input[str]
    """The instance type, from the catalog (`gpucluster catalog`): it decides the EFA layout of the launch template"""
    zones: pulumi.Input[list[str]]
    """The zones of subnetIds, in the same order; an EFA group sits in one zone"""
    subnet_ids: pulumi.Input[list[str]]
    """The subnets the group launches into, one per zone (AwsNetwork's privateSubnetIds)"""
    nodes_security_group_id: pulumi.Input[str]
    """The security group on each node's primary interface, with the EFA group (AwsNetwork's nodesSecurityGroupId)"""
    efa_security_group_id: pulumi.Input[str]
    """The security group on every EFA interface: all traffic to and from its members only (AwsNetwork's)"""
    size: pulumi.Input[SizeArgs]
    """How many nodes: min <= desired <= max"""
    tags: pulumi.Input[TagsArgs]
    """owner, costCenter and project (and any extra), put on the group, its template and its nodes"""
    region: NotRequired[pulumi.Input[str]]
    """The AWS region; default: the aws:region config of the stack"""
    alternate_types: NotRequired[pulumi.Input[list[str]]]
    """Types the group may launch instead, in order, with the same fabric layout as instanceType"""
    capacity: NotRequired[pulumi.Input[CapacityArgs]]
    """Where the nodes come from: on-demand, spot, a reservation or a capacity block, and fallbacks"""
    fabric: NotRequired[pulumi.Input[PoolFabric]]
    """auto (default): EFA on types that have it; on: require it; off: plain networking"""
    placement_group: NotRequired[pulumi.Input[str]]
    """A cluster placement group to launch into (AwsNetwork's placementGroups); checked as placement: cluster"""
    image_id: NotRequired[pulumi.Input[str]]
    """The AMI (or resolve:ssm: parameter); default: the DLAMI for the type's accelerator and architecture"""
    root_volume_gb: NotRequired[pulumi.Input[int]]
    """The encrypted gp3 root volume's size in GB; default 200"""
    purpose: NotRequired[pulumi.Input[PoolPurpose]]
    """training (default), dev or inference: inference groups roll changed templates through running nodes"""
    rollout: NotRequired[pulumi.Input[RolloutArgs]]
    """Whether a changed launch template replaces running nodes (rolling) or reaches new nodes only (manual)"""
    instance_profile_arn: NotRequired[pulumi.Input[str]]
    """The nodes' instance profile; default: none"""
    user_data: NotRequired[pulumi.Input[str]]
    """The nodes' boot script, as plain text (encoded here); default: none"""


class AwsSpotPoolArgs(TypedDict):
    """The group's pool fields and network (capacity: spot by default), and where its nodes checkpoint."""

    instance_type: pulumi.Input[str]
    """The instance type, from the catalog (`gpucluster catalog`): it decides the EFA layout of the launch template"""
    zones: pulumi.Input[list[str]]
    """The zones of subnetIds, in the same order; an EFA group sits in one zone"""
    subnet_ids: pulumi.Input[list[str]]
    """The subnets the group launches into, one per zone (AwsNetwork's privateSubnetIds)"""
    nodes_security_group_id: pulumi.Input[str]
    """The security group on each node's primary interface, with the EFA group (AwsNetwork's nodesSecurityGroupId)"""
    efa_security_group_id: pulumi.Input[str]
    """The security group on every EFA interface: all traffic to and from its members only (AwsNetwork's)"""
    size: pulumi.Input[SizeArgs]
    """How many nodes: min <= desired <= max"""
    tags: pulumi.Input[TagsArgs]
    """owner, costCenter and project (and any extra), put on the group, its template and its nodes"""
    region: NotRequired[pulumi.Input[str]]
    """The AWS region; default: the aws:region config of the stack"""
    alternate_types: NotRequired[pulumi.Input[list[str]]]
    """Types the group may launch instead, in order, with the same fabric layout as instanceType"""
    capacity: NotRequired[pulumi.Input[CapacityArgs]]
    """Where the nodes come from: spot (the default here), with an on-demand base or fallbacks"""
    fabric: NotRequired[pulumi.Input[PoolFabric]]
    """auto (default): EFA on types that have it; on: require it; off: plain networking"""
    placement_group: NotRequired[pulumi.Input[str]]
    """A cluster placement group to launch into (AwsNetwork's placementGroups); checked as placement: cluster"""
    image_id: NotRequired[pulumi.Input[str]]
    """The AMI (or resolve:ssm: parameter); default: the DLAMI for the type's accelerator and architecture"""
    root_volume_gb: NotRequired[pulumi.Input[int]]
    """The encrypted gp3 root volume's size in GB; default 200"""
    purpose: NotRequired[pulumi.Input[PoolPurpose]]
    """training (default), dev or inference: inference groups roll changed templates through running nodes"""
    rollout: NotRequired[pulumi.Input[RolloutArgs]]
    """Whether a changed launch template replaces running nodes (rolling) or reaches new nodes only (manual)"""
    instance_profile_arn: NotRequired[pulumi.Input[str]]
    """The nodes' instance profile; default: none"""
    checkpoint: NotRequired[pulumi.Input[CheckpointArgs]]
    """What a node does when it is about to be taken away: copy checkpoint.directory (after checkpoint.command) within
    heartbeatSeconds. to: s3 only (a standalone pool has no shared file system)"""
    checkpoint_bucket: NotRequired[pulumi.Input[str]]
    """The bucket the nodes copy their checkpoints to, under <name>/nodes/ (AwsStorage's checkpointBucket); required"""


def _checked_group(component: str, name: str, args: dict[str, Any], pool_inputs: dict[str, Any]) -> tuple[BlockInputs, ClusterSpec]:
    """The group's inputs checked as the one pool of a cluster in the group's zones; its problems noted."""
    inputs = BlockInputs(component, name)
    region = given_or_config(inputs, args, "region", "aws:region")
    # A placement group given is a cluster placement group, as AwsNetwork makes them: the pool's placement is cluster.
    placement = "cluster" if args.get("placement_group") else "none"
    pool = inputs.model(Pool, {**pool_inputs, "name": BLOCK_POOL, "placement": placement})
    tags = inputs.model(Tags, args["tags"], "tags")
    subnets = args["subnet_ids"]
    if pool and isinstance(subnets, list) and len(subnets) != len(pool.zones):
        inputs.refuse("subnetIds", f"{len(subnets)} subnet(s) for {len(pool.zones)} zone(s) {list(pool.zones)}: give one "
                      "subnet per zone, in the zones' order", "GPC-INPUT-MISMATCH")
    spec = _spec(name, region, pool.zones if pool else [], tags, pools=(pool,)) if pool and tags else None
    if spec:
        region_problems = list(check_region(spec))
        inputs.check([*region_problems, *check_zones(spec), *check_tags(spec)], {})
        if not region_problems:  # as in load_spec: the pool is checked against a region the catalog knows
            inputs.check([*check_pool(spec, 0, pool), *check_image_ids(spec), *check_capacity_blocks(spec),
                          *check_user_data(spec)], GROUP_PATHS)
    return inputs, spec


def _group_args(args: dict[str, Any], plan: PoolPlan, tags: dict[str, str], user_data: Optional[pulumi.Input[str]]) -> GpuInstanceGroupArgs:
    """The stack program's group arguments for the planned pool, in the network the inputs name."""
    return GpuInstanceGroupArgs.for_pool(
        plan, subnet_ids=args["subnet_ids"], nodes_security_group_id=args["nodes_security_group_id"],
        efa_security_group_id=args["efa_security_group_id"], placement_group=args.get("placement_group"),
        user_data=user_data, instance_profile_arn=args.get("instance_profile_arn"), tags=tags,
    )


def _pool_inputs(args: dict[str, Any]) -> dict[str, Any]:
    return {key: args[key] for key in POOL_INPUTS if key in args}


@documented
class AwsGpuInstanceGroup(pulumi.ComponentResource):
    """GPU nodes of one type behind an auto scaling group, in subnets and security groups you give (AwsNetwork's, or
    your own): a launch template with the type's full EFA layout from the catalog (p5.48xlarge: 1 ENA and 32
    EFA-only interfaces), IMDSv2, an encrypted root volume and no public address; capacity as the spec's pools take
    it (reservations, spot above an on-demand base, capacity blocks). Checked as a cluster's pool is: an unknown type,
    a zone without the type, or two zones for an EFA group are refused with the check's GPC code."""

    launch_template_id: pulumi.Output[str]
    """The launch template's id"""
    auto_scaling_group_name: pulumi.Output[str]
    """The auto scaling group's name"""
    gpus_per_node: pulumi.Output[int]
    """Accelerators per node"""
    efa_interfaces_per_node: pulumi.Output[int]
    """EFA devices per node (0 without EFA)"""

    def __init__(self, name: str, args: AwsGpuInstanceGroupArgs, opts: Optional[pulumi.ResourceOptions] = None):
        inputs, spec = _checked_group(type(self).__name__, name, args, _pool_inputs(args))
        inputs.refuse_errors()
        super().__init__("gpucluster:index:AwsGpuInstanceGroup", name, {}, opts)
        plan = plan_pool(spec, spec.pools[0])
        group = GpuInstanceGroup(name, _group_args(args, plan, spec.tags.as_dict(), args.get("user_data")),
                                 opts=pulumi.ResourceOptions(parent=self))
        self.launch_template_id, self.auto_scaling_group_name = group.launch_template_id, group.auto_scaling_group_name
        self.gpus_per_node, self.efa_interfaces_per_node = plan.gpus_per_node, efa_device_count(plan.interfaces)
        self.register_outputs({"launchTemplateId": self.launch_template_id, "autoScalingGroupName": self.auto_scaling_group_name,
                               "gpusPerNode": self.gpus_per_node, "efaInterfacesPerNode": self.efa_interfaces_per_node})


@documented
class AwsSpotPool(pulumi.ComponentResource):
    """A spot training pool, as a cluster builds one where spot is a source: the GPU instance group (capacity spot
    unless given, with capacity rebalancing) with a termination lifecycle hook long enough to checkpoint, the nodes'
    watcher that copies the checkpoint to the bucket and completes the hook, and the interruption and rebalance
    signals routed by EventBridge into an encrypted SQS queue. The nodes' instance profile must allow them to complete
    the hook (autoscaling:CompleteLifecycleAction) and to write the bucket."""

    auto_scaling_group_name: pulumi.Output[str]
    """The auto scaling group's name"""
    queue_url: pulumi.Output[str]
    """The SQS queue the interruption and rebalance signals arrive in"""
    queue_arn: pulumi.Output[str]
    """The queue's ARN"""
    lifecycle_hook: pulumi.Output[str]
    """The termination lifecycle hook's name, which the nodes complete"""
    gpus_per_node: pulumi.Output[int]
    """Accelerators per node"""
    efa_interfaces_per_node: pulumi.Output[int]
    """EFA devices per node (0 without EFA)"""

    def __init__(self, name: str, args: AwsSpotPoolArgs, opts: Optional[pulumi.ResourceOptions] = None):
        pool_inputs = {"capacity": {"type": CapacityType.SPOT}, **_pool_inputs(args)}
        inputs, spec = _checked_group(type(self).__name__, name, args, pool_inputs)
        inputs.refuse_errors()
        pool = spec.pools[0]
        if not pool.capacity.plan().spot:
            inputs.refuse("capacity", f"{list(pool.capacity.sources)}: a spot pool needs spot among its sources; without "
                          "spot, use AwsGpuInstanceGroup", "GPC-INPUT-MISMATCH")
        bucket = args.get("checkpoint_bucket")
        if not bucket:
            inputs.refuse("checkpointBucket", "required: the nodes copy their checkpoints there when they are taken away", "GPC-INPUT-MISSING")
        super().__init__("gpucluster:index:AwsSpotPool", name, {}, opts)
        plan = plan_pool(spec, pool)
        setup = node_setup(spec, pool, plan.instance)  # spot: the checkpoint watcher, always
        user_data = pulumi.Output.from_input(bucket).apply(lambda name: node_script(setup, None, None, name))
        group_args = _group_args(args, plan, spec.tags.as_dict(), user_data)
        built = SpotTrainingPool(name, SpotTrainingPoolArgs(group=group_args, heartbeat_seconds=pool.checkpoint.heartbeat_seconds,
                                                            tags=group_args.tags), opts=pulumi.ResourceOptions(parent=self))
        self.auto_scaling_group_name, self.queue_url, self.queue_arn = built.auto_scaling_group_name, built.queue_url, built.queue_arn
        self.lifecycle_hook = CHECKPOINT_HOOK
        self.gpus_per_node, self.efa_interfaces_per_node = plan.gpus_per_node, efa_device_count(plan.interfaces)
        self.register_outputs({"autoScalingGroupName": self.auto_scaling_group_name, "queueUrl": self.queue_url,
                               "queueArn": self.queue_arn, "lifecycleHook": self.lifecycle_hook,
                               "gpusPerNode": self.gpus_per_node, "efaInterfacesPerNode": self.efa_interfaces_per_node})


class AwsStorageArgs(TypedDict):
    """The storage tiers, as the spec's storage section has them, and the network the file system joins."""

    vpc_id: pulumi.Input[str]
    """The VPC the shared file system's security group is in (AwsNetwork's vpcId)"""
    nodes_security_group_id: pulumi.Input[str]
    """The nodes' security group: the only one the file system admits (AwsNetwork's nodesSecurityGroupId)"""
    tags: pulumi.Input[TagsArgs]
    """owner, costCenter and project (and any extra), put on every resource"""
    buckets: NotRequired[pulumi.Input[BucketsArgs]]
    """The expected sizes of the dataset and checkpoint buckets, for cost estimates (the buckets are always made)"""
    shared: NotRequired[pulumi.Input[SharedFileSystemArgs]]
    """FSx for Lustre, sized for its throughput target; default: none"""
    lustre_subnet_id: NotRequired[pulumi.Input[str]]
    """The subnet the file system sits in: the zone of the EFA groups, so their traffic stays in-zone; required with
    shared"""
    gpus: NotRequired[pulumi.Input[int]]
    """The GPUs the file system serves, every group at its maximum size: what shared.throughputGbpsPerGpu counts"""
    key_users: NotRequired[pulumi.Input[list[str]]]
    """Role ARNs (the nodes' role) that use the storage key through S3 and FSx"""
    key_administrators: NotRequired[pulumi.Input[list[str]]]
    """IAM role or user ARNs that administer the storage key; default: the account root (IAM decides)"""


@documented
class AwsStorage(pulumi.ComponentResource):
    """A cluster's storage tiers under one customer-managed key, as a cluster builds them: dataset and checkpoint
    buckets (public access blocked, TLS only, access logs; datasets in Intelligent-Tiering, checkpoints versioned and
    archived), and with `shared` FSx for Lustre (PERSISTENT_2, LZ4) linked to the datasets, admitting the Lustre
    ports from the nodes' security group only."""

    kms_key_arn: pulumi.Output[str]
    """The customer-managed key's ARN"""
    dataset_bucket: pulumi.Output[str]
    """The dataset bucket's name"""
    checkpoint_bucket: pulumi.Output[str]
    """The checkpoint bucket's name"""
    file_system_id: pulumi.Output[Optional[str]]
    """The FSx for Lustre file system's id, with shared"""
    file_system_dns_name: pulumi.Output[Optional[str]]
    """Its DNS name, which the nodes mount"""
    file_system_mount_name: pulumi.Output[Optional[str]]
    """Its mount name"""

    def __init__(self, name: str, args: AwsStorageArgs, opts: Optional[pulumi.ResourceOptions] = None):
        inputs = BlockInputs(type(self).__name__, name)
        tags = inputs.model(Tags, args["tags"], "tags")
        storage = inputs.model(Storage, {key: args[key] for key in ("buckets", "shared", "key_administrators") if key in args})
        if tags:
            inputs.check(check_tags(_spec(name, "", [], tags)), {})
        inputs.refuse_errors()
        shared = storage.shared
        if shared and not args.get("lustre_subnet_id"):
            inputs.refuse("lustreSubnetId", "required with shared: the subnet (of the EFA groups' zone) the file system sits in", "GPC-INPUT-MISSING")
        gpus = known(args.get("gpus"), "gpus")
        if shared and shared.throughput_gbps is None and not gpus:
            inputs.refuse("gpus", "required with shared.throughputGbpsPerGpu (or give shared.throughputGbps): the GPUs it "
                          "counts", "GPC-INPUT-MISSING")
        super().__init__("gpucluster:index:AwsStorage", name, {}, opts)
        spec = _spec(name, "", [], tags, storage=storage_for_target(storage, gpus))
        built = TieredStorage(name, TieredStorageArgs(
            tags=tags.as_dict(), vpc_id=args["vpc_id"], nodes_security_group_id=args["nodes_security_group_id"],
            lustre=lustre_plan(spec), lustre_subnet_id=args.get("lustre_subnet_id"),
            export_datasets=bool(shared and shared.export_datasets),
            kms_alias=naming.kms_alias(naming.stack_key(pulumi.get_project(), pulumi.get_stack(), name)),
            key_users=list(args.get("key_users", [])), key_administrators=list(storage.key_administrators),
            expected_tb=expected_bucket_tb(storage.buckets),
        ), opts=pulumi.ResourceOptions(parent=self))
        self.kms_key_arn, self.dataset_bucket, self.checkpoint_bucket = built.kms_key_arn, built.dataset_bucket, built.checkpoint_bucket
        self.file_system_id, self.file_system_dns_name = built.file_system_id, built.file_system_dns_name
        self.file_system_mount_name = built.file_system_mount_name
        self.register_outputs({"kmsKeyArn": self.kms_key_arn, "datasetBucket": self.dataset_bucket,
                               "checkpointBucket": self.checkpoint_bucket, "fileSystemId": self.file_system_id,
                               "fileSystemDnsName": self.file_system_dns_name,
                               "fileSystemMountName": self.file_system_mount_name})


def storage_for_target(storage: Storage, gpus: Optional[int]) -> Storage:
    """`storage` with its shared file system's per-GPU target made absolute for `gpus`: what a cluster's plan
    (gpucluster.plan.lustre_plan) computes from its pools, which a block does not have."""
    shared = storage.shared
    if shared is None or shared.throughput_gbps is not None:
        return storage
    return storage.model_copy(update={"shared": shared.model_copy(update={"throughput_gbps": shared.throughput_gbps_per_gpu * gpus})})

