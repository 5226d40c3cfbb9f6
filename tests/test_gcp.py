"""GCP: NIC layouts, provisioning models, storage and the example stacks, checked against Google's discovery
documents (compute.v1 and storage.v1 as google-api-python-client ships them)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from functools import cache
from pathlib import Path

import googleapiclient
import pytest

from gpucluster.policies.harness import evaluate
from gpucluster.sizing import MANAGED_LUSTRE_TIERS, plan_managed_lustre

from .helpers import of_type, one
from .test_node_scripts import SCRIPTS, fake_machine
from .test_preview import preview_stack

TEMPLATE = "gcp:compute/instanceTemplate:InstanceTemplate"
NETWORK = "gcp:compute/network:Network"
DOCS = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents"

GCP = {
    "name": "g", "cloud": "gcp", "region": "us-central1", "zones": ["us-central1-b"],
    # Spot: Google sells A3 Ultra through reservations, Spot and Flex-start, not as plain on-demand VMs.
    "pools": [{"name": "train", "instanceType": "a3-ultragpu-8g", "size": {"max": 2, "desired": 2}, "capacity": {"type": "spot"}}],
    "storage": {"scratch": {}},
    "tags": {"owner": "team", "costCenter": "cc-1", "project": "proj"},
}


def preview_gcp(spec: dict, preview: bool = True):
    from gpucluster.preview.engine import run_program

    from .helpers import PROJECT

    config = {"gcp:region": spec["region"], "gcp:project": "p-1", "gpucluster:cluster": json.dumps(spec)}
    return run_program(str(PROJECT.main), PROJECT.name, "test", config, preview=preview)


def with_pool(**fields) -> dict:
    return {**GCP, "pools": [{**GCP["pools"][0], **fields}]}


@pytest.mark.parametrize(
    "stack, nics",
    [("gcp-a3-mega-spot", ["GVNIC"] * 9), ("gcp-a3-ultra-eu", ["GVNIC"] * 2 + ["MRDMA"] * 8)],
)
def test_every_gpu_nic_is_attached(stack, nics):
    template = one(preview_stack(stack), TEMPLATE).inputs
    assert [i["nicType"] for i in template["networkInterfaces"]] == nics
    assert all("accessConfigs" not in i for i in template["networkInterfaces"]), "no external IPs"


def test_a3_mega_gets_eight_gpu_vpcs_with_gpudirect_mtu():
    networks = of_type(preview_stack("gcp-a3-mega-spot"), NETWORK)
    assert len(networks) == 9 and {n.inputs["mtu"] for n in networks} == {8244}


def test_a3_ultra_gets_one_roce_vpc_with_eight_subnets():
    graph = preview_stack("gcp-a3-ultra-eu")
    rdma = next(n for n in of_type(graph, NETWORK) if n.name.endswith("-rdma"))
    assert rdma.inputs["networkProfile"] == "projects/my-training-project/global/networkProfiles/europe-west4-a-vpc-roce"
    assert len([s for s in of_type(graph, "gcp:compute/subnetwork:Subnetwork") if "-rdma-" in s.name]) == 8
    assert not [f for f in of_type(graph, "gcp:compute/firewall:Firewall") if "rdma" in f.name], "RoCE VPCs take no firewall"
    assert {n.inputs["mtu"] for n in of_type(graph, NETWORK)} == {8896}


def test_firewalls_admit_only_the_clusters_own_ranges():
    for firewall in of_type(preview_stack("gcp-a3-mega-spot"), "gcp:compute/firewall:Firewall"):
        assert firewall.inputs["direction"] == "INGRESS"
        assert "0.0.0.0/0" not in firewall.inputs["sourceRanges"] and len(firewall.inputs["sourceRanges"]) == 1


def test_host_network_has_private_google_access_and_nat():
    graph = preview_stack("gcp-a3-mega-spot")
    host = next(s for s in of_type(graph, "gcp:compute/subnetwork:Subnetwork") if s.name.endswith("-host"))
    assert host.inputs["privateIpGoogleAccess"] is True
    assert one(graph, "gcp:compute/routerNat:RouterNat").inputs["sourceSubnetworkIpRangesToNat"] == "ALL_SUBNETWORKS_ALL_IP_RANGES"


def test_vm_hardening():
    template = one(preview_gcp_stack("gcp-a3-ultra-eu"), TEMPLATE).inputs
    assert template["shieldedInstanceConfig"] == {"enableSecureBoot": True, "enableVtpm": True, "enableIntegrityMonitoring": True}
    assert template["metadata"]["enable-oslogin"] == "TRUE"
    boot = template["disks"][0]
    assert boot["diskType"] == "hyperdisk-balanced" and "kmsKeySelfLink" in boot["diskEncryptionKey"]
    assert template["scheduling"]["onHostMaintenance"] == "TERMINATE"


@pytest.mark.parametrize(
    "capacity, expected",
    [
        ({"type": "spot"}, {"provisioningModel": "SPOT", "instanceTerminationAction": "DELETE", "automaticRestart": False}),
        ({"type": "flex-start", "maxRunHours": 24}, {"provisioningModel": "FLEX_START", "maxRunDuration": {"seconds": 86400}}),
        ({"type": "on-demand"}, {"provisioningModel": "STANDARD", "automaticRestart": True}),
        ({"type": "reservation", "reservationName": "h200-block"}, {"provisioningModel": "STANDARD"}),
    ],
)
def test_provisioning_models(capacity, expected):
    # A3 Mega: sold on demand, unlike A3 Ultra
    machine = {"instanceType": "a3-megagpu-8g"} if capacity["type"] == "on-demand" else {}
    template = one(preview_gcp(with_pool(capacity=capacity, **machine)), TEMPLATE).inputs
    assert expected.items() <= template["scheduling"].items()
    affinity = template["reservationAffinity"]
    if "reservationName" in capacity:
        assert affinity == {"type": "SPECIFIC_RESERVATION", "specificReservation": {
            "key": "compute.googleapis.com/reservation-name", "values": ["h200-block"]}}
    else:
        assert affinity == {"type": "NO_RESERVATION"}


def test_compact_placement_where_gcp_allows_it():
    assert one(preview_gcp(GCP), "gcp:compute/resourcePolicy:ResourcePolicy").inputs["groupPlacementPolicy"] == {"collocation": "COLLOCATED"}
    mega_flex = {**GCP, "pools": [{"name": "train", "instanceType": "a3-megagpu-8g", "size": {"max": 2},
                                   "capacity": {"type": "flex-start"}}]}
    assert of_type(preview_gcp(mega_flex), "gcp:compute/resourcePolicy:ResourcePolicy") == []
    reserved = with_pool(capacity={"type": "reservation", "reservationName": "r"})
    assert of_type(preview_gcp(reserved), "gcp:compute/resourcePolicy:ResourcePolicy") == []


@pytest.mark.parametrize("stack, disks", [("gcp-a3-mega-spot", 16), ("gcp-a3-ultra-eu", 32)])
def test_local_ssd_raid_over_every_disk(stack, disks, tmp_path):
    script = one(preview_gcp_stack(stack), TEMPLATE).inputs["metadata"]["startup-script"]
    assert f'EXPECTED_DISKS="{disks}"' in script and 'DISK_MODEL="nvme_card"' in script
    machine = fake_machine(tmp_path, 0)
    block = Path(machine["SYSFS_ROOT"]) / "block"
    (block / "nvme0n1" / "device" / "model").write_text(f"{'nvme_card-pd':<40}\n")  # the boot persistent disk
    for index in range(1, disks + 1):
        (block / f"nvme{index}n1" / "device").mkdir(parents=True)
        (block / f"nvme{index}n1" / "device" / "model").write_text(f"{'nvme_card':<40}\n")
    env = {**os.environ, **machine, "DRY_RUN": "1", "DISK_MODEL": "nvme_card", "EXPECTED_DISKS": str(disks)}
    out = subprocess.run(["bash", SCRIPTS / "scratch-raid.sh"], env=env, capture_output=True, text=True, check=True).stdout
    create = next(line for line in out.splitlines() if line.startswith("+ mdadm --create"))
    assert f"--raid-devices={disks}" in create and "nvme0n1" not in create and "warning" not in out


def test_spot_vms_get_the_preemption_watcher_checkpointing_to_gcs():
    script = one(preview_gcp_stack("gcp-a3-mega-spot"), TEMPLATE).inputs["metadata"]["startup-script"]
    assert 'CLOUD="gcp"' in script and 'CHECKPOINT_DESTINATION="gs://a3-mega-spot-storage-checkpoints-' in script
    assert "gpucluster-watcher.service" in script
    assert "gpucluster-watcher" not in one(preview_gcp_stack("gcp-a3-ultra-eu"), TEMPLATE).inputs["metadata"]["startup-script"]


def preview_gcp_stack(stack: str):
    """Update mode, so that the startup script, which names the checkpoint bucket, is known."""
    from gpucluster.preview.engine import run_program
    from gpucluster.preview.stackfile import stack_config

    from .helpers import PROJECT

    return run_program(str(PROJECT.main), PROJECT.name, stack, stack_config(PROJECT, stack), preview=False)


def test_buckets():
    eu = {b.name: b.inputs for b in of_type(preview_stack("gcp-a3-ultra-eu"), "gcp:storage/bucket:Bucket")}
    assert {b["location"] for b in eu.values()} == {"EU"}, "EU multi-region under EU residency"
    us = {b.name: b.inputs for b in of_type(preview_stack("gcp-a3-mega-spot"), "gcp:storage/bucket:Bucket")}
    assert {b["location"] for b in us.values()} == {"US-CENTRAL1"}
    for bucket in [*eu.values(), *us.values()]:
        assert bucket["uniformBucketLevelAccess"] is True and bucket["publicAccessPrevention"] == "enforced"
        assert "defaultKmsKeyName" in bucket["encryption"] and bucket["softDeletePolicy"]["retentionDurationSeconds"] == 7 * 86400
    checkpoints = next(b for n, b in us.items() if "checkpoints" in n)
    datasets = next(b for n, b in us.items() if "datasets" in n)
    assert checkpoints["versioning"] == {"enabled": True} and datasets["autoclass"] == {"enabled": True}


def test_gcp_examples_pass_every_mandatory_policy():
    for stack in ("gcp-a3-mega-spot", "gcp-a3-ultra-eu"):
        graph = preview_stack(stack)
        config = {"sovereignty": {"allowed-regions": {"allowedRegions": ["eu"]}}} if stack.endswith("-eu") else {}
        assert not [v for v in evaluate(graph, config) if v.enforcement == "mandatory"], stack


def test_gcp_spot_pool_is_priced_from_the_gcp_price_book():
    from gpucluster.cost import estimate, prices
    from gpucluster.preview.render import as_json

    cost = estimate(as_json(preview_stack("gcp-a3-mega-spot"))["resources"])
    spot = prices.load("gcp").instance("us-central1", "a3-megagpu-8g").spot
    assert cost["pools"]["train"]["hourly"]["max"] == pytest.approx(16 * spot)


# Google's discovery documents -----------------------------------------------------------------------------

@cache
def schemas(api: str) -> dict:
    return json.loads((DOCS / f"{api}.v1.json").read_text())["schemas"]


def compute_enum(schema: str, prop: str) -> set[str]:
    return set(schemas("compute")[schema]["properties"][prop]["enum"])


def documented(api: str, path: list[str], pattern: str) -> set[str]:
    import re

    node = schemas(api)
    for key in path:
        node = node[key]
    return set(re.findall(pattern, node["description"]))


def emitted():
    graphs = [preview_stack("gcp-a3-mega-spot"), preview_stack("gcp-a3-ultra-eu"),
              preview_gcp(with_pool(capacity={"type": "flex-start"})),
              preview_gcp(with_pool(capacity={"type": "reservation", "reservationName": "r"})),
              preview_gcp(with_pool(purpose="inference"))]  # a proactive (rolling) update policy
    return [r for g in graphs for r in g.resources]


def test_compute_values_are_in_the_discovery_document():
    resources = emitted()
    templates = [r.inputs for r in resources if r.type == TEMPLATE]
    groups = [r.inputs for r in resources if r.type == "gcp:compute/instanceGroupManager:InstanceGroupManager"]
    checks = {
        ("Scheduling", "provisioningModel"): {t["scheduling"]["provisioningModel"] for t in templates},
        ("Scheduling", "instanceTerminationAction"): {t["scheduling"].get("instanceTerminationAction") for t in templates} - {None},
        ("Scheduling", "onHostMaintenance"): {t["scheduling"]["onHostMaintenance"] for t in templates},
        ("NetworkInterface", "nicType"): {i["nicType"] for t in templates for i in t["networkInterfaces"]},
        ("ReservationAffinity", "consumeReservationType"): {t["reservationAffinity"]["type"] for t in templates},
        ("ResourcePolicyGroupPlacementPolicy", "collocation"):
            {r.inputs["groupPlacementPolicy"]["collocation"] for r in resources if r.type == "gcp:compute/resourcePolicy:ResourcePolicy"},
        **{("InstanceGroupManagerUpdatePolicy", prop): {g["updatePolicy"][key] for g in groups if key in g["updatePolicy"]}
           for prop, key in (("type", "type"), ("minimalAction", "minimalAction"), ("replacementMethod", "replacementMethod"))},
    }
    for (schema, prop), values in checks.items():
        assert values and values <= compute_enum(schema, prop), (schema, prop, values)
    assert {"SPOT", "FLEX_START", "STANDARD"} <= checks[("Scheduling", "provisioningModel")]
    assert checks[("InstanceGroupManagerUpdatePolicy", "type")] == {"OPPORTUNISTIC", "PROACTIVE"}


def test_storage_values_are_in_the_discovery_document():
    buckets = [r.inputs for r in emitted() if r.type == "gcp:storage/bucket:Bucket"]
    prevention = documented("storage", ["Bucket", "properties", "iamConfiguration", "properties", "publicAccessPrevention"], r"'(\w+)'")
    assert {b["publicAccessPrevention"] for b in buckets} <= prevention == {"inherited", "enforced"}
    # "Type of the action. Currently, only Delete, SetStorageClass, and AbortIncompleteMultipartUpload are supported."
    listed = documented("storage", ["Bucket", "properties", "lifecycle", "properties", "rule", "items", "properties", "action", "properties", "type"],
                        r"only (.+?) are supported")
    actions = {a for a in re.split(r",\s*(?:and\s+)?|\s+and\s+", next(iter(listed)))}
    assert actions == {"Delete", "SetStorageClass", "AbortIncompleteMultipartUpload"}
    emitted_actions = {rule["action"]["type"] for b in buckets for rule in b.get("lifecycleRules", [])}
    assert emitted_actions and emitted_actions <= actions


def test_managed_lustre_through_private_service_access():
    graph = preview_gcp_stack("gcp-a3-ultra-eu")
    instance = one(graph, "gcp:lustre/instance:Instance").inputs
    plan = plan_managed_lustre(0.5 * 1000 * 64)  # 8 VMs x 8 GPUs x 0.5 GB/s
    assert (instance["capacityGib"], instance["perUnitStorageThroughput"]) == (str(plan.capacity_gib), str(plan.per_unit_mbps))
    assert instance["location"] == "europe-west4-a" and instance["kmsKey"].endswith("/cryptoKeys/" + one(graph, "gcp:kms/cryptoKey:CryptoKey").inputs["name"])
    connection = one(graph, "gcp:servicenetworking/connection:Connection").inputs
    assert connection["service"] == "servicenetworking.googleapis.com"
    rule = next(f for f in of_type(graph, "gcp:compute/firewall:Firewall") if f.name.endswith("storage-lustre")).inputs
    assert rule["allows"] == [{"protocol": "tcp", "ports": ["988"]}] and rule["sourceRanges"] == ["10.251.0.0/20"]
    script = one(graph, TEMPLATE).inputs["metadata"]["startup-script"]
    assert 'FSX_DNS="10.251.0.2"' in script and 'FSX_MOUNT_NAME="lustre"' in script and 'FSX_MOUNT="/lustre"' in script


@pytest.mark.parametrize("target", [100, 9_000 * 1000 / 1024 + 1, 64_000, 1_600_000, 3_000_000])
def test_managed_lustre_plan_is_the_smallest_valid_capacity(target):
    plan = plan_managed_lustre(target)
    assert plan.throughput_mbps >= target
    for tier, (minimum, step, threshold, big_step, maximum) in MANAGED_LUSTRE_TIERS.items():
        sizes = [*range(minimum, threshold + 1, step), *range(threshold + big_step, maximum + 1, big_step)]
        feasible = [c for c in sizes if c / 1024 * tier >= target]
        assert not feasible or feasible[0] >= plan.capacity_gib


def test_no_template_asks_for_tier_1_and_no_catalog_type_could_have_it():
    # Compute Engine offers TIER_1 only on N2, N2D, C2, C2D and C3 with 30+ vCPUs (README, "GCP").
    from gpucluster import catalog

    assert not [t.name for t in catalog.load("gcp") if t.name.split("-")[0] in {"n2", "n2d", "c2", "c2d", "c3"}]
    for stack in ("gcp-a3-mega-spot", "gcp-a3-ultra-eu"):
        assert "networkPerformanceConfig" not in one(preview_stack(stack), TEMPLATE).inputs
