"""ExistingCluster: the GPU training layer on a Kubernetes cluster the toolkit does not create (on-premises DGX/HGX
systems, a GPU cloud's cluster): the GPU and Network Operators with RDMA over the nodes' NVIDIA NICs, JobSet, Kueue
with its topology, and a record of the site. Nothing is created outside the cluster."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from gpucluster import naming
from gpucluster.kube.addons import releases
from gpucluster.kube.rdma import fabric_objects
from gpucluster.kube.site import site_record
from gpucluster.spec import ClusterSpec

from ..checked import checked_spec
from .workloads import GpuWorkloads, GpuWorkloadsArgs

KUBECONFIG_SECRET = "kubeconfig"  # the stack's secret config key gpucluster:kubeconfig, for site.kubeconfig stack-secret


@dataclass
class ExistingClusterArgs:
    spec: ClusterSpec
    kubeconfig: pulumi.Input[str] | None = None  # the cluster's kubeconfig; None: the local one at site.context


class ExistingCluster(pulumi.ComponentResource):
    def __init__(self, name: str, args: ExistingClusterArgs, opts: pulumi.ResourceOptions | None = None):
        spec = checked_spec(args.spec, "kubernetes", type(self).__name__, name)
        super().__init__("gpucluster:kubernetes:ExistingCluster", name, None, opts)
        record = site_record(spec)
        self.workloads = GpuWorkloads(naming.workloads(name), GpuWorkloadsArgs(
            spec=spec, kubeconfig=args.kubeconfig, context=spec.site.context,
            objects=[record, *fabric_objects(spec)],
        ), opts=pulumi.ResourceOptions(parent=self))
        self.releases = {release.chart.name: release.chart.version for release in releases(spec)}
        self.register_outputs({"releases": self.releases, "site": record["data"]})
