"""Node user data: installs the node scripts and the systemd units that run them. Pure text, no Pulumi.

Each script runs as a unit so it runs again on every boot (the scratch array must be reassembled after a
reboot) and its output lands in the journal (`journalctl -u gpucluster-scratch`).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from .naming import CHECKPOINT_HOOK
from .spec import Checkpoint

EC2_USER_DATA_LIMIT = 16 * 1024  # bytes, before base64 (EC2 User Guide, "instance user data")


def script(name: str) -> str:
    return resources.files("gpucluster.scripts").joinpath(name).read_text()


def for_node(program: str) -> str:
    """A script as the node gets it: without its comment lines (they are for readers of this repository, and the
    user data has 16 KB). The scripts hold no multi-line string or here-document with such lines (a test checks)."""
    first, *rest = program.splitlines()
    return "\n".join([first, *(line for line in rest if not line.lstrip().startswith("#"))]) + "\n"


@dataclass(frozen=True)
class ScratchSetup:
    mount: str
    expected_disks: int


@dataclass(frozen=True)
class SharedMount:
    dns_name: str
    mount_name: str
    mount: str


@dataclass(frozen=True)
class Watcher:
    checkpoint_command: str
    checkpoint_dir: str
    destination: str
    lifecycle_hook: str
    heartbeat_seconds: int
    cloud: str = "aws"


def _env_file(values: dict[str, str | int]) -> str:
    """systemd EnvironmentFile syntax: double quotes, with backslash escapes; nothing is expanded."""

    def quoted(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    return "".join(f"{key}={quoted(str(value))}\n" for key, value in values.items())


def _unit(name: str, description: str, command: str, after: str, oneshot: bool) -> str:
    kind = "Type=oneshot\nRemainAfterExit=yes" if oneshot else "Type=simple\nRestart=on-failure\nRestartSec=5"
    return (
        f"[Unit]\nDescription={description}\nAfter={after}\n\n"
        f"[Service]\n{kind}\nEnvironmentFile=/etc/gpucluster/{name}.env\nExecStart={command}\n\n"
        "[Install]\nWantedBy=multi-user.target\n"
    )


def _install(name: str, body: str, mode: str, path: str) -> str:
    marker = f"GPUCLUSTER_{name.upper().replace('-', '_')}_EOF"
    return f"install -D -m {mode} /dev/stdin {path} <<'{marker}'\n{body.rstrip()}\n{marker}\n"


def render(
    scratch: ScratchSetup | None = None,
    shared: SharedMount | None = None,
    watcher: Watcher | None = None,
    disk_model: str | None = None,
) -> str:
    """The whole user data (or GCE startup) script, or an empty string when the node needs none."""
    parts: list[str] = []
    units: list[str] = []

    def add(name: str, program: str, program_path: str, env: dict, description: str, after: str, oneshot: bool) -> None:
        parts.append(_install(name, for_node(program), "0755", program_path))
        parts.append(_install(f"{name}-env", _env_file(env), "0644", f"/etc/gpucluster/{name}.env"))
        unit = _unit(name, description, program_path, after, oneshot)
        parts.append(_install(f"{name}-unit", unit, "0644", f"/etc/systemd/system/gpucluster-{name}.service"))
        units.append(f"gpucluster-{name}.service")

    if scratch:
        add("scratch", script("scratch-raid.sh"), "/usr/local/sbin/gpucluster-scratch",
            {"SCRATCH_MOUNT": scratch.mount, "EXPECTED_DISKS": scratch.expected_disks,
             **({"DISK_MODEL": disk_model} if disk_model else {})},
            "gpucluster: local NVMe RAID0 scratch", "local-fs.target", oneshot=True)
    if shared:
        add("fsx", script("fsx-mount.sh"), "/usr/local/sbin/gpucluster-fsx",
            {"FSX_DNS": shared.dns_name, "FSX_MOUNT_NAME": shared.mount_name, "FSX_MOUNT": shared.mount},
            "gpucluster: mount the shared Lustre file system", "network-online.target", oneshot=True)
    if watcher:
        add("watcher", script("interruption-watcher.py"), "/usr/local/sbin/gpucluster-watcher",
            {"CLOUD": watcher.cloud, "CHECKPOINT_COMMAND": watcher.checkpoint_command, "CHECKPOINT_DIR": watcher.checkpoint_dir,
             "CHECKPOINT_DESTINATION": watcher.destination, "LIFECYCLE_HOOK": watcher.lifecycle_hook,
             "HEARTBEAT_SECONDS": watcher.heartbeat_seconds},
            "gpucluster: checkpoint on spot interruption, preemption or scale-in", "network-online.target", oneshot=False)
    if not parts:
        return ""
    enable = f"systemctl daemon-reload\nsystemctl enable --now {' '.join(units)}\n"
    text = "#!/bin/bash\n# gpucluster node setup\nset -euo pipefail\n" + "".join(parts) + enable
    if len(text.encode()) > EC2_USER_DATA_LIMIT:
        raise ValueError(f"user data is {len(text.encode())} bytes; EC2 allows {EC2_USER_DATA_LIMIT}")
    return text


GCE_LOCAL_SSD_MODEL = "nvme_card"  # what GCE local SSDs report (their persistent disks say "nvme_card-pd")


@dataclass(frozen=True)
class NodeSetup:
    """What a pool's nodes set up at every boot, decided from the spec alone (gpucluster.plan.node_setup), so that
    whether a node has a script at all is known at preview; only addresses and names may wait for deploy."""

    cloud: str
    cluster: str
    pool: str
    scratch: ScratchSetup | None
    shared_mount: str | None  # where the shared file system mounts, when the cluster has one
    checkpoint: Checkpoint | None  # the pool's checkpoint settings, when its nodes can be taken away (spot, flex-start)


def node_script(setup: NodeSetup, fs_address: str | None, fs_mount_name: str | None, checkpoint_bucket: str | None) -> str:
    """The node's user data (AWS) or startup script (GCP) for `setup`, once the file system's address and mount name
    and the checkpoint bucket's name are known (or stood in for, by the limit check, at their longest)."""
    gcp, checkpoint = setup.cloud == "gcp", setup.checkpoint
    watcher = None
    if checkpoint:
        destination = (f"{'gs' if gcp else 's3'}://{checkpoint_bucket}/{setup.cluster}/{setup.pool}" if checkpoint.to == "s3"
                       else f"{setup.shared_mount}/checkpoints/{setup.pool}")
        watcher = Watcher(checkpoint.command or "", checkpoint.directory, destination, "" if gcp else CHECKPOINT_HOOK,
                          checkpoint.heartbeat_seconds, setup.cloud)
    shared = SharedMount(fs_address, fs_mount_name, setup.shared_mount) if setup.shared_mount else None
    return render(scratch=setup.scratch, shared=shared, watcher=watcher, disk_model=GCE_LOCAL_SSD_MODEL if gcp else None)
