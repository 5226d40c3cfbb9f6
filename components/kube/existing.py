"""ExistingCluster: the GPU training layer on a Kubernetes cluster the toolkit does not create (on-premises DGX/HGX
systems, a GPU cloud's cluster): the GPU and Network Operators with RDMA over the nodes' NVIDIA NICs, JobSet, Kueue
with its topology, and a record of the site. Nothing is created outside the cluster."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from gpucluster import naming
from gpucluster.kube.addons import releases
from gpucluster.kube.rdma import fabric_objects, node_resources, pool_fabrics
from gpucluster.outputs import cluster_outputs
from gpucluster.plan import PoolPlan, plan_pool
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
        fabrics = {fabric.pool.name: fabric for fabric in pool_fabrics(spec)}
        plans = [plan_pool(spec, pool) for pool in spec.pools]
        self.outputs = cluster_outputs(spec, plans, {plan.pool.name: _pool_outputs(spec, plan, fabrics) for plan in plans},
                                       network=None, storage=None)
        self.register_outputs({**self.outputs, "releases": self.releases, "site": record["data"]})


def _pool_outputs(spec: ClusterSpec, plan: PoolPlan, fabrics: dict) -> dict:
    """What only a pool of an existing cluster has: the selector that finds its nodes, and its RDMA devices."""
    outputs: dict = {"nodeSelector": dict(plan.pool.node_selector)}
    if fabric := fabrics.get(plan.pool.name):
        outputs["fabric"] = {"link": fabric.link, "ports": len(fabric.rails), "devices": node_resources(spec, fabric)}
    return outputs
