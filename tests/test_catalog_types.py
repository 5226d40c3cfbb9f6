"""Every catalog type with recorded zones, both clouds, through validation, the preview, the fabric layout and the cost
estimate: one stack per region holding one pool of each type offered there, so the types also meet each other."""

from __future__ import annotations

import json

import pytest

from gpucluster import catalog
from gpucluster.cost import estimate
from gpucluster.images import default_image
from gpucluster.plan import plan_pool
from gpucluster.preview.render import as_json
from gpucluster.validate import load_spec

from .helpers import PROJECT, of_type, preview_spec

TAGS = {"owner": "team", "costCenter": "cc-1", "project": "proj"}
IMAGES = {"aws": "ami-0123456789abcdef0", "gcp": "projects/my-images/global/images/family/vendor-accelerator"}
TEMPLATES = {"aws": "aws:ec2/launchTemplate:LaunchTemplate", "gcp": "gcp:compute/instanceTemplate:InstanceTemplate"}
MACHINE = {"aws": "instanceType", "gcp": "machineType"}  # the template input naming the type
MAX_POOLS = 50  # the spec's limit per cluster


def _capacity(instance: catalog.InstanceType) -> dict:
    """The first way the type is sold: on-demand where it is; else spot; a reservation where that is all there is."""
    for kind in ("on-demand", "spot"):
        if kind in instance.capacity_types:
            return {"type": kind}
    return {"type": "reservation", "reservationName": "held"}


def _region(instance: catalog.InstanceType) -> str:
    home = {"aws": "us-east-1", "gcp": "us-central1"}[instance.cloud]
    return home if home in instance.zones else sorted(instance.zones)[0]


def _pool(i: int, instance: catalog.InstanceType) -> dict:
    """Pool i of the type in the first zone its region offers it, with an image where the type has no default one."""
    zone = instance.zones[_region(instance)][0]
    image = {} if default_image(instance) else {"imageId": IMAGES[instance.cloud]}
    return {"name": f"p{i}", "instanceType": instance.name, "size": {"min": 1, "max": 2}, "zones": [zone],
            "capacity": _capacity(instance), **image}


def _stacks(cloud: str) -> dict[str, dict]:
    """One spec per region: every buildable type whose home region it is, each pool in its own first zone."""
    by_region: dict[str, list[catalog.InstanceType]] = {}
    for instance in catalog.load(cloud):
        if instance.zones and all(instance.zones.values()):
            by_region.setdefault(_region(instance), []).append(instance)
    specs = {}
    for region, types in sorted(by_region.items()):
        for part, start in enumerate(range(0, len(types), MAX_POOLS)):
            pools = [_pool(i, t) for i, t in enumerate(types[start:start + MAX_POOLS])]
            zones = sorted({p["zones"][0] for p in pools})
            specs[f"{region}-{part}"] = {"name": "every", "cloud": cloud, "region": region, "zones": zones,
                                         "pools": pools, "tags": TAGS}
    return specs


CASES = [(cloud, region, spec) for cloud in ("aws", "gcp") for region, spec in _stacks(cloud).items()]


def _preview(spec: dict):
    if spec["cloud"] == "aws":
        return preview_spec(spec)
    from gpucluster.preview.engine import run_program

    config = {"gcp:region": spec["region"], "gcp:project": "p-1", "gpucluster:cluster": json.dumps(spec)}
    return run_program(str(PROJECT.main), PROJECT.name, "test", config)


def test_every_type_with_zones_is_in_a_case():
    covered = {p["instanceType"] for _, _, spec in CASES for p in spec["pools"]}
    with_zones = {t.name for cloud in ("aws", "gcp") for t in catalog.load(cloud) if t.zones and all(t.zones.values())}
    assert covered == with_zones
    assert len(covered) > 90


@pytest.mark.parametrize("cloud, region, spec", CASES, ids=[f"{c}-{r}" for c, r, _ in CASES])
def test_each_type_validates_previews_and_is_costed(cloud, region, spec):
    checked, _ = load_spec(spec)
    result = _preview(spec)
    templates = {t.inputs[MACHINE[cloud]]: t for t in of_type(result, TEMPLATES[cloud])}
    assert len(templates) == len(spec["pools"])
    by_type = {}
    for pool in checked.pools:
        plan = plan_pool(checked, pool)
        by_type[plan.instance.name] = plan.instance
        template = templates[plan.instance.name]
        interfaces, fabric = template.inputs["networkInterfaces"], plan.instance.fabric
        # the whole fabric the catalog records for the type: an interface per network card, EFA on every card that
        # carries it (AWS); every host and GPU NIC (GCP)
        if cloud == "aws":
            efa = [i for i in interfaces if i.get("interfaceType") in ("efa", "efa-only")]
            cards = {i["networkCardIndex"] for i in efa}
            assert len(efa) == len(cards) == (len(fabric.efa_cards) if plan.instance.fabric_capable else 0), plan.instance.name
            assert cards == (set(fabric.efa_cards) if plan.instance.fabric_capable else set()), plan.instance.name
            # the primary ENA interface on card 0, apart from card 0's EFA where the card has one
            assert len(interfaces) == len(efa) + (0 if fabric.network_cards == 1 and efa else 1), plan.instance.name
        else:
            assert len(interfaces) == fabric.host_nics + fabric.gpu_nics, plan.instance.name
    cost = estimate(as_json(result)["resources"])
    # at most 2 nodes on AWS; GCP groups run at their desired size, here min (they do not autoscale yet)
    nodes_at_max = 2 if cloud == "aws" else 1
    for pool in checked.pools:
        assert cost["pools"][pool.name]["gpus"]["max"] == nodes_at_max * by_type[pool.instance_type].gpus, pool.instance_type
    # power is the catalog's or said to be unknown, never guessed
    unknown = {name for name, t in by_type.items() if t.accelerator.board_power_w is None
               and getattr(t.fabric, "system_power_kw", None) is None}
    assert set(cost["power"]["unknownFor"]) == unknown
