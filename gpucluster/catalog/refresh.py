"""The AWS catalog, rebuilt from EC2's own data, all or nothing: the catalog file changes only when every answer was
complete and consistent.

From EC2 (one client per region, injected: boto3's, or anything with the same methods):
- DescribeInstanceTypeOfferings (location type availability-zone): the zones of each region that offer each type;
- DescribeInstanceTypes for the types offered there: every type with GpuInfo, NeuronInfo, InferenceAcceleratorInfo,
  FpgaInfo or MediaAcceleratorInfo is an accelerated type, and its entry is built from that answer: accelerators,
  vCPUs, memory, CPU architectures, network cards, interfaces per card, EFA interfaces, ENA-only cards (cards whose
  interface types lack efa), bandwidth, instance storage, usage classes and placement strategies.

Curated (data/aws-curated.yaml, each figure with its source): what EC2 does not publish. Board power per accelerator
model (whole boards only: a share of a board has no figure of its own) and per-type fabric facts (p6-b300's ENA-only
card 0), which are checked against EC2's data where EC2 has it. Prices are not in the catalog (gpucluster/cost).

Refreshing some regions keeps the zones the file records for the others; the file is written in one step (write next
to it, then rename). No Pulumi, no cloud SDK import: the clients come from the caller.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..refresh_io import Progress, RefreshError, progress_bar, write_atomically
from ..yamlio import safe_load
from .models import InstanceType, Source

__all__ = ["ACCELERATOR_INFO", "RefreshError", "accelerated", "catalog_file", "curated_file", "refresh_aws"]

# DescribeInstanceTypes blocks that make a type accelerated, in the order the catalog's kind is taken from.
ACCELERATOR_INFO = ("GpuInfo", "NeuronInfo", "InferenceAcceleratorInfo", "FpgaInfo", "MediaAcceleratorInfo")
DESCRIBE_CHUNK = 100  # DescribeInstanceTypes takes at most 100 names per request
EC2_TYPES, EC2_ZONES = "ec2-types", "ec2-zones"
EC2_COVERS = ("accelerators, vCPUs, memory, CPU architectures, network cards, interfaces per card, EFA interfaces, "
              "ENA-only cards, bandwidth, instance storage, usage classes, placement strategies")
HEADER = """\
# AWS accelerated instance types: every type EC2's DescribeInstanceTypes lists with GPU, Neuron, inference, FPGA or
# media accelerators. Rewritten by `gpucluster catalog refresh --cloud aws` (gpucluster/catalog/refresh.py) from
# EC2's answers, with the curated figures of aws-curated.yaml merged in; edit that file, not this one.
# Each entry lists, by key, the sources its figures come from. Zone names come from one recording account: AWS maps
# zone names per account, so a zone missing here may still exist under another name in yours (see README, "Catalog").
"""


def catalog_file(cloud: str = "aws") -> Path:
    return Path(str(resources.files(__package__).joinpath(f"data/{cloud}.yaml")))


def curated_file(cloud: str = "aws") -> Path:
    return Path(str(resources.files(__package__).joinpath(f"data/{cloud}-curated.yaml")))


def accelerated(description: dict) -> bool:
    return any(description.get(key) for key in ACCELERATOR_INFO)


def _gbps(performance: str | None, cards: list[dict]) -> float | None:
    """'3200 Gigabit' -> 3200, '4x 100 Gigabit' -> 400, 'Up to 10 Gigabit' -> 10 (the peak); else the cards' summed peak
    bandwidth; None when EC2 gives neither."""
    match = re.match(r"^(?:Up to )?(?:(\d+)x )?([\d.]+) Gigabit$", performance or "")
    if match:
        return float(match.group(1) or 1) * float(match.group(2))
    peaks = [card.get("PeakBandwidthInGbps") for card in cards]
    return float(sum(peaks)) if peaks and all(peaks) else None


def _gib(memory: dict | None) -> float | None:
    mib = (memory or {}).get("SizeInMiB")
    return round(mib / 1024, 2) if mib else None


def _one(items: list[dict] | None, what: str, name: str) -> dict:
    if not items:
        raise RefreshError(f"{name}: EC2 lists {what} but no device in it")
    if len({(i.get("Manufacturer"), i.get("Name")) for i in items}) > 1:
        raise RefreshError(f"{name}: {len(items)} accelerator models in {what}; the catalog holds one model per type")
    return items[0]


def _accelerator(d: dict) -> dict:
    name = d["InstanceType"]
    if d.get("GpuInfo"):
        gpu = _one(d["GpuInfo"].get("Gpus"), "GpuInfo", name)
        count = gpu.get("LogicalGpuCount") or gpu.get("Count")
        if not count:
            raise RefreshError(f"{name}: GpuInfo gives no GPU count (Count and LogicalGpuCount are 0 or missing)")
        share = gpu.get("GpuPartitionSize")
        fraction = share if share is not None and 0 < share < 1 else None
        return {"kind": "gpu", "model": gpu.get("Name"), "manufacturer": gpu.get("Manufacturer"), "count": count,
                "fraction": fraction, "memory_gib": _gib(gpu.get("MemoryInfo"))}
    if d.get("NeuronInfo"):
        device = _one(d["NeuronInfo"].get("NeuronDevices"), "NeuronInfo", name)
        model = device.get("Name") or ""
        kind = "trainium" if model.startswith("Trainium") else "inferentia" if model.startswith("Inferentia") else None
        if kind is None:
            raise RefreshError(f"{name}: Neuron device {model!r} is neither Trainium nor Inferentia")
        return {"kind": kind, "model": model, "manufacturer": "AWS", "count": device.get("Count"),
                "memory_gib": _gib(device.get("MemoryInfo")), "core_version": (device.get("CoreInfo") or {}).get("Version")}
    for key, items, kind in (("InferenceAcceleratorInfo", "Accelerators", "inference"), ("FpgaInfo", "Fpgas", "fpga"),
                             ("MediaAcceleratorInfo", "Accelerators", "media")):
        if d.get(key):
            device = _one(d[key].get(items), key, name)
            return {"kind": kind, "model": device.get("Name"), "manufacturer": device.get("Manufacturer"),
                    "count": device.get("Count"), "memory_gib": _gib(device.get("MemoryInfo"))}
    raise RefreshError(f"{name} has no accelerator")


def _fabric(d: dict) -> dict:
    name, network = d["InstanceType"], d.get("NetworkInfo") or {}
    cards = network.get("NetworkCards") or []
    if not cards or not network.get("MaximumNetworkCards"):
        raise RefreshError(f"{name}: NetworkInfo lists no network cards")
    if len(cards) != network["MaximumNetworkCards"]:
        raise RefreshError(f"{name}: {len(cards)} network cards listed, MaximumNetworkCards says {network['MaximumNetworkCards']}")
    efa = (network.get("EfaInfo") or {}).get("MaximumEfaInterfaces", 0) if network.get("EfaSupported") else 0
    if network.get("EfaSupported") and not efa:
        raise RefreshError(f"{name}: EfaSupported without EfaInfo.MaximumEfaInterfaces")
    ena_only = [c["NetworkCardIndex"] for c in cards
                if efa and c.get("InterfaceTypes") and not {"efa", "efa-only"} & set(c["InterfaceTypes"])]
    return {
        "network_cards": network["MaximumNetworkCards"],
        "interfaces_per_card": min(c["MaximumNetworkInterfaces"] for c in cards),
        "max_efa_interfaces": efa,
        "ena_only_cards": sorted(ena_only),
        "bandwidth_gbps": _gbps(network.get("NetworkPerformance"), cards),
    }


def _family(name: str) -> str:
    return name.split(".", 1)[0]


def entry(description: dict, zones: dict[str, list[str]], curated: dict) -> dict:
    """One catalog entry (the file's shape) from EC2's description of the type, its zones and the curated figures."""
    name = description["InstanceType"]
    try:
        accelerator = _accelerator(description)
        fabric = _fabric(description)
        disks = ((description.get("InstanceStorageInfo") or {}).get("Disks") or [{"Count": 0, "SizeInGB": 0}])
        vcpus = (description.get("VCpuInfo") or {}).get("DefaultVCpus")
        memory = _gib(description.get("MemoryInfo"))
        architectures = list((description.get("ProcessorInfo") or {}).get("SupportedArchitectures") or [])
        usage = list(description.get("SupportedUsageClasses") or [])
        placement = list((description.get("PlacementGroupInfo") or {}).get("SupportedStrategies") or [])
    except (KeyError, TypeError, ValueError) as exc:
        raise RefreshError(f"{name}: malformed DescribeInstanceTypes answer: {type(exc).__name__}: {exc}") from None
    if len(disks) > 1:
        raise RefreshError(f"{name}: {len(disks)} kinds of instance-store disk; the catalog holds one")
    sources = [EC2_TYPES, EC2_ZONES]
    power = curated["board_power_w"].get(accelerator["model"])
    if power is not None and accelerator.get("fraction") is None:
        accelerator["board_power_w"] = power["watts"]
        sources.append(power["source"])
    overrides = curated["types"].get(name, {})
    if "ena_only_cards" in overrides:
        published = fabric["ena_only_cards"]
        if any(c.get("InterfaceTypes") for c in description["NetworkInfo"]["NetworkCards"]) and published != overrides["ena_only_cards"]:
            raise RefreshError(f"{name}: the curated ENA-only cards {overrides['ena_only_cards']} differ from EC2's "
                               f"interface types, which make {published} ENA-only")
        fabric["ena_only_cards"] = list(overrides["ena_only_cards"])
    sources += [s for s in overrides.get("sources", []) if s not in sources]
    return {
        "name": name,
        "family": _family(name),
        "accelerator": {k: v for k, v in accelerator.items() if v is not None},
        "vcpus": vcpus,
        "memory_gib": memory,
        "fabric": fabric,
        "local_disks": {"count": disks[0]["Count"], "size_gb": disks[0]["SizeInGB"]},
        "architectures": architectures,
        "bare_metal": bool(description.get("BareMetal")),
        "capacity_types": [c for c in ("on-demand", "spot", "capacity-block") if c in usage],
        "placement_strategies": sorted(placement),
        "zones": {region: sorted(zones[region]) for region in sorted(zones)},
        "sources": sources,
    }


def _load_curated(path: Path) -> dict:
    try:
        raw = safe_load(path.read_text())
        curated = {"sources": dict(raw["sources"]), "board_power_w": dict(raw.get("board_power_w") or {}),
                   "types": dict(raw.get("types") or {})}
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise RefreshError(f"curated file {path}: {type(exc).__name__}: {exc}") from None
    used = {p["source"] for p in curated["board_power_w"].values()} | {
        s for t in curated["types"].values() for s in t.get("sources", [])}
    if used - curated["sources"].keys():
        raise RefreshError(f"curated file {path} cites undefined sources {sorted(used - curated['sources'].keys())}")
    return curated


def _offerings(ec2, region: str) -> dict[str, set[str]]:
    zones: dict[str, set[str]] = {}
    pages = ec2.get_paginator("describe_instance_type_offerings").paginate(LocationType="availability-zone")
    for page in pages:
        if "InstanceTypeOfferings" not in page:
            raise RefreshError(f"DescribeInstanceTypeOfferings in {region} answered without InstanceTypeOfferings")
        for offer in page["InstanceTypeOfferings"]:
            try:
                name, zone, kind = offer["InstanceType"], offer["Location"], offer.get("LocationType", "availability-zone")
            except (KeyError, TypeError) as exc:
                raise RefreshError(f"malformed offering in {region}: {offer!r} ({exc})") from None
            if kind != "availability-zone" or not re.fullmatch(rf"{re.escape(region)}[a-z]", zone):
                raise RefreshError(f"DescribeInstanceTypeOfferings in {region} offers {name} in {zone!r}, not a zone of {region}")
            zones.setdefault(name, set()).add(zone)
    return zones


def _describe(ec2, region: str, names: list[str]) -> dict[str, dict]:
    found: dict[str, dict] = {}
    for start in range(0, len(names), DESCRIBE_CHUNK):
        chunk = names[start:start + DESCRIBE_CHUNK]
        for page in ec2.get_paginator("describe_instance_types").paginate(InstanceTypes=chunk):
            if "InstanceTypes" not in page:
                raise RefreshError(f"DescribeInstanceTypes in {region} answered without InstanceTypes")
            for description in page["InstanceTypes"]:
                found[description.get("InstanceType")] = description
        missing = set(chunk) - found.keys()
        if missing:
            raise RefreshError(f"{region} offers {sorted(missing)[:5]} in its zones, but DescribeInstanceTypes does not describe them")
    return found


def refresh_aws(
    regions: list[str] | None,
    ec2_for: Callable[[str], Any],
    path: Path | None = None,
    curated_path: Path | None = None,
    progress: Progress = progress_bar,
    today: date | None = None,
    origin: str = "EC2 API",
) -> list[InstanceType]:
    """Rebuild the AWS catalog file from EC2 in `regions` (None: every region DescribeRegions lists), keeping the zones
    the file records for other regions; return the new entries. Raises RefreshError and leaves the file as it was."""
    path, curated_path = path or catalog_file(), curated_path or curated_file()
    curated = _load_curated(curated_path)
    try:
        old = safe_load(path.read_text()) if path.exists() else None
    except yaml.YAMLError as exc:
        raise RefreshError(f"{path} is not YAML: {exc}") from None
    old_types = {t["name"]: t for t in (old or {}).get("instance_types", [])}
    old_sources = (old or {}).get("sources", {})
    if regions is None:
        answer = ec2_for("us-east-1").describe_regions()
        regions = sorted(r["RegionName"] for r in answer.get("Regions", []))
        if not regions:
            raise RefreshError("DescribeRegions listed no region")
    stamp = (today or date.today()).isoformat()

    described: dict[str, dict] = {}
    zones: dict[str, dict[str, list[str]]] = {}
    for done, region in enumerate(regions, start=1):
        ec2 = ec2_for(region)
        offered = _offerings(ec2, region)
        new = sorted(set(offered) - described.keys())
        described.update(_describe(ec2, region, new) if new else {})
        for name, region_zones in offered.items():
            if accelerated(described[name]):
                zones.setdefault(name, {})[region] = sorted(region_zones)
        progress(done, len(regions), f"{region}: {sum(1 for z in zones.values() if region in z)} accelerated types")
    if not zones:
        raise RefreshError(f"no accelerated instance type is offered in {', '.join(regions)}")

    refreshed = set(regions)
    entries: dict[str, dict] = {}
    for name in sorted(zones):
        kept = {r: z for r, z in (old_types.get(name, {}).get("zones") or {}).items() if r not in refreshed}
        entries[name] = entry(described[name], {**kept, **zones[name]}, curated)
    for name, old_entry in old_types.items():  # offered only in regions not refreshed now: kept as it was
        kept = {r: z for r, z in (old_entry.get("zones") or {}).items() if r not in refreshed}
        if name not in entries and kept:
            entries[name] = dict(old_entry, zones=kept)
    stale = set(curated["types"]) - entries.keys()
    if stale:
        raise RefreshError(f"curated entries for {sorted(stale)}, which EC2 does not list: remove them from {curated_path.name}")

    sources = {
        EC2_TYPES: {"covers": EC2_COVERS, "ref": f"EC2 DescribeInstanceTypes, {origin}", "date": stamp},
        EC2_ZONES: {"covers": "regions and zones offered", "ref": f"EC2 DescribeInstanceTypeOfferings (location type "
                    f"availability-zone), {origin}; zone names are those of the recording account", "date": stamp},
        **curated["sources"],
    }
    used = {s for e in entries.values() for s in e["sources"]}
    for key in used - sources.keys():  # a kept entry's own older source
        if key in old_sources:
            sources[key] = old_sources[key]
    raw = {"cloud": "aws", "sources": {k: v for k, v in sources.items() if k in used},
           "instance_types": [entries[n] for n in sorted(entries, key=_order)]}
    types = _validate(raw)
    write_atomically(path, HEADER + yaml.safe_dump(raw, sort_keys=False, width=120, default_flow_style=None))
    return types


def _order(name: str) -> tuple:
    """Family, then size by vCPUs-ish order of the size name (xlarge < 2xlarge < ... < metal)."""
    family, _, size = name.partition(".")
    match = re.match(r"^(\d*)x?large$", size)
    rank = (0, 0 if size == "large" else int(match.group(1) or 1)) if match else (1, 0)
    return family, rank, size


def _validate(raw: dict) -> list[InstanceType]:
    try:
        sources = {key: Source(**value) for key, value in raw["sources"].items()}
        return [InstanceType.model_validate(dict(e, cloud="aws", sources=tuple(sources[k] for k in e["sources"])))
                for e in raw["instance_types"]]
    except (ValidationError, KeyError, TypeError) as exc:
        raise RefreshError(f"the refreshed catalog does not validate: {exc}") from None
