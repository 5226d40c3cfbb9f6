"""Security pack: IMDSv2, private nodes, encryption, locked-down buckets, no open ingress, EFA group scoped to
itself, no wildcard IAM actions, Shielded VM and OS Login on GCP, no GCP basic roles, private and encrypted Kubernetes
control planes that keep audit logs. Read by resource type and
links, never by gpucluster's names, so that they hold for any Pulumi program."""

from __future__ import annotations

import ipaddress
import json
import re

from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
    Severity,
    StackValidationArgs,
)

from ..cost.model import EKS_CLUSTER, EKS_NODE_GROUP, GKE_CLUSTER, GKE_NODE_POOL
from ..graph import COMPUTED, GCS_BUCKET, LAUNCH_TEMPLATE
from .common import BUCKET, as_graph, declare, is_set

NAME = "gpucluster-security"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SUBNET = "aws:ec2/subnet:Subnet"
FIREWALL = "gcp:compute/firewall:Firewall"
# Firewall policies (hierarchical, global and regional network policies): one rule per resource, or a list of them.
FIREWALL_POLICY_RULES = ("gcp:compute/firewallPolicyRule:FirewallPolicyRule",
                         "gcp:compute/networkFirewallPolicyRule:NetworkFirewallPolicyRule",
                         "gcp:compute/regionNetworkFirewallPolicyRule:RegionNetworkFirewallPolicyRule")
FIREWALL_POLICIES_WITH_RULES = ("gcp:compute/firewallPolicyWithRules:FirewallPolicyWithRules",
                                "gcp:compute/networkFirewallPolicyWithRules:NetworkFirewallPolicyWithRules",
                                "gcp:compute/regionNetworkFirewallPolicyWithRules:RegionNetworkFirewallPolicyWithRules")


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


def _anywhere(ranges) -> list[str]:
    """The ranges that cover every address: 0.0.0.0/0 and ::/0 however written (0::/0, 0.0.0.0/0.0.0.0 ...)."""
    found = []
    for value in ranges or []:
        try:
            if ipaddress.ip_network(str(value), strict=False).prefixlen == 0:
                found.append(str(value))
        except ValueError:
            continue  # not known yet, or not a range
    return found


def _no_open_ingress(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props, kind = args.props, args.resource_type
    if kind == FIREWALL and (props.get("direction") or "INGRESS") == "INGRESS" and props.get("allows") and not props.get("disabled"):
        opened = _anywhere(props.get("sourceRanges"))
        if opened:
            report(f"admits traffic from anywhere ({', '.join(opened)})")
        elif not any(is_set(props, key) for key in ("sourceRanges", "sourceTags", "sourceServiceAccounts")):
            # An ingress rule with no source applies to 0.0.0.0/0 (gcloud compute firewall-rules create, --source-ranges;
            # hashicorp/terraform-provider-google#6789).
            report("admits traffic from anywhere (no source given, which GCP reads as 0.0.0.0/0)")
    elif kind in FIREWALL_POLICY_RULES or kind in FIREWALL_POLICIES_WITH_RULES:
        rules = [props] if kind in FIREWALL_POLICY_RULES else props.get("rules") or []
        for index, rule in enumerate(rules):
            if (rule.get("direction") or "INGRESS") != "INGRESS" or rule.get("action") != "allow" or rule.get("disabled"):
                continue
            opened = _anywhere((rule.get("match") or {}).get("srcIpRanges"))
            if opened:
                priority = rule.get("priority")  # rules are known by their priority; numbers arrive as doubles
                where = "" if kind in FIREWALL_POLICY_RULES else \
                    f"rule {priority:g} " if isinstance(priority, (int, float)) else f"rule {index} "
                report(f"{where}admits traffic from anywhere ({', '.join(opened)})")
    elif kind == INGRESS and (_anywhere([props.get("cidrIpv4")]) or _anywhere([props.get("cidrIpv6")])):
        report(f"admits traffic from anywhere ({props.get('cidrIpv4') or props.get('cidrIpv6')})")
    elif kind == SECURITY_GROUP:
        for rule in props.get("ingress") or []:
            if _anywhere(rule.get("cidrBlocks")) or _anywhere(rule.get("ipv6CidrBlocks")):
                report("has an inline ingress rule open to anywhere")


def _efa_self_only(args: StackValidationArgs, report: ReportViolation) -> None:
    """A group with an all-traffic rule to or from itself is an EFA group: it may have no other rules."""
    graph = as_graph(args.resources)
    rules = graph.of_type(INGRESS, EGRESS)

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
    if args.resource_type not in GCP_VMS:
        return
    shielded = args.props.get("shieldedInstanceConfig") or {}
    off = [k for k in ("enableSecureBoot", "enableVtpm", "enableIntegrityMonitoring") if not shielded.get(k)]
    if off:
        report(f"Shielded VM is not fully on: {off}")
    metadata = args.props.get("metadata") or {}
    if str(metadata.get("enable-oslogin", "")).upper() != "TRUE":
        report("OS Login is off: set metadata enable-oslogin to TRUE")


PRIMITIVE_ROLES = {"roles/owner", "roles/editor", "roles/viewer"}
SERVICE_ACCOUNT = "gcp:serviceaccount/account:Account"
# Every IAM member, binding and policy of the Google provider, at any level: projects/iAMMember, folder/iAMBinding,
# organizations/iAMPolicy, serviceaccount/iAMMember, storage/bucketIAMMember, bigquery/datasetIamMember ... Not
# IamMemberRemove (it takes a role away), IAMAuditConfig or IAMCustomRole (they grant nothing).
_GRANT = re.compile(r"IAM(Member|Binding|Policy)$", re.IGNORECASE)
# The Compute Engine default service account, which Google grants roles/editor on the project when the Compute
# Engine API is enabled, unless the organisation policy iam.automaticIamGrantsForDefaultServiceAccounts is enforced.
_DEFAULT_COMPUTE_ACCOUNT = re.compile(r"^(\d+-compute@developer\.gserviceaccount\.com|default)$")


def _grants(grant) -> list[tuple[str, list[str]]]:
    """(role, members) pairs that an IAM member, binding or policy grants; roles not known yet are left out."""
    inputs = grant["inputs"]
    if grant["type"].lower().endswith("iampolicy"):
        try:
            bindings = json.loads(inputs.get("policyData") or "{}").get("bindings") or []
        except (ValueError, TypeError, AttributeError):
            return []
        return [(b.get("role"), [m for m in b.get("members") or [] if isinstance(m, str)]) for b in bindings if isinstance(b, dict)]
    members = inputs.get("members") if "members" in inputs else [inputs.get("member")]
    return [(inputs.get("role"), [m for m in members if isinstance(m, str) and m] if isinstance(members, list) else [])]


def _account_email(vm) -> str | None:
    """The address of the service account a VM names; "" when it names none but has a service account block (GCE then
    attaches the Compute Engine default one); None without a block, or while the address is not known."""
    account = vm["inputs"].get("serviceAccount")
    if not isinstance(account, dict):
        return None
    email = account.get("email")
    return email or "" if email != COMPUTED else None


GKE_DEFAULT_ACCOUNT = "default"  # what GKE node configs name when they name no service account


def gke_node_configs(graph) -> list[tuple[dict, str, dict, str]]:
    """Every GKE node configuration that makes VMs, as (resource, what, config, input it is given in): node pools; a
    cluster's default pool while it keeps it, its inline pools, and the nodes that node auto-provisioning or Autopilot
    creates. Shared with the sovereignty pack's key check."""
    found = [(pool, "its nodes", pool["inputs"].get("nodeConfig") or {}, "nodeConfig") for pool in graph.of_type(GKE_NODE_POOL)]
    for cluster in graph.of_type(GKE_CLUSTER):
        inputs = cluster["inputs"]
        autoscaling = inputs.get("clusterAutoscaling") or {}
        provisioned = autoscaling.get("autoProvisioningDefaults") or {}
        if inputs.get("enableAutopilot") is True:
            found.append((cluster, "its Autopilot nodes", provisioned, "clusterAutoscaling"))
            continue
        inline = [p for p in inputs.get("nodePools") or [] if isinstance(p, dict)]
        if not inline and inputs.get("removeDefaultNodePool") is not True:
            found.append((cluster, "the nodes of its default node pool", inputs.get("nodeConfig") or {}, "nodeConfig"))
        found.extend((cluster, f"the nodes of its node pool {p.get('name') or i}", p.get("nodeConfig") or {}, "nodePools") for i, p in enumerate(inline))
        if autoscaling.get("enabled") is True:
            found.append((cluster, "its auto-provisioned nodes", provisioned, "clusterAutoscaling"))
    return found


def _node_accounts(graph) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """The service accounts GCP VMs and GKE nodes run as: by the Account resource their serviceAccount input comes from,
    and by the address they name (an account made elsewhere)."""
    by_urn: dict[str, list[str]] = {}
    by_email: dict[str, list[str]] = {}
    for vm in graph.of_type(*GCP_VMS):
        for account in graph.linked(vm, "serviceAccount", type_=SERVICE_ACCOUNT):
            by_urn.setdefault(account["urn"], []).append(vm["name"])
        email = _account_email(vm)
        if email:
            by_email.setdefault(email, []).append(vm["name"])
    for resource, _, config, prop in gke_node_configs(graph):
        for account in graph.linked(resource, prop, type_=SERVICE_ACCOUNT):
            by_urn.setdefault(account["urn"], []).append(resource["name"])
        email = config.get("serviceAccount")
        if isinstance(email, str) and email not in (COMPUTED, GKE_DEFAULT_ACCOUNT):
            by_email.setdefault(email, []).append(resource["name"])
    return by_urn, by_email


def _on_default_account(graph, resource, config: dict, prop: str) -> bool:
    """Whether GKE nodes run as the Compute Engine default service account: they name none, or name it (as "default"
    or by its address), and no account of the stack is linked to their config. An address not known yet is not."""
    if graph.linked(resource, prop, type_=SERVICE_ACCOUNT):
        return False
    email = config.get("serviceAccount")
    return email is None or email == "" or (isinstance(email, str) and _DEFAULT_COMPUTE_ACCOUNT.match(email) is not None)


def _grantee(graph, grant, members: list[str], nodes: tuple[dict, dict]) -> str:
    """Who gets the role, as precisely as the graph says: the VMs' own service account (through the member's link
    to the Account, else its address), another service account of the stack, else the members as written."""
    by_urn, by_email = nodes
    accounts = graph.linked(grant, "member", "members", type_=SERVICE_ACCOUNT)
    for account in accounts:
        if account["urn"] in by_urn:
            return f" to the service account the GPU VMs run as ({account['name']}, used by {', '.join(by_urn[account['urn']])})"
    for member in members:
        email = member.removeprefix("serviceAccount:")
        if member.startswith("serviceAccount:") and email in by_email:
            return f" to the service account the GPU VMs run as ({email}, used by {', '.join(by_email[email])})"
    if accounts:
        return f" to the service account {accounts[0]['name']}"
    known = [m for m in members if m != COMPUTED]
    return f" to {', '.join(known)}" if known else ""


def _no_primitive_roles(args: StackValidationArgs, report: ReportViolation) -> None:
    """Grants of GCP's basic roles, in any IAM form at any level, each naming its grantee (the nodes' own service
    account when the links lead there); and GCP VMs that run as the Compute Engine default service account, which
    holds roles/editor by default. A stack policy, for the links from members to service accounts."""
    graph = as_graph(args.resources)
    nodes = _node_accounts(graph)
    for grant in graph.resources:
        kind = grant["type"]
        if not kind.startswith("gcp:") or not _GRANT.search(kind.rsplit(":", 1)[-1]):
            continue
        for role, members in _grants(grant):
            if role in PRIMITIVE_ROLES:
                report(f"grants the basic role {role}{_grantee(graph, grant, members, nodes)}, which spans every service "
                       "of the project; grant predefined roles instead", grant["urn"])
    for vm in graph.of_type(*GCP_VMS):
        email = _account_email(vm)
        if email is not None and (email == "" or _DEFAULT_COMPUTE_ACCOUNT.match(email)):
            report("runs as the Compute Engine default service account, which Google grants roles/editor on the project "
                   "(unless iam.automaticIamGrantsForDefaultServiceAccounts is enforced): give the VMs an account of their own",
                   vm["urn"])
    for resource, what, config, prop in gke_node_configs(graph):
        if _on_default_account(graph, resource, config, prop):
            report(f"{what} run as the Compute Engine default service account, which Google grants roles/editor on the project "
                   "(unless iam.automaticIamGrantsForDefaultServiceAccounts is enforced): set nodeConfig.serviceAccount to "
                   "an account of their own", resource["urn"])


AUDIT_LOG_TYPES = ("api", "audit", "authenticator")  # who called the API, what they did, how they authenticated


def _private_api(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = args.props
    if args.resource_type == EKS_CLUSTER:
        vpc = props.get("vpcConfig") or {}
        if vpc.get("endpointPrivateAccess") is not True:
            report("the API endpoint is not reachable privately: set vpcConfig.endpointPrivateAccess true")
        # EKS opens a public endpoint to 0.0.0.0/0 when public access is on and no CIDRs are given (the API default).
        if vpc.get("endpointPublicAccess") is not False:
            cidrs = vpc.get("publicAccessCidrs") or ["0.0.0.0/0"]
            if open_to := _anywhere(cidrs):
                report(f"the API endpoint is public to {open_to}: turn endpointPublicAccess off, or list publicAccessCidrs")
    elif args.resource_type == GKE_CLUSTER:
        private = props.get("privateClusterConfig") or {}
        ip_endpoints = (props.get("controlPlaneEndpointsConfig") or {}).get("ipEndpointsConfig") or {}
        if private.get("enablePrivateEndpoint") is True or ip_endpoints.get("enabled") is False:
            return  # no public IP endpoint (the DNS endpoint, if any, admits only IAM-authorised callers)
        # Authorised networks on admit only the listed ranges (none listed: no external access at all); off, the public
        # endpoint admits everyone.
        authorised = props.get("masterAuthorizedNetworksConfig")
        cidrs = [n.get("cidrBlock") for n in (authorised.get("cidrBlocks") or [])] if authorised is not None else ["0.0.0.0/0"]
        if open_to := _anywhere(cidrs):
            report(f"the API endpoint is public to {open_to}: enable the private endpoint, or authorise only your networks")
        if authorised is not None and authorised.get("gcpPublicCidrsAccessEnabled") is True:
            report("the API endpoint admits every Google Cloud public IP address, anyone's VMs included: "
                   "set masterAuthorizedNetworksConfig.gcpPublicCidrsAccessEnabled false")


def _primary(interface) -> bool:
    """The interface that carries the instance's IP traffic, the one a public address would go to: card 0, device 0."""
    return not interface.get("networkCardIndex") and not interface.get("deviceIndex")


def _nodes_private(args: StackValidationArgs, report: ReportViolation) -> None:
    """EKS node groups: the launch template they link to gives no interface a public address, and, unless its primary
    interface turns public addresses off, the subnets they link to do not map public IPs on launch (EKS managed nodes
    follow the subnet's MapPublicIpOnLaunch). GKE: clusters have private nodes by default, and no node pool turns them
    off. A stack policy, for the links."""
    graph = as_graph(args.resources)
    for group in graph.of_type(EKS_NODE_GROUP):
        template = graph.template_of(group)
        interfaces = (template["inputs"].get("networkInterfaces") or []) if template else []
        public = [i for i in interfaces if i.get("associatePublicIpAddress") == "true"]
        if public:
            cards = sorted({int(i.get("networkCardIndex") or 0) for i in public})
            report(f"its launch template {template['name']} gives a public IP to the interface(s) on network card(s) {cards}: "
                   "set associatePublicIpAddress 'false'", group["urn"])
            continue
        if any(_primary(i) and i.get("associatePublicIpAddress") == "false" for i in interfaces):
            continue  # the template decides, whatever the subnet maps
        mapping = [s["name"] for s in graph.linked(group, "subnetIds", type_=SUBNET) if s["inputs"].get("mapPublicIpOnLaunch") is True]
        if mapping:
            report(f"its nodes get public IPs: it launches into subnet(s) {mapping}, which map public IPs on launch, and no "
                   "launch template turns that off; use private subnets, or a template whose primary interface sets "
                   "associatePublicIpAddress 'false'", group["urn"])
    clusters = graph.of_type(GKE_CLUSTER)
    private_by_default = {c["urn"]: (c["inputs"].get("privateClusterConfig") or {}).get("enablePrivateNodes") is True for c in clusters}
    for pool in graph.of_type(GKE_NODE_POOL):
        if (pool["inputs"].get("networkConfig") or {}).get("enablePrivateNodes") is False:
            report("its nodes get public IPs: networkConfig.enablePrivateNodes is false", pool["urn"])
    for cluster in clusters:
        inputs = cluster["inputs"]
        if private_by_default[cluster["urn"]]:
            for index, inline in enumerate(inputs.get("nodePools") or []):
                if (inline.get("networkConfig") or {}).get("enablePrivateNodes") is False:
                    report(f"node pool {inline.get('name') or index} gets public IPs: networkConfig.enablePrivateNodes is false", cluster["urn"])
            continue
        pools = graph.referrers(cluster, GKE_NODE_POOL, "cluster")
        inherited = [p["name"] for p in pools if (p["inputs"].get("networkConfig") or {}).get("enablePrivateNodes") not in (True, False)]
        own_nodes = inputs.get("enableAutopilot") is True or inputs.get("removeDefaultNodePool") is not True \
            or any((p.get("networkConfig") or {}).get("enablePrivateNodes") is not True for p in inputs.get("nodePools") or [])
        if own_nodes or inherited:
            who = f" (node pools {inherited} inherit it)" if inherited else ""
            report(f"nodes get public IPs{who}: set privateClusterConfig.enablePrivateNodes true", cluster["urn"])


def _secrets_encrypted(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props = args.props
    if args.resource_type == EKS_CLUSTER:
        configs = props.get("encryptionConfig")
        configs = configs if isinstance(configs, list) else [configs] if configs else []
        if not any("secrets" in (c.get("resources") or []) and is_set(c.get("provider") or {}, "keyArn") for c in configs):
            report("Kubernetes secrets are not envelope-encrypted: set encryptionConfig {resources: [secrets], provider.keyArn}")
    elif args.resource_type == GKE_CLUSTER:
        encryption = props.get("databaseEncryption") or {}
        if encryption.get("state") != "ENCRYPTED" or not is_set(encryption, "keyName"):
            report("Kubernetes secrets are not encrypted with a key of yours: set databaseEncryption {state: ENCRYPTED, keyName}")


def _audit_logs(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == EKS_CLUSTER:
        missing = [t for t in AUDIT_LOG_TYPES if t not in (args.props.get("enabledClusterLogTypes") or [])]
        if missing:
            report(f"control-plane logs {missing} are off: add them to enabledClusterLogTypes")


# Namespaces whose pods may run privileged: the NVIDIA operators' (drivers, device plugins) and the system's.
PRIVILEGED_NAMESPACES = ("gpu-operator", "nvidia-network-operator", "kube-system")
# Charts whose pods need the privileged Pod Security level in their namespace (their install guides label it so).
PRIVILEGED_CHARTS = ("gpu-operator", "network-operator")
PSA_ENFORCE = "pod-security.kubernetes.io/enforce"
_WORKLOADS = {f"kubernetes:{kind}": path for kind, path in {
    "core/v1:Pod": ("spec",), "apps/v1:DaemonSet": ("spec", "template", "spec"),
    "apps/v1:Deployment": ("spec", "template", "spec"), "apps/v1:StatefulSet": ("spec", "template", "spec"),
    "apps/v1:ReplicaSet": ("spec", "template", "spec"), "batch/v1:Job": ("spec", "template", "spec"),
    "batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec")}.items()}


def _privileged_parts(pod: dict) -> list[str]:
    parts = [key for key in ("hostNetwork", "hostPID", "hostIPC") if pod.get(key) is True]
    for container in [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]:
        if ((container.get("securityContext") or {}).get("privileged")) is True:
            parts.append(f"container {container.get('name')} privileged")
    return parts


def _no_privileged_pods(args: ResourceValidationArgs, report: ReportViolation) -> None:
    path = _WORKLOADS.get(args.resource_type)
    if path is None:
        return
    pod = args.props
    for key in path:
        pod = (pod or {}).get(key) or {}
    namespace = (args.props.get("metadata") or {}).get("namespace") or "default"
    parts = _privileged_parts(pod)
    if parts and namespace not in PRIVILEGED_NAMESPACES:
        report(f"runs {', '.join(parts)} in namespace {namespace}; privileged pods belong in the operators' namespaces "
               f"({', '.join(PRIVILEGED_NAMESPACES)})")


def _pod_security_labels(args: StackValidationArgs, report: ReportViolation) -> None:
    """Every namespace the stack creates states its Pod Security level; the namespace of each NVIDIA operator release
    is created by the stack, on the release's cluster, at the privileged level its pods need."""
    graph = as_graph(args.resources)
    namespaces = graph.of_type("kubernetes:core/v1:Namespace")

    def metadata(resource) -> dict:
        return resource["inputs"].get("metadata") or {}

    for namespace in namespaces:
        if PSA_ENFORCE not in (metadata(namespace).get("labels") or {}):
            report(f"namespace {metadata(namespace).get('name')} sets no {PSA_ENFORCE} label: it gets the cluster's "
                   "default level, whatever that is; state the level", namespace["urn"])
    for release in graph.of_type("kubernetes:helm.sh/v3:Release"):
        if release["inputs"].get("chart") not in PRIVILEGED_CHARTS:
            continue
        name = release["inputs"].get("namespace")
        provider = graph.provider(release)
        levels = {(metadata(n).get("labels") or {}).get(PSA_ENFORCE) for n in namespaces
                  if metadata(n).get("name") == name and graph.provider(n) is provider}
        if "privileged" not in levels:
            report(f"installs {release['inputs'].get('chart')} into namespace {name}, which the stack does not create at "
                   f"{PSA_ENFORCE}: privileged; where the cluster enforces a stricter default, its driver and device "
                   "plugin pods are refused", release["urn"])


def _policy(name, description, validate, severity, remediation, stack=False):
    return declare(name=name, description=description, validate=validate, severity=severity, remediation=remediation, stack=stack)


POLICIES = [
    _policy("imdsv2-required", "Nodes require IMDSv2 session tokens.", _imdsv2, Severity.HIGH,
            "GpuInstanceGroup sets httpTokens: required; keep it."),
    _policy("no-public-ip-on-gpu-nodes", "No interface of a GPU node gets a public IP (AWS launch templates, GCP templates and instances).", _no_public_ip, Severity.HIGH,
            "Set associatePublicIpAddress 'false' on every launch-template interface and give GCP NICs no accessConfigs; reach nodes with Session Manager or IAP."),
    _policy("encrypted-volumes", "Every block volume is encrypted.", _encrypted, Severity.HIGH,
            "Set encrypted on every EBS mapping."),
    _policy("buckets-locked-down", "Buckets block public access, are encrypted, and refuse plain HTTP (S3); enforce public access prevention and uniform access (Cloud Storage).", _buckets,
            Severity.HIGH, "Create buckets through TieredStorage, which adds all three.", stack=True),
    _policy("no-ingress-from-anywhere", "No security group, firewall or firewall-policy rule admits traffic from 0.0.0.0/0 or ::/0.", _no_open_ingress,
            Severity.CRITICAL, "Reference security groups, or the cluster's own ranges, instead of open CIDRs."),
    _policy("efa-group-self-only", "The EFA security group allows traffic only to and from itself.", _efa_self_only,
            Severity.MEDIUM, "Put other traffic on a separate group (ClusterNetwork's nodes group).", stack=True),
    _policy("no-wildcard-iam-actions", "Node IAM policies name their actions; no wildcards.", _no_wildcards,
            Severity.HIGH, "List the actions the node needs (NodeIdentity does)."),
    _policy("no-primitive-roles", "No GCP basic roles (owner, editor, viewer) are granted, and GCP VMs and GKE nodes do not run as the Compute Engine default service account (which holds roles/editor).",
            _no_primitive_roles, Severity.HIGH,
            "Grant the predefined roles the workload needs (the node service account gets bucket-level roles); give VMs and GKE node pools a service account of their own.",
            stack=True),
    _policy("kubernetes-api-private", "A Kubernetes cluster's API endpoint is private or open only to listed networks "
            "(EKS public access CIDRs, GKE authorised networks), never to 0.0.0.0/0.", _private_api, Severity.HIGH,
            "Keep the endpoint private (EksCluster and GkeCluster do unless kubernetes.publicAccessCidrs lists networks)."),
    _policy("kubernetes-nodes-private", "Kubernetes nodes get no public IPs: EKS node groups through their launch templates and "
            "subnets, GKE clusters and node pools through private nodes.", _nodes_private, Severity.HIGH,
            "Launch EKS nodes into private subnets with templates that set associatePublicIpAddress 'false'; set GKE's "
            "privateClusterConfig.enablePrivateNodes (EksCluster and GkeCluster do both).", stack=True),
    _policy("kubernetes-secrets-encrypted", "Kubernetes secrets are envelope-encrypted with a customer-managed key "
            "(EKS encryption config, GKE application-layer secrets encryption).", _secrets_encrypted, Severity.HIGH,
            "EksCluster encrypts secrets with a key of its own; keep it."),
    _policy("kubernetes-audit-logs", "EKS control planes log API calls, audit events and authentication.", _audit_logs,
            Severity.MEDIUM, "Enable the api, audit and authenticator log types (EksCluster enables all five)."),
    _policy("kubernetes-no-privileged-pods", "No pod the stack declares runs privileged or on the host's network, PID or "
            f"IPC namespaces outside the operators' namespaces ({', '.join(PRIVILEGED_NAMESPACES)}).", _no_privileged_pods,
            Severity.HIGH, "Run node agents in the operators' namespaces; give training pods only the capabilities they "
            "need (IPC_LOCK for RDMA)."),
    _policy("kubernetes-pod-security-labels", "Namespaces the stack creates state their Pod Security level, and the NVIDIA "
            "operators' namespaces are created at the privileged level their pods need.", _pod_security_labels,
            Severity.MEDIUM, "GpuWorkloads labels every namespace it creates; create the operators' namespaces with "
            "pod-security.kubernetes.io/enforce: privileged and install the charts into them.", stack=True),
    _policy("gcp-shielded-vm-and-os-login", "GCP VMs run as Shielded VMs with OS Login.", _gcp_vm, Severity.MEDIUM,
            "Enable secure boot, vTPM and integrity monitoring, and set enable-oslogin TRUE."),
]
