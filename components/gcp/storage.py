"""TieredStorage (GCP): the cluster's customer-managed key, dataset and checkpoint buckets under it, and
(with a throughput target) Managed Lustre reached through Private Service Access.

Local SSD scratch lives on the nodes (startup script).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from gpucluster import naming
from gpucluster.cost.expected_size import expected_size_marker
from gpucluster.sizing import ManagedLustrePlan


@dataclass
class TieredStorageArgs:
    region: str
    bucket_location: str  # a region, or a multi-region such as EU that the residency setting allows
    labels: dict[str, str]
    node_service_account: pulumi.Input[str]
    lustre: ManagedLustrePlan | None = None
    network: pulumi.Input[str] | None = None  # the host VPC, which the file system joins through PSA
    zone: str | None = None
    soft_delete_days: int = 7
    noncurrent_delete_days: int = 30
    usage_log_days: int = 365
    stack_key: str = ""  # project/stack/cluster: what makes the file system's fixed id unique (naming.stack_key)
    expected_tb: dict[str, float] = field(default_factory=dict)  # "datasets"/"checkpoints" -> TB, for cost estimates


class TieredStorage(pulumi.ComponentResource):
    """A KMS key (90-day rotation) the Cloud Storage and Compute Engine service agents may use; buckets with
    uniform access, public access prevention enforced, the key as default, soft delete; datasets under
    Autoclass, checkpoints versioned with old versions deleted."""

    kms_key: pulumi.Output[str]
    dataset_bucket: pulumi.Output[str]
    checkpoint_bucket: pulumi.Output[str]
    lustre_mount_point: pulumi.Output[str] | None  # "IP@tcp:/FILESYSTEM"

    def __init__(self, name: str, args: TieredStorageArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpucluster:gcp:TieredStorage", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ring = gcp.kms.KeyRing(naming.key_ring(name), location=args.region, opts=child)
        key = gcp.kms.CryptoKey(naming.crypto_key(name), key_ring=ring.id, rotation_period=f"{90 * 86400}s",
                                labels=args.labels, opts=child)
        project = gcp.organizations.get_project_output(opts=pulumi.InvokeOutputOptions(parent=self))
        agents = {
            "storage": gcp.storage.get_project_service_account_output(opts=pulumi.InvokeOutputOptions(parent=self)).email_address,
            "compute": project.number.apply(lambda n: f"service-{n}@compute-system.iam.gserviceaccount.com"),
        }
        grants = [
            gcp.kms.CryptoKeyIAMMember(f"{name}-key-{agent}", crypto_key_id=key.id,
                                       role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
                                       member=email.apply(lambda e: f"serviceAccount:{e}"), opts=child)
            for agent, email in agents.items()
        ]
        after_grants = pulumi.ResourceOptions(parent=self, depends_on=grants)
        logs = self._usage_log_bucket(name, args, key, after_grants)
        buckets = {}
        for role, versioned in (("datasets", False), ("checkpoints", True)):
            buckets[role] = gcp.storage.Bucket(
                naming.bucket(name, role),
                location=args.bucket_location,
                uniform_bucket_level_access=True,
                public_access_prevention="enforced",
                encryption={"default_kms_key_name": key.id},
                versioning={"enabled": versioned},
                autoclass={"enabled": True} if role == "datasets" else None,
                lifecycle_rules=[{"action": {"type": "Delete"},
                                  "condition": {"days_since_noncurrent_time": args.noncurrent_delete_days, "with_state": "ARCHIVED"}}]
                if versioned else None,
                soft_delete_policy={"retention_duration_seconds": args.soft_delete_days * 86400},
                logging={"log_bucket": logs.name, "log_object_prefix": role},
                labels={**args.labels, **expected_size_marker("gcp", args.expected_tb.get(role))},  # for the cost estimate
                opts=after_grants,
            )
        gcp.storage.BucketIAMMember(f"{name}-datasets-read", bucket=buckets["datasets"].name, role="roles/storage.objectViewer",
                                    member=pulumi.Output.concat("serviceAccount:", args.node_service_account), opts=child)
        gcp.storage.BucketIAMMember(f"{name}-checkpoints-write", bucket=buckets["checkpoints"].name, role="roles/storage.objectUser",
                                    member=pulumi.Output.concat("serviceAccount:", args.node_service_account), opts=child)
        self.kms_key = key.id
        self.dataset_bucket, self.checkpoint_bucket = buckets["datasets"].name, buckets["checkpoints"].name
        self.lustre_mount_point = self._lustre(name, args, key, grants) if args.lustre else None
        self.register_outputs({"kmsKey": self.kms_key, "datasetBucket": self.dataset_bucket,
                               "checkpointBucket": self.checkpoint_bucket, "lustreMountPoint": self.lustre_mount_point})

    def _usage_log_bucket(self, name: str, args: TieredStorageArgs, key, opts: pulumi.ResourceOptions) -> gcp.storage.Bucket:
        """Usage logs of the data buckets (every request), in a bucket of their own that only Cloud Storage's log
        delivery may write to. Usage logs rather than Data Access audit logs: those are configured per project
        (an IAMAuditConfig), where a cluster would overwrite the organisation's own setting."""
        logs = gcp.storage.Bucket(
            naming.bucket(name, "logs"), location=args.bucket_location, uniform_bucket_level_access=True,
            public_access_prevention="enforced", encryption={"default_kms_key_name": key.id},
            lifecycle_rules=[{"action": {"type": "Delete"}, "condition": {"age": args.usage_log_days}}],
            soft_delete_policy={"retention_duration_seconds": args.soft_delete_days * 86400}, labels=args.labels, opts=opts,
        )
        # Cloud Storage writes usage logs as this group (Cloud Storage, "Usage logs and storage logs").
        gcp.storage.BucketIAMMember(f"{name}-logs-delivery", bucket=logs.name, role="roles/storage.objectCreator",
                                    member="group:cloud-storage-analytics@google.com", opts=pulumi.ResourceOptions(parent=self))
        return logs

    def _lustre(self, name: str, args: TieredStorageArgs, key, grants) -> pulumi.Output[str]:
        """Private Service Access (a peering range and the service networking connection), a firewall rule
        for the Lustre port from that range, then the instance in the pools' zone under the cluster key."""
        child = pulumi.ResourceOptions(parent=self)
        peering = gcp.compute.GlobalAddress(naming.service_access_range(name), purpose="VPC_PEERING", address_type="INTERNAL",
                                            prefix_length=20, network=args.network, opts=child)
        connection = gcp.servicenetworking.Connection(f"{name}-psa", network=args.network,
                                                      service="servicenetworking.googleapis.com",
                                                      reserved_peering_ranges=[peering.name], opts=child)
        gcp.compute.Firewall(
            naming.lustre(name), network=args.network, direction="INGRESS", allows=[{"protocol": "tcp", "ports": ["988"]}],
            source_ranges=[pulumi.Output.concat(peering.address, "/20")],
            description="Managed Lustre: the Lustre port from the service's peering range only", opts=child,
        )
        instance = gcp.lustre.Instance(
            naming.lustre(name),
            instance_id=naming.lustre_instance_id(name, args.stack_key),
            location=args.zone,
            network=args.network,
            filesystem="lustre",
            capacity_gib=str(args.lustre.capacity_gib),
            per_unit_storage_throughput=str(args.lustre.per_unit_mbps),
            kms_key=key.id,
            labels=args.labels,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[connection, *grants]),
        )
        return instance.mount_point
