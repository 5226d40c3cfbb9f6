"""Sovereignty pack: where resources and data may live, whose keys protect data at rest, and nothing public."""

from __future__ import annotations

from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
    Severity,
    StackValidationArgs,
)

from ..regions import SETS, expand
from ..graph import COMPUTED, GCS_BUCKET, GCS_MULTI_REGIONS
from .common import BUCKET, as_graph, declare, is_set, region_of

NAME = "gpucluster-sovereignty"


def _allowed_regions(args: ResourceValidationArgs, report: ReportViolation) -> None:
    allowed = args.get_config().get("allowedRegions") or []
    if not allowed:
        args.not_applicable("no allowedRegions configured")
    if args.resource_type.startswith("pulumi:"):
        return
    region = region_of(args)
    if region and region not in expand(allowed):
        kind = "the multi-region" if region in GCS_MULTI_REGIONS else ""
        report(f"lands in {kind or ''}{' ' if kind else ''}{region}, outside the allowed {allowed}")


allowed_regions = declare(
    name="allowed-regions",
    description="Every resource lands in an allowed region (its own region argument, else its provider's).",
    validate=_allowed_regions,
    settings={
        "allowedRegions": {"type": "array", "items": {"type": "string"},
                           "description": f"regions, or named sets: {', '.join(SETS)}"}},
    severity=Severity.CRITICAL,
    remediation="Move the stack (spec region and aws:region) into an allowed region, or change residency.",
)


def _data_stays_home(args: StackValidationArgs, report: ReportViolation) -> None:
    graph = as_graph(args.resources)
    owned = {r["inputs"].get("bucket") for r in graph.of_type(BUCKET)}
    for resource in graph.of_type("aws:fsx/dataRepositoryAssociation:DataRepositoryAssociation"):
        # A known path must name a bucket of the stack; one not known yet must come from a bucket of the stack.
        target = str(resource["inputs"].get("dataRepositoryPath", ""))
        if target == COMPUTED:
            foreign = not graph.linked(resource, "dataRepositoryPath", type_=BUCKET)
        else:
            foreign = target.removeprefix("s3://").split("/", 1)[0] not in owned
        if foreign:
            report(f"links the file system to {target}, a bucket this stack does not own, so its region is unchecked", resource["urn"])
    for resource in graph.resources:
        if resource["type"].startswith("aws:s3/bucketReplicationConfig"):
            report("replicates objects out of this bucket; replication copies data to another location", resource["urn"])


data_stays_home = declare(
    stack=True,
    name="no-data-copies-elsewhere",
    description="No replication or data repository link to storage outside the stack.",
    validate=_data_stays_home,
    severity=Severity.HIGH,
    remediation="Link file systems only to the stack's own buckets; remove cross-location replication.",
)


SSE_CONFIG = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
LOGGING = "aws:s3/bucketLogging:BucketLogging"


def _customer_keys(args: StackValidationArgs, report: ReportViolation) -> None:
    """A stack policy, because one exception needs the links: S3 delivers server access logs only to buckets under
    S3-managed keys, so a bucket that a BucketLogging targets may use them."""
    graph = as_graph(args.resources)
    for resource in graph.resources:
        props, kind, urn = resource["inputs"], resource["type"], resource["urn"]
        if kind == SSE_CONFIG:
            bucket = graph.linked(resource, "bucket", type_=BUCKET)
            if bucket and graph.referrers(bucket[0], LOGGING, "targetBucket"):
                continue
            for rule in props.get("rules") or []:
                default = rule.get("applyServerSideEncryptionByDefault") or {}
                # The key's ARN is unknown until it exists; that one is set is what matters here.
                if default.get("sseAlgorithm") not in ("aws:kms", "aws:kms:dsse") or not is_set(default, "kmsMasterKeyId"):
                    report("encrypts with an AWS-owned key; give it a customer-managed KMS key", urn)
        elif kind in ("aws:fsx/lustreFileSystem:LustreFileSystem", "aws:efs/fileSystem:FileSystem") and not is_set(props, "kmsKeyId"):
            report("has no customer-managed kmsKeyId", urn)
        elif kind == "gcp:lustre/instance:Instance" and not is_set(props, "kmsKey"):
            report("has no customer-managed kmsKey", urn)
        elif kind == GCS_BUCKET and not is_set(props.get("encryption") or {}, "defaultKmsKeyName"):
            report("has no customer-managed encryption key (encryption.defaultKmsKeyName)", urn)
        elif kind in GCP_DISK_HOLDERS:
            for index, (disk, prop) in enumerate(_gcp_disks(kind, props)):
                if is_set(disk, "source") and graph.linked(resource, prop, type_=GCP_DISKS):
                    continue  # an existing disk of this stack, attached: its own key is checked on it
                if not is_set(disk.get("diskEncryptionKey") or {}, "kmsKeySelfLink"):
                    report(f"disk {index} has no customer-managed key (diskEncryptionKey.kmsKeySelfLink)", urn)


GCP_DISKS = ("gcp:compute/disk:Disk", "gcp:compute/regionDisk:RegionDisk")
GCP_DISK_HOLDERS = ("gcp:compute/instanceTemplate:InstanceTemplate", "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate",
                    "gcp:compute/instance:Instance", *GCP_DISKS)


def _gcp_disks(kind: str, props) -> list[tuple[dict, str]]:
    """The disks a GCP resource creates or attaches, each with its `diskEncryptionKey` (and `source` when it attaches
    an existing disk), and the input it is given in."""
    if kind in GCP_DISKS:
        return [(props, "diskEncryptionKey")]
    if kind == "gcp:compute/instance:Instance":
        disks = [(props.get("bootDisk") or {}, "bootDisk"), *((d, "attachedDisks") for d in props.get("attachedDisks") or [])]
        return [({"diskEncryptionKey": {"kmsKeySelfLink": disk.get("kmsKeySelfLink")}, "source": disk.get("source")}, prop)
                for disk, prop in disks]  # each names its key directly
    return [(disk, "disks") for disk in props.get("disks") or []]


customer_keys = declare(
    stack=True,
    name="customer-managed-keys",
    description="Buckets, file systems and GCP disks are encrypted with customer-managed keys (S3 access-log buckets excepted: S3 allows them no other).",
    validate=_customer_keys,
    severity=Severity.HIGH,
    remediation="Create the storage through TieredStorage, which uses the cluster's KMS key.",
)


def _nothing_public(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props, kind = args.props, args.resource_type
    if kind == "aws:ec2/launchTemplate:LaunchTemplate":
        public = [int(i.get("networkCardIndex")) for i in props.get("networkInterfaces") or [] if i.get("associatePublicIpAddress") == "true"]
        if public:
            report(f"gives a public IP to the interfaces on network cards {public}")
    elif kind == "aws:ec2/subnet:Subnet" and props.get("mapPublicIpOnLaunch"):
        report("assigns public IPs to everything launched in it")
    elif kind == "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock":
        open_flags = [f for f in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets") if not props.get(f)]
        if open_flags:
            report(f"leaves the bucket open to the public: {open_flags} not set")
    elif kind == "aws:fsx/lustreFileSystem:LustreFileSystem" and props.get("publicAccess"):
        report("is reachable publicly")


nothing_public = declare(
    name="no-public-endpoints",
    description="No public IPs on nodes or subnets, and no publicly reachable buckets.",
    validate=_nothing_public,
    severity=Severity.HIGH,
    remediation="Keep nodes in private subnets (the components do); block all public access on buckets.",
)

POLICIES = [allowed_regions, data_stays_home, customer_keys, nothing_public]
