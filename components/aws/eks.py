"""EksCluster: the control plane, its add-ons, system nodes, and a managed node group per GPU pool.

Built on `pulumi_aws.eks` resources, not the pulumi-eks component: that component's children are created inside its
provider plugin, where the offline preview, the cost model and the policy packs could not see them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from gpucluster import naming
from gpucluster.kube import eks
from gpucluster.kube.nodes import SYSTEM_POOL, NodePoolPlan, node_pool_plans
from gpucluster.spec import ClusterSpec

from .launch_template import NodeTemplateArgs, node_launch_template
from .network import ClusterNetwork

_EKS_TAINT_EFFECT = {"NoSchedule": "NO_SCHEDULE", "NoExecute": "NO_EXECUTE", "PreferNoSchedule": "PREFER_NO_SCHEDULE"}
_CAPACITY_TYPE = {"on-demand": "ON_DEMAND", "reservation": "ON_DEMAND", "spot": "SPOT", "capacity-block": "CAPACITY_BLOCK"}


@dataclass
class EksClusterArgs:
    spec: ClusterSpec
    network: ClusterNetwork
    node_role_arn: pulumi.Input[str]
    tags: dict[str, str]
    storage_policy: pulumi.Input[str] | None = None  # what the S3 CSI driver may do with the buckets (Pod Identity)
    placement_groups: dict[str, pulumi.Input[str]] = field(default_factory=dict)  # pool -> placement group name


class EksCluster(pulumi.ComponentResource):
    """Private API endpoint (public only to listed networks), secrets envelope-encrypted with a key of its own, every
    control-plane log, API access entries (the deploying identity is the bootstrap admin, so the same `pulumi up` can
    install the add-ons), add-on versions as pinned or as EKS first installs them, two system nodes, and one managed node group per pool
    with a launch template carrying the pool's full EFA layout and placement group."""

    cluster_name: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    node_groups: dict[str, aws.eks.NodeGroup]

    def __init__(self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpucluster:aws:EksCluster", name, None, opts)
        spec, kube = args.spec, args.spec.kubernetes
        self._name, self._args = name, args
        self._child = child = pulumi.ResourceOptions(parent=self)
        self._invoke = pulumi.InvokeOutputOptions(parent=self)
        network = args.network
        subnets = [network.private_subnet_ids[zone] for zone in spec.zones]

        role = self._role(f"{name}-control-plane", "eks.amazonaws.com", [eks.CLUSTER_POLICY])
        key = aws.kms.Key(f"{name}-secrets", description=f"EKS secrets of {spec.name}", enable_key_rotation=True,
                          deletion_window_in_days=30, policy=self._key_policy(role), tags=args.tags, opts=child)
        self.cluster = aws.eks.Cluster(
            name,
            role_arn=role.arn,
            version=kube.version,
            vpc_config={
                "subnet_ids": subnets,
                "endpoint_private_access": True,
                "endpoint_public_access": bool(kube.public_access_cidrs),
                "public_access_cidrs": list(kube.public_access_cidrs) or None,
            },
            encryption_config={"provider": {"key_arn": key.arn}, "resources": ["secrets"]},
            enabled_cluster_log_types=eks.CLUSTER_LOG_TYPES,
            access_config={"authentication_mode": "API", "bootstrap_cluster_creator_admin_permissions": True},
            # The add-ons below are EKS add-ons, versioned and upgraded by EKS, not the self-managed copies.
            bootstrap_self_managed_addons=False,
            # Standard support only: at its end EKS upgrades the control plane rather than bill six times the fee.
            upgrade_policy={"support_type": "STANDARD"},
            tags=args.tags,
            opts=child,
        )
        self.cluster_name = self.cluster.name
        for principal in kube.admins:
            self._admin(principal)

        before_nodes = [self._addon(addon) for addon in eks.addons(spec) if addon.before_nodes]
        nodes_opts = pulumi.ResourceOptions(parent=self, depends_on=before_nodes)
        system = self._system_nodes(subnets, nodes_opts)
        self.node_groups = {plan.name: self._gpu_nodes(plan, nodes_opts) for plan in node_pool_plans(spec)}
        # The rest run their controllers on the system nodes: they wait for those, not for every GPU node to join.
        after_nodes = pulumi.ResourceOptions(parent=self, depends_on=[system])
        self.addons = [*before_nodes, *(self._addon(a, after_nodes) for a in eks.addons(spec) if not a.before_nodes)]
        self.kubeconfig = pulumi.Output.secret(pulumi.Output.all(
            self.cluster.name, self.cluster.endpoint, self.cluster.certificate_authority.data,
        ).apply(lambda values: eks.kubeconfig(*values, spec.region)))
        self.register_outputs({
            "clusterName": self.cluster_name,
            "kubeconfig": self.kubeconfig,
            "nodeGroups": {pool: group.node_group_name for pool, group in self.node_groups.items()},
        })

    def _role(self, name: str, service: str, policies: list[str]) -> aws.iam.Role:
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": service},
                                                         "Action": ["sts:AssumeRole", "sts:TagSession"]}]}
        role = aws.iam.Role(naming.iam_role(name), assume_role_policy=json.dumps(trust), tags=self._args.tags, opts=self._child)
        for policy in policies:
            aws.iam.RolePolicyAttachment(f"{name}-{policy.rsplit('/', 1)[-1]}", role=role.name, policy_arn=policy, opts=self._child)
        return role

    def _key_policy(self, role: aws.iam.Role) -> pulumi.Output[str]:
        """The account administers the key through IAM; the control plane uses it. From the role's name, the partition
        and the account, all known at preview, so the policy packs can read it."""
        partition = aws.get_partition_output(opts=self._invoke).partition
        account = aws.get_caller_identity_output(opts=self._invoke).account_id
        return pulumi.Output.all(partition, account, role.name).apply(lambda v: json.dumps({"Version": "2012-10-17", "Statement": [
            {"Sid": "AccountAdministers", "Effect": "Allow", "Principal": {"AWS": f"arn:{v[0]}:iam::{v[1]}:root"},
             "Action": "kms:*", "Resource": "*"},
            {"Sid": "ControlPlaneEncryptsSecrets", "Effect": "Allow", "Principal": {"AWS": f"arn:{v[0]}:iam::{v[1]}:role/{v[2]}"},
             "Action": ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant"], "Resource": "*"},
        ]}))

    def _admin(self, principal: str) -> None:
        label = principal.rsplit("/", 1)[-1]
        entry = aws.eks.AccessEntry(f"{self._name}-admin-{label}", cluster_name=self.cluster.name, principal_arn=principal,
                                    type="STANDARD", tags=self._args.tags, opts=self._child)
        aws.eks.AccessPolicyAssociation(
            f"{self._name}-admin-{label}", cluster_name=self.cluster.name, principal_arn=entry.principal_arn,
            policy_arn=eks.ADMIN_POLICY, access_scope={"type": "cluster"}, opts=self._child,
        )

    def _addon(self, addon: eks.Addon, opts: pulumi.ResourceOptions | None = None) -> aws.eks.Addon:
        # Unpinned, EKS installs its default version for the cluster's Kubernetes version and keeps it: EKS never
        # updates an add-on by itself ("Update an Amazon EKS add-on").
        version = self._args.spec.kubernetes.addon_versions.get(addon.name)
        identities = None
        if addon.service_account:
            role = self._role(f"{self._name}-{addon.name}", "pods.eks.amazonaws.com", [])
            aws.iam.RolePolicy(f"{self._name}-{addon.name}", role=role.name, policy=self._args.storage_policy, opts=self._child)
            identities = [{"role_arn": role.arn, "service_account": addon.service_account}]
        return aws.eks.Addon(
            f"{self._name}-{addon.name}",
            cluster_name=self.cluster.name,
            addon_name=addon.name,
            addon_version=version,
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            pod_identity_associations=identities,
            tags=self._args.tags,
            opts=opts or self._child,
        )

    def _system_nodes(self, subnets: list, opts: pulumi.ResourceOptions) -> aws.eks.NodeGroup:
        return aws.eks.NodeGroup(
            f"{self._name}-{SYSTEM_POOL}",
            cluster_name=self.cluster.name,
            node_role_arn=self._args.node_role_arn,
            subnet_ids=subnets,
            ami_type=eks.SYSTEM_AMI_TYPE,
            capacity_type="ON_DEMAND",
            instance_types=[eks.SYSTEM_INSTANCE_TYPE],
            scaling_config={"min_size": eks.SYSTEM_NODES, "desired_size": eks.SYSTEM_NODES, "max_size": eks.SYSTEM_NODES},
            labels={"gpucluster.dev/role": "system"},
            node_repair_config={"enabled": True},
            tags=self._args.tags,
            opts=opts,
        )

    def _gpu_nodes(self, node_pool: NodePoolPlan, opts: pulumi.ResourceOptions) -> aws.eks.NodeGroup:
        args, plan = self._args, node_pool.plan
        pool, capacity = plan.pool, plan.capacity
        name = naming.pool_group(self._name, pool.name)
        tags = {**args.tags, "gpucluster:pool": pool.name, "gpucluster:purpose": pool.purpose}
        scratch = bool(args.spec.storage.scratch and plan.instance.local_disks.count)
        template = node_launch_template(name, NodeTemplateArgs(
            interfaces=plan.interfaces,
            # The cluster's security group lets nodes and the control plane reach each other; EKS adds it only to
            # templates that name no groups.
            primary_security_groups=[self.cluster.vpc_config.cluster_security_group_id, args.network.nodes_security_group_id],
            efa_security_group_id=args.network.efa_security_group_id,
            root_device=eks.ROOT_DEVICE,
            root_volume_gb=pool.root_volume_gb,
            capacity=pool.capacity,
            # A capacity block names its type in the template, and the node group none (EKS user guide, capacity-blocks-mng).
            instance_type=plan.instance.name if capacity.capacity_block else None,
            user_data=eks.nodeadm_user_data(scratch),
            reservation_in_template=True,
            placement_group=pool.capacity.placement_group or args.placement_groups.get(pool.name),
            tags=tags,
        ), pulumi.ResourceOptions(parent=self))
        return aws.eks.NodeGroup(
            name,
            cluster_name=self.cluster.name,
            node_role_arn=args.node_role_arn,
            subnet_ids=[args.network.private_subnet_ids[zone] for zone in plan.zones],
            ami_type=eks.GPU_AMI_TYPE,
            capacity_type=_CAPACITY_TYPE[node_pool.source],
            instance_types=None if capacity.capacity_block else [plan.instance.name, *(t.name for t in plan.alternates)],
            launch_template={"id": template.id, "version": template.latest_version.apply(str)},
            scaling_config={"min_size": pool.size.min, "desired_size": pool.size.desired_or_min, "max_size": pool.size.max},
            labels=node_pool.labels,
            taints=[{"key": t.key, "value": t.value, "effect": _EKS_TAINT_EFFECT[t.effect]} for t in node_pool.taints],
            # Nodes are drained and replaced when the template changes, this share at a time.
            update_config={"max_unavailable_percentage": max(1, 100 - pool.rollout.min_healthy_percent)},
            node_repair_config={"enabled": True},
            tags=tags,
            opts=opts,
        )
