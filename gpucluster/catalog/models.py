"""Typed shape of the hardware catalog. Pure data: no Pulumi, no cloud calls."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Cloud = Literal["aws", "gcp"]
CapacityType = Literal["on-demand", "spot", "capacity-block", "flex-start"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Strict):
    """Where a group of figures comes from, and when it was read."""

    covers: str = Field(description="Which figures this source backs, e.g. 'network, disks'")
    ref: str
    date: str


class Accelerator(_Strict):
    kind: Literal["gpu", "trainium"]
    model: str
    count: int = Field(gt=0)
    memory_gib: float = Field(gt=0, description="Memory per accelerator")
    board_power_w: int | None = Field(
        default=None, description="Maximum board power per accelerator; None where the vendor publishes none"
    )


class AwsFabric(_Strict):
    """Network cards and the EFA interfaces they can carry (DescribeInstanceTypes NetworkInfo)."""

    network_cards: int = Field(ge=1)
    interfaces_per_card: int = Field(ge=1, description="MaximumNetworkInterfaces of each card")
    max_efa_interfaces: int = Field(ge=0)
    ena_only_cards: tuple[int, ...] = Field(
        default=(), description="Cards that cannot carry EFA (p6-b300 card 0)"
    )
    bandwidth_gbps: float = Field(gt=0, description="Aggregate network bandwidth")

    @model_validator(mode="after")
    def _efa_cards_fit(self) -> AwsFabric:
        if self.max_efa_interfaces and len(self.efa_cards) != self.max_efa_interfaces:
            raise ValueError(
                f"{self.network_cards} cards minus ENA-only {list(self.ena_only_cards)} "
                f"does not match max_efa_interfaces={self.max_efa_interfaces}"
            )
        return self

    @property
    def efa_cards(self) -> tuple[int, ...]:
        if not self.max_efa_interfaces:
            return ()
        return tuple(i for i in range(self.network_cards) if i not in self.ena_only_cards)


class GcpFabric(_Strict):
    """Host NICs plus the GPU NICs a machine type needs for its full fabric bandwidth."""

    transport: Literal["none", "gpudirect-tcpx", "gpudirect-tcpxo", "gpudirect-rdma"]
    host_nics: int = Field(ge=1, description="gVNIC interfaces for host traffic")
    gpu_nics: int = Field(ge=0)
    gpu_nic_type: Literal["GVNIC", "MRDMA"] | None = None
    bandwidth_gbps: float | None = Field(default=None, gt=0, description="None where no source was read")
    mtu: int | None = None


class LocalDisks(_Strict):
    count: int = Field(ge=0)
    size_gb: int = Field(ge=0, description="Size of each disk (GB for AWS, GiB for GCP local SSD)")

    @property
    def total_gb(self) -> int:
        return self.count * self.size_gb


class InstanceType(_Strict):
    name: str
    cloud: Cloud
    family: str
    accelerator: Accelerator
    vcpus: int = Field(gt=0)
    memory_gib: float = Field(gt=0)
    fabric: AwsFabric | GcpFabric
    local_disks: LocalDisks = LocalDisks(count=0, size_gb=0)
    capacity_types: tuple[CapacityType, ...] = ("on-demand", "spot")
    placement_strategies: tuple[str, ...] = ()
    zones: dict[str, tuple[str, ...]] = Field(description="region -> zones where the type is offered")
    sources: tuple[Source, ...]

    @property
    def regions(self) -> tuple[str, ...]:
        return tuple(self.zones)

    @property
    def fabric_capable(self) -> bool:
        if isinstance(self.fabric, AwsFabric):
            return self.fabric.max_efa_interfaces > 0
        return self.fabric.gpu_nics > 0

    @property
    def gpus(self) -> int:
        return self.accelerator.count
