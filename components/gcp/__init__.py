"""GCP components: networks with GPU NICs, storage under a customer-managed key, GPU instance groups."""

from .cluster import GcpGpuCluster, GcpGpuClusterArgs
from .instance_group import GpuInstanceGroup, GpuInstanceGroupArgs
from .network import ClusterNetwork, ClusterNetworkArgs
from .storage import TieredStorage, TieredStorageArgs

__all__ = [
    "ClusterNetwork",
    "ClusterNetworkArgs",
    "GcpGpuCluster",
    "GcpGpuClusterArgs",
    "GpuInstanceGroup",
    "GpuInstanceGroupArgs",
    "TieredStorage",
    "TieredStorageArgs",
]
