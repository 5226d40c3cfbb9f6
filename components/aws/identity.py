"""NodeIdentity: the IAM role GPU nodes run as, with exactly the permissions the node scripts use."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from gpucluster import naming

SSM_CORE = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"  # Session Manager: nodes have no public IP


@dataclass
class NodeIdentityArgs:
    cluster: str
    tags: dict[str, str]
    kms_alias: str | None = None  # storage statements only when the cluster has storage
    dataset_bucket: pulumi.Input[str] | None = None
    checkpoint_bucket: pulumi.Input[str] | None = None


class NodeIdentity(pulumi.ComponentResource):
    """Role and instance profile: read datasets, write checkpoints, use the storage key, and complete the
    lifecycle actions of this cluster's groups (matched by the group's `gpucluster:cluster` tag)."""

    instance_profile_arn: pulumi.Output[str]
    role_name: pulumi.Output[str]

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
        aws.iam.RolePolicy(
            f"{name}-access",
            role=role.name,
            # From names, the partition and the key's alias, all known at preview, so policies can read it.
            policy=pulumi.Output.all(
                aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self)).partition, args.dataset_bucket, args.checkpoint_bucket
            ).apply(lambda values: _access_policy(args.cluster, args.kms_alias, *values)),
            opts=child,
        )
        profile = aws.iam.InstanceProfile(profile_name, role=role.name, tags={**args.tags, "Name": profile_name}, opts=child)
        self.instance_profile_arn = profile.arn
        self.role_name = role.name
        self.register_outputs({"instanceProfileArn": self.instance_profile_arn, "roleName": self.role_name})


def _access_policy(cluster: str, key_alias: str | None, partition: str, datasets: str | None, checkpoints: str | None) -> str:
    statements = [
        {"Sid": "FinishOwnTermination", "Effect": "Allow",
         "Action": ["autoscaling:CompleteLifecycleAction", "autoscaling:RecordLifecycleActionHeartbeat"],
         "Resource": ["*"], "Condition": {"StringEquals": {"aws:ResourceTag/gpucluster:cluster": cluster}}},
    ]
    if key_alias:
        datasets, checkpoints = (f"arn:{partition}:s3:::{bucket}" for bucket in (datasets, checkpoints))
        statements += [
            {"Sid": "ListBuckets", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [datasets, checkpoints]},
            {"Sid": "ReadDatasets", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [f"{datasets}/*"]},
            {"Sid": "ReadWriteCheckpoints", "Effect": "Allow",
             "Action": ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"], "Resource": [f"{checkpoints}/*"]},
            {"Sid": "UseStorageKey", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": ["*"],
             "Condition": {"ForAnyValue:StringEquals": {"kms:ResourceAliases": key_alias}}},
        ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})
