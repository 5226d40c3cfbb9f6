"""Property tests (hypothesis): the spec loader, the offline preview, FSx/Managed Lustre sizing and the address plan.

Example counts come from the hypothesis profile chosen below: `make test` runs the "default"
profile (few examples, derandomized), `make fuzz` the "fuzz" profile (many more, random). The preview property
runs a tenth of the profile's max_examples, at least 10, as each example runs the real stack program.
"""

from __future__ import annotations

import contextlib
import copy
import io
import ipaddress
import itertools
import json
import math
import os
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pulumi
import pytest
import yaml
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import _from_schema, from_schema
from hypothesis_jsonschema._encode import encode_canonical_json

from gpucluster import catalog, cli
from gpucluster.fabric import aws_interfaces
from gpucluster.plan import (
    address_plan,
    gcs_bucket_location,
    lustre_plan,
    managed_lustre_plan,
    offered_zones,
    plan_pool,
)
from gpucluster.preview.engine import PreviewResult, run_program
from gpucluster.problems import SpecError
from gpucluster.regions import EU
from gpucluster.sizing import (
    GIB_PER_TIB,
    MANAGED_LUSTRE_TIERS,
    PER_UNIT_THROUGHPUT,
    SMALLEST_GIB,
    STEP_GIB,
    LustrePlan,
    lustre_prices,
    plan_lustre,
    plan_managed_lustre,
)
from gpucluster.spec import CONFIG_KEY, CONFIG_NAMESPACE, ClusterSpec
from gpucluster.validate import load_spec

from .helpers import BASE_SPEC, PROJECT, ROOT

# Hypothesis profiles, chosen with HYPOTHESIS_PROFILE (`make fuzz` sets "fuzz"); set here, not in conftest.py, so
# that only the worker running these tests imports Hypothesis.
# "default" (make test): few examples, derandomized so every run tries the same inputs, no example database.
# "fuzz": many more, random, failures kept in .hypothesis/ (git-ignored) and replayed first on the next run.
settings.register_profile(
    "default",
    max_examples=30,
    derandomize=True,
    database=None,
    deadline=None,  # shared 2-core CI machines: bound the run by example counts, not per-example timing
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "fuzz",
    max_examples=2000,
    deadline=timedelta(seconds=5),
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# What `gpucluster schema` prints (cli.cmd_schema), minus its title.
SCHEMA = ClusterSpec.model_json_schema(by_alias=True)
PREVIEW_EXAMPLES = max(10, settings.default.max_examples // 10)
CATALOGS = {cloud: catalog.load(cloud) for cloud in ("aws", "gcp")}


def _property_names(schema: object) -> set[str]:
    if isinstance(schema, dict):
        names = set(schema.get("properties", {})) if isinstance(schema.get("properties"), dict) else set()
        return names.union(*(_property_names(v) for v in schema.values()))
    if isinstance(schema, list):
        return set().union(*(_property_names(v) for v in schema))
    return set()


SCHEMA_KEYS = sorted(_property_names(SCHEMA))

# ---------------------------------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------------------------------

# Any JSON value (what `pulumi.Config.get_object` can hand the program); keys are often the spec's own, so
# arbitrary values reach the nested models instead of stopping at "unknown key".
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_keys = st.sampled_from(SCHEMA_KEYS) | st.text(max_size=10)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(json_keys, children, max_size=5),
    max_leaves=20,
)

# Values a one-field mutation puts in place: boundaries and type confusions as well as arbitrary JSON.
_timestamps = st.datetimes(
    min_value=datetime(1999, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.none() | st.just(timezone.utc)
).map(datetime.isoformat)
mutation_values = st.one_of(
    st.sampled_from([0, 1, -1, 5000, 5001, 2**31, 0.5, -0.0, 1e308, "", " ", "0", "true", "null", [], {}, None, True]),
    st.sampled_from(["10.0.0.0/8", "10.0.0.0/28", "10.0.0.1/16", "::/0", "us-east-1a", "p5.48xlarge", "a3-ultragpu-8g"]),
    st.sampled_from(["spot", "on-demand", "reservation", "capacity-block", "flex-start", "eu", "aws:x", "cr-0123456789"]),
    _timestamps,
    json_values,
)


def _memoised(build):
    """hypothesis-jsonschema builds (and canonicalises) the strategy of an object's property again at every draw of
    that property, most of the time of a draw on our schema; a strategy is immutable, so one per subschema serves
    every draw, and the documents drawn are the same."""
    built: dict = {}

    def cached(schema, *, alphabet, custom_formats):
        key = (encode_canonical_json(schema), id(alphabet), id(custom_formats))
        if key not in built:
            built[key] = build(schema, alphabet=alphabet, custom_formats=custom_formats)
        return built[key]

    return cached


setattr(_from_schema, "__from_schema", _memoised(getattr(_from_schema, "__from_schema")))

# The schema's own documents: structurally plausible, mostly refused by the catalog checks.
schema_documents = from_schema(SCHEMA)

NAMES = st.from_regex(r"\A[a-z][a-z0-9-]{0,6}[a-z0-9]\Z")


def _region_zones(cloud: str, region: str) -> list[str]:
    """Zones of `region` the catalog names; made-up a/b/c when it names none (offered_zones then allows any)."""
    zones = sorted({z for t in CATALOGS[cloud] for z in t.zones.get(region, ())})
    if zones:
        return zones
    return [f"{region}{c}" if cloud == "aws" else f"{region}-{c}" for c in "abc"]


REGIONS = {cloud: sorted({r for t in CATALOGS[cloud] for r in t.zones}) for cloud in CATALOGS}


@st.composite
def _block_window(draw, mixed_styles: bool) -> dict:
    """A capacity block window: whole days (1-14) or whole weeks (up to 26). Timestamps with Z, +00:00 or no
    offset, as a stack file may have them; `mixed_styles` lets the two ends differ."""
    days = draw(st.integers(1, 14) | st.integers(3, 26).map(lambda w: 7 * w))
    start = draw(st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2030, 1, 1))).replace(microsecond=0)
    end = start + timedelta(days=days)
    styles = st.sampled_from(["Z", "+00:00", "naive"])
    if not mixed_styles:
        styles = st.just(draw(styles))

    def text(moment: datetime, style: str) -> str:
        if style == "naive":
            return moment.isoformat()
        return moment.replace(tzinfo=timezone.utc).isoformat().replace("+00:00", style)

    return {"blockStart": text(start, draw(styles)), "blockEnd": text(end, draw(styles))}


@st.composite
def _capacity(draw, cloud: str, instance, size_max: int, mixed_styles: bool) -> dict:
    offered = set(instance.capacity_types)
    choices = [("on-demand",)]
    if "spot" in offered:
        choices.append(("spot",))
    if cloud == "aws":
        choices += [("reservation",), ("reservation", "on-demand")]
        if "spot" in offered and size_max >= 1:
            choices += [("on-demand", "spot"), ("reservation", "spot"), ("reservation", "on-demand", "spot")]
        if "capacity-block" in offered:
            choices.append(("capacity-block",))
    else:
        choices.append(("reservation",))
        if "flex-start" in offered:
            choices.append(("flex-start",))
    sources = draw(st.sampled_from(choices))
    capacity: dict = {"type": sources[0]}
    if len(sources) > 1:
        capacity["fallback"] = list(sources[1:])
    if "spot" in sources and len(sources) > 1:
        capacity["onDemandBase"] = draw(st.integers(1, size_max))
    if "reservation" in sources:
        if cloud == "aws":
            key = draw(st.sampled_from(["reservationId", "reservationGroupArn"]))
            capacity[key] = "cr-0123456789abcdef0" if key == "reservationId" else "arn:aws:resource-groups:us-east-1:123456789012:group/g"
        else:
            capacity["reservationName"] = draw(NAMES)
    if sources == ("capacity-block",):
        capacity["reservationId"] = draw(st.from_regex(r"\Acr-[0-9a-f]{8,17}\Z"))
        if draw(st.booleans()):
            capacity.update(draw(_block_window(mixed_styles)))
    if sources == ("flex-start",) and draw(st.booleans()):
        capacity["maxRunHours"] = draw(st.floats(min_value=1 / 6, max_value=168))
    if set(sources) & {"reservation", "capacity-block"} and draw(st.booleans()):
        capacity["placementGroup"] = draw(NAMES)
    return capacity


@st.composite
def _pool(draw, cloud: str, region: str, cluster_zones: list[str], instance, name: str, has_shared: bool,
          mixed_styles: bool) -> dict:
    capable = instance.fabric_capable
    fabric = draw(st.sampled_from(["auto", "off", "on"] if capable else ["auto", "off"]))
    size_max = draw(st.integers(0, 4) | st.integers(0, 64) | st.just(5000))
    pool: dict = {"name": name, "instanceType": instance.name, "fabric": fabric}
    capacity = draw(_capacity(cloud, instance, max(size_max, 1), mixed_styles))
    sources = (capacity["type"], *capacity.get("fallback", []))
    if sources == ("capacity-block",):
        size_max = max(size_max, 1)
        pool["size"] = {"min": size_max, "max": size_max}
    else:
        size_max = max(size_max, capacity.get("onDemandBase", 0))
        low = draw(st.integers(0, size_max))
        pool["size"] = {"min": low, "max": size_max}
        if draw(st.booleans()):
            pool["size"]["desired"] = draw(st.integers(low, size_max))
    if capacity != {"type": "on-demand"} or draw(st.booleans()):
        pool["capacity"] = capacity

    offered = offered_zones(instance, region, cluster_zones)
    reserved = bool(set(sources) & {"reservation", "capacity-block"})
    one_zone = (capable and fabric != "off") or reserved
    placement = "auto"
    if one_zone or draw(st.booleans()):
        # one zone: a fabric pool, reserved capacity, or a cluster placement group must sit in one
        if draw(st.booleans()):
            pool["zones"] = [draw(st.sampled_from(offered))]
        can_cluster = (cloud == "gcp" or "cluster" in instance.placement_strategies) and (not reserved or "placementGroup" in capacity)
        flex_ok = sources != ("flex-start",) or instance.name.rsplit("-", 1)[0] in {"a3-ultragpu", "a4-highgpu"}
        if "zones" in pool and can_cluster and flex_ok:
            placement = draw(st.sampled_from(["auto", "cluster", "none"]))
        else:
            placement = draw(st.sampled_from(["auto", "none"]))
    else:
        pool["zones"] = draw(st.lists(st.sampled_from(offered), min_size=0, max_size=len(offered), unique=True))
        placement = draw(st.sampled_from(["auto", "none"]))
    if placement != "auto" or draw(st.booleans()):
        pool["placement"] = placement

    if not reserved and draw(st.integers(0, 3)) == 0:
        same_layout = [
            t.name for t in CATALOGS[cloud]
            if t.name != instance.name and region in t.zones
            and (aws_interfaces(t, fabric != "off") == aws_interfaces(instance, fabric != "off") if cloud == "aws"
                 else (t.fabric_capable and fabric != "off") == (capable and fabric != "off"))
        ]
        if same_layout:
            pool["alternateTypes"] = draw(st.lists(st.sampled_from(same_layout), min_size=1, max_size=2, unique=True))
    if draw(st.booleans()):
        pool["purpose"] = draw(st.sampled_from(["training", "dev", "inference"]))
    if draw(st.booleans()):
        pool["rootVolumeGb"] = draw(st.integers(30, 16384))
    if draw(st.integers(0, 4)) == 0:
        pool["imageId"] = "ami-0123456789abcdef0" if cloud == "aws" else "projects/p-1/global/images/img"
    if draw(st.booleans()):
        checkpoint: dict = {"to": draw(st.sampled_from(["s3", "shared"] if has_shared else ["s3"]))}
        if draw(st.booleans()):
            checkpoint["heartbeatSeconds"] = draw(st.integers(30, 7200))
        if draw(st.booleans()):
            checkpoint["command"] = draw(st.sampled_from(["pkill -USR1 -f train.py", "echo 'save now'", "true"]))
        if draw(st.booleans()):
            checkpoint["directory"] = draw(st.from_regex(r"\A/[A-Za-z0-9._-]{1,8}(/[A-Za-z0-9._-]{1,8}){0,2}\Z"))
        pool["checkpoint"] = checkpoint
    return pool


MOUNTS = st.from_regex(r"\A/[A-Za-z0-9._-]{1,10}\Z")


@st.composite
def _storage(draw) -> dict:
    storage: dict = {}
    if draw(st.booleans()):
        storage["scratch"] = {"mount": draw(MOUNTS)} if draw(st.booleans()) else {}
    if draw(st.booleans()):
        positive = {"min_value": 0, "exclude_min": True, "allow_nan": False}
        shared = (
            {"throughputGbps": draw(st.floats(max_value=2000, **positive))}
            if draw(st.booleans())
            else {"throughputGbpsPerGpu": draw(st.floats(max_value=10, **positive))}
        )
        if draw(st.booleans()):
            shared["minCapacityGib"] = draw(st.integers(1200, 2_000_000))
        if draw(st.booleans()):
            shared["mount"] = draw(MOUNTS)
        storage["shared"] = shared
    if draw(st.booleans()):
        storage["buckets"] = {
            "datasetSizeTb": draw(st.floats(0, 10_000)),
            "checkpointSizeTb": draw(st.floats(0, 1_000)),
            "multiRegion": draw(st.booleans()),
        }
    return storage


@st.composite
def _network(draw, cloud: str, zones: list[str]) -> dict:
    prefix = draw(st.integers(16, 24))
    address = draw(st.integers(0, 2**32 - 1))
    vpc = ipaddress.IPv4Network((address, prefix), strict=False)
    network: dict = {"cidr": str(vpc)}
    if draw(st.booleans()):
        network["nat"] = draw(st.booleans())
    if cloud == "aws" and draw(st.integers(0, 2)) == 0:
        # slices 0..len(zones)-1 and 15 are the defaults; 6..14 are never used by them
        slices = list(vpc.subnets(prefixlen_diff=4))
        free = draw(st.permutations(range(6, 15)))
        chosen = draw(st.lists(st.sampled_from(zones), unique=True, max_size=len(zones)))
        network["privateSubnets"] = {zone: str(slices[free[i]]) for i, zone in enumerate(chosen)}
        if draw(st.booleans()):
            network["publicSubnet"] = str(slices[free[-1]])
    return network


@st.composite
def cluster_specs(draw, mixed_timestamps: bool = True) -> dict:
    """Specs that look valid: real regions, zones and instance types from the catalog, 1-3 pools of any
    capacity, fabric, placement and storage options. Most load; the ones that do not still test the loader.
    mixed_timestamps=False: a capacity block's two ends share one timestamp style (offset or none)."""
    cloud = draw(st.sampled_from(["aws", "gcp"]))
    region = draw(st.sampled_from(REGIONS[cloud]))
    types = [t for t in CATALOGS[cloud] if region in t.zones]
    instances = draw(st.lists(st.sampled_from(types), min_size=1, max_size=3))
    region_zones = _region_zones(cloud, region)
    # every pool's type gets a zone that offers it; then a few more zones of the region
    zones = [draw(st.sampled_from(offered_zones(t, region, region_zones))) for t in instances]
    zones += draw(st.lists(st.sampled_from(region_zones), max_size=3))
    zones = list(dict.fromkeys(zones))[:6]
    zones = draw(st.permutations(zones))
    storage = draw(_storage())
    names = draw(st.lists(NAMES, min_size=len(instances), max_size=len(instances), unique=True))
    pools = [
        draw(_pool(cloud, region, zones, instance, name, "shared" in storage, mixed_timestamps))
        for instance, name in zip(instances, names)
    ]
    spec: dict = {
        "name": draw(NAMES),
        "cloud": cloud,
        "region": region,
        "zones": zones,
        "pools": pools,
        "tags": {"owner": "team", "costCenter": "cc-1", "project": draw(NAMES)},
    }
    if draw(st.booleans()):
        spec["network"] = draw(_network(cloud, zones))
    if storage:
        spec["storage"] = storage
    if draw(st.booleans()):
        spec["tags"]["extra"] = draw(st.dictionaries(NAMES, st.text(min_size=1, max_size=10), max_size=3))
    if draw(st.booleans()):
        eu = "eu" if region in EU else region
        spec["residency"] = {"allowedRegions": draw(st.sampled_from([[region], [eu], [region, "us-east-2"]]))}
    if draw(st.booleans()):
        spec["budget"] = {
            k: v
            for k, v in {
                "monthlyUsd": draw(st.none() | st.floats(1, 1e8)),
                "hourlyUsd": draw(st.none() | st.floats(1, 1e5)),
                "maxGpus": draw(st.none() | st.integers(1, 100_000)),
            }.items()
            if v is not None
        }
    return spec


def _paths(node: object, prefix: tuple = ()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield (*prefix, i)
            yield from _paths(value, (*prefix, i))


@st.composite
def mutated_documents(draw) -> dict:
    """A schema document or a valid-looking spec with one field replaced, removed, or added."""
    doc = copy.deepcopy(draw(st.one_of(cluster_specs(), schema_documents)))
    path = draw(st.sampled_from(list(_paths(doc))))
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
    if action == "replace":
        parent[path[-1]] = draw(mutation_values)
    elif action == "delete":
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent[draw(json_keys)] = draw(mutation_values)
    else:
        parent.insert(path[-1], draw(mutation_values))
    note(f"mutation: {action} at {list(path)}")
    return doc


# ---------------------------------------------------------------------------------------------------------------
# The loader: returns, or raises SpecError, for any input
# ---------------------------------------------------------------------------------------------------------------


def _load_or_refuse(data: object) -> ClusterSpec | None:
    """load_spec's contract: a spec and its warnings, or SpecError listing at least one error. Nothing else."""
    try:
        spec, warnings = load_spec(data)
    except SpecError as exc:
        assert exc.problems and all(p.severity == "error" for p in exc.problems)
        assert str(exc)  # the report renders
        event("refused")
        return None
    assert isinstance(spec, ClusterSpec)
    assert all(w.severity == "warning" for w in warnings)
    event("loaded")
    return spec


@given(schema_documents)
def test_schema_documents_load_or_are_refused(doc):
    _load_or_refuse(doc)


@given(json_values)
def test_any_json_value_loads_or_is_refused(value):
    _load_or_refuse(value)


@given(mutated_documents())
def test_mutated_documents_load_or_are_refused(doc):
    _load_or_refuse(doc)


@given(cluster_specs())
def test_catalog_specs_load_or_are_refused(doc):
    _load_or_refuse(doc)


@given(cluster_specs(mixed_timestamps=False))
def test_every_loaded_spec_can_be_planned(doc):
    """What the components compute from a spec that loaded never raises (cheap; the preview test below runs
    the whole program on fewer examples)."""
    try:
        spec, _ = load_spec(doc)
    except SpecError:
        return
    plans = [plan_pool(spec, pool) for pool in spec.pools]
    assert all(plan.zones for plan in plans), "every pool has a zone"
    address_plan(spec)
    gcs_bucket_location(spec)
    if spec.cloud == "aws":
        lustre_plan(spec)
    else:
        managed_lustre_plan(spec)


# ---------------------------------------------------------------------------------------------------------------
# The offline preview: every spec that loads previews with exit 0 or 1, never a traceback
# ---------------------------------------------------------------------------------------------------------------


# Three in four previewed documents are catalog specs: schema documents are nearly always refused, and a refused
# document costs a preview example without running the program.
CATALOG_SPECS = cluster_specs(mixed_timestamps=False)


def _provider_config(spec: dict) -> dict[str, str]:
    if spec["cloud"] == "gcp":
        return {"gcp:region": spec["region"], "gcp:project": "p-1"}
    return {"aws:region": spec["region"]}


@settings(max_examples=PREVIEW_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(CATALOG_SPECS, CATALOG_SPECS, CATALOG_SPECS, schema_documents), st.booleans())
def test_loaded_specs_preview_without_a_traceback(doc, dry_run):
    try:
        load_spec(doc)
    except SpecError:
        event("refused")
        return
    event(f"previewed {doc['cloud']}")
    config = {**_provider_config(doc), f"{CONFIG_NAMESPACE}:{CONFIG_KEY}": json.dumps(doc)}
    # 1. The stack program itself: a graph, or a RunError (a spec or config problem, reported as such).
    try:
        result = run_program(str(PROJECT.main), PROJECT.name, "prop", config, preview=dry_run)
    except pulumi.RunError:
        event("RunError")
    else:
        assert isinstance(result, PreviewResult)
    # 2. The CLI, as a user runs it: stack file -> preview -> cost -> policies; exit 0 or 1, never a traceback.
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        (project / "Pulumi.yaml").write_text(yaml.safe_dump({"name": PROJECT.name, "main": str(ROOT)}))
        stack = {"config": {**_provider_config(doc), f"{CONFIG_NAMESPACE}:{CONFIG_KEY}": doc}}
        (project / "Pulumi.prop.yaml").write_text(yaml.safe_dump(stack))
        out, err = io.StringIO(), io.StringIO()
        debug = os.environ.get("GPUCLUSTER_DEBUG")
        os.environ["GPUCLUSTER_DEBUG"] = "1"
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = cli.main(["preview", "prop", "--project", folder, "--json"])
        finally:
            if debug is None:
                del os.environ["GPUCLUSTER_DEBUG"]
            else:
                os.environ["GPUCLUSTER_DEBUG"] = debug
    assert code in (0, 1), f"exit {code}: {err.getvalue()}"
    assert "preview failed" not in err.getvalue(), err.getvalue()  # the CLI's wording for an exception in the program
    if out.getvalue().strip():
        document = json.loads(out.getvalue())
        assert "resources" in document and "cost" in document and "policies" in document
    event(f"exit {code}")


# ---------------------------------------------------------------------------------------------------------------
# FSx for Lustre (AWS) and Managed Lustre (GCP) sizing
# ---------------------------------------------------------------------------------------------------------------

PRICES = lustre_prices()
# The spec's allowed range: throughputGbps up to 2000 GB/s, or up to 10 GB/s per GPU (bounded here at 1M GPUs).
aws_targets = st.floats(min_value=0, max_value=10_000_000_000, exclude_min=True, allow_nan=False)
min_capacities = st.integers(SMALLEST_GIB, 10_000_000)


def _valid_fsx_capacity(gib: int) -> bool:
    return gib == SMALLEST_GIB or (gib >= STEP_GIB and gib % STEP_GIB == 0)


@given(aws_targets, min_capacities)
def test_lustre_plan_meets_the_target_with_a_valid_layout(target, min_gib):
    plan = plan_lustre(target, min_gib)
    assert plan.per_unit_mbps in PER_UNIT_THROUGHPUT
    assert plan.capacity_gib >= min_gib
    assert _valid_fsx_capacity(plan.capacity_gib), plan
    assert plan.throughput_mbps >= target, plan
    # minimal at its own tier: one step smaller misses the target or the floor
    smaller = SMALLEST_GIB if plan.capacity_gib == STEP_GIB else plan.capacity_gib - STEP_GIB
    if plan.capacity_gib > SMALLEST_GIB:
        assert smaller < min_gib or smaller / GIB_PER_TIB * plan.per_unit_mbps < target


@given(st.floats(min_value=0, max_value=40_000, exclude_min=True, allow_nan=False), st.integers(SMALLEST_GIB, 60_000))
def test_no_cheaper_lustre_layout_exists(target, min_gib):
    """Brute force over every tier and every capacity up to the largest one that could be needed."""
    plan = plan_lustre(target, min_gib)
    bound = max(min_gib, math.ceil(target * GIB_PER_TIB / min(PER_UNIT_THROUGHPUT))) + STEP_GIB
    capacities = [SMALLEST_GIB, *range(STEP_GIB, bound + 1, STEP_GIB)]
    feasible = [
        LustrePlan(c, tier, PRICES[tier])
        for c, tier in itertools.product(capacities, PER_UNIT_THROUGHPUT)
        if c >= min_gib and c / GIB_PER_TIB * tier >= target
    ]
    cheapest = min(p.monthly_usd for p in feasible)
    assert plan.monthly_usd <= cheapest * (1 + 1e-12), (plan, min(feasible, key=lambda p: p.monthly_usd))


def _managed_capacities(tier: int, bound: float):
    """Every valid Managed Lustre capacity of `tier` up to `bound`, from the tier table."""
    minimum, step, threshold, big_step, maximum = MANAGED_LUSTRE_TIERS[tier]
    size = minimum
    while size <= min(bound, maximum):
        yield size
        size = size + step if size < threshold else big_step * (size // big_step + 1)


def _valid_managed_capacity(tier: int, gib: int) -> bool:
    minimum, step, threshold, big_step, maximum = MANAGED_LUSTRE_TIERS[tier]
    if not minimum <= gib <= maximum:
        return False
    return gib % step == 0 if gib <= threshold else gib % big_step == 0


MANAGED_MAX_MBPS = max(MANAGED_LUSTRE_TIERS[t][4] / GIB_PER_TIB * t for t in MANAGED_LUSTRE_TIERS)


@given(st.floats(min_value=0, max_value=MANAGED_MAX_MBPS * 1.01, exclude_min=True, allow_nan=False),
       st.integers(0, 41_000_000))
def test_managed_lustre_plan_meets_the_target_with_a_valid_layout(target, min_gib):
    reachable = [
        t for t in MANAGED_LUSTRE_TIERS
        if MANAGED_LUSTRE_TIERS[t][4] >= min_gib and MANAGED_LUSTRE_TIERS[t][4] / GIB_PER_TIB * t >= target
    ]
    if not reachable:
        with pytest.raises(ValueError):
            plan_managed_lustre(target, min_gib)
        return
    plan = plan_managed_lustre(target, min_gib)
    assert plan.per_unit_mbps in MANAGED_LUSTRE_TIERS
    assert plan.capacity_gib >= min_gib
    assert _valid_managed_capacity(plan.per_unit_mbps, plan.capacity_gib), plan
    assert plan.throughput_mbps >= target, plan


@given(st.floats(min_value=0, max_value=200_000, exclude_min=True, allow_nan=False), st.integers(0, 400_000))
def test_no_smaller_managed_lustre_layout_exists(target, min_gib):
    """No GCP storage prices in the book: the footprint is what is minimised, ties to the lower tier."""
    plan = plan_managed_lustre(target, min_gib)
    bound = max(min_gib, target * GIB_PER_TIB / min(MANAGED_LUSTRE_TIERS)) + max(t[3] for t in MANAGED_LUSTRE_TIERS.values())
    feasible = [
        (c, tier)
        for tier in MANAGED_LUSTRE_TIERS
        for c in _managed_capacities(tier, bound)
        if c >= min_gib and c / GIB_PER_TIB * tier >= target
    ]
    assert (plan.capacity_gib, plan.per_unit_mbps) == min(feasible)


# ---------------------------------------------------------------------------------------------------------------
# The address plan
# ---------------------------------------------------------------------------------------------------------------

vpc_cidrs = st.builds(
    lambda address, prefix: str(ipaddress.IPv4Network((address, prefix), strict=False)),
    st.integers(0, 2**32 - 1),
    st.integers(16, 24),
)


@given(vpc_cidrs, st.integers(1, 6))
def test_address_plan_subnets_fit_the_vpc_without_overlap(cidr, zone_count):
    zones = [f"us-east-1{c}" for c in "abcdef"[:zone_count]]
    spec = ClusterSpec.model_validate({**BASE_SPEC, "zones": zones, "network": {"cidr": cidr}})
    plan = address_plan(spec)
    vpc = ipaddress.IPv4Network(plan.vpc)
    assert vpc == ipaddress.IPv4Network(cidr)
    assert list(plan.private) == zones
    subnets = [ipaddress.IPv4Network(c) for c in [*plan.private.values(), plan.public]]
    for net in subnets:
        assert net.subnet_of(vpc), (net, vpc)
        assert net.prefixlen <= 28, f"{net} is smaller than /28"
    for a, b in itertools.combinations(subnets, 2):
        assert not a.overlaps(b), (a, b)
