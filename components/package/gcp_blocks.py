"""The GCP building blocks as the package serves them: the networks, a GPU instance group and the storage tiers,
each worth using without the rest of a cluster. As on AWS (aws_blocks.py): inputs any language can give, checked as
the parts of a cluster spec they are, then the stack program's component (components/gcp) under it."""

from typing import NotRequired, Optional, TypedDict

import pulumi

from components.gcp import (ClusterNetwork, ClusterNetworkArgs, GpuInstanceGroup, GpuInstanceGroupArgs, TieredStorage,
                            TieredStorageArgs)
from gpucluster import naming
from gpucluster.images import default_image
from gpucluster.limits import check_image_ids, check_tags, check_user_data
from gpucluster.plan import address_plan, expected_bucket_tb, gcp_network_plan, gcs_bucket_location, managed_lustre_plan, plan_pool
from gpucluster.spec import ClusterSpec, Network, Pool, Storage, Tags
from gpucluster.validate import check_network, check_not_built_yet, check_pool, check_region, check_shared_target, check_zones

from .args import BucketsArgs, CapacityArgs, NetworkArgs, PoolFabric, PoolPurpose, RolloutArgs, SharedFileSystemArgs, SizeArgs, TagsArgs
from .aws_blocks import BLOCK_POOL, storage_for_target
from .checks import BlockInputs, given_or_config, known
from .clusters import documented

# What the network checks of each machine type, as a pool's type is checked: that the catalog knows it, with its NIC
# layout, and offers it in the zone. A pool's capacity and size are its groups' to check.
TYPE_CODES = {"GPC-TYPE-UNKNOWN", "GPC-TYPE-REGION", "GPC-NICS-UNKNOWN", "GPC-POOL-ZONE-OFFER"}


def _spec(name: str, region: str, zone: str, tags: Tags, pools: tuple[Pool, ...] = (), network: Optional[Network] = None,
          storage: Optional[Storage] = None) -> ClusterSpec:
    """The cluster spec a block's parts would be, in one zone, for the checks and plans that read one."""
    return ClusterSpec.model_construct(name=name, cloud="gcp", region=region, zones=[zone] if zone else [], tags=tags,
                                       pools=list(pools), network=network or Network(), storage=storage or Storage())


class GcpNetworkArgs(TypedDict):
    """Where the networks are, and the machine types whose NICs they carry."""

    zone: pulumi.Input[str]
    """The zone of the GPU groups (us-central1-b): the RoCE network's profile is zonal"""
    machine_types: pulumi.Input[list[str]]
    """The machine types of the groups that will use the networks: their NIC layouts decide the GPU networks (A3 High
    4 gVNIC VPCs, A3 Mega 8; A3 Ultra and A4 a RoCE VPC with 8 subnets and a second host network)"""
    tags: pulumi.Input[TagsArgs]
    """owner, costCenter and project (and any extra), put on every resource as labels"""
    project: NotRequired[pulumi.Input[str]]
    """The GCP project; default: the gcp:project config of the stack"""
    region: NotRequired[pulumi.Input[str]]
    """The GCP region; default: the gcp:region config of the stack"""
    network: NotRequired[pulumi.Input[NetworkArgs]]
    """The host network's range (cidr; its first of 16 slices is the host subnet); GCP subnets are regional"""


@documented
class GcpNetwork(pulumi.ComponentResource):
    """The networks of a GCP GPU cluster, as a cluster builds them for its machine types: the host VPC with Private
    Google Access and Cloud NAT, one VPC per GPU gVNIC (GPUDirect TCPX/TCPXO), or the RoCE VPC with a subnet per RDMA
    NIC; firewalls admit the cluster's own ranges only, and every gVNIC subnet logs its flows."""

    networks: pulumi.Output[dict[str, str]]
    """The networks' self links, by role (host, host-2, gpu-N, rdma)"""
    subnets: pulumi.Output[dict[str, str]]
    """The subnets' self links, by role (host, host-2, gpu-N, rdma-N): a GPU group's subnets"""

    def __init__(self, name: str, args: GcpNetworkArgs, opts: Optional[pulumi.ResourceOptions] = None):
        inputs = BlockInputs(type(self).__name__, name)
        project = given_or_config(inputs, args, "project", "gcp:project")
        region = given_or_config(inputs, args, "region", "gcp:region")
        zone, machine_types = known(args["zone"], "zone"), known(args["machine_types"], "machineTypes")
        network, tags = inputs.model(Network, args.get("network", {}), "network"), inputs.model(Tags, args["tags"], "tags")
        # Each type as a pool of its own, of no size: what the network plan and the type checks read.
        pools = [inputs.model(Pool, {"name": f"t{i}", "instance_type": machine_type, "size": {"max": 0}, "zones": [zone]},
                              f"machineTypes[{i}]") for i, machine_type in enumerate(machine_types)]
        if not inputs.failed:
            spec = _spec(name, region, zone, tags, pools, network=network)
            region_problems = list(check_region(spec))
            inputs.check([*region_problems, *check_zones(spec), *check_network(spec), *check_not_built_yet(spec),
                          *check_tags(spec)], {"zones[0]": "zone"})
            for i, pool in enumerate(pools if not region_problems else []):
                found = [p for p in check_pool(spec, i, pool) if p.code in TYPE_CODES]
                inputs.check(found, {f"pools[{i}].instanceType": f"machineTypes[{i}]", f"pools[{i}].zones[0]": "zone"})
        inputs.refuse_errors()
        super().__init__("gpucluster:index:GcpNetwork", name, {}, opts)
        needs = gcp_network_plan([plan_pool(spec, pool) for pool in pools])
        built = ClusterNetwork(name, ClusterNetworkArgs(
            project=project, region=region, zone=zone, host_cidr=next(iter(address_plan(spec).private.values())),
            labels=tags.as_dict(), host_networks=needs.host_networks, gpu_vpcs=needs.gpu_vpcs,
            rdma_subnets=needs.rdma_subnets, mtu=needs.mtu,
        ), opts=pulumi.ResourceOptions(parent=self))
        self.networks, self.subnets = built.networks, built.subnets
        self.register_outputs({"networks": self.networks, "subnets": self.subnets})


class GcpGpuInstanceGroupArgs(TypedDict):
    """What a group of GPU VMs runs and where: its pool's fields, as the spec has them, and the networks it joins."""

    instance_type: pulumi.Input[str]
    """The machine type, from the catalog (`gpucluster catalog`): it decides the VMs' NIC layout"""
    zone: pulumi.Input[str]
    """The zone the managed instance group runs in"""
    subnets: pulumi.Input[dict[str, str]]
    """The subnets' self links by role, one for each of the machine type's NICs (GcpNetwork's subnets)"""
    kms_key: pulumi.Input[str]
    """The KMS key the boot disks are encrypted under (GcpStorage's kmsKey)"""
    service_account: pulumi.Input[str]
    """The email of the service account the VMs run as"""
    size: pulumi.Input[SizeArgs]
    """How many VMs: the group runs at desired (default: min)"""
    tags: pulumi.Input[TagsArgs]
    """owner, costCenter and project (and any extra), put on the template as labels"""
    region: NotRequired[pulumi.Input[str]]
    """The GCP region; default: the gcp:region config of the stack"""
    capacity: NotRequired[pulumi.Input[CapacityArgs]]
    """The provisioning model: on-demand, spot, flex-start or a reservation (reservationName); one per group"""
    fabric: NotRequired[pulumi.Input[PoolFabric]]
    """auto (default): the GPU NICs on types that have them; on: require them; off: host networking only"""
    placement_policy: NotRequired[pulumi.Input[str]]
    """A compact placement policy's self link to place the VMs with; checked as placement: cluster"""
    image_id: NotRequired[pulumi.Input[str]]
    """The boot image; default: the GPU image for the machine type's accelerator"""
    root_volume_gb: NotRequired[pulumi.Input[int]]
    """The encrypted boot disk's size in GB; default 200"""
    purpose: NotRequired[pulumi.Input[PoolPurpose]]
    """training (default), dev or inference: inference groups roll a changed template through running VMs"""
    rollout: NotRequired[pulumi.Input[RolloutArgs]]
    """Whether a changed template replaces running VMs (rolling) or reaches new VMs only (manual)"""
    startup_script: NotRequired[pulumi.Input[str]]
    """The VMs' startup script; default: none"""


# The group's inputs that are a pool's fields; its problems at the spec's paths renamed to its inputs.
POOL_INPUTS = ("instance_type", "size", "capacity", "fabric", "image_id", "root_volume_gb", "rollout", "purpose")
GROUP_PATHS = {"pools[0]": "", "pools[0].zones[0]": "zone", "pools[0].zones": "zone", "pools[0].placement": "placementPolicy",
               "zones[0]": "zone"}


@documented
class GcpGpuInstanceGroup(pulumi.ComponentResource):
    """GPU VMs of one machine type in a managed instance group, in subnets you give (GcpNetwork's, or your own): an
    instance template with every NIC of the machine type's layout from the catalog, Shielded VM and OS Login, a
    CMEK-encrypted boot disk, no external IP, and the provisioning model the spec's pools take. Checked as a
    cluster's pool is: an unknown type or a zone without it is refused with the check's GPC code."""

    instance_group: pulumi.Output[str]
    """The managed instance group's name"""
    template: pulumi.Output[str]
    """The instance template's self link"""
    gpus_per_node: pulumi.Output[int]
    """Accelerators per VM"""

    def __init__(self, name: str, args: GcpGpuInstanceGroupArgs, opts: Optional[pulumi.ResourceOptions] = None):
        inputs = BlockInputs(type(self).__name__, name)
        region = given_or_config(inputs, args, "region", "gcp:region")
        zone = known(args["zone"], "zone")
        placement = "cluster" if args.get("placement_policy") else "none"
        pool = inputs.model(Pool, {**{key: args[key] for key in POOL_INPUTS if key in args}, "name": BLOCK_POOL,
                                   "zones": [zone], "placement": placement})
        tags = inputs.model(Tags, args["tags"], "tags")
        if not inputs.failed:
            spec = _spec(name, region, zone, tags, (pool,))
            region_problems = list(check_region(spec))
            inputs.check([*region_problems, *check_zones(spec), *check_tags(spec)], GROUP_PATHS)
            if not region_problems:
                inputs.check([*check_pool(spec, 0, pool), *check_image_ids(spec), *check_user_data(spec)], GROUP_PATHS)
        inputs.refuse_errors()
        plan = plan_pool(spec, pool)
        subnets = args["subnets"]
        roles = [nic.network if nic.network != "rdma" else f"rdma-{nic.subnet}" for nic in plan.nics]
        if isinstance(subnets, dict) and (missing := [role for role in roles if role not in subnets]):
            inputs.refuse("subnets", f"none for {missing}: {plan.instance.name} has a NIC on each of {roles} (GcpNetwork "
                          "makes them for the machine types it is given)", "GPC-INPUT-MISMATCH")
        super().__init__("gpucluster:index:GcpGpuInstanceGroup", name, {}, opts)
        group = GpuInstanceGroup(name, GpuInstanceGroupArgs(
            machine_type=plan.instance.name, zone=plan.zones[0], nics=plan.nics, subnets=subnets,
            target_size=pool.size.desired_or_min, capacity=pool.capacity, kms_key=args["kms_key"],
            service_account=args["service_account"], labels={**tags.as_dict(), "gpucluster-purpose": pool.purpose},
            placement_policy=args.get("placement_policy"), boot_disk_gb=pool.root_volume_gb,
            startup_script=args.get("startup_script"), rollout=pool.rollout if plan.rolling else None,
            image=pool.image_id or default_image(plan.instance),
        ), opts=pulumi.ResourceOptions(parent=self))
        self.instance_group, self.template, self.gpus_per_node = group.instance_group, group.template, plan.gpus_per_node
        self.register_outputs({"instanceGroup": self.instance_group, "template": self.template,
                               "gpusPerNode": self.gpus_per_node})


class GcpStorageArgs(TypedDict):
    """The storage tiers, as the spec's storage section has them, and who uses them."""

    node_service_account: pulumi.Input[str]
    """The email of the VMs' service account: it reads the datasets and writes the checkpoints"""
    tags: pulumi.Input[TagsArgs]
    """owner, costCenter and project (and any extra), put on every resource as labels"""
    region: NotRequired[pulumi.Input[str]]
    """The GCP region of the key, the buckets and the file system; default: the gcp:region config of the stack"""
    buckets: NotRequired[pulumi.Input[BucketsArgs]]
    """The expected sizes of the dataset and checkpoint buckets, for cost estimates (the buckets are always made)"""
    shared: NotRequired[pulumi.Input[SharedFileSystemArgs]]
    """Managed Lustre, sized for its throughput target; default: none"""
    network: NotRequired[pulumi.Input[str]]
    """The host network's self link, which the file system joins through Private Service Access; required with
    shared"""
    zone: NotRequired[pulumi.Input[str]]
    """The zone of the GPU groups, where the file system sits; required with shared"""
    gpus: NotRequired[pulumi.Input[int]]
    """The GPUs the file system serves, every group at its maximum size: what shared.throughputGbpsPerGpu counts"""


@documented
class GcpStorage(pulumi.ComponentResource):
    """A cluster's storage tiers under one customer-managed key, as a cluster builds them: a KMS key (90-day
    rotation) the storage and compute service agents may use; dataset (Autoclass) and checkpoint (versioned) buckets
    with uniform access, public access prevention, soft delete and usage logs; and with `shared` Managed Lustre
    reached through Private Service Access."""

    kms_key: pulumi.Output[str]
    """The customer-managed key's id: a GPU group's kmsKey"""
    dataset_bucket: pulumi.Output[str]
    """The dataset bucket's name"""
    checkpoint_bucket: pulumi.Output[str]
    """The checkpoint bucket's name"""
    lustre_mount_point: pulumi.Output[Optional[str]]
    """Managed Lustre's mount point (IP@tcp:/FILESYSTEM), with shared"""

    def __init__(self, name: str, args: GcpStorageArgs, opts: Optional[pulumi.ResourceOptions] = None):
        inputs = BlockInputs(type(self).__name__, name)
        region = given_or_config(inputs, args, "region", "gcp:region")
        tags = inputs.model(Tags, args["tags"], "tags")
        storage = inputs.model(Storage, {key: args[key] for key in ("buckets", "shared") if key in args})
        inputs.refuse_errors()
        shared, zone, gpus = storage.shared, known(args.get("zone"), "zone"), known(args.get("gpus"), "gpus")
        if shared and not (args.get("network") and zone):
            inputs.refuse("network", "network and zone are required with shared: the file system joins the host network "
                          "in the GPU groups' zone", "GPC-INPUT-MISSING")
        if shared and shared.throughput_gbps is None and not gpus:
            inputs.refuse("gpus", "required with shared.throughputGbpsPerGpu (or give shared.throughputGbps): the GPUs it "
                          "counts", "GPC-INPUT-MISSING")
        spec = _spec(name, region, zone, tags, storage=storage_for_target(storage, gpus))
        target = "throughputGbps" if shared and shared.throughput_gbps is not None else "throughputGbpsPerGpu"
        inputs.check([*check_region(spec), *check_tags(spec)], {})
        inputs.check(check_shared_target(spec), {"storage.shared.throughputGbps": f"shared.{target}"})
        inputs.refuse_errors()
        super().__init__("gpucluster:index:GcpStorage", name, {}, opts)
        built = TieredStorage(name, TieredStorageArgs(
            region=region, bucket_location=gcs_bucket_location(spec), labels=tags.as_dict(),
            node_service_account=args["node_service_account"], lustre=managed_lustre_plan(spec),
            expected_tb=expected_bucket_tb(storage.buckets),
            network=args.get("network"), zone=zone,
            stack_key=naming.stack_key(pulumi.get_project(), pulumi.get_stack(), name),
        ), opts=pulumi.ResourceOptions(parent=self))
        self.kms_key, self.dataset_bucket, self.checkpoint_bucket = built.kms_key, built.dataset_bucket, built.checkpoint_bucket
        self.lustre_mount_point = built.lustre_mount_point
        self.register_outputs({"kmsKey": self.kms_key, "datasetBucket": self.dataset_bucket,
                               "checkpointBucket": self.checkpoint_bucket, "lustreMountPoint": self.lustre_mount_point})
