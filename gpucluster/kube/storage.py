"""Storage in pods: a PersistentVolume and its claim in every team namespace, for the shared file system and each
bucket. Static volumes: the file system and the buckets exist already (the storage components made them), so no
provisioner creates anything and deleting a claim deletes no data (`Retain`).

Values may be Pulumi outputs (ids, addresses); the functions only place them, so they are tested with plain strings.
"""

from __future__ import annotations

from typing import Any

SHARED_CLAIM = "shared-fs"  # the shared file system (FSx for Lustre, Managed Lustre), ReadWriteMany
BUCKET_CLAIMS = {"datasets": "datasets", "checkpoints": "checkpoints"}  # bucket role -> claim (S3 or GCS FUSE CSI)


def _static_volume(team: str, claim: str, capacity: str, csi: dict[str, Any], mount_options: list[str]) -> list[dict]:
    """A volume bound to exactly one claim in `team` (the claimRef), so no other claim can take it."""
    volume_name = f"{team}-{claim}"
    volume = {
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": volume_name, "labels": {"gpucluster.dev/claim": claim}},
        "spec": {
            "capacity": {"storage": capacity},
            "accessModes": ["ReadWriteMany"],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": "",
            "mountOptions": mount_options,
            "claimRef": {"namespace": team, "name": claim},
            "csi": csi,
        },
    }
    claim_object = {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": claim, "namespace": team},
        "spec": {"accessModes": ["ReadWriteMany"], "storageClassName": "", "volumeName": volume_name,
                 "resources": {"requests": {"storage": capacity}}},
    }
    return [volume, claim_object]


def fsx_lustre(team: str, file_system_id: Any, dns_name: Any, mount_name: Any, capacity_gib: int) -> list[dict]:
    """FSx for Lustre through the FSx CSI driver (aws-fsx-csi-driver v1.9.0, examples/kubernetes/static_provisioning)."""
    csi = {"driver": "fsx.csi.aws.com", "volumeHandle": file_system_id,
           "volumeAttributes": {"dnsname": dns_name, "mountname": mount_name}}
    return _static_volume(team, SHARED_CLAIM, f"{capacity_gib}Gi", csi, ["flock"])


def managed_lustre(team: str, project: str, zone: str, instance: Any, ip: Any, filesystem: Any, capacity_gib: int) -> list[dict]:
    """Google Cloud Managed Lustre through GKE's Lustre CSI driver (volumeHandle project/zone/instance)."""
    csi = {"driver": "lustre.csi.storage.gke.io", "volumeHandle": f"{project}/{zone}/{instance}",
           "volumeAttributes": {"ip": ip, "filesystem": filesystem}}
    return _static_volume(team, SHARED_CLAIM, f"{capacity_gib}Gi", csi, [])


# A bucket has no size; a claim must name one. This figure is what the claim says, not a limit.
BUCKET_CAPACITY = "1Pi"


def s3_bucket(team: str, role: str, bucket: Any) -> list[dict]:
    """An S3 bucket through the Mountpoint for Amazon S3 CSI driver (v2). Checkpoints are written (and overwritten, which
    Mountpoint allows only when asked), datasets only read; the driver's role may delete nothing, as the nodes' may not."""
    options = ["allow-overwrite"] if role == "checkpoints" else ["read-only"]
    csi = {"driver": "s3.csi.aws.com", "volumeHandle": f"{team}-{role}", "volumeAttributes": {"bucketName": bucket}}
    return _static_volume(team, BUCKET_CLAIMS[role], BUCKET_CAPACITY, csi, options)


def gcs_bucket(team: str, role: str, bucket: Any) -> list[dict]:
    """A Cloud Storage bucket through the Cloud Storage FUSE CSI driver; pods need the annotation
    `gke-gcsfuse/volumes: "true"` (the job template sets it)."""
    csi = {"driver": "gcsfuse.csi.storage.gke.io", "volumeHandle": bucket, "readOnly": role != "checkpoints"}
    return _static_volume(team, BUCKET_CLAIMS[role], BUCKET_CAPACITY, csi, ["implicit-dirs"])
