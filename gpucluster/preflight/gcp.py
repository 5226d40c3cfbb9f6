"""The GCP checks, over the Compute Engine REST API (JSON as Google documents it: regions.get, projects.get,
machineTypes.get, reservations.get). The client is `client_for("compute", region)`: `ComputeRest` over google-auth's
AuthorizedSession in the CLI (google-auth and requests are dependencies already), recorded answers in the tests."""

from __future__ import annotations

from typing import Any

from ..catalog import load
from .model import Check, ClientFor
from .needs import PoolNeed, StackNeeds
from .retry import Backoff, GcpHttpError
from .tasks import Task

COMPUTE_API = "https://compute.googleapis.com/compute/v1/"
READONLY_SCOPE = "https://www.googleapis.com/auth/compute.readonly"

PERMISSIONS = {  # IAM permissions (roles/compute.viewer has them all)
    "quota": "compute.regions.get and compute.projects.get",
    "machine": "compute.machineTypes.get",
    "reservation": "compute.reservations.get",
}


class ComputeRest:
    """GET on the Compute Engine API; an answer other than 200 raises GcpHttpError with Google's message."""

    def __init__(self, session: Any, timeout: tuple[float, float] = (5.0, 30.0)):
        self.session, self.timeout = session, timeout  # (connect, read) seconds, as requests takes them

    def get(self, path: str) -> dict:
        response = self.session.get(COMPUTE_API + path, timeout=self.timeout)
        if response.status_code == 200:
            return response.json()
        try:
            error = response.json().get("error", {})
        except ValueError:
            error = {}
        reason = (error.get("errors") or [{}])[0].get("reason", "")
        raise GcpHttpError(response.status_code, error.get("message", response.text[:200]), reason)


def default_compute() -> ComputeRest:
    """Application default credentials, read-only scope."""
    import google.auth
    from google.auth.transport.requests import AuthorizedSession

    credentials, _ = google.auth.default(scopes=[READONLY_SCOPE])
    return ComputeRest(AuthorizedSession(credentials))


class GcpPreflight:
    def __init__(self, needs: StackNeeds, project: str, client_for: ClientFor, backoff: Backoff | None = None):
        self.needs, self.project, self.region = needs, project, needs.region
        self._client_for, self.backoff = client_for, backoff or Backoff()
        self._compute = None
        self._answers: dict[str, dict] = {}

    def get(self, path: str) -> dict:
        if path not in self._answers:
            if self._compute is None:
                self._compute = self._client_for("compute", self.region)
            self._answers[path] = self.backoff.call(self._compute.get, path)
        return self._answers[path]

    def tasks(self) -> list[Task]:
        needed, unknown = self.needs.gcp_gpus()
        tasks = [Task(f"gpu quota {metric}", "compute", PERMISSIONS["quota"],
                      lambda m=metric: [self.gpu_quota(m, needed)]) for metric in sorted(needed)]
        if needed:
            tasks.append(Task("gpu quota GPUS_ALL_REGIONS", "compute", PERMISSIONS["quota"],
                              lambda: [self.all_regions_quota(sum(needed.values()))]))
        tasks += [Task(f"gpu quota {pool}", "compute", PERMISSIONS["quota"], lambda p=pool: [_unknown_metric(p)])
                  for pool in unknown]
        for pool in self.needs.pools:
            tasks.append(Task(f"machine type {pool.pool}: {pool.instance_type}", "compute", PERMISSIONS["machine"],
                              lambda p=pool: [self.machine_type(p)]))
            if pool.reservation_name:
                tasks.append(Task(f"reservation {pool.pool}: {pool.reservation_name}", "compute",
                                  PERMISSIONS["reservation"], lambda p=pool: [self.reservation(p)]))
        return tasks

    def _increase(self, metric: str, value: int, where: str) -> str:
        return (f"request compute.googleapis.com quota {metric} >= {value} in {where} (console: IAM & Admin > Quotas, "
                f"or `gcloud beta quotas preferences create --service=compute.googleapis.com --quota-id=... "
                f"--preferred-value={value}`)")

    def gpu_quota(self, metric: str, needed: dict[str, int]) -> Check:
        limits = {q["metric"]: q for q in self.get(f"projects/{self.project}/regions/{self.region}").get("quotas", [])}
        name, want = f"gpu quota {metric}", needed[metric]
        quota = limits.get(metric)
        detail = "every pool at size.max; the limit also covers GPUs already running in the region"
        if metric.startswith("PREEMPTIBLE_") and not (quota and quota.get("limit")):
            # Without preemptible quota, spot and flex-start VMs draw on the standard one, with the on-demand VMs.
            standard = metric.removeprefix("PREEMPTIBLE_")
            quota, want = limits.get(standard), want + needed.get(standard, 0)
            detail = f"no {metric} quota: spot and flex-start VMs use {standard}, with on-demand ones; " + detail
            metric = standard
        limit = float(quota.get("limit", 0)) if quota else 0.0
        usage = f"{float(quota.get('usage', 0)):g} in use" if quota else f"no {metric} quota"
        found = f"{limit:g} GPUs ({usage})"
        short = limit < want
        return Check(name, "fail" if short else "pass", found=found, needed=f"{want} GPUs",
                     action=self._increase(metric, want, self.region) if short else "", detail=detail)

    def all_regions_quota(self, gpus: int) -> Check:
        quotas = {q["metric"]: q for q in self.get(f"projects/{self.project}").get("quotas", [])}
        quota = quotas.get("GPUS_ALL_REGIONS")
        if quota is None:  # not every project carries the global GPU cap
            return Check("gpu quota GPUS_ALL_REGIONS", "pass", found="no global cap", needed=f"{gpus} GPUs")
        limit, usage = float(quota.get("limit", 0)), float(quota.get("usage", 0))
        short = limit < gpus
        return Check("gpu quota GPUS_ALL_REGIONS", "fail" if short else "pass",
                     found=f"{limit:g} GPUs ({usage:g} in use)",
                     needed=f"{gpus} GPUs", action=self._increase("GPUS_ALL_REGIONS", gpus, "the project (global)")
                     if short else "", detail="every GPU of the project in every region counts")

    def machine_type(self, pool: PoolNeed) -> Check:
        name = f"machine type {pool.pool}: {pool.instance_type}"
        missing = []
        for zone in pool.zones:
            try:
                self.get(f"projects/{self.project}/zones/{zone}/machineTypes/{pool.instance_type}")
            except GcpHttpError as exc:
                if exc.status != 404:
                    raise
                missing.append(zone)
        needed = ", ".join(pool.zones) or "a cluster zone offering it"
        if pool.zones and not missing:
            return Check(name, "pass", found=f"in {', '.join(pool.zones)}", needed=needed)
        catalog = load("gcp")
        recorded = catalog[pool.instance_type].zones.get(self.region, ()) if pool.instance_type in catalog else ()
        others = [zone for zone in recorded if zone not in missing]
        action = (f"use a zone the catalog lists for it: {', '.join(others)}" if others
                  else f"pick another region or machine type: the catalog lists no zone of {self.region} for it")
        return Check(name, "fail", found=f"not in {', '.join(missing) or 'any cluster zone'}", needed=needed,
                     action=action)

    def reservation(self, pool: PoolNeed) -> Check:
        name = f"reservation {pool.pool}: {pool.reservation_name}"
        needed = f"{pool.instance_type} x {pool.max_nodes} in {', '.join(pool.zones)}"
        for zone in pool.zones:
            try:
                found = self.get(f"projects/{self.project}/zones/{zone}/reservations/{pool.reservation_name}")
            except GcpHttpError as exc:
                if exc.status != 404:
                    raise
                continue
            return self._reservation_fits(name, pool, zone, found, needed)
        return Check(name, "fail", found=f"none in {', '.join(pool.zones)}", needed=needed,
                     action="give the name of a reservation in the pool's zone (gcloud compute reservations list), or "
                     "request one (a future reservation for A3 Ultra, A4, A4X)")

    def _reservation_fits(self, name: str, pool: PoolNeed, zone: str, found: dict, needed: str) -> Check:
        specific = found.get("specificReservation", {})
        count = int(specific.get("count", 0))
        machine = specific.get("instanceProperties", {}).get("machineType", "?")
        status = found.get("status", "?")
        problems, actions, worst = [], [], "pass"
        if status in ("CREATING", "UPDATING"):
            problems.append(f"status {status}")
            actions.append("nodes start once it is READY")
            worst = "warn"
        elif status != "READY":
            problems.append(f"status {status}")
            actions.append("use a READY reservation")
            worst = "fail"
        if machine != pool.instance_type:
            problems.append(f"it holds {machine}")
            actions.append(f"set instanceType to {machine}")
            worst = "fail"
        if count < pool.max_nodes:
            problems.append(f"it holds {count} VMs")
            actions.append(f"lower size.max to {count}, or resize the reservation to {pool.max_nodes}")
            worst = "fail"
        return Check(name, worst, found=f"{status}, {machine} x {count} in {zone} "
                     f"({int(specific.get('inUseCount', 0))} in use)", needed=needed,
                     action="; ".join(actions), detail="; ".join(problems))


def _unknown_metric(pool: str) -> Check:
    return Check(f"gpu quota {pool}", "warn", found="no quota metric known for its machine series",
                 action="check the regional GPU quota for its GPU model in the console (IAM & Admin > Quotas)")
