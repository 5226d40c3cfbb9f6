"""Which quota a pool's nodes count against. Pure data.

AWS: EC2 counts running vCPUs per instance-family group, one quota for on-demand and one for spot in each region.
The codes below were checked, 2026-12-07, against public repositories that print the quota name beside the code
(`aws service-quotas list-service-quotas` dumps and quota tools); no AWS documentation page listing them was found
to cite. L-417A185B "Running On-Demand P instances", L-DB2E81BA "Running On-Demand G and VT instances", L-2C3B7624
"Running On-Demand Trn instances", L-1945791B "Running On-Demand Inf instances", L-6E869C2A "Running On-Demand DL
instances", L-74FC7D96 "Running On-Demand F instances"; L-7212CCBC "All P Spot Instance Requests", L-3819A6DF "All G
and VT Spot Instance Requests", L-6B0D517C "All Trn Spot Instance Requests" (some tools list L-5480EFD2 there, which
the dumps name "Running Dedicated inf Hosts"), L-B5D1601B "All Inf Spot Instance Requests", L-85EED4F7 "All DL Spot
Instance Requests", L-88CF9481 "All F Spot Instance Requests". VPCs per Region (L-F678F1CE, service vpc) is also in
moto's default quota table and Pulumi's ServiceQuota example; FSx's "Lustre Persistent_2 storage capacity"
(L-8F1B9C74, GiB) is from the same dumps.

GCP: Compute Engine's regional GPU quotas per model, by metric name as regions.get answers it (a string: the
Quota.Metric enum of the compute.v1 discovery document stops before H100 Mega, H200 and B200). Which series carries
which GPU is Google's "About GPU instances" (A4X GB200, A4 B200, A3 Ultra H200, A3 Mega nvidia-h100-mega-80gb, A3
High H100, A2 Ultra A100 80GB, A2 A100 40GB, G2 L4); the metric of each as public quota guides list it. Spot and
flex-start VMs draw on the PREEMPTIBLE_ metric when the project has such quota, else on the standard one (Google:
"Quotas for Spot VMs").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Market = Literal["on-demand", "spot"]


@dataclass(frozen=True)
class Quota:
    code: str
    name: str


# Quota group -> (on-demand, spot). G and VT share both quotas.
EC2_VCPU_QUOTAS: dict[str, dict[Market, Quota]] = {
    "P": {"on-demand": Quota("L-417A185B", "Running On-Demand P instances"),
          "spot": Quota("L-7212CCBC", "All P Spot Instance Requests")},
    "G and VT": {"on-demand": Quota("L-DB2E81BA", "Running On-Demand G and VT instances"),
                 "spot": Quota("L-3819A6DF", "All G and VT Spot Instance Requests")},
    "Trn": {"on-demand": Quota("L-2C3B7624", "Running On-Demand Trn instances"),
            "spot": Quota("L-6B0D517C", "All Trn Spot Instance Requests")},
    "Inf": {"on-demand": Quota("L-1945791B", "Running On-Demand Inf instances"),
            "spot": Quota("L-B5D1601B", "All Inf Spot Instance Requests")},
    "DL": {"on-demand": Quota("L-6E869C2A", "Running On-Demand DL instances"),
           "spot": Quota("L-85EED4F7", "All DL Spot Instance Requests")},
    "F": {"on-demand": Quota("L-74FC7D96", "Running On-Demand F instances"),
          "spot": Quota("L-88CF9481", "All F Spot Instance Requests")},
}
_GROUP_OF_LETTERS = {"p": "P", "g": "G and VT", "gr": "G and VT", "vt": "G and VT", "trn": "Trn", "inf": "Inf",
                     "dl": "DL", "f": "F"}
VPCS_PER_REGION = Quota("L-F678F1CE", "VPCs per Region")
LUSTRE_PERSISTENT_2_GIB = Quota("L-8F1B9C74", "Lustre Persistent_2 storage capacity")


def ec2_quota_group(instance_type: str) -> str | None:
    """The quota group of an instance type from its leading letters (p5.48xlarge: P, gr6.4xlarge: G and VT,
    dl2q.24xlarge: DL); None for a group outside the accelerated ones above."""
    letters = re.match(r"[a-z]+", instance_type)
    return _GROUP_OF_LETTERS.get(letters.group(0)) if letters else None


# Machine series (the name without its size) -> regional GPU quota metric of its on-demand VMs.
GCP_GPU_METRICS = {
    "a4x-highgpu": "NVIDIA_GB200_GPUS",
    "a4-highgpu": "NVIDIA_B200_GPUS",
    "a3-ultragpu": "NVIDIA_H200_GPUS",
    "a3-megagpu": "NVIDIA_H100_MEGA_GPUS",
    "a3-highgpu": "NVIDIA_H100_GPUS",
    "a2-ultragpu": "NVIDIA_A100_80GB_GPUS",
    "a2-highgpu": "NVIDIA_A100_GPUS",
    "g2-standard": "NVIDIA_L4_GPUS",
}


def gcp_gpu_metric(machine_type: str, market: Market) -> str | None:
    """The quota metric a VM of this machine type draws on; None where no metric is known for its series."""
    metric = GCP_GPU_METRICS.get(machine_type.rsplit("-", 1)[0])
    if metric is None:
        return None
    return f"PREEMPTIBLE_{metric}" if market == "spot" else metric
