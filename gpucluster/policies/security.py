"""Security pack: IMDSv2, private nodes, encryption, locked-down buckets, no open ingress, EFA group scoped to
itself, no wildcard IAM actions, Shielded VM and OS Login on GCP."""

from __future__ import annotations

import json

from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
    Severity,
    StackValidationArgs,
)

from ..graph import GCS_BUCKET, LAUNCH_TEMPLATE
from .common import BUCKET, as_graph, declare

NAME = "gpucluster-security"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
ANYWHERE = ("0.0.0.0/0", "::/0")
FIREWALL = "gcp:compute/firewall:Firewall"


def _imdsv2(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == LAUNCH_TEMPLATE and (args.props.get("metadataOptions") or {}).get("httpTokens") != "required":
        report("allows IMDSv1: set metadataOptions.httpTokens to 'required'")


GCP_VMS = ("gcp:compute/instanceTemplate:InstanceTemplate", "gcp:compute/instance:Instance",
           "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate")


def _no_public_ip(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == LAUNCH_TEMPLATE:
        for interface in args.props.get("networkInterfaces") or []:
            if interface.get("associatePublicIpAddress") != "false":
                report(f"network card {interface.get('networkCardIndex'):g} may get a public IP: set associatePublicIpAddress 'false'")
    elif args.resource_type in GCP_VMS:
        # On GCP a NIC gets an external address exactly when it has an access config.
        for index, interface in enumerate(args.props.get("networkInterfaces") or []):
            if interface.get("accessConfigs") or interface.get("ipv6AccessConfigs"):
                report(f"network interface {index} has an access config, so an external IP: remove accessConfigs")


def _encrypted(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props, kind = args.props, args.resource_type
    if kind == LAUNCH_TEMPLATE:
        for mapping in props.get("blockDeviceMappings") or []:
            ebs = mapping.get("ebs") or {}
            if ebs and ebs.get("encrypted") != "true":
                report(f"volume {mapping.get('deviceName')} is not encrypted")
    elif kind == "aws:ebs/volume:Volume" and not props.get("encrypted"):
        report("the volume is not encrypted")


def _buckets(args: StackValidationArgs, report: ReportViolation) -> None:
    """Each bucket: public access fully blocked, server-side encryption, and a TLS-only policy; a bucket's settings
    are the resources whose `bucket` input comes from it."""
    graph = as_graph(args.resources)
    for bucket in graph.of_type(BUCKET):
        def settings(kind: str) -> list:
            return graph.referrers(bucket, f"aws:s3/{kind}:{kind[0].upper()}{kind[1:]}", "bucket")

        if not any(all(a["inputs"].get(f) for f in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
                   for a in settings("bucketPublicAccessBlock")):
            report("public access is not fully blocked", bucket["urn"])
        if not settings("bucketServerSideEncryptionConfiguration"):
            report("no server-side encryption configuration", bucket["urn"])
        if not any(_denies_plain_http(p["inputs"].get("policy")) for p in settings("bucketPolicy")):
            report("no policy denying requests without TLS (aws:SecureTransport false)", bucket["urn"])
    for bucket in graph.of_type(GCS_BUCKET):  # Cloud Storage serves TLS only and encrypts always
        inputs = bucket["inputs"]
        if inputs.get("publicAccessPrevention") != "enforced":
            report("public access prevention is not enforced (publicAccessPrevention: enforced)", bucket["urn"])
        if inputs.get("uniformBucketLevelAccess") is not True:
            report("object ACLs are on: set uniformBucketLevelAccess so that IAM alone decides", bucket["urn"])


def _denies_plain_http(document: object) -> bool:
    try:
        statements = json.loads(document)["Statement"] if isinstance(document, str) else []
    except (ValueError, KeyError, TypeError):
        return False
    return any(
        s.get("Effect") == "Deny" and (s.get("Condition") or {}).get("Bool", {}).get("aws:SecureTransport") == "false"
        for s in statements
    )


def _no_open_ingress(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props, kind = args.props, args.resource_type
    if kind == FIREWALL and (props.get("direction") or "INGRESS") == "INGRESS" and props.get("allows"):
        opened = sorted(set(props.get("sourceRanges") or []) & set(ANYWHERE))
        if opened and not props.get("disabled"):
            report(f"admits traffic from anywhere ({', '.join(opened)})")
    elif kind == INGRESS and (props.get("cidrIpv4") in ANYWHERE or props.get("cidrIpv6") in ANYWHERE):
        report(f"admits traffic from anywhere ({props.get('cidrIpv4') or props.get('cidrIpv6')})")
    elif kind == SECURITY_GROUP:
        for rule in props.get("ingress") or []:
            if set(rule.get("cidrBlocks") or []) & set(ANYWHERE) or set(rule.get("ipv6CidrBlocks") or []) & set(ANYWHERE):
                report("has an inline ingress rule open to anywhere")


def _efa_self_only(args: StackValidationArgs, report: ReportViolation) -> None:
    """A group with an all-traffic rule to or from itself is an EFA group: it may have no other rules."""
    graph = as_graph(args.resources)
    rules = [*graph.of_type(INGRESS), *graph.of_type(EGRESS)]

    def group_of(rule, prop):
        linked = graph.linked(rule, prop)
        return linked[0]["urn"] if linked else rule["inputs"].get(prop)

    efa_groups = {group_of(r, "securityGroupId") for r in rules
                  if r["inputs"].get("ipProtocol") == "-1" and group_of(r, "referencedSecurityGroupId") == group_of(r, "securityGroupId")}
    for rule in rules:
        group = group_of(rule, "securityGroupId")
        if group in efa_groups and group_of(rule, "referencedSecurityGroupId") != group:
            peer = rule["inputs"].get("cidrIpv4") or rule["inputs"].get("cidrIpv6") or "another security group"
            report(f"the EFA security group also allows {peer}; EFA groups must reference only themselves", rule["urn"])


def _no_wildcards(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in ("aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy"):
        return
    document = args.props.get("policy")
    statements = json.loads(document).get("Statement", []) if isinstance(document, str) else []
    for statement in statements if isinstance(statements, list) else [statements]:
        if statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        wild = [a for a in actions if "*" in a]
        if wild or "NotAction" in statement:
            report(f"statement {statement.get('Sid', '?')} allows wildcard actions {wild or 'NotAction'}")


def _gcp_vm(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in ("gcp:compute/instanceTemplate:InstanceTemplate", "gcp:compute/instance:Instance"):
        return
    shielded = args.props.get("shieldedInstanceConfig") or {}
    off = [k for k in ("enableSecureBoot", "enableVtpm", "enableIntegrityMonitoring") if not shielded.get(k)]
    if off:
        report(f"Shielded VM is not fully on: {off}")
    metadata = args.props.get("metadata") or {}
    if str(metadata.get("enable-oslogin", "")).upper() != "TRUE":
        report("OS Login is off: set metadata enable-oslogin to TRUE")


PRIMITIVE_ROLES = {"roles/owner", "roles/editor", "roles/viewer"}


def _no_primitive_roles(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Grants of GCP's basic roles, on a project, folder, organisation or service account, in any IAM form."""
    kind = args.resource_type
    if not kind.startswith("gcp:") or "/iAM" not in kind:
        return
    if kind.endswith(":IAMPolicy"):
        try:
            bindings = json.loads(args.props.get("policyData") or "{}").get("bindings") or []
        except (ValueError, TypeError, AttributeError):
            return
        roles = {b.get("role") for b in bindings if isinstance(b, dict)}
    else:
        roles = {args.props.get("role")}
    for role in sorted(roles & PRIMITIVE_ROLES):
        report(f"grants the basic role {role}, which spans every service of the project; grant predefined roles instead")


def _policy(name, description, validate, severity, remediation, stack=False):
    return declare(name=name, description=description, validate=validate, severity=severity, remediation=remediation, stack=stack)


POLICIES = [
    _policy("imdsv2-required", "Nodes require IMDSv2 session tokens.", _imdsv2, Severity.HIGH,
            "GpuInstanceGroup sets httpTokens: required; keep it."),
    _policy("no-public-ip-on-gpu-nodes", "No interface of a GPU node gets a public IP (AWS launch templates, GCP templates and instances).", _no_public_ip, Severity.HIGH,
            "Set associatePublicIpAddress 'false' on every launch-template interface; reach nodes with Session Manager."),
    _policy("encrypted-volumes", "Every block volume is encrypted.", _encrypted, Severity.HIGH,
            "Set encrypted on every EBS mapping."),
    _policy("buckets-locked-down", "Buckets block public access, are encrypted, and refuse plain HTTP (S3); enforce public access prevention and uniform access (Cloud Storage).", _buckets,
            Severity.HIGH, "Create buckets through TieredStorage, which adds all three.", stack=True),
    _policy("no-ingress-from-anywhere", "No security group or firewall admits traffic from 0.0.0.0/0 or ::/0.", _no_open_ingress,
            Severity.CRITICAL, "Reference security groups instead of open CIDRs."),
    _policy("efa-group-self-only", "The EFA security group allows traffic only to and from itself.", _efa_self_only,
            Severity.MEDIUM, "Put other traffic on a separate group (ClusterNetwork's nodes group).", stack=True),
    _policy("no-wildcard-iam-actions", "Node IAM policies name their actions; no wildcards.", _no_wildcards,
            Severity.HIGH, "List the actions the node needs (NodeIdentity does)."),
    _policy("no-primitive-roles", "No GCP basic roles (owner, editor, viewer) are granted.", _no_primitive_roles,
            Severity.HIGH, "Grant the predefined roles the workload needs (the node service account gets bucket-level roles)."),
    _policy("gcp-shielded-vm-and-os-login", "GCP VMs run as Shielded VMs with OS Login.", _gcp_vm, Severity.MEDIUM,
            "Enable secure boot, vTPM and integrity monitoring, and set enable-oslogin TRUE."),
]
