"""Which changes disrupt running nodes or delete stored data, and when, each with the documentation that says so.

Pulumi-free: reads resources in the preview JSON's shape, with the links of `gpucluster.graph.Graph`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..cost.model import node_group_nodes, node_pool_nodes
from ..graph import Graph, group_nodes

ASG = "aws:autoscaling/group:Group"
EKS_NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
MIG = "gcp:compute/instanceGroupManager:InstanceGroupManager"
GKE_NODE_POOL = "gcp:container/nodePool:NodePool"
GKE_CLUSTER = "gcp:container/cluster:Cluster"

SOURCES = {
    "asg-refresh": "Amazon EC2 Auto Scaling User Guide, 'Use an instance refresh to update instances in an Auto Scaling "
                   "group' (docs.aws.amazon.com/autoscaling/ec2/userguide/asg-instance-refresh.html); Terraform "
                   "aws_autoscaling_group, instance_refresh: a refresh starts only when the block is configured",
    "eks-update": "Amazon EKS User Guide, 'Update a managed node group for your cluster' and 'Understand each phase of "
                  "node updates' (docs.aws.amazon.com/eks/latest/userguide/managed-node-update-behavior.html)",
    "mig-update": "Compute Engine, 'Apply VM configuration updates in a MIG': PROACTIVE updates now, OPPORTUNISTIC only "
                  "when a VM is recreated (cloud.google.com/compute/docs/instance-groups/updating-migs)",
    "gke-update": "GKE, 'Node pool upgrade strategies' and 'Update node pool attributes': changing node configuration "
                  "recreates the nodes with the pool's upgrade strategy (cloud.google.com/kubernetes-engine/docs/"
                  "concepts/node-pool-upgrade-strategies)",
    "s3-delete": "Amazon S3 API Reference, DeleteBucket: every object and object version must be deleted first; Terraform "
                 "aws_s3_bucket, force_destroy deletes them",
    "gcs-delete": "Cloud Storage, 'Delete buckets': a bucket must be empty; Terraform google_storage_bucket, force_destroy "
                  "deletes its objects",
    "fsx-delete": "Amazon FSx for Lustre User Guide, 'Deleting a file system': its data is deleted; a final backup only "
                  "when not skipped (Terraform aws_fsx_lustre_file_system, skip_final_backup)",
    "lustre-delete": "Google Cloud Managed Lustre, 'Delete an instance': the instance and its data are deleted",
    "volume-delete": "Deleting a block volume deletes its data (Amazon EBS DeleteVolume; Compute Engine disks.delete)",
    "kms-delete": "AWS KMS Developer Guide, 'Deleting AWS KMS keys': after the waiting period (7 to 30 days), data "
                  "encrypted under the key cannot be decrypted; Terraform aws_kms_key, deletion_window_in_days",
    "gcp-kms-delete": "Terraform google_kms_crypto_key: a key cannot be deleted, so destroying it destroys every key "
                      "version, and with them the data encrypted under them",
    "pvc-delete": "Kubernetes, 'Persistent Volumes', Reclaiming: a Delete reclaim policy (the default for dynamically "
                  "provisioned volumes) deletes the volume with its claim",
    "retain": "Pulumi resource option retainOnDelete: the resource is left in the cloud when Pulumi deletes it",
    "protect": "Pulumi resource option protect: the engine refuses to delete a protected resource",
}


SEVERITY = ("data-loss", "blocked", "orphan", "replace", "rollout")  # the order a reviewer should read them in


@dataclass(frozen=True)
class Flag:
    kind: str  # one of SEVERITY
    message: str
    source: str | None = None
    when: str | None = None  # now | later, for rollouts

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in (("kind", self.kind), ("when", self.when), ("message", self.message),
                                  ("source", self.source)) if v is not None}


# Types that hold data: what deleting one loses, and the source.
_DATA = {
    "aws:s3/bucket:Bucket": ("the bucket's objects", "s3-delete"),
    "aws:s3/bucketV2:BucketV2": ("the bucket's objects", "s3-delete"),
    "gcp:storage/bucket:Bucket": ("the bucket's objects", "gcs-delete"),
    "aws:fsx/lustreFileSystem:LustreFileSystem": ("the file system's data", "fsx-delete"),
    "gcp:lustre/instance:Instance": ("the file system's data", "lustre-delete"),
    "aws:ebs/volume:Volume": ("the volume's data", "volume-delete"),
    "gcp:compute/disk:Disk": ("the disk's data", "volume-delete"),
    "aws:kms/key:Key": ("every object, volume and file system encrypted under it", "kms-delete"),
    "gcp:kms/cryptoKey:CryptoKey": ("every object, disk and file system encrypted under the key", "gcp-kms-delete"),
    "kubernetes:core/v1:PersistentVolumeClaim": ("the claimed volume's data, unless its reclaim policy is Retain",
                                                 "pvc-delete"),
}


def running_nodes(graph: Graph, resource: Mapping[str, Any]) -> dict[str, int] | None:
    """A node group's nodes at min, desired and max; None for a resource that runs no nodes (or an unknown count)."""
    inputs, type_ = resource["inputs"], resource["type"]
    template = graph.template_of(resource)
    if type_ == ASG:
        return group_nodes(inputs, template["inputs"] if template else None).nodes
    if type_ == EKS_NODE_GROUP:
        return node_group_nodes(inputs, template["inputs"] if template else None).nodes or None
    if type_ == GKE_NODE_POOL:
        clusters = graph.linked(resource, "cluster", type_=GKE_CLUSTER)
        return node_pool_nodes(inputs, clusters[0]["inputs"] if clusters else None).nodes or None
    if type_ == MIG and isinstance(inputs.get("targetSize"), (int, float)):
        size = int(inputs["targetSize"])
        return {"min": size, "desired": size, "max": size}
    return None


def _nodes_text(nodes: dict[str, int]) -> str:
    low, high = nodes.get("min", 0), nodes.get("max", 0)
    return f"{low} node(s) always running" if low == high else f"{low} to {high} node(s), {low} always running"


def rollout(graph: Graph, group: Mapping[str, Any], why: str) -> Flag | None:
    """How a change to what `group` launches reaches its running nodes: now or later, by the group's own settings."""
    nodes = running_nodes(graph, group)
    if nodes is not None and not nodes.get("max"):
        return None  # a group that runs no nodes has nothing to roll
    inputs, type_ = group["inputs"], group["type"]
    count = _nodes_text(nodes) if nodes else "node count not known offline"
    if type_ == ASG:
        refresh = inputs.get("instanceRefresh")
        if refresh:
            prefs = refresh.get("preferences") or {}
            healthy = prefs.get("minHealthyPercentage", 90)
            return Flag("rollout", f"{why}: an instance refresh replaces the running nodes now ({count}; "
                        f"{refresh.get('strategy', 'Rolling')}, at least {healthy}% kept healthy)", SOURCES["asg-refresh"], "now")
        return Flag("rollout", f"{why}: running nodes keep the old configuration and are not replaced; nodes launched "
                    f"from now on (scale-out, spot or health replacements) get the new one ({count}); configure an "
                    "instance refresh to roll them", SOURCES["asg-refresh"], "later")
    if type_ == EKS_NODE_GROUP:
        update = inputs.get("updateConfig") or {}
        pace = (f"{update['maxUnavailablePercentage']}% at a time" if "maxUnavailablePercentage" in update
                else f"{update.get('maxUnavailable', 1)} at a time")
        return Flag("rollout", f"{why}: EKS drains and replaces the nodes now ({count}; {pace})", SOURCES["eks-update"], "now")
    if type_ == MIG:
        policy = inputs.get("updatePolicy") or {}
        if policy.get("type") == "PROACTIVE":
            return Flag("rollout", f"{why}: the group {policy.get('minimalAction', 'REPLACE').lower()}s its VMs now ({count}; "
                        f"max surge {policy.get('maxSurgeFixed', 'default')}, max unavailable "
                        f"{policy.get('maxUnavailableFixed', 'default')})", SOURCES["mig-update"], "now")
        return Flag("rollout", f"{why}: opportunistic update policy, so running VMs keep the old template until they are "
                    f"recreated (autohealing, resize, or a manual update) ({count})", SOURCES["mig-update"], "later")
    if type_ == GKE_NODE_POOL:
        upgrade = inputs.get("upgradeSettings") or {}
        return Flag("rollout", f"{why}: GKE recreates the nodes now ({count}; {upgrade.get('strategy', 'SURGE').lower()}, "
                    f"max surge {upgrade.get('maxSurge', 1)}, max unavailable {upgrade.get('maxUnavailable', 0)})",
                    SOURCES["gke-update"], "now")
    return None


# Inputs of a node group that change what its nodes run: an update to them rolls the nodes.
LAUNCH_INPUTS = {
    ASG: ("launchTemplate", "mixedInstancesPolicy"),
    EKS_NODE_GROUP: ("launchTemplate", "releaseVersion", "version", "amiType"),
    MIG: ("versions",),
    GKE_NODE_POOL: ("nodeConfig", "version"),
}


def data_loss(resource: Mapping[str, Any], verb: str, options: Mapping[str, Any]) -> list[Flag]:
    """What deleting (or replacing) a data-holding resource loses, with its options taken into account."""
    held = _DATA.get(resource["type"])
    if held is None:
        return []
    what, source = held
    if options.get("retainOnDelete"):
        return [Flag("orphan", f"{verb}: retainOnDelete leaves it in the cloud with {what}, no longer managed "
                     "(and still billed)", SOURCES["retain"])]
    inputs = resource["inputs"]
    if resource["type"] in ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2", "gcp:storage/bucket:Bucket"):
        if inputs.get("forceDestroy"):
            return [Flag("data-loss", f"{verb}: forceDestroy deletes {what}", SOURCES[source])]
        return [Flag("data-loss", f"{verb}: fails while the bucket holds objects (forceDestroy is off); emptying it "
                     f"to proceed deletes {what}", SOURCES[source])]
    if resource["type"] == "aws:fsx/lustreFileSystem:LustreFileSystem":
        backup = "a final backup is taken" if inputs.get("skipFinalBackup") is False else "no final backup is taken"
        return [Flag("data-loss", f"{verb}: deletes {what} ({backup})", SOURCES[source])]
    if resource["type"] == "aws:kms/key:Key":
        window = inputs.get("deletionWindowInDays", 30)
        return [Flag("data-loss", f"{verb}: the key is scheduled for deletion; after {window} days {what} can no longer "
                     "be decrypted (cancel the deletion within the window to keep it)", SOURCES[source])]
    return [Flag("data-loss", f"{verb}: deletes {what}", SOURCES[source])]
