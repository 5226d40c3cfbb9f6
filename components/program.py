"""The stack program: stack config -> validated spec -> components -> stack outputs."""

from __future__ import annotations

import pulumi

from gpucluster.plan import PoolPlan, plan_pool
from gpucluster.problems import Problem, SpecError, format_problems
from gpucluster.spec import CONFIG_KEY, CONFIG_NAMESPACE, ClusterSpec
from gpucluster.validate import load_spec

from .aws import AwsGpuCluster, AwsGpuClusterArgs
from .gcp import GcpGpuCluster, GcpGpuClusterArgs
from .kube import ExistingCluster, ExistingClusterArgs
from .kube.existing import KUBECONFIG_SECRET


def read_spec() -> ClusterSpec:
    """Validate `gpucluster:cluster`; errors stop the program with the same report the CLI prints."""
    raw = pulumi.Config(CONFIG_NAMESPACE).get_object(CONFIG_KEY)
    if raw is None:
        raise pulumi.RunError(f"stack config has no '{CONFIG_NAMESPACE}:{CONFIG_KEY}'; see README, 'Cluster spec'")
    try:
        checked = load_spec(raw)
    except SpecError as exc:
        raise pulumi.RunError(str(exc)) from None
    for warning in checked.warnings:
        pulumi.log.warn(warning.text)
    for skipped in checked.skipped:  # not warnings, but never silent
        pulumi.log.info(str(skipped))
    return checked.spec


def check_provider_config(spec: ClusterSpec) -> None:
    """The provider's default region must be the spec's, so every resource lands where the spec (and the
    residency policy) expects; GCP also needs its project. An existing cluster has no cloud provider."""
    if spec.cloud == "kubernetes":
        return
    provider = pulumi.Config(spec.cloud)
    problems = []
    configured = provider.get("region")
    if configured != spec.region:
        problems.append(Problem(f"{spec.cloud}:region", f"stack config {spec.cloud}:region is {configured!r}, but the "
                                f"cluster spec says region {spec.region!r}; set them equal", code="GPC-PROVIDER-REGION"))
    if spec.cloud == "gcp" and not provider.get("project"):
        problems.append(Problem("gcp:project", "stack config gcp:project is not set; the RoCE network profile and the KMS "
                                "grants need it", code="GPC-PROVIDER-PROJECT"))
    if problems:
        raise pulumi.RunError(format_problems(problems))


def main() -> None:
    spec = read_spec()
    check_provider_config(spec)
    if spec.cloud == "gcp":
        return gcp_main(spec)
    if spec.cloud == "kubernetes":
        return existing_main(spec)

    cluster = AwsGpuCluster(spec.name, AwsGpuClusterArgs(spec))
    export_outputs(cluster.outputs)
    pulumi.export("vpcId", cluster.network.vpc_id)
    pulumi.export("privateSubnetIds", cluster.network.private_subnet_ids)
    pulumi.export("efaSecurityGroupId", cluster.network.efa_security_group_id)
    if cluster.kubernetes:
        _export_kubernetes(spec, cluster.kubernetes.cluster_name, cluster.kubernetes.kubeconfig)
    announce_rollouts(spec, [plan_pool(spec, pool) for pool in spec.pools])


def export_outputs(outputs: dict) -> None:
    """A cluster component's outputs (gpucluster.outputs) as the stack's."""
    for key, value in outputs.items():
        pulumi.export(key, value)


def _export_kubernetes(spec: ClusterSpec, cluster_name: pulumi.Output[str], kubeconfig: pulumi.Output[str]) -> None:
    pulumi.export("kubernetes", {
        "clusterName": cluster_name,
        "version": spec.kubernetes.version,
        "clusterQueue": spec.name,
        "localQueues": {team.name: f"{team.name}/{team.name}" for team in spec.kubernetes.teams},
    })
    pulumi.export("kubeconfig", kubeconfig)  # a secret: `pulumi stack output kubeconfig --show-secrets`


def gcp_main(spec: ClusterSpec) -> None:
    cluster = GcpGpuCluster(spec.name, GcpGpuClusterArgs(spec, pulumi.Config("gcp").require("project")))
    export_outputs(cluster.outputs)
    if cluster.kubernetes:
        _export_kubernetes(spec, cluster.kubernetes.cluster_name, cluster.kubernetes.kubeconfig)
    announce_rollouts(spec, [plan_pool(spec, pool) for pool in spec.pools])


def existing_main(spec: ClusterSpec) -> None:
    """An existing cluster: only objects inside it, through its kubeconfig (the local one at site.context, or the
    stack's secret)."""
    kubeconfig = (pulumi.Config(CONFIG_NAMESPACE).require_secret(KUBECONFIG_SECRET)
                  if spec.site.kubeconfig == "stack-secret" else None)
    cluster = ExistingCluster(spec.name, ExistingClusterArgs(spec, kubeconfig))
    export_outputs(cluster.outputs)
    pulumi.export("kubernetes", {
        "clusterQueue": spec.name,
        "localQueues": {team.name: f"{team.name}/{team.name}" for team in spec.kubernetes.teams},
        "releases": cluster.releases,
    })


def announce_rollouts(spec: ClusterSpec, plans: list[PoolPlan]) -> None:
    """Say in the preview which pools keep running nodes on an old image or template: a change is silent otherwise."""
    for plan in plans:
        pool = plan.pool
        if spec.kubernetes:
            pace = (f"{100 - pool.rollout.min_healthy_percent}% at a time" if spec.cloud == "aws"
                    else "one node at a time, in the weekend maintenance window")
            pulumi.log.info(f"pool '{pool.name}': a Kubernetes node pool: a changed template drains and replaces running "
                            f"nodes, {pace}; Kueue requeues the jobs they ran")
        elif plan.rolling:
            pulumi.log.info(f"pool '{pool.name}': rollout rolling: a changed image or template replaces running nodes "
                            f"in batches, keeping {pool.rollout.min_healthy_percent}% in service")
        else:
            pulumi.log.info(f"pool '{pool.name}': rollout manual: a changed image or template reaches new nodes only; "
                            "running nodes keep the old one until they are replaced (rollout.strategy: rolling changes that)")
