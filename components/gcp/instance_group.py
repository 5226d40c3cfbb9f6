"""GpuInstanceGroup (GCP): an instance template with the machine's full NIC layout, and a managed instance group."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from gpucluster import naming
from gpucluster.fabric import GcpNic
from gpucluster.spec import Capacity, Rollout

# These take Hyperdisk boot disks only (A4X and A4X Max: Google, "Arm VMs on Compute" and "Create A4X Max instances in
# bulk": Hyperdisk, no Persistent Disk).
HYPERDISK_SERIES = {"a3-ultragpu", "a4-highgpu", "a4x-highgpu", "a4x-maxgpu-4g"}


@dataclass
class GpuInstanceGroupArgs:
    machine_type: str
    zone: str
    nics: tuple[GcpNic, ...]
    subnets: dict[str, pulumi.Input[str]]
    target_size: int
    capacity: Capacity
    kms_key: pulumi.Input[str]
    service_account: pulumi.Input[str]
    labels: dict[str, str]
    image: str  # the pool's imageId, else gpucluster.images' default for the machine type (validation needs one)
    placement_policy: pulumi.Input[str] | None = None
    boot_disk_gb: int = 200
    startup_script: pulumi.Input[str] | None = None
    rollout: Rollout | None = None  # rolling: a proactive update replaces running VMs; None: new VMs only


class GpuInstanceGroup(pulumi.ComponentResource):
    """VMs that stop on host maintenance (GPUs cannot live-migrate), run as Shielded VMs with OS Login (project-wide
    SSH keys blocked), boot
    from a CMEK-encrypted disk, have no external IP, and attach every GPU NIC the machine type has."""

    instance_group: pulumi.Output[str]
    template: pulumi.Output[str]

    def __init__(self, name: str, args: GpuInstanceGroupArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpucluster:gcp:GpuInstanceGroup", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        series = args.machine_type.rsplit("-", 1)[0]
        template = gcp.compute.InstanceTemplate(
            f"{name}-template",
            name_prefix=naming.template_prefix(name),
            machine_type=args.machine_type,
            disks=[{
                "boot": True, "auto_delete": True, "source_image": args.image, "disk_size_gb": args.boot_disk_gb,
                "disk_type": "hyperdisk-balanced" if series in HYPERDISK_SERIES else "pd-ssd",
                "disk_encryption_key": {"kms_key_self_link": args.kms_key},
            }],
            network_interfaces=[
                {"subnetwork": args.subnets[nic.network if nic.network != "rdma" else f"rdma-{nic.subnet}"], "nic_type": nic.nic_type}
                for nic in args.nics  # no access_configs: no external IP
            ],
            scheduling=self._scheduling(args.capacity),
            reservation_affinity=self._reservation(args.capacity),
            shielded_instance_config={"enable_secure_boot": True, "enable_vtpm": True, "enable_integrity_monitoring": True},
            # A map of known keys (only the script's value may be unknown), so that policies read it at preview.
            metadata={"enable-oslogin": "TRUE", "block-project-ssh-keys": "TRUE",
                      **({"startup-script": args.startup_script} if args.startup_script is not None else {})},
            service_account={"email": args.service_account, "scopes": ["https://www.googleapis.com/auth/cloud-platform"]},
            resource_policies=args.placement_policy,  # one policy: the provider takes it as a string
            labels=args.labels,
            opts=child,
        )
        group = gcp.compute.InstanceGroupManager(
            naming.instance_group_manager(name),
            base_instance_name=naming.base_instance_name(name),
            zone=args.zone,
            target_size=args.target_size,
            versions=[{"instance_template": template.self_link_unique, "name": "primary"}],
            update_policy=self._update_policy(args),
            opts=child,
        )
        self.instance_group, self.template = group.name, template.self_link
        self.register_outputs({"instanceGroup": self.instance_group, "template": self.template})

    @staticmethod
    def _update_policy(args: GpuInstanceGroupArgs) -> dict:
        """OPPORTUNISTIC: a new template reaches VMs the group creates from now on, never running ones (GCP's default,
        PROACTIVE, would replace them). Rolling: proactive, without surge (GPU capacity is rarely there for it)."""
        if args.rollout is None:
            return {"type": "OPPORTUNISTIC", "minimal_action": "REPLACE"}
        unavailable = max(1, args.target_size * (100 - args.rollout.min_healthy_percent) // 100)
        return {"type": "PROACTIVE", "minimal_action": "REPLACE", "max_surge_fixed": 0,
                "max_unavailable_fixed": unavailable, "replacement_method": "RECREATE"}

    @staticmethod
    def _scheduling(capacity: Capacity) -> dict:
        plan = capacity.plan()
        scheduling = {"on_host_maintenance": "TERMINATE", "automatic_restart": not (plan.spot or plan.flex_start)}
        if plan.spot:
            scheduling.update(provisioning_model="SPOT", instance_termination_action="DELETE")
        elif plan.flex_start:
            seconds = int((capacity.max_run_hours or 168) * 3600)
            scheduling.update(provisioning_model="FLEX_START", instance_termination_action="DELETE",
                              max_run_duration={"seconds": seconds})
        else:
            scheduling.update(provisioning_model="STANDARD")
        return scheduling

    @staticmethod
    def _reservation(capacity: Capacity) -> dict:
        if capacity.reservation_name:
            return {"type": "SPECIFIC_RESERVATION",
                    "specific_reservation": {"key": "compute.googleapis.com/reservation-name", "values": [capacity.reservation_name]}}
        return {"type": "NO_RESERVATION"}  # spot and flex-start must not consume reservations; on demand need not
