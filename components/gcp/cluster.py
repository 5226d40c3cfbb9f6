"""GcpGpuCluster: the whole cluster a GCP spec declares, as one component."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from gpucluster import naming
from gpucluster.outputs import cluster_outputs, shared_file_system
from gpucluster.plan import (PoolPlan, address_plan, expected_bucket_tb, fabric_zone, gcp_network_plan, gcs_bucket_location,
                             managed_lustre_plan, node_setup, plan_pool)
from gpucluster.spec import ClusterSpec
from gpucluster.userdata import node_script

from components.checked import checked_spec
from components.kube import GpuWorkloads, GpuWorkloadsArgs
from gpucluster.kube import storage as volumes
from gpucluster.images import default_image

from .gke import GkeCluster, GkeClusterArgs
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
        spec = checked_spec(args.spec, "gcp", type(self).__name__, name)
        super().__init__("gpucluster:gcp:GpuCluster", name, None, opts)
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
                              expected_tb=expected_bucket_tb(spec.storage.buckets),
                              network=self.network.networks["host"], zone=fabric_zone(spec), stack_key=stack_key),
            opts=child,
        )
        self._spec = spec
        self.kubernetes = self._kubernetes(name, args.project, email, labels, stack_key) if spec.kubernetes else None
        self.groups = {} if spec.kubernetes else {plan.pool.name: self._group(name, plan, labels, email, child) for plan in plans}
        lustre_id = naming.lustre_instance_id(naming.storage(name), stack_key)
        self.outputs = cluster_outputs(
            spec, plans, {plan.pool.name: self._pool_outputs(plan) for plan in plans},
            network={"id": self.network.networks["host"], "subnets": self.network.subnets},
            storage={"datasetBucket": self.storage.dataset_bucket, "checkpointBucket": self.storage.checkpoint_bucket,
                     "kmsKey": self.storage.kms_key, "sharedFileSystem": shared_file_system(spec, lustre_id)},
        )
        self.register_outputs(self.outputs)

    def _pool_outputs(self, plan: PoolPlan) -> dict:
        """What only a GCP pool has: its NICs, compact placement, and its instance group (or GKE node pool)."""
        nics = [f"{nic.network}{'-' + str(nic.subnet) if nic.network == 'rdma' else ''}:{nic.nic_type}" for nic in plan.nics]
        group = ({"nodePool": self.kubernetes.node_pools[plan.pool.name].name} if self.kubernetes
                 else {"instanceGroup": self.groups[plan.pool.name].instance_group})
        return {"nics": nics, "compactPlacement": plan.placement_group, **group}

    def _kubernetes(self, name: str, project: str, email, labels: dict[str, str], stack_key: str) -> GkeCluster:
        spec, network = self._spec, self.network
        cluster = GkeCluster(naming.gke(name), GkeClusterArgs(
            spec=spec, project=project, network=network, node_service_account=email, storage=self.storage, labels=labels,
        ), opts=pulumi.ResourceOptions(parent=self))
        objects = list(cluster.kubernetes_objects)
        for team in spec.kubernetes.teams:
            if spec.storage.shared:
                ip_and_name = self.storage.lustre_mount_point.apply(_lustre_address)
                objects += volumes.managed_lustre(
                    team.name, project, fabric_zone(spec), naming.lustre_instance_id(naming.storage(name), stack_key),
                    ip_and_name.apply(lambda v: v[0]), ip_and_name.apply(lambda v: v[1]), managed_lustre_plan(spec).capacity_gib)
            if spec.storage.buckets:
                objects += volumes.gcs_bucket(team.name, "datasets", self.storage.dataset_bucket)
                objects += volumes.gcs_bucket(team.name, "checkpoints", self.storage.checkpoint_bucket)
        self.workloads = GpuWorkloads(naming.workloads(name), GpuWorkloadsArgs(
            spec=spec, kubeconfig=cluster.kubeconfig, objects=objects, depends_on=list(cluster.node_pools.values()),
        ), opts=pulumi.ResourceOptions(parent=self))
        return cluster

    def _group(self, name: str, plan: PoolPlan, labels, email, child) -> GpuInstanceGroup:
        spec, pool = self._spec, plan.pool
        group = naming.pool_group(name, pool.name)
        policy = None
        if plan.placement_group:
            policy = gcp.compute.ResourcePolicy(
                naming.compact_policy(group), region=spec.region,
                group_placement_policy={"collocation": "COLLOCATED"}, opts=child,
            ).self_link
        setup = node_setup(spec, pool, plan.instance)
        # Whether there is a script at all is decided from the spec, so the template's metadata keys are known at preview.
        startup = None if setup is None else pulumi.Output.all(self.storage.lustre_mount_point, self.storage.checkpoint_bucket).apply(
            lambda values: node_script(setup, *_lustre_address(values[0]), values[1]))
        return GpuInstanceGroup(
            group,
            GpuInstanceGroupArgs(
                machine_type=plan.instance.name, zone=plan.zones[0], nics=plan.nics, subnets=self.network.subnets,
                target_size=pool.size.desired_or_min, capacity=pool.capacity, kms_key=self.storage.kms_key,
                rollout=pool.rollout if plan.rolling else None,
                service_account=email,
                labels={**labels, "gpucluster-pool": pool.name, "gpucluster-purpose": pool.purpose},
                placement_policy=policy, boot_disk_gb=pool.root_volume_gb, startup_script=startup,
                image=pool.image_id or default_image(plan.instance),
            ),
            opts=child,
        )


def _lustre_address(mount_point: str | None) -> tuple[str | None, str | None]:
    """Managed Lustre's mount point, "IP@tcp:/FILESYSTEM", as the address and name the node mounts."""
    if not mount_point:
        return None, None
    return mount_point.split("@")[0], mount_point.rsplit("/", 1)[1]
