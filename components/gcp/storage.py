"""TieredStorage (GCP): the cluster's customer-managed key, and dataset and checkpoint buckets under it.

Local SSD scratch lives on the nodes (startup script). A shared Lustre or Filestore tier is not built yet.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp


@dataclass
class TieredStorageArgs:
    region: str
    bucket_location: str  # a region, or a multi-region such as EU that the residency setting allows
    labels: dict[str, str]
    node_service_account: pulumi.Input[str]
    soft_delete_days: int = 7
    noncurrent_delete_days: int = 30


class TieredStorage(pulumi.ComponentResource):
    """A KMS key (90-day rotation) the Cloud Storage and Compute Engine service agents may use; buckets with
    uniform access, public access prevention enforced, the key as default, soft delete; datasets under
    Autoclass, checkpoints versioned with old versions deleted."""

    kms_key: pulumi.Output[str]
    dataset_bucket: pulumi.Output[str]
    checkpoint_bucket: pulumi.Output[str]

    def __init__(self, name: str, args: TieredStorageArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpucluster:gcp:TieredStorage", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ring = gcp.kms.KeyRing(f"{name}-keys", location=args.region, opts=child)
        key = gcp.kms.CryptoKey(f"{name}-key", key_ring=ring.id, rotation_period=f"{90 * 86400}s",
                                labels=args.labels, opts=child)
        project = gcp.organizations.get_project_output()
        agents = {
            "storage": gcp.storage.get_project_service_account_output().email_address,
            "compute": project.number.apply(lambda n: f"service-{n}@compute-system.iam.gserviceaccount.com"),
        }
        grants = [
            gcp.kms.CryptoKeyIAMMember(f"{name}-key-{agent}", crypto_key_id=key.id,
                                       role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
                                       member=email.apply(lambda e: f"serviceAccount:{e}"), opts=child)
            for agent, email in agents.items()
        ]
        after_grants = pulumi.ResourceOptions(parent=self, depends_on=grants)
        buckets = {}
        for role, versioned in (("datasets", False), ("checkpoints", True)):
            buckets[role] = gcp.storage.Bucket(
                f"{name}-{role}",
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
                labels=args.labels,
                opts=after_grants,
            )
        gcp.storage.BucketIAMMember(f"{name}-datasets-read", bucket=buckets["datasets"].name, role="roles/storage.objectViewer",
                                    member=pulumi.Output.concat("serviceAccount:", args.node_service_account), opts=child)
        gcp.storage.BucketIAMMember(f"{name}-checkpoints-write", bucket=buckets["checkpoints"].name, role="roles/storage.objectUser",
                                    member=pulumi.Output.concat("serviceAccount:", args.node_service_account), opts=child)
        self.kms_key = key.id
        self.dataset_bucket, self.checkpoint_bucket = buckets["datasets"].name, buckets["checkpoints"].name
        self.register_outputs({"kmsKey": self.kms_key, "datasetBucket": self.dataset_bucket, "checkpointBucket": self.checkpoint_bucket})
