"""Stable codes of every check: the spec's validation problems and the built-in packs' policy findings.

A code names a check, not a message: messages may be reworded, codes stay, so tests, tools and a stack's
`skipChecks` key on them (as AWS ParallelCluster's validators have a stable type users can suppress). Each code is
`GPC-` and upper-case words joined by `-`, and is registered here once, with a one-line title; README.md's
"Check codes" lists them all (`readme_list`), and a test fails when the list drifts from this registry.
"""

from __future__ import annotations

import re

FORMAT = re.compile(r"^GPC-[A-Z0-9]+(-[A-Z0-9]+)*$")

# Spec checks that refuse the spec.
ERRORS = {
    # Shapes and types, from the spec's schema (gpucluster.problems.schema_code derives them from pydantic's types).
    "GPC-SCHEMA": "a value the spec's schema refuses (other than the cases below)",
    "GPC-SCHEMA-MISSING": "a required key is missing",
    "GPC-SCHEMA-EXTRA": "an unknown key (the message names the near miss and the allowed keys)",
    "GPC-SCHEMA-TYPE": "a value of the wrong type (a string for a number, a list for a mapping, ...)",
    "GPC-SCHEMA-RANGE": "a number outside its range",
    "GPC-SCHEMA-LENGTH": "a list, mapping or string that is too short or too long",
    "GPC-SCHEMA-CHOICE": "a value that is not one of the allowed choices",
    "GPC-SCHEMA-PATTERN": "a string that does not have the required form",
    "GPC-SCHEMA-TIMEZONE": "a timestamp without a time zone (or with one where none belongs)",
    # The spec's own rules on single values and models.
    "GPC-NAME-FORMAT": "a cluster or pool name that is not 1-32 lowercase letters, digits and '-'",
    "GPC-CIDR-FORMAT": "a CIDR that is malformed or has host bits set",
    "GPC-VPC-SIZE": "network.cidr outside /16../24",
    "GPC-SIZE-ORDER": "a pool's size.min above size.max",
    "GPC-SIZE-DESIRED": "a pool's size.desired outside min..max",
    "GPC-CAPACITY-DUPLICATE": "a capacity source listed twice",
    "GPC-CAPACITY-ORDER": "capacity sources in an order an AWS group cannot honour",
    "GPC-CAPACITY-BASE-MISSING": "spot mixed with another source without capacity.onDemandBase",
    "GPC-CAPACITY-BASE-UNUSED": "capacity.onDemandBase where spot does not follow another source",
    "GPC-CAPACITY-BASE-SIZE": "capacity.onDemandBase above size.max",
    "GPC-BLOCK-ALONE": "a capacity block sharing a pool with other sources",
    "GPC-BLOCK-ID": "a capacity block without reservationId",
    "GPC-BLOCK-DATES-UNUSED": "blockStart/blockEnd on a pool that is not a capacity block",
    "GPC-BLOCK-DATES-PAIR": "only one of blockStart and blockEnd",
    "GPC-BLOCK-DATES-ORDER": "blockEnd not after blockStart",
    "GPC-BLOCK-DURATION": "a capacity block duration AWS does not sell",
    "GPC-FLEX-ALONE": "flex-start sharing a pool with other sources",
    "GPC-FLEX-HOURS-UNUSED": "maxRunHours on a pool that is not flex-start",
    "GPC-FLEX-HOURS-RANGE": "maxRunHours outside 10 minutes to 7 days",
    "GPC-RESERVATION-TARGET": "a reservation without exactly one target",
    "GPC-RESERVATION-FIELDS": "reservation fields on a pool without reserved capacity",
    "GPC-SHARED-TARGET": "storage.shared without exactly one throughput target",
    "GPC-TAG-PREFIX": "a tag key with the reserved prefix aws:",
    "GPC-ZONES-REQUIRED": "an aws or gcp cluster without zones",
    "GPC-EXISTING-ZONES": "zones on an existing cluster (cloud kubernetes)",
    "GPC-SITE-REQUIRED": "cloud kubernetes without a site",
    "GPC-SITE-CLOUD": "a site on an aws or gcp cluster",
    # Against the catalog and the cloud.
    "GPC-REGION-UNKNOWN": "a region the cloud does not have",
    "GPC-ZONE-REGION": "a cluster zone that is not a zone of the region",
    "GPC-ZONE-DUPLICATE": "a cluster zone listed twice",
    "GPC-SUBNET-ZONE": "a private subnet for a zone the cluster does not use",
    "GPC-SUBNET-OUTSIDE": "a subnet outside the VPC range",
    "GPC-SUBNET-SIZE": "a subnet smaller than /28",
    "GPC-SUBNET-OVERLAP": "subnets that overlap",
    "GPC-POOL-NAME-DUPLICATE": "two pools with the same name",
    "GPC-TYPE-UNKNOWN": "an instance or node type the catalog does not know",
    "GPC-TYPE-REGION": "an instance type not offered in the region",
    "GPC-POOL-ZONE-UNKNOWN": "a pool zone that is not a cluster zone",
    "GPC-POOL-ZONE-OFFER": "a pool zone that does not offer the pool's type",
    "GPC-ZONES-OFFER": "no cluster zone offers a pool's type",
    "GPC-CHECKPOINT-SHARED": "checkpoints to a shared file system the spec does not have",
    "GPC-FABRIC-UNAVAILABLE": "fabric: on for a type without a high-speed fabric",
    "GPC-FABRIC-ZONES": "a fabric (EFA/RDMA) pool across several zones",
    "GPC-PLACEMENT-UNSUPPORTED": "placement: cluster on a type without cluster placement groups",
    "GPC-PLACEMENT-ZONES": "placement: cluster across several zones",
    "GPC-PLACEMENT-RESERVED": "placement: cluster on reserved capacity without its own placement group",
    "GPC-RESERVED-ZONES": "reserved capacity across several zones",
    "GPC-CAPACITY-OFFER": "a capacity source the type does not offer",
    "GPC-ON-DEMAND-UNOFFERED": "on-demand on a GCP machine type sold only through reservations, spot or flex-start",
    "GPC-IMAGE-REQUIRED": "no imageId on a pool whose type has no default image (FPGA, media, Qualcomm, vGPU, Inf1, Arm GCP)",
    "GPC-NICS-UNKNOWN": "a GCP machine type whose NIC layout Google does not document",
    "GPC-GCP-FALLBACK": "more than one capacity source on a GCP pool",
    "GPC-RESERVATION-CLOUD": "a reservation field of the other cloud",
    "GPC-FLEX-PLACEMENT": "compact placement with flex-start on a GCP series that lacks it",
    "GPC-BLOCK-SIZE": "a capacity block whose min and max differ or are 0",
    "GPC-BLOCK-MAX": "more instances in one capacity block than AWS sells",
    "GPC-ALTERNATES-RESERVED": "alternate types on reserved capacity",
    "GPC-ALTERNATES-LAYOUT": "an alternate type with another fabric layout",
    "GPC-RDMA-ZONES": "GCP RDMA pools in different zones",
    "GPC-LUSTRE-TARGET": "a GCP shared-storage target above the largest Managed Lustre instance",
    "GPC-RESIDENCY-UNKNOWN": "a residency entry that is no region, country code or named set",
    "GPC-GCP-SUBNETS": "per-zone subnets on GCP, whose subnets are regional",
    # Cloud limits on what the components emit (gpucluster.limits).
    "GPC-NAME-INVALID": "a name that makes a resource name the cloud refuses",
    "GPC-NAME-LENGTH": "a name that makes a resource name too long",
    "GPC-TAGS-COUNT": "more tags or labels than a resource takes",
    "GPC-TAG-CHARS": "a character AWS tags do not take",
    "GPC-LABEL-INVALID": "a GCP label key or value GCP refuses",
    "GPC-IMAGE-ID": "an imageId the cloud cannot boot",
    "GPC-USERDATA-SIZE": "a node script above the user-data limit",
    "GPC-POOL-ZONE-DUPLICATE": "a pool zone listed twice",
    # The package's building blocks (components/package): inputs a cluster spec has no field for.
    "GPC-INPUT-MISSING": "a building-block input required by the others given (region, checkpoint bucket, Lustre subnet, GPUs)",
    "GPC-INPUT-MISMATCH": "building-block inputs that do not fit together (subnets per zone or NIC, a spot pool without spot)",
    # Kubernetes node pools (EKS, GKE).
    "GPC-KUBE-CAPACITY": "more than one capacity source on a Kubernetes pool",
    "GPC-KUBE-ACCELERATOR": "a Kubernetes pool of a type without whole GPUs on x86_64",
    "GPC-KUBE-IMAGE": "a custom image on a Kubernetes pool",
    "GPC-KUBE-POOL-NAME": "a pool named like the cluster's own system pool",
    "GPC-KUBE-ROLLOUT": "rollout.strategy manual on a Kubernetes pool",
    "GPC-EKS-ZONES": "an EKS cluster in fewer than two zones",
    "GPC-GKE-ADMINS": "kubernetes.admins on GKE",
    "GPC-GKE-GPU-OPERATOR": "the GPU Operator on GKE",
    "GPC-GKE-LUSTRE-VERSION": "Managed Lustre on GKE before 1.33",
    # Existing clusters (cloud kubernetes, gpucluster.kube.checks).
    "GPC-EXISTING-ONLY": "a field of existing clusters on an aws or gcp cluster",
    "GPC-CLOUD-ONLY": "a field of clusters built here on an existing cluster",
    "GPC-SITE-REGION": "a site region that is not lowercase letters, digits and '-'",
    "GPC-EXISTING-KUBERNETES": "cloud kubernetes without a kubernetes section",
    "GPC-SELECTOR-MISSING": "an existing cluster's pool without nodeSelector",
    "GPC-SELECTOR-DUPLICATE": "two pools with the same nodeSelector",
    "GPC-NODE-SIZE-MISSING": "cpusPerNode or memoryGibPerNode missing where the catalog does not know them",
    "GPC-NODE-SIZE-KNOWN": "cpusPerNode or memoryGibPerNode given where the catalog knows them",
    "GPC-EXISTING-SIZE": "an existing cluster's pool whose min and max differ",
    "GPC-TOPOLOGY-HOSTNAME": "kubernetes.io/hostname listed as a topology level",
    "GPC-TOPOLOGY-DUPLICATE": "a topology level listed twice",
    "GPC-RDMA-NONE": "kubernetes.rdma with no pool that has RDMA NICs",
    "GPC-RDMA-DEVICE-IDS": "RDMA device id selectors that match no compute NIC",
    "GPC-RDMA-LINK-TYPES": "RDMA link type selectors that match no compute port",
    "GPC-RDMA-IF-NAMES": "RDMA interface name selectors that match no compute port",
    "GPC-RDMA-SLOTS": "fewer shared RDMA slots than GPUs per node",
    "GPC-RDMA-VFS": "more virtual functions per port than the NIC allows",
    "GPC-RDMA-PER-RAIL": "per-rail RDMA resources without the ports' interface names",
    "GPC-RDMA-IP-POOL": "an RDMA address range too small for the nodes",
    "GPC-INTERFACES-KNOWN": "interfaces given where the catalog knows them",
    "GPC-INTERFACES-COUNT": "interfaces not one per compute port",
    "GPC-INTERFACES-NEEDED": "interfaces missing where fabric addresses need them",
    "GPC-INTERFACES-MISMATCH": "node types that name the same fabric port differently",
    "GPC-DRIVER-MIXED": "driver auto over node types of which only some have the drivers",
    "GPC-DRIVER-TWICE": "a driver container on nodes whose image has the driver",
    "GPC-DRIVER-OVERRIDE": "chart values that install the GPU driver the host has",
    "GPC-NFD-TWICE": "Node Feature Discovery run more than once",
    "GPC-NFD-NONE": "Node Feature Discovery run by nothing",
    # The stack config around the spec.
    "GPC-PROVIDER-REGION": "a provider region (aws:region, gcp:region) other than the spec's",
    "GPC-PROVIDER-PROJECT": "a GCP stack without gcp:project",
    "GPC-KUBECONFIG-SECRET": "site.kubeconfig stack-secret without the gpucluster:kubeconfig secret",
    # skipChecks itself.
    "GPC-SKIP-UNKNOWN": "skipChecks names a code that is not registered",
    "GPC-SKIP-ERROR": "skipChecks names an error or a policy finding, which cannot be skipped",
    "GPC-SKIP-DUPLICATE": "skipChecks names a code twice",
}

# Advisory spec checks: shown as warnings, and a stack may skip them with a reason (`skipChecks`).
WARNINGS = {
    "GPC-FABRIC-OFF": "fabric: off on a type whose fabric costs nothing extra",
    "GPC-SCRATCH-NO-DISKS": "storage.scratch on a pool whose type has no local disks",
    "GPC-KUBE-CHECKPOINT": "a pool checkpoint on Kubernetes, where it has no effect",
}

# The built-in packs' policies, by pack and CrossGuard name (the names stay: they are the users' config keys).
POLICIES = {
    ("cost", "stack-budget"): ("GPC-COST-BUDGET", "the stack's estimated cost within its budget"),
    ("cost", "everything-priced"): ("GPC-COST-UNPRICED", "every resource priced"),
    ("cost", "gpus-per-pool"): ("GPC-COST-POOL-GPUS", "no pool above the GPU cap"),
    ("cost", "gpus-per-stack"): ("GPC-COST-STACK-GPUS", "the stack under its GPU cap"),
    ("cost", "no-unreserved-on-demand-large-gpus"): ("GPC-COST-ON-DEMAND", "large GPU types not on plain on-demand"),
    ("cost", "training-pools-spot-or-scale-to-zero"): ("GPC-COST-IDLE", "training and dev pools on spot or able to scale to zero"),
    ("cost", "cost-allocation-tags"): ("GPC-COST-TAGS", "the cost-allocation tags on every taggable resource"),
    ("cost", "shared-fs-within-budget"): ("GPC-COST-SHARED-FS", "the shared file system's tier and cost within budget"),
    ("cost", "prices-fresh"): ("GPC-PRICES-STALE", "the prices the estimate uses no older than maxPriceAgeDays"),
    ("sovereignty", "allowed-regions"): ("GPC-SOV-REGION", "every resource in an allowed region"),
    ("sovereignty", "no-data-copies-elsewhere"): ("GPC-SOV-COPIES", "no replication or links to storage outside the stack"),
    ("sovereignty", "customer-managed-keys"): ("GPC-SOV-KEYS", "data encrypted with customer-managed keys"),
    ("sovereignty", "no-public-endpoints"): ("GPC-SOV-PUBLIC", "no public IPs or public buckets"),
    ("security", "imdsv2-required"): ("GPC-SEC-IMDSV2", "nodes require IMDSv2 tokens"),
    ("security", "no-public-ip-on-gpu-nodes"): ("GPC-SEC-NODE-PUBLIC-IP", "no public IP on a GPU node"),
    ("security", "encrypted-volumes"): ("GPC-SEC-VOLUMES", "every block volume encrypted"),
    ("security", "buckets-locked-down"): ("GPC-SEC-BUCKETS", "buckets private, encrypted and TLS-only"),
    ("security", "no-ingress-from-anywhere"): ("GPC-SEC-OPEN-INGRESS", "no ingress from 0.0.0.0/0 or ::/0"),
    ("security", "efa-group-self-only"): ("GPC-SEC-EFA-GROUP", "the EFA security group open only to itself"),
    ("security", "no-wildcard-iam-actions"): ("GPC-SEC-IAM-WILDCARD", "node IAM policies list their actions"),
    ("security", "no-primitive-roles"): ("GPC-SEC-BASIC-ROLES", "no GCP basic roles, no default service account"),
    ("security", "kubernetes-api-private"): ("GPC-SEC-KUBE-API", "the Kubernetes API endpoint private or limited"),
    ("security", "kubernetes-nodes-private"): ("GPC-SEC-KUBE-NODES", "Kubernetes nodes without public IPs"),
    ("security", "kubernetes-secrets-encrypted"): ("GPC-SEC-KUBE-SECRETS", "Kubernetes secrets encrypted with a customer-managed key"),
    ("security", "kubernetes-audit-logs"): ("GPC-SEC-KUBE-AUDIT", "EKS control-plane audit logs on"),
    ("security", "kubernetes-no-privileged-pods"): ("GPC-SEC-KUBE-PRIVILEGED", "no privileged pods outside the operators' namespaces"),
    ("security", "kubernetes-pod-security-labels"): ("GPC-SEC-KUBE-POD-SECURITY", "namespaces state their Pod Security level"),
    ("security", "gcp-shielded-vm-and-os-login"): ("GPC-SEC-GCP-VM", "GCP VMs shielded, with OS Login"),
}

CODES = {**ERRORS, **WARNINGS, **{code: title for code, title in POLICIES.values()}}


def policy_code(pack: str, policy: str) -> str | None:
    """The code of a built-in pack's policy; None for a policy of another pack, whose findings have no code."""
    entry = POLICIES.get((pack, policy))
    return entry[0] if entry else None


BEGIN = "<!-- check-codes:begin -->"
END = "<!-- check-codes:end -->"


def readme_list() -> str:
    """README.md's list of codes, between BEGIN and END."""
    groups = [("Errors: the spec is refused", ERRORS), ("Advisory checks: warnings, which `skipChecks` can skip", WARNINGS),
              ("Policy findings of the built-in packs", {code: f"`{pack}/{name}`: {title}"
                                                          for (pack, name), (code, title) in POLICIES.items()})]
    lines = []
    for heading, codes in groups:
        lines += ["", f"{heading}:", "", "| code | check |", "|---|---|"]
        lines += [f"| `{code}` | {title.replace('|', '&#124;')} |" for code, title in codes.items()]
    return "\n".join(lines) + "\n"
