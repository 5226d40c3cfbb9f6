"""GcpGpuCluster: the whole cluster a GCP spec declares, as one component."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from gpucluster import naming
from gpucluster.plan import (PoolPlan, address_plan, fabric_zone, gcp_network_plan, gcs_bucket_location, managed_lustre_plan,
                             plan_pool)
from gpucluster.spec import ClusterSpec
from gpucluster.userdata import GCE_LOCAL_SSD_MODEL, ScratchSetup, SharedMount, Watcher, render

from .instance_group import GpuInstanceGroup, GpuInstanceGroupArgs
from .network import ClusterNetwork, ClusterNetworkArgs
from .storage import TieredStorage, TieredStorageArgs


@dataclass
class GcpGpuClusterArgs:
    spec: ClusterSpec
    project: str


class GcpGpuCluster(pulumi.ComponentResource):
    """Networks sized for the pools' NIC layouts, storage under a customer-managed key, a node service account,
    and one GpuInstanceGroup per pool (compact placement for fabric pools where GCP allows it)."""

    groups: dict[str, GpuInstanceGroup]

    def __init__(self, name: str, args: GcpGpuClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpucluster:gcp:GpuCluster", name, None, opts)
        spec = args.spec
        child = pulumi.ResourceOptions(parent=self)
        # Tags double as labels: validation (gpucluster.limits) admits only what GCP labels allow.
        labels = {**spec.tags.as_dict(), "gpucluster-cluster": spec.name}
        plans = [plan_pool(spec, pool) for pool in spec.pools]
        needs = gcp_network_plan(plans)
        self.network = ClusterNetwork(
            naming.network(name),
            ClusterNetworkArgs(
                project=args.project, region=spec.region, zone=fabric_zone(spec),
                host_cidr=next(iter(address_plan(spec).private.values())), labels=labels,
                host_networks=needs.host_networks, gpu_vpcs=needs.gpu_vpcs, rdma_subnets=needs.rdma_subnets, mtu=needs.mtu,
            ),
            opts=child,
        )
        stack_key = naming.stack_key(pulumi.get_project(), pulumi.get_stack(), spec.name)
        account = gcp.serviceaccount.Account(f"{name}-nodes", account_id=naming.service_account_id(spec.name, stack_key),
                                             display_name=f"gpucluster {spec.name} nodes", opts=child)
        # The address of a service account the project owns follows from its id: known at preview (unlike `email`),
        # so that policies and scanners see that the nodes run as this account, not the default one.
        email = account.account_id.apply(lambda account_id: f"{account_id}@{args.project}.iam.gserviceaccount.com")
        self.storage = TieredStorage(
            naming.storage(name),
            TieredStorageArgs(region=spec.region, bucket_location=gcs_bucket_location(spec), labels=labels,
                              node_service_account=email, lustre=managed_lustre_plan(spec),
                              network=self.network.networks["host"], zone=fabric_zone(spec), stack_key=stack_key),
            opts=child,
        )
        self._spec = spec
        self.groups = {plan.pool.name: self._group(name, plan, labels, email, child) for plan in plans}
        self.register_outputs({"instanceGroups": {n: g.instance_group for n, g in self.groups.items()}})

    def _group(self, name: str, plan: PoolPlan, labels, email, child) -> GpuInstanceGroup:
        spec, pool = self._spec, plan.pool
        group = naming.pool_group(name, pool.name)
        policy = None
        if plan.placement_group:
            policy = gcp.compute.ResourcePolicy(
                naming.compact_policy(group), region=spec.region,
                group_placement_policy={"collocation": "COLLOCATED"}, opts=child,
            ).self_link
        scratch = spec.storage.scratch
        scratch_setup = ScratchSetup(scratch.mount, plan.instance.local_disks.count) if scratch and plan.instance.local_disks.count else None
        checkpoint = pool.checkpoint
        shared = spec.storage.shared
        watcher_on = plan.capacity.spot or plan.capacity.flex_start
        # Decided here, from the spec, so that the template's metadata keys are known at preview.
        needs_script = bool(scratch_setup or shared or watcher_on)
        startup = None if not needs_script else pulumi.Output.all(self.storage.checkpoint_bucket, self.storage.lustre_mount_point).apply(lambda values: render(
            scratch=scratch_setup,
            shared=SharedMount(values[1].split("@")[0], values[1].rsplit("/", 1)[1], shared.mount) if shared and values[1] else None,
            watcher=Watcher(checkpoint.command or "", checkpoint.directory,
                            f"gs://{values[0]}/{spec.name}/{pool.name}" if checkpoint.to == "s3" else f"{shared.mount}/checkpoints/{pool.name}",
                            lifecycle_hook="", heartbeat_seconds=checkpoint.heartbeat_seconds, cloud="gcp")
            if watcher_on else None,
            disk_model=GCE_LOCAL_SSD_MODEL,
        ))
        return GpuInstanceGroup(
            group,
            GpuInstanceGroupArgs(
                machine_type=plan.instance.name, zone=plan.zones[0], nics=plan.nics, subnets=self.network.subnets,
                target_size=pool.size.desired_or_min, capacity=pool.capacity, kms_key=self.storage.kms_key,
                rollout=pool.rollout if plan.rolling else None,
                service_account=email,
                labels={**labels, "gpucluster-pool": pool.name, "gpucluster-purpose": pool.purpose},
                placement_policy=policy, boot_disk_gb=pool.root_volume_gb, startup_script=startup,
                **({"image": pool.image_id} if pool.image_id else {}),
            ),
            opts=child,
        )
