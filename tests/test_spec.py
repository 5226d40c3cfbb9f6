"""Structural validation of the spec (no catalog)."""

import pytest
from pydantic import ValidationError

from gpucluster.problems import SpecError, from_validation_error, path_of
from gpucluster.spec import Capacity, ClusterSpec, Network, Size
from gpucluster.validate import load_spec

from .helpers import BASE_SPEC, spec_with


def test_base_spec_is_valid_and_defaults_apply():
    spec, warnings = load_spec(BASE_SPEC)
    assert warnings == []
    assert spec.network.cidr == "10.0.0.0/16"
    assert spec.pools[0].fabric == "auto"
    assert spec.pools[0].size.desired_or_min == 2
    assert spec.tags.as_dict() == {"owner": "team", "cost-center": "cc-1", "project": "proj"}


def test_camel_case_keys_are_what_users_write():
    with pytest.raises(SpecError) as err:
        load_spec(spec_with(tags={"owner": "a", "cost_center": "b", "project": "c"}))
    paths = [p.path for p in err.value.problems]
    assert "tags.cost_center" in paths and "tags.costCenter" in paths


@pytest.mark.parametrize(
    "size, message",
    [
        ({"min": 3, "max": 1}, "min (3) is greater than max (1)"),
        ({"min": 1, "desired": 5, "max": 2}, "desired (5) is outside min..max (1..2)"),
    ],
)
def test_size_order(size, message):
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        Size.model_validate(size)


def test_capacity_targets():
    with pytest.raises(ValidationError, match="capacity-block needs reservationId"):
        Capacity.model_validate({"type": "capacity-block"})
    with pytest.raises(ValidationError, match="exactly one of reservationId or reservationGroupArn"):
        Capacity.model_validate({"type": "reservation"})
    with pytest.raises(ValidationError, match="only apply to reservation or capacity-block"):
        Capacity.model_validate({"type": "spot", "reservationId": "cr-0123456789abcdef0"})
    assert Capacity.model_validate({"type": "reservation", "reservationId": "cr-0123456789abcdef0"})


def test_cidr_must_be_a_network_address():
    with pytest.raises(ValidationError, match="has host bits set"):
        Network.model_validate({"cidr": "10.0.0.1/16"})
    with pytest.raises(ValidationError, match="outside /16../24"):
        Network.model_validate({"cidr": "10.0.0.0/8"})


def test_unknown_key_names_the_allowed_keys_and_a_near_miss():
    try:
        ClusterSpec.model_validate(spec_with(pools=[{**BASE_SPEC["pools"][0], "instanceTyp": "x"}]))
    except ValidationError as exc:
        problems = from_validation_error(exc, ClusterSpec)
    messages = {p.path: p.message for p in problems}
    assert "did you mean 'instanceType'?" in messages["pools[0].instanceTyp"]
    assert "alternateTypes" in messages["pools[0].instanceTyp"]


def test_paths_render_lists_and_keys():
    assert path_of(("pools", 2, "size", "min")) == "pools[2].size.min"
    assert path_of(()) == "(top level)"


def test_several_errors_come_together():
    bad = spec_with(name="Bad Name", zones=[], tags={"owner": "x"})
    with pytest.raises(SpecError) as err:
        load_spec(bad)
    paths = {p.path for p in err.value.problems}
    assert {"name", "zones", "tags.costCenter", "tags.project"} <= paths
    assert str(err.value).startswith(f"{len(err.value.problems)} error(s) in the cluster spec; nothing was run.")


def test_schema_uses_the_config_keys():
    schema = ClusterSpec.model_json_schema(by_alias=True)
    pool = schema["$defs"]["Pool"]["properties"]
    assert {"instanceType", "alternateTypes", "rootVolumeGb"} <= set(pool)
    assert schema["$defs"]["Pool"]["additionalProperties"] is False
