"""The SkyPilot catalog importer on rows copied from the catalog (tests/fixtures/skypilot/SOURCE.md), against price
books made here, and the imported layers checked into gpucluster/cost/data."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gpucluster.catalog import load as load_catalog
from gpucluster.cost import prices, skypilot

FIXTURES = Path(__file__).parent / "fixtures" / "skypilot"
AWS_CSV = (FIXTURES / "aws-vms.csv").read_text()
GCP_CSV = (FIXTURES / "gcp-vms.csv").read_text()


def book(cloud: str, instances: dict | None = None) -> prices.PriceBook:
    """A book with these list prices (region -> type -> on-demand), cited to one made-up list-price source."""
    return prices.PriceBook.model_validate({
        "cloud": cloud,
        "sources": {"list": {"covers": "list prices for this test", "ref": "made up here", "date": "2026-11-01"}},
        "instances": {region: {t: {"on_demand": price, "sources": ["list"]} for t, price in types.items()}
                      for region, types in (instances or {}).items()},
    })


def reasons(result: skypilot.ImportResult, region: str, instance_type: str) -> list[str]:
    return [f["reason"] for f in result.refused if f["region"] == region and f["instance_type"] == instance_type]


def only_rows(text: str, keep) -> str:
    header, *rows = text.splitlines()
    return "\n".join([header, *(r for r in rows if keep(r))]) + "\n"


def test_aws_region_takes_its_on_demand_and_its_highest_zone_spot():
    result = skypilot.import_aws(AWS_CSV, book("aws"), load_catalog("aws"))
    # us-east-1: two zones' spot sits at the on-demand cap, so the highest zone is the on-demand price.
    assert result.instances["us-east-1"]["p5.48xlarge"] == {"on_demand": 55.04, "spot": 55.04}
    assert result.instances["us-west-2"]["p5.48xlarge"] == {"on_demand": 55.04, "spot": 16.1301}


def test_local_zone_rows_are_left_out():
    atlanta_only = only_rows(AWS_CSV, lambda row: "use1-atl2-az1" in row)
    assert skypilot.import_aws(atlanta_only, book("aws"), load_catalog("aws")).instances == {}


def test_spot_at_the_cap_is_no_anomaly_but_no_on_demand_figure_is():
    result = skypilot.import_aws(AWS_CSV, book("aws"), load_catalog("aws"))
    assert result.instances["eu-central-1"]["p4d.24xlarge"]["spot"] == 27.433  # a rounding step above 27.43298
    assert reasons(result, "us-east-2", "p5e.48xlarge") == ["zone use2-az1: no positive on-demand price (None)"]
    assert "p5e.48xlarge" not in result.instances.get("us-east-2", {})


def test_a_figure_repeated_where_the_list_prices_differ_is_refused():
    listed = book("aws", {"us-east-1": {"p5.48xlarge": 55.04}, "us-east-2": {"p5.48xlarge": 57.8}})
    result = skypilot.import_aws(AWS_CSV, listed, load_catalog("aws"))
    for region in ("us-east-1", "us-east-2", "us-west-2"):
        assert "p5.48xlarge" not in result.instances.get(region, {})
        assert reasons(result, region, "p5.48xlarge")[0].startswith("on-demand 55.04 repeated in us-east-1, us-east-2, us-west-2")


def test_a_disagreement_with_the_book_keeps_the_book_and_is_recorded():
    listed = book("aws", {"us-west-2": {"p5.48xlarge": 60.0}})
    result = skypilot.import_aws(only_rows(AWS_CSV, lambda row: "us-west-2" in row), listed, load_catalog("aws"))
    assert "us-west-2" not in result.instances
    assert result.disagreements == [{"region": "us-west-2", "instance_type": "p5.48xlarge", "reason":
                                     "on-demand 55.04 against the book's 60 (list); the book's figure is kept, the "
                                     "catalog's row not imported"}]
    close = book("aws", {"us-west-2": {"p5.48xlarge": 55.5}})  # within the tolerance: imported
    assert skypilot.import_aws(AWS_CSV, close, load_catalog("aws")).instances["us-west-2"]["p5.48xlarge"]["on_demand"] == 55.04


def test_gcp_machine_is_host_row_plus_gpu_row():
    result = skypilot.import_gcp(GCP_CSV, book("gcp"), load_catalog("gcp"))
    entry = result.instances["us-central1"]["a3-ultragpu-8g"]
    assert entry["on_demand"] == pytest.approx(12.266 + 74.49392) and entry["spot"] == pytest.approx(3.74713 + 37.2472)
    assert result.instances["us-east4"]["a3-ultragpu-8g"]["on_demand"] == pytest.approx(12.266 + 74.49392)


def test_gcp_anomalous_rows_are_refused():
    result = skypilot.import_gcp(GCP_CSV, book("gcp"), load_catalog("gcp"))
    assert reasons(result, "europe-west4", "a3-ultragpu-8g") == ["zone europe-west4-a: spot 39.1096 above on-demand 36.6026"]
    for region in ("asia-south2", "us-east5"):  # 36.60258 for 8 H200 where the hosts cost 14.73 and 13.82
        assert reasons(result, region, "a3-ultragpu-8g")[0].startswith("on-demand 36.6026 repeated in asia-south2, us-east5")
    assert reasons(result, "us-central1", "a4-highgpu-8g") == ["zone us-central1-b: no positive on-demand price (0.0)"]
    assert {region for region, types in result.instances.items() if "a3-ultragpu-8g" in types} == {"us-central1", "us-east4"}


def test_gcp_gpu_figure_off_its_region_is_refused_against_a_listed_region():
    catalog = load_catalog("gcp")
    unjudged = skypilot.import_gcp(GCP_CSV, book("gcp"), catalog)
    assert "a2-highgpu-8g" in unjudged.instances["europe-west4"]  # with no listed region there is nothing to judge by
    listed = book("gcp", {"us-central1": {"a2-highgpu-8g": 29.39}})
    judged = skypilot.import_gcp(GCP_CSV, listed, catalog)
    assert "europe-west4" not in judged.instances
    assert reasons(judged, "europe-west4", "a2-highgpu-8g")[0].startswith("GPU figure 12.9092 is x0.55 the us-central1 figure")
    assert judged.instances["us-central1"]["a2-highgpu-8g"]["on_demand"] == pytest.approx(5.91582 + 23.47126)


def test_the_layer_fills_gaps_and_never_replaces_the_books_figures():
    base = book("aws", {"us-east-1": {"p5.48xlarge": 55.0}})
    layer = prices.ImportedPrices.model_validate(skypilot.layer("aws", skypilot.import_aws(AWS_CSV, book("aws"), load_catalog("aws")),
                                                                "c0ffee", "2026-12-01"))
    merged = prices.merged(base, layer)
    p5 = merged.instance("us-east-1", "p5.48xlarge")
    assert (p5.on_demand, p5.spot) == (55.0, 55.04)  # the book's on-demand stays, the layer adds spot
    assert p5.sources == ("list", "skypilot-catalog-aws") and p5.sources_for("spot") == ("list", "skypilot-catalog-aws")
    assert merged.instance("us-west-2", "p5.48xlarge").sources == ("skypilot-catalog-aws",)
    assert merged.sources["skypilot-catalog-aws"].ref == f"skypilot-org/skypilot-catalog catalogs/v8/aws/vms.csv @c0ffee"


def test_market_sources_follow_their_names():
    price = prices.InstancePrice(on_demand=1, spot=0.5, capacity_block=0.8,
                                 sources=("price-us-east-1", "spot-us-east-1", "capacity-block-us-east-1"))
    assert price.sources_for("on-demand") == ("price-us-east-1",)
    assert price.sources_for("spot") == ("price-us-east-1", "spot-us-east-1")
    assert price.sources_for("capacity-block") == ("price-us-east-1", "capacity-block-us-east-1")


def test_the_command_writes_the_layer_from_a_local_csv(tmp_path, monkeypatch, capsys):
    written = tmp_path / "aws-skypilot.yaml"
    monkeypatch.setattr(skypilot, "layer_file", lambda cloud: written)
    csv_file = tmp_path / "vms.csv"
    csv_file.write_text(AWS_CSV)
    assert skypilot.main(["aws", str(csv_file), "--commit", "c0ffee", "--date", "2026-12-01", "--write"]) == 0
    assert "refused" in capsys.readouterr().err
    layer = prices.ImportedPrices.model_validate(yaml.safe_load(written.read_text()))
    assert layer.instances["us-east-1"]["p5.48xlarge"].spot == 55.04
    assert [(f.region, f.instance_type) for f in layer.refused] == [("us-east-2", "p5e.48xlarge")]
    assert layer.sources["skypilot-catalog-aws"].date == "2026-12-01"


@pytest.mark.parametrize("cloud", ["aws", "gcp"])
def test_the_checked_in_layers_cite_the_catalog_and_record_what_they_left_out(cloud):
    layer = prices.load_layer(cloud)
    source = layer.sources[skypilot.source_key(cloud)]
    assert source.ref.startswith(f"skypilot-org/skypilot-catalog {skypilot.CSV_PATH[cloud]} @")
    assert len(source.ref.split("@", 1)[1].split()[0]) == 40, "a full commit hash"
    assert all(p.sources == (skypilot.source_key(cloud),) for types in layer.instances.values() for p in types.values())
    assert all(p.spot is None or p.spot <= p.on_demand * (1 + skypilot.SPOT_ROUNDING)
               for types in layer.instances.values() for p in types.values())
    assert layer.refused, "the catalog's anomalous rows are recorded, not dropped silently"
    book = prices.load(cloud)
    for region, types in layer.instances.items():  # the book's own figures are never contradicted by the layer
        for instance_type, price in types.items():
            listed = book.instance(region, instance_type)
            if listed and listed.on_demand is not None:
                assert price.on_demand == pytest.approx(listed.on_demand, rel=skypilot.DISAGREEMENT_TOLERANCE)


@pytest.mark.parametrize("cloud", ["aws", "gcp"])
def test_the_checked_in_layers_are_what_the_importer_builds_from_the_checked_in_extracts(cloud):
    built = skypilot.from_extract(cloud)
    command = f"python -m gpucluster.cost.skypilot {cloud} --write"
    assert prices.layer_file(cloud).read_text() == skypilot.layer_text(cloud, built, command), (
        f"rerun `{command}`: the layer no longer matches its extract (or the book it is judged against changed)")
    assert built["sources"][skypilot.source_key(cloud)]["ref"].startswith(
        f"skypilot-org/skypilot-catalog {skypilot.CSV_PATH[cloud]} @{skypilot.EXTRACTS[cloud].commit} ")


@pytest.mark.parametrize("cloud", ["aws", "gcp"])
def test_the_extracts_hold_the_catalogs_header_and_rows_of_our_types_only(cloud):
    header, *rows = skypilot.extract_file(cloud).read_text().splitlines()
    assert header == next(iter(FIXTURES.joinpath(f"{cloud}-vms.csv").read_text().splitlines()))  # the catalog's header
    parsed = skypilot.read_rows(skypilot.extract_file(cloud).read_text())
    assert len(parsed) == len(rows) and all(None not in row and None not in row.values() for row in parsed)
    names = set(load_catalog(cloud).names())
    machines = {row["InstanceType"] for row in parsed if row["InstanceType"]}
    assert machines <= names
    gpu_rows = {row["AcceleratorName"] for row in parsed if not row["InstanceType"]}
    assert cloud == "aws" and not gpu_rows or gpu_rows <= set(skypilot.GCP_GPU_NAMES.values())
    extract = skypilot.EXTRACTS[cloud]
    source = (skypilot.EXTRACT_DIR / "SOURCE.md").read_text()
    assert extract.commit in source and extract.date in source


def test_the_command_without_a_csv_reads_the_checked_in_extract(tmp_path, monkeypatch, capsys):
    written = tmp_path / "gcp-skypilot.yaml"
    monkeypatch.setattr(skypilot, "layer_file", lambda cloud: written)
    assert skypilot.main(["gcp", "--write"]) == 0
    assert written.read_text() == prices.layer_file("gcp").read_text()
    with pytest.raises(SystemExit):
        skypilot.main(["gcp", "--commit", "c0ffee"])  # the extract has its own commit
    with pytest.raises(SystemExit):
        skypilot.main(["aws", str(skypilot.extract_file("aws"))])  # a CSV of one's own needs its commit and date
    capsys.readouterr()
