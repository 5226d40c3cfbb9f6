"""`gpucluster preflight STACK`: ask the stack's cloud whether what the stack needs is there before `pulumi up` asks
for it: quotas at maximum size, the instance type in the pools' zones, spot capacity, reservations and capacity
blocks, storage and VPC quotas, and the node image. Clients are injected: `client_for(service, region)`."""

from __future__ import annotations

from ..refresh_io import Progress
from ..spec import ClusterSpec
from .aws import AwsPreflight
from .gcp import GcpPreflight
from .model import Check, ClientFor
from .needs import stack_needs
from .retry import Backoff
from .tasks import run_tasks

__all__ = ["Check", "preflight"]


def preflight(spec: ClusterSpec, client_for: ClientFor, *, gcp_project: str | None = None,
              backoff: Backoff | None = None, progress: Progress | None = None) -> list[Check]:
    """Every check of the stack's cloud (aws or gcp), in order: quotas, then per pool, then the region's."""
    needs = stack_needs(spec)
    if spec.cloud == "aws":
        tasks = AwsPreflight(needs, client_for, backoff).tasks()
    elif spec.cloud == "gcp":
        tasks = GcpPreflight(needs, gcp_project or "", client_for, backoff).tasks()
    else:
        raise ValueError(f"preflight checks aws and gcp stacks, not cloud {spec.cloud}")
    return run_tasks(tasks, spec.region, progress)
