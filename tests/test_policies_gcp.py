"""The security and sovereignty packs cover GCP as they cover AWS: on our stacks, and on any Pulumi program's graph."""

from __future__ import annotations

import copy
import json
import textwrap

import pytest

from gpucluster.policies.harness import evaluate
from gpucluster.preview.engine import Registration, run_program

from .test_preview import preview_stack

TEMPLATE = "gcp:compute/instanceTemplate:InstanceTemplate"
FIREWALL = "gcp:compute/firewall:Firewall"
BUCKET = "gcp:storage/bucket:Bucket"


@pytest.fixture(scope="module")
def mega():
    return preview_stack("gcp-a3-mega-spot")


def findings(graph, policy):
    return [v for v in evaluate(graph, {}) if v.policy == policy]


def changed(graph, type_, change, add: list[Registration] = ()):
    graph = copy.deepcopy(graph)
    for reg in graph.resources:
        if reg.type == type_:
            change(reg.inputs)
    graph.resources.extend(add)
    return graph


def test_our_gcp_stack_passes_the_gcp_checks(mega):
    found = {v.policy for v in evaluate(mega, {})}
    assert not found & {"no-public-ip-on-gpu-nodes", "no-ingress-from-anywhere", "buckets-locked-down",
                        "customer-managed-keys", "no-primitive-roles", "gcp-shielded-vm-and-os-login"}


def test_the_shielded_vm_check_runs_at_preview(mega):
    """The template's metadata keys are known at preview, so the check runs instead of being skipped."""
    assert not [v for v in evaluate(mega, {}) if "can't run policy" in v.message]
    shielded_off = changed(mega, TEMPLATE, lambda inputs: inputs["metadata"].update({"enable-oslogin": "FALSE"}))
    assert findings(shielded_off, "gcp-shielded-vm-and-os-login")


def test_external_ips_and_an_open_firewall_are_found(mega):
    """The scenario that changed no finding: external IPs on every NIC and a firewall open to the world."""
    def external(inputs):
        for nic in inputs["networkInterfaces"]:
            nic["accessConfigs"] = [{"networkTier": "PREMIUM"}]

    world = Registration(f"urn:pulumi:{mega.stack}::gpucluster::{FIREWALL}::world", FIREWALL, "world", None, True,
                         {"network": "net", "direction": "INGRESS", "sourceRanges": ["0.0.0.0/0"], "allows": [{"protocol": "tcp", "ports": ["22"]}]})
    graph = changed(mega, TEMPLATE, external, add=[world])
    templates = [r for r in graph.resources if r.type == TEMPLATE]
    public = findings(graph, "no-public-ip-on-gpu-nodes")
    assert {v.resource for v in public} == {t.urn for t in templates}
    assert [v.resource for v in findings(graph, "no-ingress-from-anywhere")] == [world.urn]


def test_a_disabled_or_egress_firewall_is_not_ingress_from_anywhere(mega):
    egress = Registration("urn:pulumi:x::gpucluster::gcp:compute/firewall:Firewall::out", FIREWALL, "out", None, True,
                          {"direction": "EGRESS", "destinationRanges": ["0.0.0.0/0"], "allows": [{"protocol": "all"}]})
    assert findings(changed(mega, TEMPLATE, lambda i: None, add=[egress]), "no-ingress-from-anywhere") == []


def test_buckets_without_prevention_or_uniform_access_are_found(mega):
    def loosen(inputs):
        inputs["publicAccessPrevention"] = "inherited"
        inputs["uniformBucketLevelAccess"] = False

    found = findings(changed(mega, BUCKET, loosen), "buckets-locked-down")
    messages = {v.message for v in found}
    assert any("public access prevention" in m for m in messages) and any("uniformBucketLevelAccess" in m for m in messages)
    assert len({v.resource for v in found}) == len([r for r in mega.resources if r.type == BUCKET])


def test_disks_without_a_customer_key_are_found(mega):
    found = findings(changed(mega, TEMPLATE, lambda inputs: inputs["disks"][0].pop("diskEncryptionKey")), "customer-managed-keys")
    assert found and all("disk 0 has no customer-managed key" in v.message for v in found)


@pytest.mark.parametrize("kind, inputs", [
    ("gcp:projects/iAMMember:IAMMember", {"project": "p", "role": "roles/editor", "member": "serviceAccount:n@p.iam.gserviceaccount.com"}),
    ("gcp:projects/iAMBinding:IAMBinding", {"project": "p", "role": "roles/owner", "members": ["user:a@example.com"]}),
    ("gcp:projects/iAMPolicy:IAMPolicy", {"project": "p", "policyData": json.dumps({"bindings": [{"role": "roles/viewer", "members": ["group:g@example.com"]}]})}),
])
def test_basic_roles_are_found_in_every_iam_form(mega, kind, inputs):
    grant = Registration(f"urn:pulumi:x::gpucluster::{kind}::grant", kind, "grant", None, True, inputs)
    found = findings(changed(mega, TEMPLATE, lambda i: None, add=[grant]), "no-primitive-roles")
    assert [v.resource for v in found] == [grant.urn] and "basic role" in found[0].message
    fine = Registration(grant.urn, kind, "grant", None, True, {**inputs, "role": "roles/storage.objectViewer", "policyData": "{}"})
    assert findings(changed(mega, TEMPLATE, lambda i: None, add=[fine]), "no-primitive-roles") == []


USER_PROGRAM = """
import pulumi
import pulumi_gcp as gcp

net = gcp.compute.Network("net", auto_create_subnetworks=True)
gcp.compute.Firewall("ssh", network=net.id, source_ranges=["0.0.0.0/0"], allows=[{"protocol": "tcp", "ports": ["22"]}])
gcp.compute.InstanceTemplate("vm", machine_type="a3-highgpu-8g",
    disks=[{"boot": True, "source_image": "projects/debian-cloud/global/images/family/debian-12"}],
    network_interfaces=[{"network": net.id, "access_configs": [{}]}])
gcp.storage.Bucket("data", location="US", public_access_prevention="inherited")
gcp.projects.IAMMember("admin", project="p", role="roles/owner", member="user:someone@example.com")
"""


def test_a_program_we_did_not_write_is_checked_too(tmp_path):
    main = tmp_path / "__main__.py"
    main.write_text(textwrap.dedent(USER_PROGRAM))
    graph = run_program(str(main), "user", "dev", {"gcp:project": "p", "gcp:region": "us-central1"})
    found = {(v.policy, v.resource.rsplit("::", 1)[1]) for v in evaluate(graph, {})}
    assert {("no-ingress-from-anywhere", "ssh"), ("no-public-ip-on-gpu-nodes", "vm"), ("buckets-locked-down", "data"),
            ("customer-managed-keys", "vm"), ("customer-managed-keys", "data"), ("no-primitive-roles", "admin"),
            ("gcp-shielded-vm-and-os-login", "vm")} <= found


# ingress: firewall policies, /0 however written, rules without a source -----------------------------------------

def grant_(kind, name, inputs, dependencies=None):
    return Registration(f"urn:pulumi:x::gpucluster::{kind}::{name}", kind, name, None, True, inputs,
                        dependencies=dependencies or {})


@pytest.mark.parametrize("inputs, open_", [
    ({"direction": "INGRESS", "sourceRanges": ["0::/0"], "allows": [{"protocol": "tcp"}]}, True),
    ({"sourceRanges": ["0.0.0.0/0.0.0.0"], "allows": [{"protocol": "tcp"}]}, True),  # direction defaults to INGRESS
    ({"allows": [{"protocol": "tcp", "ports": ["22"]}]}, True),  # no source at all: GCP reads 0.0.0.0/0
    ({"sourceRanges": [], "allows": [{"protocol": "tcp"}]}, True),
    ({"sourceTags": ["bastion"], "allows": [{"protocol": "tcp"}]}, False),
    ({"sourceServiceAccounts": ["a@p.iam.gserviceaccount.com"], "allows": [{"protocol": "tcp"}]}, False),
    ({"sourceRanges": ["0.0.0.0/0"], "denies": [{"protocol": "all"}]}, False),
    ({"sourceRanges": ["0.0.0.0/0"], "allows": [{"protocol": "tcp"}], "disabled": True}, False),
    ({"sourceRanges": ["10.0.0.0/8"], "allows": [{"protocol": "tcp"}]}, False),
])
def test_firewall_sources(mega, inputs, open_):
    rule = grant_(FIREWALL, "fw", {"network": "net", **inputs})
    found = findings(changed(mega, TEMPLATE, lambda i: None, add=[rule]), "no-ingress-from-anywhere")
    assert [v.resource for v in found] == ([rule.urn] if open_ else [])


RULE = "gcp:compute/networkFirewallPolicyRule:NetworkFirewallPolicyRule"
WITH_RULES = "gcp:compute/regionNetworkFirewallPolicyWithRules:RegionNetworkFirewallPolicyWithRules"


def test_firewall_policy_rules_open_to_anywhere_are_found(mega):
    def rule(action="allow", direction="INGRESS", ranges=("0.0.0.0/0",), **extra):
        return {"action": action, "direction": direction, "priority": 1000,
                "match": {"srcIpRanges": list(ranges), "layer4Configs": [{"ipProtocol": "tcp"}]}, **extra}

    open_rule = grant_(RULE, "open", {"firewallPolicy": "fp", **rule()})
    closed = [grant_(RULE, f"closed-{i}", {"firewallPolicy": "fp", **r}) for i, r in enumerate(
        [rule(action="deny"), rule(direction="EGRESS"), rule(ranges=["10.0.0.0/8"]), rule(disabled=True), rule(action="goto_next")])]
    listed = grant_(WITH_RULES, "listed", {"region": "us-central1", "rules": [rule(ranges=["10.0.0.0/8"]), rule(ranges=["::/0"], priority=7)]})
    found = findings(changed(mega, TEMPLATE, lambda i: None, add=[open_rule, *closed, listed]), "no-ingress-from-anywhere")
    assert sorted((v.resource, v.message.splitlines()[-1]) for v in found) == sorted([
        (open_rule.urn, "admits traffic from anywhere (0.0.0.0/0)"), (listed.urn, "rule 7 admits traffic from anywhere (::/0)")])


# basic roles: resolved to the nodes' service account; the default compute account --------------------------------

def test_a_basic_role_on_the_node_service_account_is_named_as_such(mega):
    account = next(r for r in mega.resources if r.type == "gcp:serviceaccount/account:Account")
    template = next(r for r in mega.resources if r.type == TEMPLATE)
    email = template.inputs["serviceAccount"]["email"]
    linked = grant_("gcp:projects/iAMMember:IAMMember", "linked",
                    {"project": "p", "role": "roles/editor", "member": "<computed>"}, {"member": [account.urn]})
    by_address = grant_("gcp:projects/iAMBinding:IAMBinding", "by-address",
                        {"project": "p", "role": "roles/owner", "members": ["user:a@example.com", f"serviceAccount:{email}"]})
    other = grant_("gcp:folder/iAMMember:IAMMember", "other", {"folder": "folders/1", "role": "roles/viewer", "member": "group:g@example.com"})
    found = {v.resource: v.message for v in findings(changed(mega, TEMPLATE, lambda i: None, add=[linked, by_address, other]), "no-primitive-roles")}
    assert set(found) == {linked.urn, by_address.urn, other.urn}
    assert f"roles/editor to the service account the GPU VMs run as ({account.name}, used by {template.name})" in found[linked.urn]
    assert f"roles/owner to the service account the GPU VMs run as ({email}, used by {template.name})" in found[by_address.urn]
    assert "roles/viewer to group:g@example.com" in found[other.urn]


@pytest.mark.parametrize("kind", ["gcp:storage/bucketIAMMember:BucketIAMMember", "gcp:bigquery/datasetIamMember:DatasetIamMember",
                                  "gcp:serviceaccount/iAMMember:IAMMember", "gcp:organizations/iAMMember:IAMMember"])
def test_basic_roles_are_found_at_every_level(mega, kind):
    grant = grant_(kind, "g", {"role": "roles/editor", "member": "user:a@example.com"})
    assert [v.resource for v in findings(changed(mega, TEMPLATE, lambda i: None, add=[grant]), "no-primitive-roles")] == [grant.urn]


def test_removing_a_basic_role_or_configuring_audit_logs_is_no_grant(mega):
    remove = grant_("gcp:projects/iamMemberRemove:IamMemberRemove", "rm",
                    {"project": "p", "role": "roles/editor", "member": "serviceAccount:1-compute@developer.gserviceaccount.com"})
    audit = grant_("gcp:projects/iAMAuditConfig:IAMAuditConfig", "audit", {"project": "p", "service": "allServices", "auditLogConfigs": []})
    assert findings(changed(mega, TEMPLATE, lambda i: None, add=[remove, audit]), "no-primitive-roles") == []


@pytest.mark.parametrize("account, found", [
    ({"email": "123456789-compute@developer.gserviceaccount.com", "scopes": ["cloud-platform"]}, True),
    ({"scopes": ["cloud-platform"]}, True),  # no address: GCE attaches the default account
    ({"email": "nodes@p.iam.gserviceaccount.com", "scopes": ["cloud-platform"]}, False),
    ({"email": "<computed>", "scopes": ["cloud-platform"]}, False),  # not known yet
])
def test_vms_on_the_default_compute_account_are_found(mega, account, found):
    def use(inputs):
        inputs["serviceAccount"] = account

    graph = changed(mega, TEMPLATE, use)
    templates = {r.urn for r in graph.resources if r.type == TEMPLATE}
    flagged = {v.resource for v in findings(graph, "no-primitive-roles")}
    assert flagged == (templates if found else set())


# Shielded VM on regional templates; customer keys on regional and attached disks ------------------------------------

def test_regional_templates_are_checked_like_global_ones(mega):
    template = next(r for r in mega.resources if r.type == TEMPLATE)
    regional = grant_("gcp:compute/regionInstanceTemplate:RegionInstanceTemplate", "regional",
                      {**copy.deepcopy(template.inputs), "region": "us-central1", "shieldedInstanceConfig": {"enableSecureBoot": False}})
    regional.inputs["networkInterfaces"][0]["accessConfigs"] = [{}]
    graph = changed(mega, TEMPLATE, lambda i: None, add=[regional])
    assert [v.resource for v in findings(graph, "gcp-shielded-vm-and-os-login")] == [regional.urn]
    assert [v.resource for v in findings(graph, "no-public-ip-on-gpu-nodes")] == [regional.urn]


def test_disks_and_attachments_need_a_customer_key(mega):
    keyed = grant_("gcp:compute/disk:Disk", "keyed", {"zone": "us-central1-a", "diskEncryptionKey": {"kmsKeySelfLink": "<computed>"}})
    bare = grant_("gcp:compute/regionDisk:RegionDisk", "bare", {"region": "us-central1", "replicaZones": ["us-central1-a", "us-central1-b"]})
    attaches = grant_("gcp:compute/instance:Instance", "attaches", {
        "zone": "us-central1-a", "bootDisk": {"kmsKeySelfLink": "<computed>", "initializeParams": {"image": "debian-12"}},
        "attachedDisks": [{"source": "<computed>"}]}, {"attachedDisks": [keyed.urn]})  # the disk's key is checked on the disk
    foreign = grant_("gcp:compute/instance:Instance", "foreign", {
        "zone": "us-central1-a", "bootDisk": {"initializeParams": {"image": "debian-12"}},
        "attachedDisks": [{"source": "projects/p/zones/us-central1-a/disks/elsewhere"}]})
    found = findings(changed(mega, TEMPLATE, lambda i: None, add=[keyed, bare, attaches, foreign]), "customer-managed-keys")
    assert sorted((v.resource.rsplit("::", 1)[1], v.message.splitlines()[-1].split(" has")[0]) for v in found) == [
        ("bare", "disk 0"), ("foreign", "disk 0"), ("foreign", "disk 1")]


LINKED_PROGRAM = """
import pulumi
import pulumi_gcp as gcp

nodes = gcp.serviceaccount.Account("nodes", account_id="gpu-nodes")
gcp.compute.InstanceTemplate("gpu", machine_type="a3-highgpu-8g",
    disks=[{"boot": True, "source_image": "projects/debian-cloud/global/images/family/debian-12"}],
    network_interfaces=[{"network": "default"}],
    service_account={"email": nodes.email, "scopes": ["cloud-platform"]})
gcp.compute.InstanceTemplate("cpu", machine_type="n2-standard-4",
    disks=[{"boot": True, "source_image": "projects/debian-cloud/global/images/family/debian-12"}],
    network_interfaces=[{"network": "default"}],
    service_account={"scopes": ["cloud-platform"]})
gcp.projects.IAMMember("nodes-editor", project="p", role="roles/editor", member=nodes.email.apply(lambda e: f"serviceAccount:{e}"))
gcp.compute.NetworkFirewallPolicyRule("open", firewall_policy="fp", action="allow", direction="INGRESS", priority=1000,
    match={"src_ip_ranges": ["0.0.0.0/0"], "layer4_configs": [{"ip_protocol": "tcp", "ports": ["22"]}]})
"""


def test_links_in_a_program_we_did_not_write_lead_to_the_nodes_account(tmp_path):
    """The member's address is unknown at preview; the link from it to the Account, and the template's link to the
    same Account, say whose it is."""
    main = tmp_path / "__main__.py"
    main.write_text(textwrap.dedent(LINKED_PROGRAM))
    graph = run_program(str(main), "user", "dev", {"gcp:project": "p", "gcp:region": "us-central1"})
    found = {(v.policy, v.resource.rsplit("::", 1)[1]): v.message for v in evaluate(graph, {})}
    assert "roles/editor to the service account the GPU VMs run as (nodes, used by gpu)" in found["no-primitive-roles", "nodes-editor"]
    assert "default service account" in found["no-primitive-roles", "cpu"]
    assert ("no-primitive-roles", "gpu") not in found
    assert "0.0.0.0/0" in found["no-ingress-from-anywhere", "open"]
