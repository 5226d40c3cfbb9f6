"""The Kubernetes layer on either cloud's cluster: add-ons, queues and storage objects, through one provider."""

from .existing import ExistingCluster, ExistingClusterArgs
from .workloads import GpuWorkloads, GpuWorkloadsArgs

__all__ = ["ExistingCluster", "ExistingClusterArgs", "GpuWorkloads", "GpuWorkloadsArgs"]
