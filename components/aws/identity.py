"""NodeIdentity: the IAM role GPU nodes run as, with exactly the permissions the node scripts use."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from gpucluster import naming

SSM_CORE = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"  # Session Manager: nodes have no public IP


@dataclass
class NodeIdentityArgs:
    tags: dict[str, str]
    managed_policies: list[str] = field(default_factory=list)  # beyond Session Manager, e.g. what EKS nodes need
    instance_profile: bool = True  # EKS managed node groups make their own from the role


class NodeIdentity(pulumi.ComponentResource):
    """Role and instance profile, made before what they are granted: the storage key's policy names the role.
    `allow_storage_access` then grants reading datasets, writing checkpoints and using the key;
    `allow_lifecycle_actions` completing the lifecycle actions of this stack's own groups."""

    instance_profile_arn: pulumi.Output[str] | None
    role_name: pulumi.Output[str]
    role_arn: pulumi.Output[str]  # from the partition, account and name: known at preview, unlike the role's `arn`

    def __init__(self, name: str, args: NodeIdentityArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpucluster:aws:NodeIdentity", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        role_name, profile_name = naming.iam_role(name), naming.instance_profile(name)
        role = aws.iam.Role(
            role_name,
            assume_role_policy=json.dumps({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
            }),
            tags={**args.tags, "Name": role_name},
            opts=child,
        )
        aws.iam.RolePolicyAttachment(f"{name}-ssm", role=role.name, policy_arn=SSM_CORE, opts=child)
        for policy in args.managed_policies:
            aws.iam.RolePolicyAttachment(f"{name}-{policy.rsplit('/', 1)[-1]}", role=role.name, policy_arn=policy, opts=child)
        self._name, self._role = name, role
        profile = (aws.iam.InstanceProfile(profile_name, role=role.name, tags={**args.tags, "Name": profile_name}, opts=child)
                   if args.instance_profile else None)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        self.role_arn = pulumi.Output.format("arn:{0}:iam::{1}:role/{2}", aws.get_partition_output(opts=invoke).partition,
                                             aws.get_caller_identity_output(opts=invoke).account_id, role.name)
        self.instance_profile_arn = profile.arn if profile else None
        self.role_name = role.name
        self.register_outputs({"instanceProfileArn": self.instance_profile_arn, "roleName": self.role_name, "roleArn": self.role_arn})

    def allow_storage_access(self, kms_alias: str, dataset_bucket: pulumi.Input[str], checkpoint_bucket: pulumi.Input[str]) -> None:
        """Read the datasets, read and write checkpoints, and use the storage key (by its alias). The same document is
        `storage_policy`, for what reads and writes the buckets on the nodes' behalf (the S3 CSI driver on EKS)."""
        # From names, the partition and the key's alias, all known at preview, so policies can read it.
        self.storage_policy = pulumi.Output.all(
            aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self)).partition, dataset_bucket, checkpoint_bucket
        ).apply(lambda values: _access_policy(kms_alias, *values))
        aws.iam.RolePolicy(f"{self._name}-access", role=self._role.name, policy=self.storage_policy,
                           opts=pulumi.ResourceOptions(parent=self))

    def allow_lifecycle_actions(self, group_names: list[pulumi.Input[str]]) -> None:
        """Let the nodes complete the termination lifecycle actions of these groups, and no others."""
        invoke = pulumi.InvokeOutputOptions(parent=self)
        aws.iam.RolePolicy(
            f"{self._name}-lifecycle",
            role=self._role.name,
            policy=pulumi.Output.all(
                aws.get_partition_output(opts=invoke).partition, aws.get_region_output(opts=invoke).region,
                aws.get_caller_identity_output(opts=invoke).account_id, *group_names,
            ).apply(lambda values: _lifecycle_policy(values[0], values[1], values[2], list(values[3:]))),
            opts=pulumi.ResourceOptions(parent=self),
        )


def _lifecycle_policy(partition: str, region: str, account: str, groups: list[str]) -> str:
    # By ARN, not by a tag: another stack's groups carry the same tags when their cluster has the same name.
    arns = [f"arn:{partition}:autoscaling:{region}:{account}:autoScalingGroup:*:autoScalingGroupName/{g}" for g in groups]
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "FinishOwnTermination", "Effect": "Allow",
         "Action": ["autoscaling:CompleteLifecycleAction", "autoscaling:RecordLifecycleActionHeartbeat"], "Resource": arns}]})


def _access_policy(key_alias: str, partition: str, datasets: str, checkpoints: str) -> str:
    datasets, checkpoints = (f"arn:{partition}:s3:::{bucket}" for bucket in (datasets, checkpoints))
    statements = [
        {"Sid": "ListBuckets", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [datasets, checkpoints]},
        {"Sid": "ReadDatasets", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [f"{datasets}/*"]},
        {"Sid": "ReadWriteCheckpoints", "Effect": "Allow",
         "Action": ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"], "Resource": [f"{checkpoints}/*"]},
        {"Sid": "UseStorageKey", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": ["*"],
         "Condition": {"ForAnyValue:StringEquals": {"kms:ResourceAliases": key_alias}}},
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})
