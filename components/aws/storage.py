"""TieredStorage: the cluster's object and shared file system tiers, under one customer-managed key.

Local NVMe scratch is the third tier; it lives on the nodes, set up by their user data (gpucluster.userdata).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from gpucluster import naming
from gpucluster.cost.expected_size import expected_size_marker
from gpucluster.sizing import LustrePlan

LUSTRE_PORTS = ((988, 988), (1018, 1023))  # FSx for Lustre: LNET, and the client port range
DATASET_PATH = "/datasets"  # where the dataset bucket appears on the file system


@dataclass
class BucketLifecycle:
    checkpoint_archive_after_days: int = 30  # then Glacier Instant Retrieval
    noncurrent_expire_after_days: int = 30
    dataset_noncurrent_days: int = 7  # a deleted or overwritten dataset object can be restored this long
    access_log_days: int = 365  # server access logs: a year, a common audit retention
    abort_multipart_after_days: int = 7


@dataclass
class TieredStorageArgs:
    tags: dict[str, str]
    vpc_id: pulumi.Input[str]
    nodes_security_group_id: pulumi.Input[str]
    lustre: LustrePlan | None = None
    lustre_subnet_id: pulumi.Input[str] | None = None  # the zone of the fabric pools, so traffic stays in-zone
    lifecycle: BucketLifecycle = field(default_factory=BucketLifecycle)
    expected_tb: dict[str, float] = field(default_factory=dict)  # "datasets"/"checkpoints" -> TB, for cost estimates
    export_datasets: bool = False  # the file system writes changes (deletions too) back to the datasets bucket
    kms_alias: str = ""  # unique per project, stack and cluster (naming.kms_alias); default: alias/<name>
    key_users: list[pulumi.Input[str]] = field(default_factory=list)  # role ARNs that use the key through S3 and FSx
    key_administrators: list[str] = field(default_factory=list)  # IAM ARNs; none: the account root (IAM decides)


class TieredStorage(pulumi.ComponentResource):
    """Dataset and checkpoint buckets, and (when a throughput target is set) FSx for Lustre linked to the datasets.

    Buckets: customer-managed KMS key with bucket keys, all public access blocked, owner-enforced objects,
    TLS-only policy; datasets move to Intelligent-Tiering, checkpoints are versioned and move to Glacier
    Instant Retrieval, old versions expire. The file system is PERSISTENT_2 with LZ4 compression, the same
    key, and a security group that admits the Lustre ports from the cluster's nodes only.
    """

    kms_key_arn: pulumi.Output[str]
    kms_alias: str
    dataset_bucket: pulumi.Output[str]
    checkpoint_bucket: pulumi.Output[str]
    file_system_id: pulumi.Output[str] | None
    file_system_dns_name: pulumi.Output[str] | None
    file_system_mount_name: pulumi.Output[str] | None

    def __init__(self, name: str, args: TieredStorageArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpucluster:aws:TieredStorage", name, None, opts)
        self._child = pulumi.ResourceOptions(parent=self)
        self._tags = args.tags
        key = aws.kms.Key(
            f"{name}-key",
            description=f"{name}: datasets, checkpoints and the shared file system",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=self._key_policy(args),
            tags=self._tagged(f"{name}-key"),
            opts=self._child,
        )
        self.kms_key_arn = key.arn
        self.kms_alias = args.kms_alias or f"alias/{name}"
        aws.kms.Alias(f"{name}-key", name=self.kms_alias, target_key_id=key.key_id, opts=self._child)
        lifecycle = args.lifecycle
        # Versioned, so that a deletion (from S3, or through the file system when it exports) can be undone.
        datasets = self._bucket(naming.bucket(name, "datasets"), key, versioned=True, rules=[
            {"id": "intelligent-tiering", "status": "Enabled", "filter": {},
             "transitions": [{"days": 0, "storage_class": "INTELLIGENT_TIERING"}],
             "noncurrent_version_expiration": {"noncurrent_days": lifecycle.dataset_noncurrent_days},
             "abort_incomplete_multipart_upload": {"days_after_initiation": lifecycle.abort_multipart_after_days}},
        ], expected_tb=args.expected_tb.get("datasets", 0))
        checkpoints = self._bucket(naming.bucket(name, "checkpoints"), key, versioned=True, rules=[
            {"id": "archive-old-checkpoints", "status": "Enabled", "filter": {},
             "transitions": [{"days": lifecycle.checkpoint_archive_after_days, "storage_class": "GLACIER_IR"}],
             "noncurrent_version_expiration": {"noncurrent_days": lifecycle.noncurrent_expire_after_days},
             "abort_incomplete_multipart_upload": {"days_after_initiation": lifecycle.abort_multipart_after_days}},
        ], expected_tb=args.expected_tb.get("checkpoints", 0))
        self.dataset_bucket, self.checkpoint_bucket = datasets.bucket, checkpoints.bucket
        self._access_logs(name, {"datasets": datasets, "checkpoints": checkpoints}, lifecycle)

        self.file_system_id = self.file_system_dns_name = self.file_system_mount_name = None
        if args.lustre:
            self._lustre(name, args, key, datasets)
        self.register_outputs(
            {
                "kmsKeyArn": self.kms_key_arn,
                "datasetBucket": self.dataset_bucket,
                "checkpointBucket": self.checkpoint_bucket,
                "fileSystemId": self.file_system_id,
                "fileSystemDnsName": self.file_system_dns_name,
                "fileSystemMountName": self.file_system_mount_name,
            }
        )

    def _key_policy(self, args: TieredStorageArgs) -> pulumi.Output[str]:
        """An explicit policy rather than the default one: the administrators manage the key; the account's
        principals (IAM deciding which), and by name the key users, use it only through S3 and FSx."""
        invoke = pulumi.InvokeOutputOptions(parent=self)
        return pulumi.Output.all(
            aws.get_partition_output(opts=invoke).partition, aws.get_region_output(opts=invoke).region,
            aws.get_caller_identity_output(opts=invoke).account_id, *args.key_users,
        ).apply(lambda values: _key_policy(*values[:3], users=list(values[3:]), administrators=args.key_administrators))

    def _tagged(self, resource_name: str) -> dict[str, str]:
        return {**self._tags, "Name": resource_name}

    def _bucket(self, name: str, key: aws.kms.Key, versioned: bool, rules: list[dict], expected_tb: float) -> aws.s3.Bucket:
        opts = self._child
        tags = {**self._tagged(name), **expected_size_marker("aws", expected_tb)}  # the cost estimate reads it from the graph
        bucket = aws.s3.Bucket(name, force_destroy=False, tags=tags, opts=opts)
        depends = pulumi.ResourceOptions(parent=self, depends_on=[bucket])
        aws.s3.BucketPublicAccessBlock(
            name, bucket=bucket.id, block_public_acls=True, block_public_policy=True,
            ignore_public_acls=True, restrict_public_buckets=True, opts=depends,
        )
        aws.s3.BucketOwnershipControls(name, bucket=bucket.id, rule={"object_ownership": "BucketOwnerEnforced"}, opts=depends)
        aws.s3.BucketServerSideEncryptionConfiguration(
            name,
            bucket=bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": key.arn},
                    "bucket_key_enabled": True}],
            opts=depends,
        )
        # Built from the bucket's name (known at preview, unlike its ARN) so policies can read it before deploy.
        policy = pulumi.Output.all(aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self)).partition, bucket.bucket).apply(
            lambda values: _tls_only_policy(f"arn:{values[0]}:s3:::{values[1]}"))
        aws.s3.BucketPolicy(name, bucket=bucket.id, policy=policy, opts=depends)
        if versioned:
            aws.s3.BucketVersioning(name, bucket=bucket.id, versioning_configuration={"status": "Enabled"}, opts=depends)
        aws.s3.BucketLifecycleConfiguration(name, bucket=bucket.id, rules=rules, opts=depends)
        return bucket

    def _access_logs(self, name: str, buckets: dict[str, aws.s3.Bucket], lifecycle: BucketLifecycle) -> None:
        """Server access logs of the data buckets, into a bucket of their own: locked down like the others, but
        encrypted with S3's keys, the only ones S3 delivers access logs under (S3 User Guide, "Enabling Amazon S3
        server access logging": SSE-KMS is not supported for the destination bucket)."""
        logs_name = naming.bucket(name, "logs")
        logs = aws.s3.Bucket(logs_name, force_destroy=False, tags=self._tagged(logs_name), opts=self._child)
        after = pulumi.ResourceOptions(parent=self, depends_on=[logs])
        aws.s3.BucketPublicAccessBlock(logs_name, bucket=logs.id, block_public_acls=True, block_public_policy=True,
                                       ignore_public_acls=True, restrict_public_buckets=True, opts=after)
        aws.s3.BucketOwnershipControls(logs_name, bucket=logs.id, rule={"object_ownership": "BucketOwnerEnforced"}, opts=after)
        aws.s3.BucketServerSideEncryptionConfiguration(
            logs_name, bucket=logs.id, rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}], opts=after)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        sources = [b.bucket for b in buckets.values()]
        policy = pulumi.Output.all(aws.get_partition_output(opts=invoke).partition,
                                   aws.get_caller_identity_output(opts=invoke).account_id, logs.bucket, *sources).apply(
            lambda v: _log_bucket_policy(v[0], v[1], v[2], list(v[3:])))
        aws.s3.BucketPolicy(logs_name, bucket=logs.id, policy=policy, opts=after)
        aws.s3.BucketVersioning(logs_name, bucket=logs.id, versioning_configuration={"status": "Enabled"}, opts=after)
        aws.s3.BucketLifecycleConfiguration(logs_name, bucket=logs.id, opts=after, rules=[
            {"id": "expire-logs", "status": "Enabled", "filter": {}, "expiration": {"days": lifecycle.access_log_days},
             "noncurrent_version_expiration": {"noncurrent_days": 1},
             "abort_incomplete_multipart_upload": {"days_after_initiation": lifecycle.abort_multipart_after_days}}])
        for role, bucket in buckets.items():
            aws.s3.BucketLogging(naming.bucket(name, role), bucket=bucket.id, target_bucket=logs.id,
                                 target_prefix=bucket.bucket.apply(lambda b: f"{b}/"), opts=self._child)

    def _lustre(self, name: str, args: TieredStorageArgs, key: aws.kms.Key, datasets: aws.s3.Bucket) -> None:
        lustre = naming.lustre(name)
        group = aws.ec2.SecurityGroup(
            lustre, vpc_id=args.vpc_id, description="FSx for Lustre: Lustre ports from cluster nodes only",
            tags=self._tagged(lustre), opts=self._child,
        )
        for low, high in LUSTRE_PORTS:
            for peer, peer_id in (("nodes", args.nodes_security_group_id), ("self", group.id)):
                rule = f"{name}-lustre-{low}-{peer}"
                aws.vpc.SecurityGroupIngressRule(
                    rule, security_group_id=group.id, ip_protocol="tcp", from_port=low, to_port=high,
                    referenced_security_group_id=peer_id, description=f"Lustre {low}-{high} from {peer}",
                    tags=self._tagged(rule), opts=self._child,
                )
                aws.vpc.SecurityGroupEgressRule(
                    f"{rule}-out", security_group_id=group.id, ip_protocol="tcp", from_port=low, to_port=high,
                    referenced_security_group_id=peer_id, description=f"Lustre {low}-{high} to {peer}",
                    tags=self._tagged(f"{rule}-out"), opts=self._child,
                )
        plan = args.lustre
        file_system = aws.fsx.LustreFileSystem(
            lustre,
            deployment_type="PERSISTENT_2",
            storage_type="SSD",
            storage_capacity=plan.capacity_gib,
            per_unit_storage_throughput=plan.per_unit_mbps,
            data_compression_type="LZ4",
            file_system_type_version="2.15",
            kms_key_id=key.arn,
            subnet_ids=args.lustre_subnet_id,  # one subnet: the provider takes it as a string
            security_group_ids=[group.id],
            tags=self._tagged(lustre),
            opts=self._child,
        )
        aws.fsx.DataRepositoryAssociation(
            f"{name}-datasets",
            file_system_id=file_system.id,
            data_repository_path=datasets.bucket.apply(lambda bucket: f"s3://{bucket}/"),
            file_system_path=DATASET_PATH,
            batch_import_meta_data_on_create=True,
            # Import only by default: FSx writes to S3 with its own role, around the nodes' read-only access, so an
            # export would let any node delete the dataset.
            s3={
                "auto_import_policy": {"events": ["NEW", "CHANGED", "DELETED"]},
                **({"auto_export_policy": {"events": ["NEW", "CHANGED", "DELETED"]}} if args.export_datasets else {}),
            },
            tags=self._tagged(f"{name}-datasets"),
            opts=self._child,
        )
        self.file_system_id = file_system.id
        self.file_system_dns_name = file_system.dns_name
        self.file_system_mount_name = file_system.mount_name


# The key administrators' actions: managing the key, never using it (AWS KMS Developer Guide, "Default key
# policy", the statement "Allows key administrators to administer the KMS key").
KEY_ADMIN_ACTIONS = [
    "kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*", "kms:Revoke*",
    "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource", "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion", "kms:RotateKeyOnDemand",
]
KEY_USE_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey", "kms:CreateGrant"]


def _key_policy(partition: str, region: str, account: str, users: list[str], administrators: list[str]) -> str:
    root = f"arn:{partition}:iam::{account}:root"
    through_storage = {"StringEquals": {"kms:CallerAccount": account,
                                        "kms:ViaService": [f"s3.{region}.amazonaws.com", f"fsx.{region}.amazonaws.com"]}}
    statements = [
        {"Sid": "Administer", "Effect": "Allow", "Principal": {"AWS": administrators or [root]},
         "Action": KEY_ADMIN_ACTIONS, "Resource": "*"},
        # FSx and the deployer create grants and encrypt through the services; IAM policies decide which principals.
        {"Sid": "AccountUsesThroughStorage", "Effect": "Allow", "Principal": {"AWS": [root]},
         "Action": KEY_USE_ACTIONS, "Resource": "*", "Condition": through_storage},
    ]
    if users:
        statements.append({"Sid": "NodesUseThroughStorage", "Effect": "Allow", "Principal": {"AWS": users},
                           "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*", "Condition": through_storage})
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def _log_bucket_policy(partition: str, account: str, logs: str, sources: list[str]) -> str:
    """TLS only, and the S3 logging service may write the given buckets' logs, for this account only."""
    document = json.loads(_tls_only_policy(f"arn:{partition}:s3:::{logs}"))
    document["Statement"].append({
        "Sid": "S3ServerAccessLogs", "Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject", "Resource": f"arn:{partition}:s3:::{logs}/*",
        "Condition": {"ArnLike": {"aws:SourceArn": [f"arn:{partition}:s3:::{s}" for s in sources]},
                      "StringEquals": {"aws:SourceAccount": account}},
    })
    return json.dumps(document)


def _tls_only_policy(bucket_arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket_arn, f"{bucket_arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )
