"""The catalog against data nobody here wrote: EC2 DescribeInstanceTypes/Offerings as moto serves them."""

from __future__ import annotations

import re

import boto3
import pytest
from moto import mock_aws

from gpucluster import catalog
from gpucluster.catalog import AwsFabric, GcpFabric

AWS = catalog.load("aws")
GCP = catalog.load("gcp")
REQUIRED_AWS = {
    "p4d.24xlarge", "p4de.24xlarge", "p5.48xlarge", "p5e.48xlarge", "p5en.48xlarge", "p6-b200.48xlarge",
    "p6-b300.48xlarge", "trn1.32xlarge", "trn1n.32xlarge",
    *(f"{family}.{size}" for family in ("g5", "g6", "g6e") for size in ("xlarge", "12xlarge", "48xlarge")),
}
REQUIRED_GCP = {
    "a2-highgpu-8g", "a2-ultragpu-8g", "a3-highgpu-8g", "a3-megagpu-8g", "a3-ultragpu-8g", "a4-highgpu-8g",
    "g2-standard-4", "g2-standard-8", "g2-standard-12", "g2-standard-16", "g2-standard-24", "g2-standard-32",
    "g2-standard-48", "g2-standard-96",
}


def test_catalog_covers_the_required_types():
    assert REQUIRED_AWS <= set(AWS.names())
    assert REQUIRED_GCP <= set(GCP.names())


@pytest.mark.parametrize("entry", [*AWS, *GCP], ids=lambda t: t.name)
def test_every_entry_says_where_its_figures_come_from(entry):
    assert entry.sources, entry.name
    for source in entry.sources:
        assert source.ref and re.match(r"^\d{4}(-\d{2}){0,2}$", source.date), source
    covered = " ".join(s.covers for s in entry.sources)
    for figure in ("vCPUs", "zones") if entry.zones else ("vCPUs",):  # no zones recorded: no source needed for them
        assert figure in covered, f"{entry.name}: no source covers {figure}"
    if entry.accelerator.board_power_w is not None:
        assert "board power" in covered


@pytest.fixture(scope="module")
def ec2_data():
    """DescribeInstanceTypes and zone offerings for every catalog type, answered by moto."""
    with mock_aws():
        client = boto3.client("ec2", region_name="us-east-1")
        pages = client.get_paginator("describe_instance_types").paginate(InstanceTypes=AWS.names())
        types = {t["InstanceType"]: t for page in pages for t in page["InstanceTypes"]}
        offerings = {}
        for region in sorted(AWS.regions()):
            regional = boto3.client("ec2", region_name=region)
            answer = regional.describe_instance_type_offerings(
                LocationType="availability-zone", Filters=[{"Name": "instance-type", "Values": AWS.names()}]
            )
            for offer in answer["InstanceTypeOfferings"]:
                offerings.setdefault(offer["InstanceType"], {}).setdefault(region, set()).add(offer["Location"])
        return types, offerings


def _gbps(performance: str) -> float:
    """'3200 Gigabit' -> 3200, '4x 100 Gigabit' -> 400, 'Up to 10 Gigabit' -> 10."""
    match = re.match(r"^(?:Up to )?(?:(\d+)x )?([\d.]+) Gigabit$", performance)
    assert match, performance
    return float(match.group(1) or 1) * float(match.group(2))


@pytest.mark.parametrize("entry", list(AWS), ids=lambda t: t.name)
def test_aws_entry_matches_describe_instance_types(entry, ec2_data):
    types, _ = ec2_data
    assert entry.name in types, f"{entry.name} is not known to EC2 (moto)"
    ec2 = types[entry.name]
    network = ec2["NetworkInfo"]
    mismatches = []

    def check(what, ours, theirs):
        if ours != theirs:
            mismatches.append(f"{what}: catalog {ours!r}, EC2 {theirs!r}")

    if entry.accelerator.kind == "gpu":
        gpu = ec2["GpuInfo"]["Gpus"][0]
        check("GPU count", entry.accelerator.count, gpu.get("LogicalGpuCount") or gpu["Count"])
        check("GPU share", entry.accelerator.fraction or 1.0, gpu.get("GpuPartitionSize", 1.0))
        check("GPU model", entry.accelerator.model, gpu["Name"])
        check("GPU memory GiB", round(entry.accelerator.memory_gib, 1), round(gpu["MemoryInfo"]["SizeInMiB"] / 1024, 1))
    else:
        block, items = {"trainium": ("NeuronInfo", "NeuronDevices"), "inferentia": ("NeuronInfo", "NeuronDevices"),
                        "inference": ("InferenceAcceleratorInfo", "Accelerators"), "fpga": ("FpgaInfo", "Fpgas"),
                        "media": ("MediaAcceleratorInfo", "Accelerators")}[entry.accelerator.kind]
        device = ec2[block][items][0]
        check(f"{block} device count", entry.accelerator.count, device["Count"])
        check(f"{block} model", entry.accelerator.model, device["Name"])
        check(f"{block} memory GiB", round(entry.accelerator.memory_gib, 1), round(device["MemoryInfo"]["SizeInMiB"] / 1024, 1))
    check("architectures", set(entry.architectures), set(ec2["ProcessorInfo"]["SupportedArchitectures"]))
    check("vCPUs", entry.vcpus, ec2["VCpuInfo"]["DefaultVCpus"])
    check("memory GiB", entry.memory_gib, ec2["MemoryInfo"]["SizeInMiB"] / 1024)
    fabric = entry.fabric
    assert isinstance(fabric, AwsFabric)
    check("network cards", fabric.network_cards, network["MaximumNetworkCards"])
    check("interfaces per card", fabric.interfaces_per_card, min(c["MaximumNetworkInterfaces"] for c in network["NetworkCards"]))
    check("EFA supported", fabric.max_efa_interfaces > 0, network["EfaSupported"])
    check("max EFA interfaces", fabric.max_efa_interfaces, network.get("EfaInfo", {}).get("MaximumEfaInterfaces", 0))
    check("bandwidth Gbps", fabric.bandwidth_gbps, _gbps(network["NetworkPerformance"]))
    disks = ec2.get("InstanceStorageInfo", {}).get("Disks", [{"Count": 0, "SizeInGB": 0}])[0]
    check("local disks", (entry.local_disks.count, entry.local_disks.size_gb), (disks["Count"], disks["SizeInGB"]))
    check("usage classes", set(entry.capacity_types), set(ec2["SupportedUsageClasses"]))
    check("placement strategies", set(entry.placement_strategies), set(ec2["PlacementGroupInfo"]["SupportedStrategies"]))
    assert not mismatches, f"{entry.name}:\n  " + "\n  ".join(mismatches)


@pytest.mark.parametrize("entry", list(AWS), ids=lambda t: t.name)
def test_aws_zones_match_describe_instance_type_offerings(entry, ec2_data):
    _, offerings = ec2_data
    ours = {region: set(zones) for region, zones in entry.zones.items()}
    assert ours == offerings.get(entry.name, {})


def test_ena_only_cards_are_consistent_with_ec2_counts():
    b300 = AWS["p6-b300.48xlarge"].fabric
    assert b300.ena_only_cards == (0,) and b300.efa_cards == tuple(range(1, 17))
    assert all(not t.fabric.ena_only_cards for t in AWS if t.name != "p6-b300.48xlarge")


def test_gcp_gpu_nic_layouts():
    layouts = {t.name: (t.fabric.host_nics, t.fabric.gpu_nics, t.fabric.gpu_nic_type) for t in GCP}
    assert layouts["a3-highgpu-8g"] == (1, 4, "GVNIC")
    assert layouts["a3-megagpu-8g"] == (1, 8, "GVNIC")
    assert layouts["a3-ultragpu-8g"] == (2, 8, "MRDMA")
    assert layouts["a4-highgpu-8g"] == (2, 8, "MRDMA")
    assert layouts["a4x-highgpu-4g"] == (2, 4, "MRDMA")
    assert layouts["a3-edgegpu-8g"] == (1, 4, "GVNIC")
    assert not GCP["a4x-maxgpu-4g-metal"].fabric.layout_known and not GCP["a4x-maxgpu-4g-metal"].fabric_capable
    for t in GCP:  # Google's physical NIC count, where the layout says how many NICs there are
        if t.fabric.physical_nics and t.fabric.layout_known and t.fabric.gpu_nics:
            assert t.fabric.host_nics + t.fabric.gpu_nics == t.fabric.physical_nics, t.name
    assert all(isinstance(t.fabric, GcpFabric) for t in GCP)


def test_closest_names_for_typos():
    assert AWS.closest("p5.48xlarg")[0] == "p5.48xlarge"
    assert GCP.closest("a3-mega-8g")[0] == "a3-megagpu-8g"


def test_catalog_rejects_inconsistent_entries():
    with pytest.raises(ValueError, match="does not match max_efa_interfaces"):
        AwsFabric(network_cards=17, interfaces_per_card=4, max_efa_interfaces=16, bandwidth_gbps=6400)
