"""`gpucluster preflight`: AWS checks against moto in server mode on loopback where moto implements the API
(instance type offerings, VPCs and their quota, FSx file systems, SSM parameters, AMIs), botocore's Stubber with
answers in the service model's shapes where it does not (EC2 vCPU and FSx quotas, spot placement scores, capacity
reservations and capacity block offerings); GCP checks against recorded Compute Engine answers in Google's JSON
shapes (tests/fixtures/preflight/gcp), checked against the compute.v1 discovery document. Nothing sleeps."""

from __future__ import annotations

import itertools
import json
import socket
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import googleapiclient
import pytest
from botocore.config import Config
from botocore.exceptions import UnknownEndpointError
from botocore.stub import Stubber
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ssm.models import Parameter, ssm_backends

from gpucluster import cli, stackrun
from gpucluster.capacity import CapacityPlan
from gpucluster.preflight import preflight
from gpucluster.preflight import gcp as gcp_checks
from gpucluster.preflight.aws import AwsPreflight
from gpucluster.preflight.gcp import ComputeRest, GcpPreflight
from gpucluster.preflight.model import EXIT_FAILED, EXIT_OK, EXIT_UNCHECKED, Check, exit_code
from gpucluster.preflight.needs import PoolNeed, StackNeeds, stack_needs
from gpucluster.preflight.quotas import EC2_VCPU_QUOTAS, ec2_quota_group
from gpucluster.preflight.render import as_json, render_table
from gpucluster.preflight.retry import Backoff
from gpucluster.preflight.tasks import Task, run_tasks
from gpucluster.validate import load_spec

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "preflight" / "gcp"
DLAMI = "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id"
P_ON_DEMAND, P_SPOT = EC2_VCPU_QUOTAS["P"]["on-demand"], EC2_VCPU_QUOTAS["P"]["spot"]



MOTO_SESSION = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing")


def moto_clients(endpoint: str, **overrides):
    """client_for: moto's server for every service, except the clients given (Stubbers) by service name."""
    def client_for(service: str, region: str):
        if service in overrides:
            return overrides[service]
        return MOTO_SESSION.client(service, region_name=region, endpoint_url=endpoint)
    return client_for


def stubbed(service: str, region: str = "us-east-1"):
    client = boto3.client(service, region_name=region, aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    stubber.activate()
    return client, stubber


def quota_answer(service_code: str, code: str, value: float) -> dict:
    return {"Quota": {"ServiceCode": service_code, "QuotaCode": code, "QuotaName": "quota", "Value": value,
                      "Unit": "None", "Adjustable": True, "GlobalQuota": False}}


def pool_need(**fields) -> PoolNeed:
    values = dict(pool="train", instance_type="p5.48xlarge", zones=("us-east-1a",), max_nodes=16, vcpus_per_node=192,
                  gpus_per_node=8, nodes_by_source={"on-demand": 16})
    return PoolNeed(**{**values, **fields})


def aws_needs(*pools: PoolNeed, region: str = "us-east-1", lustre_gib: int = 0) -> StackNeeds:
    return StackNeeds("aws", region, pools or (pool_need(),), lustre_gib=lustre_gib)


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def no_sleep() -> Backoff:
    return Backoff(sleep=Sleeps())


def spec_of(stack: str):
    loaded = stackrun.spec_stack(str(ROOT), stack, "preflight")
    assert not isinstance(loaded, int)
    return loaded[2]


# What is needed, from the spec


def test_needs_count_every_pool_at_max_per_quota():
    spot = stack_needs(spec_of("aws-p5-spot"))
    assert spot.ec2_vcpus() == {P_SPOT: 32 * 192}
    assert spot.pools[0].zones == ("us-east-1b",) and spot.lustre_gib > 0
    assert spot.pools[0].image == f"resolve:ssm:{DLAMI}"
    mixed = stack_needs(spec_of("eks-p5-kueue"))  # a reservation pool and a spot pool
    assert mixed.ec2_vcpus() == {P_ON_DEMAND: 8 * 192, P_SPOT: 16 * 192}
    assert [pool.nodes_by_source for pool in mixed.pools] == [{"reservation": 8}, {"spot": 16}]
    assert all(pool.image is None for pool in mixed.pools)  # EKS node groups pick their AMI
    block = stack_needs(spec_of("aws-p5-capacity-block"))
    assert block.ec2_vcpus() == {}  # capacity-block pools are left out of the vCPU quotas
    assert stack_needs(spec_of("gcp-a3-mega-spot")).gcp_gpus() == ({"PREEMPTIBLE_NVIDIA_H100_MEGA_GPUS": 128}, [])
    assert stack_needs(spec_of("gcp-a3-ultra-eu")).gcp_gpus() == ({}, [])  # the reservation holds the quota


@pytest.mark.parametrize("names", list(itertools.permutations(["a", "b", "c"])), ids="-".join)
def test_three_pools_of_different_families_and_zones_need_the_same_in_every_name_order(names):
    """p5 on spot, g6e on demand and trn1 on demand in three zones: each family's vCPUs against its own quota, each
    pool's zones its own, whatever the pools are called."""
    pools = [{"name": names[0], "instanceType": "p5.48xlarge", "size": {"max": 4}, "zones": ["us-east-1a"],
              "capacity": {"type": "spot"}},
             {"name": names[1], "instanceType": "g6e.12xlarge", "size": {"max": 3}, "zones": ["us-east-1b"]},
             {"name": names[2], "instanceType": "trn1.32xlarge", "size": {"max": 2}, "zones": ["us-east-1c"]}]
    spec, _ = load_spec({"name": "mix", "cloud": "aws", "region": "us-east-1", "zones": ["us-east-1a", "us-east-1b", "us-east-1c"],
                         "pools": pools, "tags": {"owner": "t", "costCenter": "c", "project": "p"}})
    needs = stack_needs(spec)
    g, trn = EC2_VCPU_QUOTAS["G and VT"]["on-demand"], EC2_VCPU_QUOTAS["Trn"]["on-demand"]
    assert needs.ec2_vcpus() == {P_SPOT: 4 * 192, g: 3 * 48, trn: 2 * 128}
    assert {p.instance_type: p.zones for p in needs.pools} == {
        "p5.48xlarge": ("us-east-1a",), "g6e.12xlarge": ("us-east-1b",), "trn1.32xlarge": ("us-east-1c",)}


def test_nodes_are_shared_as_the_group_fills_them():
    assert CapacityPlan(("on-demand", "spot"), 4).nodes_at(16) == {"on-demand": 4, "spot": 12}
    assert CapacityPlan(("reservation", "on-demand", "spot"), 2).nodes_at(10) == {"reservation": 2, "on-demand": 0, "spot": 8}
    assert CapacityPlan(("reservation", "on-demand"), 0).nodes_at(16) == {"reservation": 16, "on-demand": 0}
    assert CapacityPlan(("flex-start",), 0).nodes_at(4) == {"flex-start": 4}


@pytest.mark.parametrize("instance_type, group", [("p5.48xlarge", "P"), ("g6e.xlarge", "G and VT"),
                                                  ("vt1.3xlarge", "G and VT"), ("gr6.4xlarge", "G and VT"),
                                                  ("trn2.48xlarge", "Trn"), ("inf2.xlarge", "Inf"),
                                                  ("dl2q.24xlarge", "DL"), ("f2.12xlarge", "F"), ("m7i.large", None)])
def test_quota_groups(instance_type, group):
    assert ec2_quota_group(instance_type) == group


def test_tasks_of_a_spot_stack_with_shared_storage():
    names = [t.check for t in AwsPreflight(stack_needs(spec_of("aws-p5-spot")), lambda s, r: None).tasks()]
    assert names == ["quota L-7212CCBC All P Spot Instance Requests", "offered train: p5.48xlarge", "spot score train",
                     "quota L-8F1B9C74 Lustre Persistent_2 storage capacity", "quota L-F678F1CE VPCs per Region",
                     "image train"]


# AWS: vCPU quotas (Stubber: moto's Service Quotas knows only vpc)


def test_vcpu_quota_passes_when_it_covers_max_size():
    quotas, stubber = stubbed("service-quotas")
    stubber.add_response("get_service_quota", quota_answer("ec2", "L-417A185B", 3072.0),
                         {"ServiceCode": "ec2", "QuotaCode": "L-417A185B"})
    check = AwsPreflight(aws_needs(), lambda s, r: quotas, no_sleep()).vcpu_quota(P_ON_DEMAND, 3072)
    assert (check.status, check.found, check.needed) == ("pass", "3072 vCPUs", "3072 vCPUs")
    stubber.assert_no_pending_responses()


def test_vcpu_quota_fails_with_the_increase_to_request():
    quotas, stubber = stubbed("service-quotas")
    stubber.add_client_error("get_service_quota", "NoSuchResourceException", http_status_code=400)
    stubber.add_response("get_aws_default_service_quota", quota_answer("ec2", "L-7212CCBC", 0.0),
                         {"ServiceCode": "ec2", "QuotaCode": "L-7212CCBC"})
    check = AwsPreflight(aws_needs(), lambda s, r: quotas, no_sleep()).vcpu_quota(P_SPOT, 6144)
    assert check.status == "fail" and check.found == "0 vCPUs"
    assert "--quota-code L-7212CCBC --desired-value 6144 --region us-east-1" in check.action


# AWS: offerings (moto)


def test_offered_in_the_pool_zone(moto_server):
    check = AwsPreflight(aws_needs(), moto_clients(moto_server), no_sleep()).offered(pool_need())
    assert check.status == "pass" and "us-east-1a" in check.found


def test_not_offered_names_the_zone_and_the_zones_that_have_it(moto_server):
    pool = pool_need(zones=("ca-central-1a",))
    check = AwsPreflight(aws_needs(pool, region="ca-central-1"), moto_clients(moto_server), no_sleep()).offered(pool)
    assert check.status == "fail"
    assert check.detail == "ca-central-1a does not offer p5.48xlarge"
    assert check.action == "use a zone that has it: ca-central-1d (zones of the cluster and the pool)"


# AWS: spot placement scores (Stubber: moto has no GetSpotPlacementScores)


def spot_ec2(scores: dict[str, int], nodes: int):
    ec2, stubber = stubbed("ec2")
    stubber.add_response("describe_availability_zones", {"AvailabilityZones": [
        {"ZoneName": "us-east-1a", "ZoneId": "use1-az6"}, {"ZoneName": "us-east-1b", "ZoneId": "use1-az1"}]}, {})
    stubber.add_response("get_spot_placement_scores", {"SpotPlacementScores": [
        {"Region": "us-east-1", "AvailabilityZoneId": zone_id, "Score": score} for zone_id, score in scores.items()]},
        {"InstanceTypes": ["p5.48xlarge"], "TargetCapacity": nodes, "TargetCapacityUnitType": "units",
         "SingleAvailabilityZone": True, "RegionNames": ["us-east-1"]})
    return ec2, stubber


def test_spot_score_passes_at_the_threshold():
    ec2, stubber = spot_ec2({"use1-az6": 5, "use1-az1": 3}, nodes=12)
    pool = pool_need(nodes_by_source={"on-demand": 4, "spot": 12})
    check = AwsPreflight(aws_needs(pool), lambda s, r: ec2, no_sleep()).spot_score(pool)
    assert (check.status, check.found) == ("pass", "5 in us-east-1a")
    stubber.assert_no_pending_responses()


def test_low_spot_score_warns_and_names_a_better_zone():
    ec2, _ = spot_ec2({"use1-az6": 2, "use1-az1": 8}, nodes=32)
    pool = pool_need(max_nodes=32, nodes_by_source={"spot": 32})
    check = AwsPreflight(aws_needs(pool), lambda s, r: ec2, no_sleep()).spot_score(pool)
    assert (check.status, check.found) == ("warn", "2 in us-east-1a")
    assert check.action.startswith("us-east-1b scores 8")


# AWS: capacity reservations and capacity blocks (Stubber: moto has neither)

START = datetime(2026, 12, 1, 11, 30, tzinfo=timezone.utc)
END = START + timedelta(days=14)


def reservation_answer(**fields) -> dict:
    reservation = {"CapacityReservationId": "cr-0a1b2c3d4e5f60718", "InstanceType": "p5.48xlarge",
                   "InstancePlatform": "Linux/UNIX", "AvailabilityZone": "us-east-1a", "Tenancy": "default",
                   "TotalInstanceCount": 16, "AvailableInstanceCount": 16, "State": "active", "StartDate": START,
                   "EndDate": END, "EndDateType": "limited", "ReservationType": "capacity-block"}
    return {"CapacityReservations": [{**reservation, **fields}]}


def block_pool(**fields) -> PoolNeed:
    return pool_need(nodes_by_source={"capacity-block": 16}, reservation_id="cr-0a1b2c3d4e5f60718",
                     block_start=START, block_end=END, **fields)


def offerings_answer(zone: str) -> dict:
    return {"CapacityBlockOfferings": [{
        "CapacityBlockOfferingId": "cb-0123456789abcdef0", "InstanceType": "p5.48xlarge", "AvailabilityZone": zone,
        "InstanceCount": 16, "StartDate": START, "EndDate": END, "CapacityBlockDurationHours": 336,
        "UpfrontFee": "350000.00", "CurrencyCode": "USD", "Tenancy": "default"}]}


def run_reservation(pool: PoolNeed, *answers, now: datetime = START - timedelta(days=3)) -> list[Check]:
    """The reservation check with these answers in turn: (method, answer), or (method, error code), or (method,
    answer, the parameters the request must have)."""
    ec2, stubber = stubbed("ec2")
    for method, answer, *params in answers:
        if isinstance(answer, str):
            stubber.add_client_error(method, answer, http_status_code=400)
        else:
            stubber.add_response(method, answer, *params)
    checks = AwsPreflight(aws_needs(pool), lambda s, r: ec2, no_sleep(), now=lambda: now).reservation(pool)
    stubber.assert_no_pending_responses()
    return checks


def test_active_capacity_block_that_fits_passes():
    [check] = run_reservation(block_pool(), ("describe_capacity_reservations", reservation_answer()))
    assert (check.status, check.found) == ("pass", "active, p5.48xlarge x 16 in us-east-1a")


def test_scheduled_block_warns_with_its_start():
    [check] = run_reservation(block_pool(), ("describe_capacity_reservations", reservation_answer(State="scheduled")))
    assert check.status == "warn" and "starts 2026-12-01 11:30 UTC" in check.detail


def test_reservation_in_another_zone_and_too_small_fails():
    pool = pool_need(nodes_by_source={"reservation": 16}, reservation_id="cr-0a1b2c3d4e5f60718")
    [check] = run_reservation(pool, ("describe_capacity_reservations", reservation_answer(
        ReservationType="default", AvailabilityZone="us-east-1c", TotalInstanceCount=8)))
    assert check.status == "fail"
    assert check.detail == "it is in us-east-1c; it holds 8 instances"
    assert "set the pool's zones to [us-east-1c]" in check.action and "lower size.max to 8" in check.action


def test_reservation_short_of_nodes_only_warns_when_on_demand_takes_the_rest():
    pool = pool_need(nodes_by_source={"reservation": 16, "on-demand": 0}, reservation_id="cr-0a1b2c3d4e5f60718")
    [check] = run_reservation(pool, ("describe_capacity_reservations", reservation_answer(
        ReservationType="default", TotalInstanceCount=8)))
    assert check.status == "warn"


def test_missing_block_fails_and_offers_one_to_buy():
    checks = run_reservation(block_pool(), ("describe_capacity_reservations", "InvalidCapacityReservationId.NotFound"),
                             ("describe_capacity_block_offerings", offerings_answer("us-east-1a"), {
                                 "InstanceType": "p5.48xlarge", "InstanceCount": 16, "CapacityDurationHours": 336,
                                 "StartDateRange": START, "EndDateRange": END}))
    assert [c.status for c in checks] == ["fail", "pass"]
    assert "--capacity-block-offering-id cb-0123456789abcdef0" in checks[1].action
    assert checks[1].needed == "p5.48xlarge x 16 for 336 h from 2026-12-01 11:30 UTC"


def test_block_window_already_begun_searches_from_now():
    now = START + timedelta(days=6)
    checks = run_reservation(block_pool(), ("describe_capacity_reservations", "InvalidCapacityReservationId.NotFound"),
                             ("describe_capacity_block_offerings", offerings_answer("us-east-1a"), {
                                 "InstanceType": "p5.48xlarge", "InstanceCount": 16, "CapacityDurationHours": 336,
                                 "StartDateRange": now}), now=now)
    assert checks[1].needed == "p5.48xlarge x 16 for 336 h from 2026-12-07 11:30 UTC"


def test_missing_block_without_offerings_in_the_zone_fails_twice():
    checks = run_reservation(block_pool(), ("describe_capacity_reservations", "InvalidCapacityReservationId.NotFound"),
                             ("describe_capacity_block_offerings", offerings_answer("us-east-1d")))
    assert [c.status for c in checks] == ["fail", "fail"]
    assert checks[1].action.startswith("offerings exist in us-east-1d")


# AWS: FSx and VPC quotas (moto for file systems and VPCs; moto's Service Quotas answers vpc, Stubber fsx)


def test_lustre_quota_counts_file_systems_that_exist(moto_server):
    region = "us-west-1"
    fsx = moto_clients(moto_server)("fsx", region)
    fsx.create_file_system(FileSystemType="LUSTRE", StorageCapacity=2400, SubnetIds=["subnet-12345678"],
                           LustreConfiguration={"DeploymentType": "PERSISTENT_2", "PerUnitStorageThroughput": 125})
    for value, status in ((4800.0, "pass"), (4799.0, "fail")):
        quotas, stubber = stubbed("service-quotas", region)
        stubber.add_response("get_service_quota", quota_answer("fsx", "L-8F1B9C74", value))
        clients = moto_clients(moto_server, **{"service-quotas": quotas})
        check = AwsPreflight(aws_needs(region=region, lustre_gib=2400), clients, no_sleep()).lustre_quota()
        assert (check.status, check.needed) == (status, "4800 GiB")
    assert "--service-code fsx --quota-code L-8F1B9C74 --desired-value 4800" in check.action


def test_vpc_quota_from_moto(moto_server):
    clients = moto_clients(moto_server)
    check = AwsPreflight(aws_needs(region="eu-west-1"), clients, no_sleep()).vpc_quota()
    assert (check.status, check.found, check.needed) == ("pass", "5 VPCs", "2 VPCs")  # the default VPC, and ours
    ec2 = clients("ec2", "eu-west-1")
    for i in range(4):
        ec2.create_vpc(CidrBlock=f"10.{i}.0.0/16")
    check = AwsPreflight(aws_needs(region="eu-west-1"), clients, no_sleep()).vpc_quota()
    assert (check.status, check.needed) == ("fail", "6 VPCs") and "--quota-code L-F678F1CE" in check.action


# AWS: the node image (moto)


@pytest.fixture(scope="module")
def dlami_parameter(moto_server):
    """The DLAMI's public parameter in moto's us-east-1. AWS refuses PutParameter under /aws (moto too), so it goes
    into moto's backend as moto loads its own public parameters."""
    backend = ssm_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    backend._parameters[DLAMI].append(Parameter(
        account_id=DEFAULT_ACCOUNT_ID, name=DLAMI, value="ami-0123456789abcdef0", parameter_type="String",
        description=None, allowed_pattern=None, keyid=None, last_modified_date=datetime.now(timezone.utc), version=1,
        data_type="aws:ec2:image"))
    yield DLAMI
    del backend._parameters[DLAMI]  # moto's backends outlive this module's server


def test_image_parameter_resolves(moto_server, dlami_parameter):
    check = AwsPreflight(aws_needs(), moto_clients(moto_server), no_sleep()).image(f"resolve:ssm:{dlami_parameter}",
                                                                                   ["train"])
    assert (check.status, check.found) == ("pass", "ami-0123456789abcdef0")


def test_image_parameter_missing_in_the_region_fails(moto_server, dlami_parameter):
    check = AwsPreflight(aws_needs(region="eu-north-1"), moto_clients(moto_server), no_sleep()).image(
        f"resolve:ssm:{dlami_parameter}", ["train"])
    assert check.status == "fail" and check.found.startswith("no parameter")


def test_image_ami_exists_or_not(moto_server):
    clients = moto_clients(moto_server)
    ami = clients("ec2", "us-east-1").register_image(Name="node-image", RootDeviceName="/dev/sda1")["ImageId"]
    checks = AwsPreflight(aws_needs(), clients, no_sleep())
    assert checks.image(ami, ["train"]).status == "pass"
    assert checks.image("ami-0000000000000dead", ["train"]).status == "fail"


# AWS: what the cloud does not answer is an "error" check, and the other checks still run


@pytest.fixture
def no_credentials(tmp_path, monkeypatch):
    """A boto3 session that finds no credentials anywhere (environment, files, instance metadata)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return boto3.session.Session()


def test_no_credentials_is_an_error_on_every_check(moto_server, no_credentials):
    checks = preflight(spec_of("aws-p5-train"),
                       lambda s, r: no_credentials.client(s, region_name=r, endpoint_url=moto_server),
                       backoff=no_sleep())
    assert {c.status for c in checks} == {"error"} and len(checks) == 4
    assert all("NoCredentialsError" in c.detail and "aws sso login" in c.action for c in checks)
    assert exit_code(checks) == EXIT_UNCHECKED


def test_access_denied_names_the_permission(moto_server):
    quotas, stubber = stubbed("service-quotas")
    stubber.add_client_error("get_service_quota", "AccessDeniedException", "User is not authorized",
                             http_status_code=400)
    checks = preflight(spec_of("aws-p5-train"), moto_clients(moto_server, **{"service-quotas": quotas}),
                       backoff=no_sleep())
    quota = checks[0]
    assert (quota.check, quota.status) == ("quota L-417A185B Running On-Demand P instances", "error")
    assert quota.action == "allow servicequotas:GetServiceQuota and servicequotas:GetAWSDefaultServiceQuota"
    assert checks[1].status == "pass"  # offered: asked of moto all the same


def test_throttling_is_retried_with_backoff():
    ec2, stubber = stubbed("ec2")
    for _ in range(2):
        stubber.add_client_error("describe_instance_type_offerings", "RequestLimitExceeded", http_status_code=503)
    stubber.add_response("describe_instance_type_offerings", {"InstanceTypeOfferings": [
        {"InstanceType": "p5.48xlarge", "LocationType": "availability-zone", "Location": "us-east-1a"}]})
    sleeps = Sleeps()
    check = AwsPreflight(aws_needs(), lambda s, r: ec2, Backoff(sleep=sleeps)).offered(pool_need())
    assert check.status == "pass" and sleeps == [0.5, 1.0]


def test_throttled_beyond_the_attempts_is_an_error():
    ec2, stubber = stubbed("ec2")
    for _ in range(3):
        stubber.add_client_error("describe_instance_type_offerings", "Throttling", http_status_code=400)
    sleeps = Sleeps()
    pool = pool_need()
    [check] = run_tasks([Task("offered train", "ec2", "ec2:DescribeInstanceTypeOfferings",
                              lambda: [AwsPreflight(aws_needs(), lambda s, r: ec2,
                                                    Backoff(attempts=3, sleep=sleeps)).offered(pool)])], "us-east-1")
    assert check.status == "error" and "still throttled" in check.detail and sleeps == [0.5, 1.0]


def test_region_without_the_service(moto_server):
    def client_for(service, region):
        if service == "service-quotas":
            raise UnknownEndpointError(service_name=service, region_name=region)
        return moto_clients(moto_server)(service, region)

    checks = preflight(spec_of("aws-p5-train"), client_for, backoff=no_sleep())
    by_name = {c.check: c for c in checks}
    quota = by_name["quota L-417A185B Running On-Demand P instances"]
    assert quota.status == "error" and "service-quotas is offered in us-east-1" in quota.action
    assert by_name["offered train: p5.48xlarge"].status == "pass"


def _timeouts(**seconds) -> Config:
    return Config(retries={"total_max_attempts": 1}, **seconds)


def test_closed_port_is_an_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{port}", aws_access_key_id="x",
                       aws_secret_access_key="x", config=_timeouts(connect_timeout=0.5))
    [check] = run_tasks([Task("offered train", "ec2", "-", lambda: [AwsPreflight(
        aws_needs(), lambda s, r: ec2, no_sleep()).offered(pool_need())])], "us-east-1")
    assert check.status == "error" and check.detail.startswith("no endpoint answered")


def test_endpoint_that_does_not_answer_is_an_error():
    with socket.socket() as silent:  # accepts connections (the kernel's backlog) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{silent.getsockname()[1]}",
                           aws_access_key_id="x", aws_secret_access_key="x",
                           config=_timeouts(connect_timeout=0.5, read_timeout=0.3))
        [check] = run_tasks([Task("offered train", "ec2", "-", lambda: [AwsPreflight(
            aws_needs(), lambda s, r: ec2, no_sleep()).offered(pool_need())])], "us-east-1")
    assert check.status == "error" and check.detail.startswith("the endpoint did not answer in time")


# GCP: recorded Compute Engine answers


def recorded(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


DISCOVERY = json.loads((Path(googleapiclient.__file__).parent / "discovery_cache" / "documents" /
                        "compute.v1.json").read_text())["schemas"]


@pytest.mark.parametrize("name, schema", [("region-us-central1", "Region"), ("project", "Project"),
                                          ("machine-type-a3-megagpu-8g", "MachineType"),
                                          ("reservation-a3-ultra-eu-train", "Reservation")])
def test_recorded_answers_have_googles_shape(name, schema):
    answer = recorded(name)
    assert set(answer) <= set(DISCOVERY[schema]["properties"])
    for quota in answer.get("quotas", []):
        assert set(quota) <= set(DISCOVERY["Quota"]["properties"])
    if schema == "Reservation":
        assert set(answer["specificReservation"]) <= set(DISCOVERY["AllocationSpecificSKUReservation"]["properties"])


class Response:
    def __init__(self, status: int, body: dict):
        self.status_code, self._body, self.text = status, body, json.dumps(body)

    def json(self) -> dict:
        return self._body


class RecordedSession:
    """AuthorizedSession's get() over recorded answers by API path; a path without one answers 404. A list plays
    its answers in turn (a 429, then the answer)."""

    def __init__(self, answers: dict[str, object]):
        self.answers, self.asked = answers, []

    def get(self, url: str, timeout):
        path = url.removeprefix(gcp_checks.COMPUTE_API)
        self.asked.append(path)
        answer = self.answers.get(path, (404, recorded("error-404")))
        if isinstance(answer, list):
            answer = answer.pop(0)
        return Response(*answer) if isinstance(answer, tuple) else Response(200, answer)


PROJECT = "my-training-project"
MEGA_ANSWERS = {
    f"projects/{PROJECT}/regions/us-central1": recorded("region-us-central1"),
    f"projects/{PROJECT}": recorded("project"),
    f"projects/{PROJECT}/zones/us-central1-a/machineTypes/a3-megagpu-8g": recorded("machine-type-a3-megagpu-8g"),
}


def gcp_run(stack: str, answers: dict, sleeps: Sleeps | None = None) -> list[Check]:
    session = RecordedSession(answers)
    return preflight(spec_of(stack), lambda s, r: ComputeRest(session), gcp_project=PROJECT,
                     backoff=Backoff(sleep=sleeps if sleeps is not None else Sleeps()))


def test_gcp_spot_stack_passes():
    checks = gcp_run("gcp-a3-mega-spot", dict(MEGA_ANSWERS))
    assert [(c.check, c.status) for c in checks] == [
        ("gpu quota PREEMPTIBLE_NVIDIA_H100_MEGA_GPUS", "pass"), ("gpu quota GPUS_ALL_REGIONS", "pass"),
        ("machine type train: a3-megagpu-8g", "pass")]
    assert checks[0].found == "128 GPUs (0 in use)"


def test_gcp_quota_short_fails_with_the_metric_to_raise():
    region = recorded("region-us-central1")
    region["quotas"] = [q for q in region["quotas"] if q["metric"] != "PREEMPTIBLE_NVIDIA_H100_MEGA_GPUS"]
    checks = gcp_run("gcp-a3-mega-spot", {**MEGA_ANSWERS, f"projects/{PROJECT}/regions/us-central1": region})
    quota = checks[0]
    assert quota.status == "fail" and quota.found == "0 GPUs (0 in use)"  # spot falls back to the standard quota
    assert "NVIDIA_H100_MEGA_GPUS >= 128 in us-central1" in quota.action and quota.detail.startswith("no PREEMPTIBLE_")


def test_gcp_global_gpu_cap_short_fails():
    project = recorded("project")
    project["quotas"][0]["limit"] = 64
    check = gcp_run("gcp-a3-mega-spot", {**MEGA_ANSWERS, f"projects/{PROJECT}": project})[1]
    assert (check.check, check.status, check.needed) == ("gpu quota GPUS_ALL_REGIONS", "fail", "128 GPUs")
    assert "GPUS_ALL_REGIONS >= 128 in the project (global)" in check.action


def test_gcp_series_without_a_known_metric_warns():
    pool = pool_need(pool="viz", instance_type="g4-standard-48", zones=("us-central1-a",), gpus_per_node=8)
    tasks = GcpPreflight(StackNeeds("gcp", "us-central1", (pool,)), PROJECT, lambda s, r: None).tasks()
    [check] = run_tasks([t for t in tasks if t.check.startswith("gpu quota")], "us-central1")
    assert (check.check, check.status) == ("gpu quota viz", "warn")


def test_gcp_machine_type_missing_in_the_zone_names_zones_that_have_it():
    answers = {k: v for k, v in MEGA_ANSWERS.items() if "machineTypes" not in k}
    check = gcp_run("gcp-a3-mega-spot", answers)[-1]
    assert (check.status, check.found) == ("fail", "not in us-central1-a")
    assert check.action == "use a zone the catalog lists for it: us-central1-b, us-central1-c"


ULTRA = f"projects/{PROJECT}/zones/europe-west4-a/reservations/a3-ultra-eu-train"
ULTRA_MACHINE = {f"projects/{PROJECT}/zones/europe-west4-a/machineTypes/a3-ultragpu-8g":
                 {**recorded("machine-type-a3-megagpu-8g"), "name": "a3-ultragpu-8g"}}


def test_gcp_reservation_that_fits_passes():
    checks = gcp_run("gcp-a3-ultra-eu", {**ULTRA_MACHINE, ULTRA: recorded("reservation-a3-ultra-eu-train")})
    assert [(c.check, c.status) for c in checks] == [("machine type train: a3-ultragpu-8g", "pass"),
                                                     ("reservation train: a3-ultra-eu-train", "pass")]
    assert checks[1].found == "READY, a3-ultragpu-8g x 8 in europe-west4-a (0 in use)"


def test_gcp_reservation_too_small_or_missing_fails():
    small = recorded("reservation-a3-ultra-eu-train")
    small["specificReservation"]["count"] = "4"
    check = gcp_run("gcp-a3-ultra-eu", {**ULTRA_MACHINE, ULTRA: small})[1]
    assert check.status == "fail" and "resize the reservation to 8" in check.action
    missing = gcp_run("gcp-a3-ultra-eu", dict(ULTRA_MACHINE))[1]
    assert (missing.status, missing.found) == ("fail", "none in europe-west4-a")


def test_gcp_errors_throttling_then_success_and_access_denied():
    sleeps = Sleeps()
    region_path = f"projects/{PROJECT}/regions/us-central1"
    answers = {**MEGA_ANSWERS, region_path: [(429, recorded("error-429")), recorded("region-us-central1")]}
    assert gcp_run("gcp-a3-mega-spot", answers, sleeps)[0].status == "pass" and sleeps == [0.5]
    denied = gcp_run("gcp-a3-mega-spot", {**MEGA_ANSWERS, region_path: (403, recorded("error-403"))})[0]
    assert denied.status == "error" and denied.action == "allow compute.regions.get and compute.projects.get"


def test_gcp_without_credentials_is_an_error():
    from google.auth.exceptions import DefaultCredentialsError

    def client_for(service, region):
        raise DefaultCredentialsError("Your default credentials were not found")

    checks = preflight(spec_of("gcp-a3-mega-spot"), client_for, gcp_project=PROJECT, backoff=no_sleep())
    assert {c.status for c in checks} == {"error"}
    assert "gcloud auth application-default login" in checks[0].action


# Output and exit codes


def test_exit_codes():
    assert exit_code([Check("a", "pass"), Check("b", "warn")]) == EXIT_OK
    assert exit_code([Check("a", "error"), Check("b", "fail")]) == EXIT_FAILED
    assert exit_code([Check("a", "pass"), Check("b", "error")]) == EXIT_UNCHECKED


def test_table_shows_what_to_do_under_what_is_short():
    table = render_table([Check("quota X", "pass", "8", "8"), Check("offered train", "fail", "us-east-1d", "us-east-1a",
                                                                    "use us-east-1d", "us-east-1a lacks it")])
    lines = table.splitlines()
    assert lines[0].split() == ["status", "check", "found", "needed"]
    assert lines[2].startswith("FAIL    offered train")
    assert lines[3].strip() == "-> use us-east-1d" and lines[4].strip() == "us-east-1a lacks it"
    assert lines[-1] == "1 pass, 0 warn, 1 fail, 0 error"
    document = as_json("s", "aws", "us-east-1", [Check("quota X", "warn")])
    assert document["summary"] == {"pass": 0, "warn": 1, "fail": 0, "error": 0} and document["exitCode"] == EXIT_OK


@pytest.fixture
def cli_clients(moto_server, dlami_parameter, monkeypatch):
    """The CLI's boto3.client, answered by moto except Service Quotas: a Stubber with the P quota given, then the
    VPC quota (asked in that order)."""
    def with_p_quota(value: float) -> None:
        quotas, stubber = stubbed("service-quotas")
        stubber.add_response("get_service_quota", quota_answer("ec2", "L-417A185B", value))
        stubber.add_response("get_service_quota", quota_answer("vpc", "L-F678F1CE", 5.0))
        clients = moto_clients(moto_server, **{"service-quotas": quotas})
        monkeypatch.setattr(boto3, "client", lambda service, region_name, config: clients(service, region_name))
    return with_p_quota


def test_cli_table_and_exit_0(cli_clients, capsys):
    cli_clients(3072.0)
    code = cli.main(["preflight", "aws-p5-train", "--project", str(ROOT)])
    out, err = capsys.readouterr()
    assert code == EXIT_OK, out
    assert out.splitlines()[0].split() == ["status", "check", "found", "needed"]
    assert out.splitlines()[-1] == "4 pass, 0 warn, 0 fail, 0 error"
    assert err.splitlines()[-1] == "4/4 image train"  # progress, on standard error


def test_cli_json_and_exit_1_on_a_short_quota(cli_clients, capsys):
    cli_clients(192.0)
    code = cli.main(["preflight", "aws-p5-train", "--project", str(ROOT), "--json"])
    document = json.loads(capsys.readouterr().out)
    assert code == EXIT_FAILED == document["exitCode"]
    assert set(document) == {"stack", "cloud", "region", "checks", "summary", "exitCode"}
    assert all(set(c) == {"check", "status", "found", "needed", "action", "detail"} for c in document["checks"])
    failed = [c for c in document["checks"] if c["status"] == "fail"]
    assert [c["check"] for c in failed] == ["quota L-417A185B Running On-Demand P instances"]
    assert "--desired-value 3072" in failed[0]["action"]


def test_cli_exit_3_when_nothing_could_be_asked(moto_server, no_credentials, monkeypatch, capsys):
    monkeypatch.setattr(boto3, "client", lambda service, region_name, config: no_credentials.client(
        service, region_name=region_name, endpoint_url=moto_server, config=config))
    assert cli.main(["preflight", "aws-p5-train", "--project", str(ROOT)]) == EXIT_UNCHECKED
    assert capsys.readouterr().out.splitlines()[-1] == "0 pass, 0 warn, 0 fail, 4 error"


def test_cli_gcp_stack(monkeypatch, capsys):
    monkeypatch.setattr(gcp_checks, "default_compute", lambda: ComputeRest(RecordedSession(dict(MEGA_ANSWERS))))
    assert cli.main(["preflight", "gcp-a3-mega-spot", "--project", str(ROOT)]) == EXIT_OK
    assert "3 pass" in capsys.readouterr().out


def test_cli_refuses_an_existing_cluster(capsys):
    assert cli.main(["preflight", "onprem-dgx-h100-ib", "--project", str(ROOT)]) == 2
    assert "preflight asks AWS or GCP" in capsys.readouterr().err
