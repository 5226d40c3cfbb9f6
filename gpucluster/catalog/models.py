"""Typed shape of the hardware catalog. Pure data: no Pulumi, no cloud calls."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# "kubernetes": the node types of Kubernetes clusters the toolkit does not create (on-premises DGX/HGX systems, GPU
# clouds that hand out a cluster), described by their hardware alone.
Cloud = Literal["aws", "gcp", "kubernetes"]
# "reservation" is listed only where a cloud sells reserved capacity apart from on-demand (GCP: A3 Ultra, A4 and A4X
# are sold through reservations, spot and flex-start, not as plain on-demand VMs); an AWS capacity reservation is
# on-demand capacity held for you, so it needs "on-demand".
CapacityType = Literal["on-demand", "reservation", "spot", "capacity-block", "flex-start"]
# What EC2 calls the accelerator: GpuInfo (gpu), NeuronInfo (trainium, inferentia), InferenceAcceleratorInfo without
# NeuronInfo (inference: Qualcomm AI 100), FpgaInfo (fpga), MediaAcceleratorInfo (media: Xilinx U30).
AcceleratorKind = Literal["gpu", "trainium", "inferentia", "inference", "fpga", "media"]
Architecture = Literal["x86_64", "arm64"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Strict):
    """Where a group of figures comes from, and when it was read."""

    covers: str = Field(description="Which figures this source backs, e.g. 'network, disks'")
    ref: str
    date: str


class Accelerator(_Strict):
    kind: AcceleratorKind
    model: str
    manufacturer: str | None = None
    count: int = Field(gt=0, description="Accelerator devices the instance sees (EC2: LogicalGpuCount where given)")
    fraction: float | None = Field(
        default=None, gt=0, lt=1,
        description="Share of one physical accelerator each device is (EC2 GpuPartitionSize, GCP vGPU shapes); None for "
        "whole devices",
    )
    memory_gib: float | None = Field(default=None, gt=0, description="Memory per device; None where the cloud publishes none")
    core_version: int | None = Field(default=None, gt=0, description="NeuronCore version (EC2 NeuronInfo CoreInfo.Version)")
    board_power_w: int | None = Field(
        default=None, description="Maximum board power per accelerator; None where the vendor publishes none (or the "
        "device is a share of a board, whose draw nobody publishes)"
    )

    @model_validator(mode="after")
    def _power_of_whole_boards(self) -> Accelerator:
        if self.fraction is not None and self.board_power_w is not None:
            raise ValueError("board_power_w is a whole board's; a fractional device has none of its own")
        return self


class AwsFabric(_Strict):
    """Network cards and the EFA interfaces they can carry (DescribeInstanceTypes NetworkInfo)."""

    network_cards: int = Field(ge=1)
    interfaces_per_card: int = Field(ge=1, description="MaximumNetworkInterfaces of each card")
    max_efa_interfaces: int = Field(ge=0)
    ena_only_cards: tuple[int, ...] = Field(
        default=(), description="Cards that cannot carry EFA (p6-b300 card 0)"
    )
    bandwidth_gbps: float | None = Field(gt=0, description="Aggregate network bandwidth; None where EC2 gives none")

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
    layout_known: bool = Field(
        default=True, description="False where Google documents the physical NIC count but not how the NICs are split "
        "and typed (A4X Max bare metal): nothing is built on such a type"
    )
    physical_nics: int | None = Field(default=None, ge=1, description="Google's physical NIC count, where documented")
    bandwidth_gbps: float | None = Field(default=None, gt=0, description="None where no source was read")
    mtu: int | None = None

    @model_validator(mode="after")
    def _typed(self) -> GcpFabric:
        if self.layout_known and self.gpu_nics and self.gpu_nic_type is None:
            raise ValueError("gpu_nics without gpu_nic_type; set layout_known: false if the NIC types are not documented")
        return self


LinkType = Literal["infiniband", "ethernet"]


class Nic(_Strict):
    """A group of identical NVIDIA (Mellanox) network ports of a bare-metal node. Each port is its own PCI function and
    its own RDMA device (HCA)."""

    role: Literal["compute", "storage"] = Field(
        description="compute: the GPU fabric (one port per GPU, rail-aligned); storage: storage and in-band management"
    )
    model: Literal["ConnectX-7", "ConnectX-8", "BlueField-3"]
    ports: int = Field(gt=0)
    rate_gbps: int = Field(gt=0, description="Per port")
    link_type: LinkType = Field(description="How the ports are configured on this node type (firmware LINK_TYPE)")
    link_types: tuple[LinkType, ...] = Field(description="What the adapter can be configured to (VPI: both)")
    pci_vendor: str = Field(default="15b3", pattern=r"^[0-9a-f]{4}$")
    pci_device: str = Field(pattern=r"^[0-9a-f]{4}$", description="Physical function device id")
    vf_device: str = Field(pattern=r"^[0-9a-f]{4}$", description="Virtual function device id")
    max_vfs: int = Field(ge=0, description="SR-IOV virtual functions one port allows")
    hcas: tuple[str, ...] = Field(
        default=(), description="RDMA device names in GPU order, where the vendor publishes them; else unknown"
    )
    netdevs: tuple[str, ...] = Field(default=(), description="Kernel interface names, in the same order")

    @model_validator(mode="after")
    def _consistent(self) -> Nic:
        if self.link_type not in self.link_types:
            raise ValueError(f"link_type {self.link_type} is not one the adapter supports {self.link_types}")
        for names in (self.hcas, self.netdevs):
            if names and len(names) != self.ports:
                raise ValueError(f"{len(names)} names for {self.ports} ports")
        return self


class MetalFabric(_Strict):
    """The NICs of a bare-metal node, and what its vendor image installs on the host."""

    nics: tuple[Nic, ...]
    host_drivers: bool = Field(
        description="The vendor's OS image (DGX OS) installs the NVIDIA GPU driver and DOCA-OFED on the host"
    )
    system_power_kw: float | None = Field(
        default=None, gt=0, description="The system's maximum power draw, where the vendor publishes it"
    )

    @property
    def compute_nics(self) -> tuple[Nic, ...]:
        return tuple(nic for nic in self.nics if nic.role == "compute")

    @property
    def compute_ports(self) -> int:
        return sum(nic.ports for nic in self.compute_nics)

    @property
    def bandwidth_gbps(self) -> float:
        return float(sum(nic.ports * nic.rate_gbps for nic in self.compute_nics))


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
    vcpus: int | None = Field(gt=0, description="Logical CPUs; None for boards whose host the server maker chooses (HGX)")
    memory_gib: float | None = Field(gt=0, description="Host memory; None where the server maker chooses it")
    fabric: AwsFabric | GcpFabric | MetalFabric
    local_disks: LocalDisks = LocalDisks(count=0, size_gb=0)
    architectures: tuple[Architecture, ...] = Field(
        default=("x86_64",), min_length=1, description="CPU architectures the type runs (EC2 ProcessorInfo)"
    )
    bare_metal: bool = False
    capacity_types: tuple[CapacityType, ...] = ("on-demand", "spot")
    placement_strategies: tuple[str, ...] = ()
    zones: dict[str, tuple[str, ...]] = Field(
        default_factory=dict, description="region -> zones where the type is offered (none for bare-metal types)"
    )
    sources: tuple[Source, ...]

    @property
    def regions(self) -> tuple[str, ...]:
        return tuple(self.zones)

    @property
    def fabric_capable(self) -> bool:
        if isinstance(self.fabric, AwsFabric):
            return self.fabric.max_efa_interfaces > 0
        if isinstance(self.fabric, MetalFabric):
            return self.fabric.compute_ports > 0
        return self.fabric.layout_known and self.fabric.gpu_nics > 0

    @property
    def gpus(self) -> int:
        return self.accelerator.count
