"""EFA interface layouts per instance type."""

from collections import Counter

import pytest

from gpucluster import catalog
from gpucluster.fabric import PRIMARY_ONLY, AwsInterface, aws_interfaces, efa_device_count

AWS = catalog.load("aws")


def layout(name, efa=True):
    return aws_interfaces(AWS[name], efa)


@pytest.mark.parametrize(
    "name, efa_devices",
    [("p5.48xlarge", 32), ("p5e.48xlarge", 32), ("p5en.48xlarge", 16), ("p4d.24xlarge", 4), ("p4de.24xlarge", 4),
     ("p6-b200.48xlarge", 8), ("p6-b300.48xlarge", 16), ("trn1.32xlarge", 8), ("trn1n.32xlarge", 16),
     ("g6e.48xlarge", 4), ("g5.12xlarge", 1), ("g6.48xlarge", 1)],
)
def test_every_efa_the_type_supports_is_attached(name, efa_devices):
    interfaces = layout(name)
    assert efa_device_count(interfaces) == efa_devices == AWS[name].fabric.max_efa_interfaces


@pytest.mark.parametrize("entry", [t for t in AWS if t.fabric_capable], ids=lambda t: t.name)
def test_layout_is_launchable(entry):
    interfaces = aws_interfaces(entry, True)
    primary = interfaces[0]
    assert (primary.network_card_index, primary.device_index) == (0, 0)
    assert primary.interface_type in ("interface", "efa")  # an EFA-only interface cannot be the primary
    slots = Counter((i.network_card_index, i.device_index) for i in interfaces)
    assert max(slots.values()) == 1, "two interfaces in one slot"
    per_card = Counter(i.network_card_index for i in interfaces)
    assert max(per_card.values()) <= entry.fabric.interfaces_per_card
    assert all(i.network_card_index < entry.fabric.network_cards for i in interfaces)
    ena = [i for i in interfaces if i.interface_type in ("interface", "efa")]
    assert len(ena) == 1, "exactly one interface carries IP traffic, so a node uses one private IP"


def test_p5_layout_follows_aws_guidance():
    interfaces = layout("p5.48xlarge")
    assert interfaces[:3] == (
        AwsInterface(0, 0, "interface"),
        AwsInterface(0, 1, "efa-only"),
        AwsInterface(1, 0, "efa-only"),
    )
    assert len(interfaces) == 33
    assert {i.network_card_index for i in interfaces if i.interface_type == "efa-only"} == set(range(32))


def test_p6_b300_leaves_ena_only_card_0_plain():
    interfaces = layout("p6-b300.48xlarge")
    assert interfaces[0] == AwsInterface(0, 0, "interface")
    assert [i for i in interfaces if i.network_card_index == 0] == [AwsInterface(0, 0, "interface")]
    assert [i.network_card_index for i in interfaces[1:]] == list(range(1, 17))


def test_single_card_types_use_one_efa_with_ena_primary():
    assert layout("g5.12xlarge") == (AwsInterface(0, 0, "efa"),)


def test_without_fabric_only_the_primary():
    assert layout("p5.48xlarge", efa=False) == PRIMARY_ONLY
    assert layout("g5.xlarge") == PRIMARY_ONLY


def test_gcp_types_are_refused():
    with pytest.raises(TypeError):
        aws_interfaces(catalog.load("gcp")["a3-megagpu-8g"], True)
