"""On-demand and spot prices from SkyPilot's public catalog (skypilot-org/skypilot-catalog, catalogs/v8/{aws,gcp}/vms.csv).

The catalog has one row per instance type and zone. Per region the importer keeps:

- on demand: the region's figure (the zones agree; where they do not, the highest);
- spot: the highest figure over the region's zones. A pool may land in any zone it lists, so the highest is the
  conservative figure for a budget (the credentialed AWS refresh keeps the highest zone too). AWS Local Zones and
  Wavelength Zones (zone IDs such as use1-atl2-az1) are left out: they are not zones a regional pool launches in.

GCP rows of accelerator-optimized machines price the host (vCPUs and memory) alone; the GPUs are a separate row with
no machine type, named by SkyPilot's accelerator name and count. A machine's price is its host row plus that GPU row
in the same zone, on demand and spot alike.

Rows are refused, with the reason recorded, when they are anomalous:

- a spot figure above the same row's on-demand figure, or no positive on-demand figure;
- a figure repeated in regions whose other figures differ: the same GPU row price in regions whose host prices (or
  the price book's list prices) differ, or the same AWS instance price in regions whose list prices in the book
  differ; such a figure is a placeholder copied across regions, not a region's price;
- (GCP) a GPU figure that does not follow its region: against a region where the book holds a list price for the
  machine, the GPU figure's ratio to that region's GPU figure must stay within REGIONAL_RATIO_BAND of the host
  row's ratio (GCP prices a region's vCPUs, memory and GPUs alike up or down).

An on-demand figure that differs from one the book already has (from the AWS Price List, the GCP Billing Catalog or
another cited source) by more than DISAGREEMENT_TOLERANCE is not imported: the book's figure stays, and the
disagreement is recorded. The result is a layer file (data/<cloud>-skypilot.yaml) that `prices.effective` merges under
the book: it fills the book's gaps and never replaces a figure the book has.

The layers are built from extracts checked in beside them (data/skypilot/<cloud>-vms.csv: the catalog's header and the
rows of our catalog's types, copied unchanged; data/skypilot/SOURCE.md says from which commit and when). Without a CSV
argument the command reads that extract with the commit and date recorded in EXTRACTS, so the layer is reproducible:

    python -m gpucluster.cost.skypilot aws            # report what the checked-in extract gives
    python -m gpucluster.cost.skypilot aws --write    # rewrite data/aws-skypilot.yaml from it

Re-run from another local copy of the CSV (a whole file or a newer extract):

    python -m gpucluster.cost.skypilot aws vms.csv --commit <sha> --date <YYYY-MM-DD>          # report only
    python -m gpucluster.cost.skypilot aws vms.csv --commit <sha> --date <YYYY-MM-DD> --write  # rewrite the layer
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..catalog import Catalog
from ..catalog import load as load_catalog
from ..refresh_io import write_atomically
from .prices import ImportedPrices, PriceBook, layer_file
from .prices import parse as parse_book
from .prices import price_file

REPOSITORY = "skypilot-org/skypilot-catalog"
CSV_PATH = {"aws": "catalogs/v8/aws/vms.csv", "gcp": "catalogs/v8/gcp/vms.csv"}
EXTRACT_DIR = Path(__file__).parent / "data" / "skypilot"


@dataclass(frozen=True)
class Extract:
    """Where a checked-in extract's rows were read: the catalog commit, the date read and how (the layer's source)."""

    commit: str
    date: str  # the file index gives no commit date, so this is the day the rows were read
    note: str


EXTRACTS = {
    "aws": Extract("e385a0d348eda9cefd9806423e7725944dc249e4", "2026-12-07",
                   "rows of dl2q, f2, g4dn, g5, g5g, g6, g6e, g6f, gr6, gr6f, inf1, inf2, p3dn, p4d, p4de, p5, p5e, p5en, "
                   "p6-b200, trn1, trn1n, trn2 and vt1 as stored at that "
                   "commit, checked in as "
                   "gpucluster/cost/data/skypilot/aws-vms.csv; read 2026-12-07, the file index gives no commit date, so "
                   "the date is the reading's"),
    "gcp": Extract("8427bbff988abdd050a9f51addd314ef31cb4e85", "2026-12-07",
                   "the A2, A3, A4 and G2 machine rows and their A100, A100-80GB, B200, H100, H100-MEGA, H200 and L4 GPU "
                   "rows as stored at that commit, checked in as gpucluster/cost/data/skypilot/gcp-vms.csv; read 2026-12-07, "
                   "the file index gives no commit date, so the date is the reading's"),
}


def extract_file(cloud: str) -> Path:
    return EXTRACT_DIR / f"{cloud}-vms.csv"
DISAGREEMENT_TOLERANCE = 0.02  # list prices are quoted to 4-5 digits; 2% is far above rounding, far below an error
# AWS caps spot at the on-demand price, and the catalog writes spot to four decimals: a capped price can read a
# rounding step above on demand, which is no anomaly.
SPOT_ROUNDING = 1e-3
REGIONAL_RATIO_BAND = 1.5  # GPU regional ratio within x1.5 of the host's: the EU/Asia GPU premiums seen stay inside
_REGULAR_AWS_ZONE = re.compile(r"^[a-z]+\d+-az\d+$")  # use1-az1; Local/Wavelength Zone IDs carry a place code

# SkyPilot's accelerator name on the GPU rows of each GCP machine family whose machine rows price the host alone.
GCP_GPU_NAMES = {
    "a2-highgpu": "A100", "a2-megagpu": "A100", "a2-ultragpu": "A100-80GB", "a3-highgpu": "H100", "a3-edgegpu": "H100",
    "a3-megagpu": "H100-MEGA", "a3-ultragpu": "H200", "a4-highgpu": "B200", "g2-standard": "L4",
}


@dataclass(frozen=True)
class Quote:
    """One zone's figures: USD per hour on demand and (None where not sold) spot."""

    region: str
    zone: str
    on_demand: float | None
    spot: float | None


@dataclass
class ImportResult:
    instances: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # region -> type -> prices
    refused: list[dict[str, str]] = field(default_factory=list)
    disagreements: list[dict[str, str]] = field(default_factory=list)

    def refuse(self, region: str, instance_type: str, reason: str) -> None:
        self.refused.append({"region": region, "instance_type": instance_type, "reason": reason})


def _number(text: str | None) -> float | None:
    return float(text) if text not in (None, "") else None


def read_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _quote(row: dict[str, str]) -> Quote:
    return Quote(row["Region"], row["AvailabilityZone"], _number(row["Price"]), _number(row["SpotPrice"]))


def _anomaly(quote: Quote) -> str | None:
    if quote.on_demand is None or quote.on_demand <= 0:
        return f"zone {quote.zone}: no positive on-demand price ({quote.on_demand})"
    if quote.spot is not None and quote.spot > quote.on_demand * (1 + SPOT_ROUNDING):
        return f"zone {quote.zone}: spot {quote.spot:g} above on-demand {quote.on_demand:g}"
    return None


def _differ(a: float, b: float, tolerance: float = DISAGREEMENT_TOLERANCE) -> bool:
    return abs(a - b) > tolerance * max(a, b)


def _repeated_in_unrelated_regions(figures: dict[str, float], references: dict[str, float]) -> dict[str, str]:
    """Regions whose figure is the same as other regions' although their reference prices differ: region -> why."""
    by_figure: dict[float, list[str]] = defaultdict(list)
    for region, figure in figures.items():
        by_figure[figure].append(region)
    suspect: dict[str, str] = {}
    for figure, regions in by_figure.items():
        referenced = {r: references[r] for r in regions if r in references}
        values = sorted(referenced.values())
        if len(regions) > 1 and len(values) > 1 and _differ(values[0], values[-1]):
            for region in regions:
                suspect[region] = (f"on-demand {figure:g} repeated in {', '.join(sorted(regions))}, whose reference "
                                   f"prices differ ({values[0]:g} to {values[-1]:g})")
    return suspect


def _book_list_prices(book: PriceBook, instance_type: str) -> dict[str, float]:
    return {region: types[instance_type].on_demand for region, types in book.instances.items()
            if instance_type in types and types[instance_type].on_demand is not None}


def _aggregate(quotes: list[Quote]) -> tuple[float, float | None]:
    """A region's on-demand figure (the highest, where zones differ) and highest spot."""
    spots = [q.spot for q in quotes if q.spot is not None]
    return max(q.on_demand for q in quotes), (max(spots) if spots else None)


def _keep(result: ImportResult, book: PriceBook, region: str, instance_type: str, on_demand: float,
          spot: float | None) -> None:
    """Record the region's figures, unless the book's own on-demand figure says they are wrong."""
    listed = book.instance(region, instance_type)
    if listed and listed.on_demand is not None and _differ(listed.on_demand, on_demand):
        result.disagreements.append({
            "region": region, "instance_type": instance_type,
            "reason": f"on-demand {on_demand:g} against the book's {listed.on_demand:g} "
                      f"({', '.join(listed.sources)}); the book's figure is kept, the catalog's row not imported"})
        return
    entry = {"on_demand": round(on_demand, 5)}
    if spot is not None:
        entry["spot"] = round(spot, 5)
    result.instances.setdefault(region, {})[instance_type] = entry


def _regions_of_interest(catalog: Catalog, regions: list[str] | None) -> dict[str, set[str]]:
    """Type -> the regions to price it in: every region the catalog lists it in (or of those, the ones asked for)."""
    return {t.name: {r for r in t.zones if regions is None or r in regions} for t in catalog}


def _without_anomalies(result: ImportResult, region: str, instance_type: str, quotes: list[Quote],
                       anomalies: list[str | None]) -> list[Quote]:
    """The region's usable rows: an anomalous row is refused (and recorded), the region's other rows stay."""
    for anomaly in filter(None, anomalies):
        result.refuse(region, instance_type, anomaly)
    return [q for q, anomaly in zip(quotes, anomalies) if not anomaly]


def import_aws(text: str, book: PriceBook, catalog: Catalog, regions: list[str] | None = None) -> ImportResult:
    wanted = _regions_of_interest(catalog, regions)
    rows: dict[str, dict[str, list[Quote]]] = defaultdict(lambda: defaultdict(list))
    for row in read_rows(text):
        quote = _quote(row)
        if row["InstanceType"] in wanted and quote.region in wanted[row["InstanceType"]] and _REGULAR_AWS_ZONE.match(quote.zone):
            rows[row["InstanceType"]][quote.region].append(quote)
    result = ImportResult()
    for instance_type, by_region in sorted(rows.items()):
        usable = {}
        for region, quotes in sorted(by_region.items()):
            kept = _without_anomalies(result, region, instance_type, quotes, [_anomaly(q) for q in quotes])
            if kept:
                usable[region] = kept
        figures = {region: _aggregate(quotes)[0] for region, quotes in usable.items()}
        suspect = _repeated_in_unrelated_regions(figures, _book_list_prices(book, instance_type))
        for region, quotes in usable.items():
            if region in suspect:
                result.refuse(region, instance_type, suspect[region])
            else:
                _keep(result, book, region, instance_type, *_aggregate(quotes))
    return result


def _machine(host: Quote, gpu: Quote | None) -> Quote:
    """A zone's machine price: its host row plus its GPU row (spot only where both are sold at spot)."""
    if gpu is None:
        return host
    spot = host.spot + gpu.spot if host.spot is not None and gpu.spot is not None else None
    return Quote(host.region, host.zone, host.on_demand + gpu.on_demand, spot)


def import_gcp(text: str, book: PriceBook, catalog: Catalog, regions: list[str] | None = None) -> ImportResult:
    wanted = _regions_of_interest(catalog, regions)
    hosts: dict[str, dict[str, Quote]] = defaultdict(dict)  # machine -> zone -> quote
    priced_with_gpus: set[str] = set()  # machines whose own row names its accelerator, so prices it whole
    gpus: dict[tuple[str, int], dict[str, Quote]] = defaultdict(dict)  # (accelerator, count) -> zone -> quote
    for row in read_rows(text):
        quote = _quote(row)
        if row["InstanceType"] in wanted:
            hosts[row["InstanceType"]][quote.zone] = quote
            if row["AcceleratorName"]:
                priced_with_gpus.add(row["InstanceType"])
        elif not row["InstanceType"] and row["AcceleratorName"] in GCP_GPU_NAMES.values():
            gpus[(row["AcceleratorName"], int(float(row["AcceleratorCount"])))][quote.zone] = quote
    result = ImportResult()
    usable: dict[str, dict[str, list[tuple[Quote, Quote | None]]]] = {}  # machine -> region -> (host, GPU) per zone
    gpu_of: dict[str, str] = {}
    for machine in sorted(hosts):
        instance = catalog[machine]
        gpu_name = None if machine in priced_with_gpus else GCP_GPU_NAMES.get(machine.rsplit("-", 1)[0])
        gpu_rows = gpus.get((gpu_name, instance.gpus), {})
        pairs_by_region: dict[str, list[tuple[Quote, Quote | None]]] = defaultdict(list)
        for zone, host in sorted(hosts[machine].items()):
            if host.region not in wanted[machine] or zone not in instance.zones.get(host.region, ()):
                continue  # the catalog names the zones that sell the machine; a pool lands in no other
            pairs_by_region[host.region].append((host, gpu_rows.get(zone)))
        usable[machine] = {}
        for region, pairs in sorted(pairs_by_region.items()):
            anomalies = [_anomaly(host) or (f"zone {host.zone}: no {gpu_name} x{instance.gpus} GPU row to add to the host row"
                                            if gpu_name and gpu is None else gpu and _anomaly(gpu)) for host, gpu in pairs]
            for anomaly in filter(None, anomalies):
                result.refuse(region, machine, anomaly)
            kept = [pair for pair, anomaly in zip(pairs, anomalies) if not anomaly]
            if kept:
                usable[machine][region] = kept
        if gpu_name:
            gpu_of[machine] = gpu_name
    figures = {machine: ({r: max(h.on_demand for h, _ in pairs) for r, pairs in by_region.items()},
                         {r: max(g.on_demand for _, g in pairs) for r, pairs in by_region.items()})
               for machine, by_region in usable.items() if machine in gpu_of}
    references = _reference_regions(book, figures, gpu_of)
    for machine, by_region in usable.items():
        suspect: dict[str, str] = {}
        if machine in gpu_of:
            host_figures, gpu_figures = figures[machine]
            # A GPU figure repeated in regions whose host figures differ is a copy, not a region's price.
            suspect = _repeated_in_unrelated_regions(gpu_figures, host_figures)
            reference = references.get(gpu_of[machine])
            if reference in host_figures:
                for region, why in _off_regional_ratio(host_figures, gpu_figures, reference).items():
                    suspect.setdefault(region, why)
        for region, pairs in by_region.items():
            if region in suspect:
                result.refuse(region, machine, suspect[region])
            else:
                _keep(result, book, region, machine, *_aggregate([_machine(host, gpu) for host, gpu in pairs]))
    return result


def _reference_regions(book: PriceBook, figures: dict[str, tuple[dict[str, float], dict[str, float]]],
                       gpu_of: dict[str, str]) -> dict[str, str]:
    """Per GPU row name, a region where the book lists a machine with those GPUs at the price the catalog's rows add
    up to: the GPU rows of that region are taken as right, and other regions are judged against them."""
    references: dict[str, str] = {}
    for machine, (hosts, gpus) in sorted(figures.items()):
        for region, listed in sorted(_book_list_prices(book, machine).items()):
            if region in hosts and not _differ(hosts[region] + gpus[region], listed):
                references.setdefault(gpu_of[machine], region)
    return references


def _off_regional_ratio(hosts: dict[str, float], gpus: dict[str, float], reference: str) -> dict[str, str]:
    """Regions whose GPU figure moves away from the reference region's by another factor than its host figure does."""
    suspect: dict[str, str] = {}
    for region in hosts:
        host_ratio, gpu_ratio = hosts[region] / hosts[reference], gpus[region] / gpus[reference]
        if not 1 / REGIONAL_RATIO_BAND <= gpu_ratio / host_ratio <= REGIONAL_RATIO_BAND:
            suspect[region] = (f"GPU figure {gpus[region]:g} is x{gpu_ratio:.2f} the {reference} figure while the host "
                               f"figure is x{host_ratio:.2f}; GCP prices a region's GPUs and host alike")
    return suspect


IMPORTERS = {"aws": import_aws, "gcp": import_gcp}


def source_key(cloud: str) -> str:
    return f"skypilot-catalog-{cloud}"


def layer(cloud: str, result: ImportResult, commit: str, commit_date: str, note: str | None = None) -> dict:
    """The layer file's content: the imported prices with their one source, and what was refused or kept out."""
    key = source_key(cloud)
    return {
        "cloud": cloud,
        "sources": {key: {
            "covers": "on-demand and spot price per region (spot: the highest zone); rows refused or kept out are listed",
            "ref": f"{REPOSITORY} {CSV_PATH[cloud]} @{commit}" + (f" ({note})" if note else ""), "date": commit_date}},
        "instances": {region: {t: {**prices, "sources": [key]} for t, prices in sorted(types.items())}
                      for region, types in sorted(result.instances.items())},
        "refused": sorted(result.refused, key=lambda f: (f["instance_type"], f["region"])),
        "disagreements": sorted(result.disagreements, key=lambda f: (f["instance_type"], f["region"])),
    }


def run(cloud: str, csv_text: str, commit: str, commit_date: str, regions: list[str] | None = None,
        note: str | None = None) -> dict:
    """Import against the book as it is without a layer (so a re-import does not judge rows by its own output)."""
    book = parse_book(price_file(cloud).read_text())
    raw = layer(cloud, IMPORTERS[cloud](csv_text, book, load_catalog(cloud), regions), commit, commit_date, note)
    ImportedPrices.model_validate(raw)
    return raw


def from_extract(cloud: str) -> dict:
    """The layer the checked-in extract gives, with the commit, date and note recorded for it."""
    extract = EXTRACTS[cloud]
    return run(cloud, extract_file(cloud).read_text(), extract.commit, extract.date, note=extract.note)


def layer_text(cloud: str, raw: dict, command: str) -> str:
    header = (f"# Written by `{command}`; merged under {cloud}.yaml, whose own figures win. Do not edit by hand.\n")
    return header + yaml.safe_dump(raw, sort_keys=False, width=130, default_flow_style=None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gpucluster.cost.skypilot", description=__doc__.split("\n\n")[0])
    parser.add_argument("cloud", choices=sorted(IMPORTERS))
    parser.add_argument("csv", type=Path, nargs="?",
                        help=f"a local copy of {CSV_PATH['aws']} or {CSV_PATH['gcp']} (default: the checked-in extract, "
                             f"{EXTRACT_DIR}/<cloud>-vms.csv, with its recorded commit, date and note)")
    parser.add_argument("--commit", help="the catalog commit the CSV was read at (required with a CSV)")
    parser.add_argument("--date", help="that commit's date, or the day read (YYYY-MM-DD; required with a CSV)")
    parser.add_argument("--region", action="append", dest="regions", help="only this region (repeatable)")
    parser.add_argument("--note", help="how the CSV was obtained, when it is not the whole file (goes into the source)")
    parser.add_argument("--write", action="store_true", help=f"rewrite {layer_file('aws').parent}/<cloud>-skypilot.yaml")
    args = parser.parse_args(argv)
    if args.csv is None:
        if args.commit or args.date:
            parser.error("--commit and --date go with a CSV; the checked-in extract has its own")
        extract = EXTRACTS[args.cloud]
        csv_text, commit, commit_date = extract_file(args.cloud).read_text(), extract.commit, extract.date
        note = args.note or extract.note
        command = f"python -m gpucluster.cost.skypilot {args.cloud} --write"
    else:
        if not (args.commit and args.date):
            parser.error("a CSV needs --commit and --date")
        csv_text, commit, commit_date, note = args.csv.read_text(), args.commit, args.date, args.note
        command = f"python -m gpucluster.cost.skypilot {args.cloud} vms.csv --commit {commit} --date {commit_date} --write"
    raw = run(args.cloud, csv_text, commit, commit_date, args.regions, note)
    priced = sum(len(types) for types in raw["instances"].values())
    print(f"{priced} type-region prices; {len(raw['refused'])} refused; {len(raw['disagreements'])} kept out", file=sys.stderr)
    for finding in raw["refused"] + raw["disagreements"]:
        print(f"  {finding['instance_type']} {finding['region']}: {finding['reason']}", file=sys.stderr)
    if args.write:
        write_atomically(layer_file(args.cloud), layer_text(args.cloud, raw, command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
