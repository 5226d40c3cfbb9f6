"""Network interface layouts that give each instance type its full fabric bandwidth. Pure functions of the catalog.

AWS layout, per "Maximize network bandwidth on Amazon EC2 instances with multiple network cards"
(docs.aws.amazon.com/AWSEC2/latest/UserGuide/efa-acc-inst-types.html, read 2026-11):
- card 0, device 0 is the primary and carries IP traffic: an ENA interface (an EFA-only one cannot be primary);
- card 0, device 1 is EFA-only when card 0 supports EFA (it does not on p6-b300);
- every further EFA card gets an EFA-only interface on device 0.
EFA-only interfaces take no IP address, so a 32-card p5 uses one private IP, not 32.
Single-card types (g5/g6/g6e up to 12xlarge) take one EFA-with-ENA interface as the primary instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .catalog import AwsFabric, GcpFabric, InstanceType

InterfaceType = Literal["interface", "efa", "efa-only"]


@dataclass(frozen=True)
class AwsInterface:
    network_card_index: int
    device_index: int
    interface_type: InterfaceType


PRIMARY_ONLY = (AwsInterface(0, 0, "interface"),)


def aws_interfaces(instance: InstanceType, efa: bool) -> tuple[AwsInterface, ...]:
    """The launch-template interfaces for `instance`, with or without its EFA fabric."""
    fabric = instance.fabric
    if not isinstance(fabric, AwsFabric):
        raise TypeError(f"{instance.name} is not an AWS instance type")
    if not efa or not fabric.max_efa_interfaces:
        return PRIMARY_ONLY
    if fabric.network_cards == 1:
        return (AwsInterface(0, 0, "efa"),)
    return PRIMARY_ONLY + tuple(
        AwsInterface(card, 1 if card == 0 else 0, "efa-only") for card in fabric.efa_cards
    )


def efa_device_count(interfaces: tuple[AwsInterface, ...]) -> int:
    return sum(1 for i in interfaces if i.interface_type in ("efa", "efa-only"))


@dataclass(frozen=True)
class GcpNic:
    """One NIC of a GCP VM: which cluster network it joins (and which of its subnets), and its type."""

    network: str  # "host", "host-2", "gpu-<i>" (one VPC per GPU NIC) or "rdma" (one VPC, one subnet per NIC)
    nic_type: Literal["GVNIC", "MRDMA"]
    subnet: int = 0


def gcp_nics(instance: InstanceType, fabric_on: bool) -> tuple[GcpNic, ...]:
    """Host NICs, then every GPU NIC the machine has (cluster-toolkit's layouts): A3 High 4 and A3 Mega 8 GPU
    VPCs of gVNIC; A3 Ultra and A4 a second gVNIC plus 8 MRDMA NICs on one RoCE VPC."""
    fabric = instance.fabric
    if not isinstance(fabric, GcpFabric):
        raise TypeError(f"{instance.name} is not a GCP machine type")
    nics = [GcpNic("host", "GVNIC")] + [GcpNic(f"host-{i + 1}", "GVNIC") for i in range(1, fabric.host_nics)]
    if not fabric_on or not fabric.gpu_nics:
        return tuple(nics)
    if fabric.gpu_nic_type == "MRDMA":
        return tuple(nics + [GcpNic("rdma", "MRDMA", i) for i in range(fabric.gpu_nics)])
    return tuple(nics + [GcpNic(f"gpu-{i}", "GVNIC") for i in range(fabric.gpu_nics)])
