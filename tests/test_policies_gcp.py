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
