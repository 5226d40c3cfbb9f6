"""The AWS checks. Every client comes from `client_for(service, region)`: boto3's in the CLI, moto's or a Stubber's
in the tests, so nothing here imports an SDK."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

from .model import Check, ClientFor, Status
from .needs import PoolNeed, StackNeeds
from .quotas import LUSTRE_PERSISTENT_2_GIB, VPCS_PER_REGION, Quota
from .retry import Backoff, aws_error_code
from .tasks import Task

# GetSpotPlacementScores scores 1 to 10 (10: a request is highly likely to succeed now). Below this, warn.
SPOT_SCORE_WARN_BELOW = 5
_RESERVATION_LIVE = {"active"}
_RESERVATION_LATER = {"scheduled", "pending", "payment-pending", "assessing", "delayed"}  # may still become active
_WORST: dict[Status, int] = {"pass": 0, "warn": 1, "fail": 2, "error": 3}

# The IAM actions each check needs (README, "Preflight").
PERMISSIONS = {
    "quota": "servicequotas:GetServiceQuota and servicequotas:GetAWSDefaultServiceQuota",
    "offerings": "ec2:DescribeInstanceTypeOfferings",
    "spot": "ec2:GetSpotPlacementScores and ec2:DescribeAvailabilityZones",
    "reservation": "ec2:DescribeCapacityReservations and ec2:DescribeCapacityBlockOfferings",
    "lustre": "servicequotas:GetServiceQuota and fsx:DescribeFileSystems",
    "vpc": "servicequotas:GetServiceQuota and ec2:DescribeVpcs",
    "image": "ssm:GetParameter and ec2:DescribeImages",
}


def _pages(ask: Callable[..., dict], key: str, backoff: Backoff, **params: Any) -> Iterator[dict]:
    while True:
        answer = backoff.call(ask, **params)
        yield from answer.get(key, [])
        if not answer.get("NextToken"):
            return
        params["NextToken"] = answer["NextToken"]


class AwsPreflight:
    def __init__(self, needs: StackNeeds, client_for: ClientFor, backoff: Backoff | None = None,
                 now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self.needs, self.region = needs, needs.region
        self._client_for, self.backoff, self.now = client_for, backoff or Backoff(), now
        self._clients: dict[str, Any] = {}

    def client(self, service: str):
        if service not in self._clients:
            self._clients[service] = self._client_for(service, self.region)
        return self._clients[service]

    def tasks(self) -> list[Task]:
        needs = self.needs
        tasks = [Task(f"quota {quota.code} {quota.name}", "service-quotas", PERMISSIONS["quota"],
                      lambda q=quota, v=vcpus: [self.vcpu_quota(q, v)])
                 for quota, vcpus in sorted(needs.ec2_vcpus().items(), key=lambda item: item[0].code)]
        for pool in needs.pools:
            tasks.append(Task(f"offered {pool.pool}: {pool.instance_type}", "ec2", PERMISSIONS["offerings"],
                              lambda p=pool: [self.offered(p)]))
            if pool.nodes_by_source.get("spot"):
                tasks.append(Task(f"spot score {pool.pool}", "ec2", PERMISSIONS["spot"],
                                  lambda p=pool: [self.spot_score(p)]))
            if pool.reservation_id:
                tasks.append(Task(f"reservation {pool.pool}: {pool.reservation_id}", "ec2", PERMISSIONS["reservation"],
                                  lambda p=pool: self.reservation(p)))
        if needs.lustre_gib:
            tasks.append(Task(f"quota {LUSTRE_PERSISTENT_2_GIB.code} {LUSTRE_PERSISTENT_2_GIB.name}", "service-quotas",
                              PERMISSIONS["lustre"], lambda: [self.lustre_quota()]))
        tasks.append(Task(f"quota {VPCS_PER_REGION.code} {VPCS_PER_REGION.name}", "service-quotas", PERMISSIONS["vpc"],
                          lambda: [self.vpc_quota()]))
        for image, pools in _pools_by_image(needs.pools).items():
            tasks.append(Task(f"image {', '.join(pools)}", "ssm" if image.startswith("resolve:ssm:") else "ec2",
                              PERMISSIONS["image"], lambda i=image, p=pools: [self.image(i, p)]))
        return tasks

    # Quotas

    def quota_value(self, service_code: str, quota_code: str) -> float:
        """The applied value; the default where Service Quotas has no applied one (NoSuchResourceException)."""
        quotas = self.client("service-quotas")
        try:
            answer = self.backoff.call(quotas.get_service_quota, ServiceCode=service_code, QuotaCode=quota_code)
        except Exception as exc:
            if aws_error_code(exc) != "NoSuchResourceException":
                raise
            answer = self.backoff.call(quotas.get_aws_default_service_quota, ServiceCode=service_code,
                                       QuotaCode=quota_code)
        return float(answer["Quota"]["Value"])

    def _increase(self, service_code: str, quota: Quota, value: int, unit: str) -> str:
        return (f"request {quota.code} ({quota.name}) >= {value} {unit}: aws service-quotas "
                f"request-service-quota-increase --service-code {service_code} --quota-code {quota.code} "
                f"--desired-value {value} --region {self.region}")

    def vcpu_quota(self, quota: Quota, vcpus: int) -> Check:
        value = self.quota_value("ec2", quota.code)
        short = value < vcpus
        return Check(f"quota {quota.code} {quota.name}", "fail" if short else "pass", found=f"{value:g} vCPUs",
                     needed=f"{vcpus} vCPUs", action=self._increase("ec2", quota, vcpus, "vCPUs") if short else "",
                     detail="every pool at size.max; the quota also covers instances already running in the account "
                     "and region")

    def lustre_quota(self) -> Check:
        quota = LUSTRE_PERSISTENT_2_GIB
        value = self.quota_value("fsx", quota.code)
        file_systems = _pages(self.client("fsx").describe_file_systems, "FileSystems", self.backoff)
        used = sum(fs.get("StorageCapacity", 0) for fs in file_systems if fs.get("FileSystemType") == "LUSTRE"
                   and fs.get("LustreConfiguration", {}).get("DeploymentType") == "PERSISTENT_2")
        needed = used + self.needs.lustre_gib
        short = value < needed
        return Check(f"quota {quota.code} {quota.name}", "fail" if short else "pass", found=f"{value:g} GiB",
                     needed=f"{needed} GiB", action=self._increase("fsx", quota, needed, "GiB") if short else "",
                     detail=f"{used} GiB in PERSISTENT_2 Lustre file systems already, {self.needs.lustre_gib} GiB for "
                     "this stack")

    def vpc_quota(self) -> Check:
        quota = VPCS_PER_REGION
        value = self.quota_value("vpc", quota.code)
        existing = sum(1 for _ in _pages(self.client("ec2").describe_vpcs, "Vpcs", self.backoff))
        needed = existing + self.needs.vpcs
        short = value < needed
        return Check(f"quota {quota.code} {quota.name}", "fail" if short else "pass", found=f"{value:g} VPCs",
                     needed=f"{needed} VPCs", action=self._increase("vpc", quota, needed, "VPCs") if short else "",
                     detail=f"{existing} VPCs in {self.region} already, {self.needs.vpcs} for this stack")

    # Capacity

    def offering_zones(self, instance_type: str) -> list[str]:
        offers = _pages(self.client("ec2").describe_instance_type_offerings, "InstanceTypeOfferings", self.backoff,
                        LocationType="availability-zone",
                        Filters=[{"Name": "instance-type", "Values": [instance_type]}])
        return sorted({offer["Location"] for offer in offers})

    def offered(self, pool: PoolNeed) -> Check:
        name = f"offered {pool.pool}: {pool.instance_type}"
        offered = self.offering_zones(pool.instance_type)
        missing = [zone for zone in pool.zones if zone not in offered]
        found = ", ".join(offered) or f"no zone of {self.region}"
        needed = ", ".join(pool.zones) or "a cluster zone offering it"
        if pool.zones and not missing:
            return Check(name, "pass", found=found, needed=needed)
        if offered:
            action = f"use a zone that has it: {', '.join(offered)} (zones of the cluster and the pool)"
        else:
            action = f"pick another region or instance type: {self.region} does not offer {pool.instance_type}"
        lacking = ", ".join(missing) if missing else "every cluster zone"
        return Check(name, "fail", found=found, needed=needed, action=action,
                     detail=f"{lacking} does not offer {pool.instance_type}")

    def spot_score(self, pool: PoolNeed) -> Check:
        ec2 = self.client("ec2")
        nodes = pool.nodes_by_source["spot"]
        zone_names = {zone["ZoneId"]: zone["ZoneName"] for zone in
                      self.backoff.call(ec2.describe_availability_zones)["AvailabilityZones"]}
        scores = {zone_names.get(score["AvailabilityZoneId"], score["AvailabilityZoneId"]): score["Score"]
                  for score in _pages(ec2.get_spot_placement_scores, "SpotPlacementScores", self.backoff,
                                      InstanceTypes=[pool.instance_type], TargetCapacity=nodes,
                                      TargetCapacityUnitType="units", SingleAvailabilityZone=True,
                                      RegionNames=[self.region])
                  if score.get("AvailabilityZoneId")}
        name = f"spot score {pool.pool}"
        needed = f">= {SPOT_SCORE_WARN_BELOW} for {nodes} x {pool.instance_type} in one zone"
        ours = {zone: scores[zone] for zone in pool.zones if zone in scores}
        best = max(ours.items(), key=lambda item: item[1], default=None)
        elsewhere = max(scores.items(), key=lambda item: item[1], default=None)
        found = f"{best[1]} in {best[0]}" if best else f"no score for {', '.join(pool.zones)}"
        if best and best[1] >= SPOT_SCORE_WARN_BELOW:
            return Check(name, "pass", found=found, needed=needed)
        if elsewhere and (not best or elsewhere[1] > best[1]):
            action = f"{elsewhere[0]} scores {elsewhere[1]}: add it to the cluster's and the pool's zones"
        else:
            action = "lower size.max, add alternateTypes, or put an on-demand base under the spot nodes"
        return Check(name, "warn", found=found, needed=needed, action=action,
                     detail="a score is a likelihood now, not a promise; it changes as spot capacity does")

    def reservation(self, pool: PoolNeed) -> list[Check]:
        name = f"reservation {pool.pool}: {pool.reservation_id}"
        block = "capacity-block" in pool.sources
        try:
            found = self.backoff.call(self.client("ec2").describe_capacity_reservations,
                                      CapacityReservationIds=[pool.reservation_id])["CapacityReservations"]
        except Exception as exc:
            if not (aws_error_code(exc) or "").startswith("InvalidCapacityReservationId"):
                raise
            found = []
        if not found:
            missing = Check(name, "fail", found=f"no {pool.reservation_id} in {self.region}",
                            needed=f"{pool.instance_type} x {pool.max_nodes}",
                            action="give the id of a reservation in this account and region (aws ec2 "
                            "describe-capacity-reservations)")
            return [missing, self.block_offerings(pool)] if block else [missing]
        checks = [self._reservation_fits(name, pool, found[0], block)]
        if block and checks[0].status == "fail":
            checks.append(self.block_offerings(pool))
        return checks

    def _reservation_fits(self, name: str, pool: PoolNeed, reservation: dict, block: bool) -> Check:
        state, zone = reservation.get("State", "?"), reservation.get("AvailabilityZone", "?")
        total, kind = reservation.get("TotalInstanceCount", 0), reservation.get("ReservationType", "default")
        wanted = pool.nodes_by_source.get("capacity-block" if block else "reservation", 0)
        problems: list[tuple[Status, str, str]] = []  # (status, what is wrong, what to do)
        if state in _RESERVATION_LATER:
            start = reservation.get("StartDate")
            problems.append(("warn", f"state {state}" + (f", starts {start:%Y-%m-%d %H:%M %Z}" if start else ""),
                             "nodes launch once it is active"))
        elif state not in _RESERVATION_LIVE:
            problems.append(("fail", f"state {state}", "use a reservation that is active or scheduled"))
        if (kind == "capacity-block") != block:
            what, source = (("capacity block", "capacity-block") if kind == "capacity-block"
                            else ("capacity reservation", "reservation"))
            problems.append(("fail", f"it is a {what}", f"set capacity.type to {source}"))
        if reservation.get("InstanceType") != pool.instance_type:
            problems.append(("fail", f"it holds {reservation.get('InstanceType')}",
                             f"set instanceType to {reservation.get('InstanceType')}"))
        if zone not in pool.zones:
            problems.append(("fail", f"it is in {zone}", f"set the pool's zones to [{zone}]"))
        if total < wanted:
            overflow = "on-demand" in pool.sources  # the group takes on-demand instances above the reservation
            problems.append(("warn" if overflow else "fail", f"it holds {total} instances",
                             f"lower size.max to {total}, or extend the reservation to {wanted}"))
        status = max((p[0] for p in problems), key=_WORST.__getitem__, default="pass")
        return Check(name, status, found=f"{state}, {reservation.get('InstanceType')} x {total} in {zone}",
                     needed=f"{pool.instance_type} x {wanted} in {', '.join(pool.zones)}",
                     action="; ".join(p[2] for p in problems), detail="; ".join(p[1] for p in problems))

    def block_offerings(self, pool: PoolNeed) -> Check:
        """Capacity blocks on sale for the pool, for when its block is missing or does not fit."""
        now = self.now()
        hours = 24  # the shortest block, when the pool names no dates
        if pool.block_start and pool.block_end:
            hours = int((pool.block_end - pool.block_start) / timedelta(hours=1))
        # The pool's own window while it is ahead; once it has begun, a block of the same length from now on.
        planned = pool.block_start is not None and pool.block_end is not None and pool.block_start > now
        start = pool.block_start if planned else now
        params: dict[str, Any] = {"InstanceType": pool.instance_type, "InstanceCount": pool.max_nodes,
                                  "CapacityDurationHours": hours, "StartDateRange": start}
        if planned:
            params["EndDateRange"] = pool.block_end
        offers = list(_pages(self.client("ec2").describe_capacity_block_offerings, "CapacityBlockOfferings",
                             self.backoff, **params))
        name = f"capacity block offerings {pool.pool}"
        needed = f"{pool.instance_type} x {pool.max_nodes} for {hours} h from {start:%Y-%m-%d %H:%M %Z}"
        ours = [o for o in offers if o.get("AvailabilityZone") in pool.zones]
        if not ours:
            elsewhere = sorted({o.get("AvailabilityZone") for o in offers if o.get("AvailabilityZone")})
            action = (f"offerings exist in {', '.join(elsewhere)}: set the pool's zones to one of them" if elsewhere
                      else "try other dates, a shorter block or fewer instances")
            return Check(name, "fail", found=f"no offering in {', '.join(pool.zones)}", needed=needed, action=action)
        offer = min(ours, key=lambda o: o["StartDate"])
        return Check(name, "pass", needed=needed,
                     found=f"{offer['CapacityBlockOfferingId']} in {offer['AvailabilityZone']} from "
                     f"{offer['StartDate']:%Y-%m-%d %H:%M %Z}, "
                     f"{offer.get('UpfrontFee', '?')} {offer.get('CurrencyCode', '')}".rstrip(),
                     action=f"buy it: aws ec2 purchase-capacity-block --capacity-block-offering-id "
                     f"{offer['CapacityBlockOfferingId']} --instance-platform Linux/UNIX --region {self.region}, then "
                     "set capacity.reservationId to the block's cr- id")

    # Image

    def image(self, image: str, pools: list[str]) -> Check:
        name = f"image {', '.join(pools)}"
        if image.startswith("resolve:ssm:"):
            parameter = image.removeprefix("resolve:ssm:")
            try:
                value = self.backoff.call(self.client("ssm").get_parameter, Name=parameter)["Parameter"]["Value"]
            except Exception as exc:
                if aws_error_code(exc) != "ParameterNotFound":
                    raise
                return Check(name, "fail", found=f"no parameter {parameter} in {self.region}", needed=image,
                             action="set the pools' imageId to an AMI or a parameter the region has")
            return Check(name, "pass", found=value, needed=image)
        try:
            images = self.backoff.call(self.client("ec2").describe_images, ImageIds=[image])["Images"]
        except Exception as exc:
            if not (aws_error_code(exc) or "").startswith("InvalidAMIID"):
                raise
            images = []
        state = images[0].get("State") if images else None
        if state == "available":
            return Check(name, "pass", found=f"{image} available", needed=image)
        return Check(name, "fail", found=f"{image} {state}" if state else f"no {image} in {self.region}", needed=image,
                     action="set imageId to an available AMI of this region (AMI ids differ per region)")


def _pools_by_image(pools: tuple[PoolNeed, ...]) -> dict[str, list[str]]:
    by_image: dict[str, list[str]] = {}
    for pool in pools:
        if pool.image:
            by_image.setdefault(pool.image, []).append(pool.pool)
    return by_image
