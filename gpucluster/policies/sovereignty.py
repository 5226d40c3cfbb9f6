"""Sovereignty pack: where resources and data may live, whose keys protect data at rest, and nothing public."""

from __future__ import annotations

import re

from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
    Severity,
    StackValidationArgs,
    proxy,
)

from ..cost.model import EKS_CLUSTER, GKE_CLUSTER, GKE_NODE_POOL
from ..kube.site import is_site_record
from ..regions import SETS, expand
from ..graph import COMPUTED, GCS_BUCKET, GCS_MULTI_REGIONS
from .common import BUCKET, as_graph, declare, is_set, region_of
from .security import gke_node_configs

NAME = "gpucluster-sovereignty"
_CLUSTER_PATH = re.compile(r"^projects/[^/]+/locations/([^/]+)/clusters/[^/]+$")  # a GKE cluster's id
_ZONE = re.compile(r"^([a-z]+-[a-z]+\d+)-[a-z]$")
_UNKNOWN = (COMPUTED, proxy.UNKNOWN_STRING_VALUE)  # as the preview JSON writes an unknown, as the engine sends it


def _known(value) -> bool:
    return isinstance(value, str) and value != "" and value not in _UNKNOWN


def _node_pool_regions(args: ResourceValidationArgs) -> list[str] | None:
    """Where a GKE node pool's nodes are: its own location; else the location in its cluster's id; else the regions of
    its node locations; else, when its cluster is not known yet (a cluster of this stack, checked itself), nowhere to
    check; else (a cluster named bare) its provider's region, as the provider resolves it. Read from the properties'
    target, so that an unknown cluster id does not stop the check."""
    props = args.props
    try:
        props = props["__target"]
    except (KeyError, TypeError):
        pass
    if _known(props.get("location")):
        return None  # the general rule reads it
    cluster = props.get("cluster")
    if _known(cluster) and (path := _CLUSTER_PATH.match(cluster)):
        location = path.group(1)
        return [_ZONE.match(location).group(1) if _ZONE.match(location) else location]
    zones = [z for z in props.get("nodeLocations") or [] if _known(z) and _ZONE.match(z)]
    if zones:
        return sorted({_ZONE.match(z).group(1) for z in zones})
    return [] if cluster in _UNKNOWN else None


def _allowed_regions(args: ResourceValidationArgs, report: ReportViolation) -> None:
    allowed = args.get_config().get("allowedRegions") or []
    if not allowed:
        args.not_applicable("no allowedRegions configured")
    if args.resource_type.startswith("pulumi:"):
        return
    if is_site_record({"type": args.resource_type, "inputs": args.props}):
        data = args.props.get("data") or {}
        region, country = data.get("region"), data.get("country")
        if not ({region, country} & expand(allowed)):
            report(f"the existing cluster's site is in {region} ({country}), outside the allowed {allowed}")
        return
    regions = _node_pool_regions(args) if args.resource_type == GKE_NODE_POOL else None
    for region in regions if regions is not None else [region_of(args)]:
        if region and region not in expand(allowed):
            kind = "the multi-region" if region in GCS_MULTI_REGIONS else ""
            report(f"lands in {kind or ''}{' ' if kind else ''}{region}, outside the allowed {allowed}")


allowed_regions = declare(
    name="allowed-regions",
    description="Every resource lands in an allowed region (its own region argument, else its provider's); an existing "
    "cluster's site, by its region or country (its site record).",
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
        elif kind == EKS_CLUSTER:
            configs = props.get("encryptionConfig")
            configs = configs if isinstance(configs, list) else [configs] if configs else []
            if not any("secrets" in (c.get("resources") or []) and is_set(c.get("provider") or {}, "keyArn") for c in configs):
                report("Kubernetes secrets are encrypted only under keys AWS owns: set encryptionConfig {resources: [secrets], "
                       "provider.keyArn} with a customer-managed KMS key", urn)
        elif kind == GKE_CLUSTER:
            encryption = props.get("databaseEncryption") or {}
            if encryption.get("state") != "ENCRYPTED" or not is_set(encryption, "keyName"):
                report("Kubernetes secrets are encrypted only under Google's keys: set databaseEncryption {state: ENCRYPTED, "
                       "keyName} with a Cloud KMS key", urn)
        elif kind in GCP_DISK_HOLDERS:
            for index, (disk, prop) in enumerate(_gcp_disks(kind, props)):
                if is_set(disk, "source") and graph.linked(resource, prop, type_=GCP_DISKS):
                    continue  # an existing disk of this stack, attached: its own key is checked on it
                if not is_set(disk.get("diskEncryptionKey") or {}, "kmsKeySelfLink"):
                    report(f"disk {index} has no customer-managed key (diskEncryptionKey.kmsKeySelfLink)", urn)
    for resource, what, config, _ in gke_node_configs(graph):  # GKE nodes' boot disks
        if not is_set(config, "bootDiskKmsKey"):
            report(f"the boot disks of {what} have no customer-managed key (bootDiskKmsKey)", resource["urn"])


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
    description="Buckets, file systems, GCP disks (GKE nodes' boot disks included) and Kubernetes secrets (EKS, GKE) are encrypted with customer-managed keys (S3 access-log buckets excepted: S3 allows them no other).",
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
