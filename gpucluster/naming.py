"""What the components name their resources, built from the cluster and pool names, and the clouds' limits on
those names and on tags. Pure: no Pulumi.

The components name resources with these functions and `gpucluster.limits` checks the same names against
these limits before anything runs, so the check cannot drift from what is deployed. Each function takes its
parent component's name; the program names the cluster component after the spec (`ClusterSpec.name`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

# Pulumi names a resource that is given no name "<logical name>-" plus 7 random characters; x stands for them.
AUTONAME_SUFFIX = "-xxxxxxx"
CHECKPOINT_HOOK = "checkpoint-before-termination"  # AWS lifecycle hook; the node watcher completes it


# Components
def network(cluster: str) -> str:
    return f"{cluster}-net"


def identity(cluster: str) -> str:
    return f"{cluster}-nodes"


def storage(cluster: str) -> str:
    return f"{cluster}-storage"


def eks(cluster: str) -> str:
    return f"{cluster}-eks"


def gke(cluster: str) -> str:
    return f"{cluster}-gke"


def workloads(cluster: str) -> str:
    return f"{cluster}-workloads"


def pool_group(cluster: str, pool: str) -> str:
    return f"{cluster}-{pool}"


def spot_nodes(group: str) -> str:
    """The instance group inside a spot pool's group."""
    return f"{group}-nodes"


# AWS resources
def launch_template(group: str) -> str:
    return f"{group}-lt"


def auto_scaling_group(group: str) -> str:
    return f"{group}-asg"


def signal_queue(group: str) -> str:
    return f"{group}-signals"


def signal_rule(group: str, signal: str) -> str:
    return f"{group}-{signal}"


def placement_group(network: str, pool: str) -> str:
    return f"{network}-{pool}"


def security_group(parent: str, role: str) -> str:
    return f"{parent}-{role}"


def iam_role(identity: str) -> str:
    return f"{identity}-role"


def instance_profile(identity: str) -> str:
    return f"{identity}-profile"


def bucket(storage: str, role: str) -> str:
    """S3 and Cloud Storage buckets: datasets, checkpoints."""
    return f"{storage}-{role}"


# GCP resources
def template_prefix(group: str) -> str:
    return f"{group}-"


def instance_group_manager(group: str) -> str:
    return f"{group}-mig"


def base_instance_name(group: str) -> str:
    """VMs are named after their group (the MIG appends '-' and 4 characters)."""
    return group


def compact_policy(group: str) -> str:
    return f"{group}-compact"


def stack_key(project: str, stack: str, cluster: str) -> str:
    """What makes a cluster's fixed physical names unique: two stacks may use one cluster name."""
    return f"{project}/{stack}/{cluster}"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def service_account_id(cluster: str, key: str) -> str:
    """The cluster's start and a digest of its stack key: at most 30 characters (GCP's limit) and unique per
    project, stack and cluster, as a fixed id must be."""
    return f"{cluster[:21].rstrip('-')}-{_digest(key)}"


def kms_alias(key: str) -> str:
    """The storage key's alias, per project, stack and cluster (KMS allows letters, digits, '/', '_' and '-')."""
    return "alias/gpucluster/" + re.sub(r"[^A-Za-z0-9/_-]", "-", key)


def vpc(network: str, role: str) -> str:
    """A GCP network and its subnetwork: host, host-2, gpu-<i>, rdma, rdma-<i>."""
    return f"{network}-{role}"


def vpc_firewall(vpc: str) -> str:
    return f"{vpc}-internal"


def router(network: str) -> str:
    return f"{network}-router"


def router_nat(network: str) -> str:
    return f"{network}-nat"


def key_ring(storage: str) -> str:
    return f"{storage}-keys"


def crypto_key(storage: str) -> str:
    return f"{storage}-key"


def lustre(storage: str) -> str:
    """The file system's firewall rule (GCP), security group (AWS) and logical name."""
    return f"{storage}-lustre"


def lustre_instance_id(storage: str, key: str) -> str:
    """Unique per project, stack and cluster, as a fixed id must be: the name's start and a digest of the key."""
    return f"{lustre(storage)[:54].rstrip('-')}-{_digest(key)}"


def service_access_range(storage: str) -> str:
    return f"{storage}-psa"


@dataclass(frozen=True)
class Limit:
    """What a cloud allows in one name: `type`'s `prop`, which Pulumi fills in when `autonamed`."""

    label: str
    type: str
    prop: str
    max_length: int
    pattern: str  # the whole name must match
    allowed: str  # the pattern in words
    source: str
    autonamed: bool = True

    def physical(self, name: str) -> str:
        return name + AUTONAME_SUFFIX if self.autonamed else name


_EC2 = "Amazon EC2 API Reference"
_GCE_NAME = dict(
    max_length=63, pattern=r"[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?", allowed="lowercase letters, digits and '-', starting with a letter",
    source="Compute Engine, 'Resource naming convention' (cloud.google.com/compute/docs/naming-resources)",
)

EVENT_RULE = Limit("EventBridge rule", "aws:cloudwatch/eventRule:EventRule", "name", 64, r"[.\-_A-Za-z0-9]+",
                   "letters, digits, '.', '-' and '_'", "Amazon EventBridge API Reference, PutRule: Name")
SQS_QUEUE = Limit("SQS queue", "aws:sqs/queue:Queue", "name", 80, r"[A-Za-z0-9_-]+",
                  "letters, digits, '-' and '_'", "Amazon SQS API Reference, CreateQueue: QueueName")
IAM_ROLE = Limit("IAM role", "aws:iam/role:Role", "name", 64, r"[\w+=,.@-]+",
                 "letters, digits and +=,.@_-", "IAM API Reference, CreateRole: RoleName")
INSTANCE_PROFILE = Limit("IAM instance profile", "aws:iam/instanceProfile:InstanceProfile", "name", 128, r"[\w+=,.@-]+",
                         "letters, digits and +=,.@_-", "IAM API Reference, CreateInstanceProfile: InstanceProfileName")
S3_BUCKET = Limit(
    "S3 bucket", "aws:s3/bucket:Bucket", "bucket", 63, r"(?!xn--|sthree-|amzn-s3-demo-)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]",
    "3-63 lowercase letters, digits, '.' and '-', and must not start with xn--, sthree- or amzn-s3-demo-",
    "Amazon S3 User Guide, 'General purpose bucket naming rules'",
)
LAUNCH_TEMPLATE = Limit("launch template", "aws:ec2/launchTemplate:LaunchTemplate", "name", 128, r"[a-zA-Z0-9().\-/_]{3,}",
                        "3 or more letters, digits and ().-/_", f"{_EC2}, CreateLaunchTemplate: LaunchTemplateName")
AUTO_SCALING_GROUP = Limit(
    "auto scaling group", "aws:autoscaling/group:Group", "name", 255, r"[!-9;-~]+", "printable ASCII except ':'",
    "Amazon EC2 Auto Scaling API Reference, CreateAutoScalingGroup: AutoScalingGroupName",
)
SECURITY_GROUP = Limit("security group", "aws:ec2/securityGroup:SecurityGroup", "name", 255,
                       r"(?!sg-)[a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*]+",
                       "letters, digits, spaces and ._-:/()#,@[]+=&;{}!$*, and must not start with 'sg-'",
                       f"{_EC2}, CreateSecurityGroup: GroupName")
PLACEMENT_GROUP = Limit("placement group", "aws:ec2/placementGroup:PlacementGroup", "name", 255, r"[ -~]+",
                        "ASCII characters", f"{_EC2}, CreatePlacementGroup: GroupName")

GCE_NETWORK = Limit("VPC network", "gcp:compute/network:Network", "name", **_GCE_NAME)
GCE_SUBNETWORK = Limit("subnetwork", "gcp:compute/subnetwork:Subnetwork", "name", **_GCE_NAME)
GCE_FIREWALL = Limit("firewall rule", "gcp:compute/firewall:Firewall", "name", **_GCE_NAME)
GCE_ROUTER = Limit("Cloud Router", "gcp:compute/router:Router", "name", **_GCE_NAME)
GCE_ROUTER_NAT = Limit("Cloud NAT", "gcp:compute/routerNat:RouterNat", "name", **_GCE_NAME)
GCE_ADDRESS = Limit("global address", "gcp:compute/globalAddress:GlobalAddress", "name", **_GCE_NAME)
GCE_RESOURCE_POLICY = Limit("resource policy", "gcp:compute/resourcePolicy:ResourcePolicy", "name", **_GCE_NAME)
GCE_INSTANCE_GROUP = Limit("managed instance group", "gcp:compute/instanceGroupManager:InstanceGroupManager", "name", **_GCE_NAME)
GCE_BASE_INSTANCE_NAME = Limit(
    "base instance name", GCE_INSTANCE_GROUP.type, "baseInstanceName", 58, r"[a-z][-a-z0-9]*",
    "lowercase letters, digits and '-', starting with a letter", "Compute Engine API, InstanceGroupManager: baseInstanceName",
    autonamed=False,
)
# 54, not 37: past 37 characters the provider appends a shorter random suffix, still within GCE's 63 (pulumi_gcp 10.2 docs).
GCE_TEMPLATE_PREFIX = Limit(
    "instance template name prefix", "gcp:compute/instanceTemplate:InstanceTemplate", "namePrefix", 54, r"[a-z][-a-z0-9]*",
    "lowercase letters, digits and '-', starting with a letter",
    "Pulumi GCP provider (Terraform google provider), compute.InstanceTemplate: namePrefix", autonamed=False,
)
SERVICE_ACCOUNT = Limit(
    "service account ID", "gcp:serviceaccount/account:Account", "accountId", 30, r"[a-z][-a-z0-9]{4,28}[a-z0-9]",
    "6-30 lowercase letters, digits and '-'", "IAM API, projects.serviceAccounts.create: accountId", autonamed=False,
)
KMS_KEY_RING = Limit("KMS key ring", "gcp:kms/keyRing:KeyRing", "name", 63, r"[a-zA-Z0-9_-]+",
                     "letters, digits, '_' and '-'", "Cloud KMS API, keyRings.create: keyRingId")
KMS_CRYPTO_KEY = Limit("KMS key", "gcp:kms/cryptoKey:CryptoKey", "name", 63, r"[a-zA-Z0-9_-]+",
                       "letters, digits, '_' and '-'", "Cloud KMS API, cryptoKeys.create: cryptoKeyId")
GCS_BUCKET = Limit(
    "Cloud Storage bucket", "gcp:storage/bucket:Bucket", "name", 63, r"(?!goog)(?!.*g[o0]{2}gle)[a-z0-9][-a-z0-9_.]{1,61}[a-z0-9]",
    "3-63 lowercase letters, digits, '-', '_' and '.', and must not start with 'goog' or contain 'google'",
    "Cloud Storage, 'Bucket names' (cloud.google.com/storage/docs/buckets#naming)",
)
LUSTRE_INSTANCE = Limit(
    "Managed Lustre instance ID", "gcp:lustre/instance:Instance", "instanceId", 63, _GCE_NAME["pattern"], _GCE_NAME["allowed"],
    "Pulumi GCP provider, lustre.Instance: instanceId", autonamed=False,
)

LONGEST_SIGNAL = "interruption"  # the longer of the spot pool's two EventBridge rules (components.aws.spot_pool.SIGNALS)


def cluster_names(cloud: str, cluster: str) -> list[tuple[Limit, str]]:
    """The longest name of each kind built from the cluster name alone, whether or not the spec's options
    create that resource (host-2: A3 Ultra and A4 get a second host network; the longest network role)."""
    if cloud == "aws":
        nodes, store = identity(cluster), storage(cluster)
        return [(SECURITY_GROUP, lustre(store)), (IAM_ROLE, iam_role(nodes)), (INSTANCE_PROFILE, instance_profile(nodes)),
                (S3_BUCKET, bucket(store, "checkpoints"))]
    net, store, host = network(cluster), storage(cluster), vpc(network(cluster), "host-2")
    return [(GCE_NETWORK, host), (GCE_SUBNETWORK, host), (GCE_FIREWALL, vpc_firewall(host)), (GCE_ROUTER, router(net)),
            (GCE_ROUTER_NAT, router_nat(net)), (GCE_ADDRESS, service_access_range(store)),
            (SERVICE_ACCOUNT, service_account_id(cluster, stack_key('project', 'stack', cluster))), (KMS_KEY_RING, key_ring(store)), (KMS_CRYPTO_KEY, crypto_key(store)),
            (GCS_BUCKET, bucket(store, "checkpoints")), (LUSTRE_INSTANCE, lustre_instance_id(store, stack_key('project', 'stack', cluster)))]


def pool_names(cloud: str, cluster: str, pool: str, spot: bool, compact: bool) -> list[tuple[Limit, str]]:
    """The longest name of each kind a pool's resources get: `spot` (AWS) adds the interruption signals,
    `compact` a placement group (AWS) or compact placement policy (GCP)."""
    group = pool_group(cluster, pool)
    if cloud == "aws":
        nodes = spot_nodes(group) if spot else group
        names = [(LAUNCH_TEMPLATE, launch_template(nodes)), (AUTO_SCALING_GROUP, auto_scaling_group(nodes))]
        if spot:
            names += [(SQS_QUEUE, signal_queue(group)), (EVENT_RULE, signal_rule(group, LONGEST_SIGNAL))]
        return names + ([(PLACEMENT_GROUP, placement_group(network(cluster), pool))] if compact else [])
    names = [(GCE_INSTANCE_GROUP, instance_group_manager(group)), (GCE_BASE_INSTANCE_NAME, base_instance_name(group)),
             (GCE_TEMPLATE_PREFIX, template_prefix(group))]
    return names + ([(GCE_RESOURCE_POLICY, compact_policy(group))] if compact else [])


def pool_budget(cloud: str, spot: bool = False, compact: bool = False) -> tuple[int, Limit]:
    """How many characters the cluster and pool names may have together, and the limit that decides it."""
    budgets = [(limit.max_length - len(limit.physical(name)), limit) for limit, name in pool_names(cloud, "", "", spot, compact)]
    return min(budgets, key=lambda budget: budget[0])


def pool_budgets_text() -> str:
    """The budgets in words, for the spec's schema. Other AWS pools allow more than two names of 32 characters."""
    cases = [("an AWS spot pool", pool_budget("aws", spot=True)), ("a GCP pool", pool_budget("gcp")),
             ("a GCP pool with compact placement", pool_budget("gcp", compact=True))]
    return "The cluster and pool names together have at most " + ", ".join(
        f"{budget} characters in {case} ({limit.label} names)" for case, (budget, limit) in cases) + "; other AWS pools, 64"


# Tags (AWS) and labels (GCP): the spec's own, and those the components add to a pool's resources (the most tagged).
SPEC_TAGS = ("owner", "cost-center", "project")  # Tags.as_dict without the extra tags
ADDED_TAGS = {
    "aws": ("Name", "gpucluster:cluster", "gpucluster:pool", "gpucluster:purpose"),
    "gcp": ("gpucluster-cluster", "gpucluster-pool", "gpucluster-purpose"),
}
TAGS_PER_RESOURCE = {
    "aws": (50, "Tagging AWS Resources User Guide, 'Tag naming limits and requirements'"),
    "gcp": (64, "Resource Manager, 'Labels overview: requirements' (cloud.google.com/resource-manager/docs/labels-overview)"),
}
AWS_TAG_PUNCTUATION = " _.:/=+-@"  # besides letters and digits: what IAM, S3 and FSx all take (IAM API Reference, Tag)


def extra_tags_allowed(cloud: str) -> int:
    return TAGS_PER_RESOURCE[cloud][0] - len({*SPEC_TAGS, *ADDED_TAGS[cloud]})


def gke_cluster_name(cluster: str, key: str) -> str:
    """A GKE cluster's name: at most 40 characters (GKE's limit, Cluster.name in the container v1 API), fixed, and
    unique per project, stack and cluster like the other fixed names: the cluster's start and a digest of the key."""
    return f"{cluster[:31].rstrip('-')}-{_digest(key)}"
