"""AwsGpuCluster: the whole cluster a spec declares, as one component."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from gpucluster import naming
from gpucluster.fabric import efa_device_count
from gpucluster.outputs import cluster_outputs, shared_file_system
from gpucluster.plan import PoolPlan, address_plan, expected_bucket_tb, fabric_zone, lustre_plan, node_setup, plan_pool
from gpucluster.spec import ClusterSpec
from gpucluster.userdata import node_script

from components.checked import checked_spec
from components.kube import GpuWorkloads, GpuWorkloadsArgs
from gpucluster.kube import eks
from gpucluster.kube import storage as volumes

from .eks import EksCluster, EksClusterArgs
from .identity import NodeIdentity, NodeIdentityArgs
from .instance_group import GpuInstanceGroup, GpuInstanceGroupArgs
from .network import ClusterNetwork, ClusterNetworkArgs
from .spot_pool import SpotTrainingPool, SpotTrainingPoolArgs
from .storage import TieredStorage, TieredStorageArgs


@dataclass
class AwsGpuClusterArgs:
    spec: ClusterSpec


class AwsGpuCluster(pulumi.ComponentResource):
    """Network, storage tiers, node identity, and one group per pool (a SpotTrainingPool where spot is a source)."""

    network: ClusterNetwork
    storage: TieredStorage | None
    kubernetes: EksCluster | None  # with `kubernetes:` in the spec, the pools are its node groups and `groups` is empty
    groups: dict[str, GpuInstanceGroup | SpotTrainingPool]

    def __init__(self, name: str, args: AwsGpuClusterArgs, opts: pulumi.ResourceOptions | None = None):
        spec = checked_spec(args.spec, "aws", type(self).__name__, name)
        super().__init__("gpucluster:aws:GpuCluster", name, None, opts)
        self._name, self._spec = name, spec
        self._child = pulumi.ResourceOptions(parent=self)
        self._tags = {**spec.tags.as_dict(), "gpucluster:cluster": spec.name}
        plans = [plan_pool(spec, pool) for pool in spec.pools]

        self.network = ClusterNetwork(
            naming.network(name),
            ClusterNetworkArgs(
                region=spec.region,
                addresses=address_plan(spec),
                nat=spec.network.nat,
                flow_log_retention_days=spec.network.flow_log_retention_days,
                tags=self._tags,
                placement_group_pools=[p.pool.name for p in plans if p.placement_group],
            ),
            opts=self._child,
        )
        on_kubernetes = spec.kubernetes is not None
        identity = NodeIdentity(naming.identity(name), NodeIdentityArgs(
            tags=self._tags, managed_policies=eks.NODE_POLICIES if on_kubernetes else [], instance_profile=not on_kubernetes,
        ), opts=self._child)
        self.storage = self._storage(plans, identity)
        if self.storage:
            identity.allow_storage_access(self.storage.kms_alias, self.storage.dataset_bucket, self.storage.checkpoint_bucket)
        self.kubernetes = self._kubernetes(identity) if on_kubernetes else None
        self.groups = {} if on_kubernetes else {plan.pool.name: self._group(plan, identity) for plan in plans}
        hooked = [g.auto_scaling_group_name for g in self.groups.values() if isinstance(g, SpotTrainingPool)]
        if hooked:  # only spot pools hold a termination hook for their nodes to complete
            identity.allow_lifecycle_actions(hooked)
        self.outputs = cluster_outputs(
            spec, plans, {plan.pool.name: self._pool_outputs(plan) for plan in plans},
            network={"id": self.network.vpc_id, "subnets": self.network.private_subnet_ids},
            storage={
                "datasetBucket": self.storage.dataset_bucket, "checkpointBucket": self.storage.checkpoint_bucket,
                "kmsKey": self.storage.kms_key_arn, "sharedFileSystem": shared_file_system(spec, self.storage.file_system_id),
            } if self.storage else None,
        )
        self.register_outputs(self.outputs)

    def _pool_outputs(self, plan: PoolPlan) -> dict:
        """What only an AWS pool has: its EFA devices, reservation or block, and its group (or EKS node group)."""
        capacity = plan.pool.capacity
        outputs: dict = {"efaInterfacesPerNode": efa_device_count(plan.interfaces)}
        if capacity.reservation_id:
            outputs["reservationId"] = capacity.reservation_id
        if capacity.block_start:
            # Instances of a capacity block are terminated when it ends: checkpoint before this time.
            outputs["blockStart"] = capacity.block_start.isoformat()
            outputs["blockEnd"] = capacity.block_end.isoformat()
        if self.kubernetes:
            return {**outputs, "nodeGroup": self.kubernetes.node_groups[plan.pool.name].node_group_name}
        group = self.groups[plan.pool.name]
        outputs["autoScalingGroup"] = group.auto_scaling_group_name
        if isinstance(group, SpotTrainingPool):
            outputs["interruptionQueueUrl"] = group.queue_url
            outputs["checkpointTo"] = plan.pool.checkpoint.to
        return outputs

    def _kubernetes(self, identity: NodeIdentity) -> EksCluster:
        spec, storage = self._spec, self.storage
        cluster = EksCluster(naming.eks(self._name), EksClusterArgs(
            spec=spec, network=self.network, node_role_arn=identity.role_arn, tags=self._tags,
            storage_policy=identity.storage_policy if storage and spec.storage.buckets else None,
            placement_groups=self.network.placement_groups,
        ), opts=self._child)
        self.workloads = GpuWorkloads(naming.workloads(self._name), GpuWorkloadsArgs(
            spec=spec, kubeconfig=cluster.kubeconfig, objects=self._volumes(), depends_on=[*cluster.node_groups.values(), *cluster.addons],
        ), opts=self._child)
        return cluster

    def _volumes(self) -> list[dict]:
        """The shared file system and the buckets as volumes in every team namespace."""
        spec, storage = self._spec, self.storage
        objects: list[dict] = []
        for team in spec.kubernetes.teams:
            if spec.storage.shared:
                objects += volumes.fsx_lustre(team.name, storage.file_system_id, storage.file_system_dns_name,
                                              storage.file_system_mount_name, lustre_plan(spec).capacity_gib)
            if spec.storage.buckets:
                objects += volumes.s3_bucket(team.name, "datasets", storage.dataset_bucket)
                objects += volumes.s3_bucket(team.name, "checkpoints", storage.checkpoint_bucket)
        return objects

    def _storage(self, plans: list[PoolPlan], identity: NodeIdentity) -> TieredStorage | None:
        spec = self._spec
        # Kubernetes nodes run no checkpoint watcher: the job checkpoints, to the shared file system or a bucket.
        checkpoints_to_s3 = not spec.kubernetes and any(p.capacity.spot and p.pool.checkpoint.to == "s3" for p in plans)
        if not (spec.storage.buckets or spec.storage.shared or checkpoints_to_s3):
            return None
        return TieredStorage(
            naming.storage(self._name),
            TieredStorageArgs(
                tags=self._tags,
                vpc_id=self.network.vpc_id,
                nodes_security_group_id=self.network.nodes_security_group_id,
                lustre=lustre_plan(spec),
                export_datasets=bool(spec.storage.shared and spec.storage.shared.export_datasets),
                kms_alias=naming.kms_alias(naming.stack_key(pulumi.get_project(), pulumi.get_stack(), spec.name)),
                key_users=[identity.role_arn],
                key_administrators=list(spec.storage.key_administrators),
                lustre_subnet_id=self.network.private_subnet_ids[fabric_zone(spec)] if spec.storage.shared else None,
                expected_tb=expected_bucket_tb(spec.storage.buckets),
            ),
            opts=self._child,
        )

    def _group(self, plan: PoolPlan, identity: NodeIdentity) -> GpuInstanceGroup | SpotTrainingPool:
        pool = plan.pool
        name = naming.pool_group(self._name, pool.name)
        if pool.capacity.reservation_id:
            self._check_reservation(name, plan)
        group_args = GpuInstanceGroupArgs.for_pool(
            plan,
            subnet_ids=[self.network.private_subnet_ids[zone] for zone in plan.zones],
            nodes_security_group_id=self.network.nodes_security_group_id,
            efa_security_group_id=self.network.efa_security_group_id,
            placement_group=self.network.placement_groups.get(pool.name),
            user_data=self._user_data(plan),
            instance_profile_arn=identity.instance_profile_arn,
            tags={**self._tags, "gpucluster:pool": pool.name},
        )
        if not plan.capacity.spot:
            return GpuInstanceGroup(name, group_args, opts=self._child)
        return SpotTrainingPool(
            name,
            SpotTrainingPoolArgs(group=group_args, heartbeat_seconds=pool.checkpoint.heartbeat_seconds, tags=group_args.tags),
            opts=self._child,
        )

    def _user_data(self, plan: PoolPlan) -> pulumi.Output[str] | None:
        setup = node_setup(self._spec, plan.pool, plan.instance)
        if setup is None:
            return None
        storage = self.storage  # present whenever the setup mounts the file system or checkpoints to S3
        return pulumi.Output.all(
            storage.file_system_dns_name if setup.shared_mount else None,
            storage.file_system_mount_name if setup.shared_mount else None,
            storage.checkpoint_bucket if storage else None,
        ).apply(lambda values: node_script(setup, *values))

    def _check_reservation(self, name: str, plan: PoolPlan) -> None:
        """Read the reservation and refuse a type or zone that differs from the pool's (checked when it is known)."""
        reservation = aws.ec2.CapacityReservation.get(
            f"{name}-reservation", plan.pool.capacity.reservation_id, opts=self._child
        )

        def check(values: list[str]) -> None:
            instance_type, zone = values
            wrong = []
            if instance_type and instance_type != plan.instance.name:
                wrong.append(f"instance type {instance_type}, the pool {plan.instance.name}")
            if zone and zone not in plan.zones:
                wrong.append(f"zone {zone}, the pool {list(plan.zones)}")
            if wrong:
                raise pulumi.RunError(
                    f"pools '{plan.pool.name}': reservation {plan.pool.capacity.reservation_id} has "
                    + "; ".join(wrong) + ". Instances would never land in it"
                )

        pulumi.Output.all(reservation.instance_type, reservation.availability_zone).apply(check)
