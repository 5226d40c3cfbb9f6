"""The node scripts, run for real: RAID0 scratch in dry-run against a fake machine, the interruption watcher
against a local server that behaves like IMDSv2."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gpucluster import catalog
from gpucluster.userdata import EC2_USER_DATA_LIMIT, ScratchSetup, SharedMount, Watcher, for_node, render, script

SCRIPTS = Path(__file__).resolve().parent.parent / "gpucluster" / "scripts"
INSTANCE_STORE = "Amazon EC2 NVMe Instance Storage"
EBS = "Amazon Elastic Block Store"


# The fake machine's mdadm and blkid: they answer from files under state/ as the real ones answer from the disks,
# in the formats real mdadm 4.2 and blkid 2.38 print (`mdadm --examine --brief` prints nothing and exits 0 on a
# disk without superblock; `blkid -p` exits 2 when it finds nothing).
#   state/superblock/<disk>  an md superblock on <disk>; the file holds the array's name (any:scratch, <host>:scratch)
#   state/fs/<disk>          what blkid finds on a disk without superblock, as `blkid -p -o export` lines
#   state/fs/array           what blkid finds on the array, whatever md device it is assembled as
#   state/assembled          the arrays `mdadm --detail --scan` lists
# A state/fs file whose first line is "exit N" makes blkid exit N (8: an ambivalent result).
FAKE_MDADM = """#!/bin/bash
dev="${@: -1}"
case "$1" in
  --examine) sb="$FAKE_STATE/superblock/${dev##*/}"
             if [[ -e $sb ]]; then echo "ARRAY /dev/md/scratch  metadata=1.2 UUID=1:2:3:4 name=$(<"$sb")"; fi ;;
  --detail) if [[ -e $FAKE_STATE/assembled ]]; then echo "$(<"$FAKE_STATE/assembled")"; fi ;;
  *) exit 1 ;;
esac
"""
FAKE_BLKID = """#!/bin/bash
dev="${@: -1}"
case "${dev#"$DEV_ROOT"/}" in
  md/*|md[0-9]*) sb=/nonexistent fs="$FAKE_STATE/fs/array" ;;
  *) sb="$FAKE_STATE/superblock/${dev##*/}" fs="$FAKE_STATE/fs/${dev##*/}" ;;
esac
if [[ -e $sb ]]; then printf 'DEVNAME=%s\\nLABEL=%s\\nTYPE=linux_raid_member\\n' "$dev" "$(<"$sb")"
elif [[ -e $fs ]]; then read -r first < "$fs"; if [[ $first == exit* ]]; then $first; fi; echo "DEVNAME=$dev"; echo "$(<"$fs")"
else exit 2; fi
"""
OUR_XFS = "TYPE=xfs\nLABEL=scratch\n"


def fake_machine(root: Path, instance_store_disks: int, mounted: bool = False) -> dict:
    """A sysfs with one EBS root disk and N instance-store disks, a /proc/mounts, a /dev, and mdadm and blkid
    that answer from files under state/ (blank disks to begin with)."""
    block = root / "sys" / "block"
    models = [EBS] + [INSTANCE_STORE] * instance_store_disks
    for index, model in enumerate(models):
        (block / f"nvme{index}n1" / "device").mkdir(parents=True)
        (block / f"nvme{index}n1" / "device" / "model").write_text(f"{model:<40}\n")  # sysfs pads with spaces
    mounts = root / "mounts"
    mounts.write_text("/dev/nvme0n1p1 / ext4 rw 0 0\n" + ("/dev/md127 /scratch xfs rw,noatime 0 0\n" if mounted else ""))
    (root / "dev" / "md").mkdir(parents=True)
    for sub in ("superblock", "fs"):
        (root / "state" / sub).mkdir(parents=True)
    (root / "bin").mkdir()
    for tool, text in (("mdadm", FAKE_MDADM), ("blkid", FAKE_BLKID)):
        (root / "bin" / tool).write_text(text)
        (root / "bin" / tool).chmod(0o755)
    return {"SYSFS_ROOT": str(root / "sys"), "DEV_ROOT": str(root / "dev"), "PROC_MOUNTS": str(mounts),
            "FAKE_STATE": str(root / "state"), "PATH": f"{root / 'bin'}:{os.environ['PATH']}"}


def _array_line(root: Path, device: str, name: str, inactive: bool = False) -> str:
    return f"{'INACTIVE-ARRAY' if inactive else 'ARRAY'} {root}/dev/{device} metadata=1.2 name={name} UUID=1:2:3:4\n"


def formatted(root: Path, disks: int, assembled_as: str | None = None, name: str = "any:scratch",
              inactive: bool = False) -> None:
    """What a first boot leaves: our md superblock on each disk, XFS labelled scratch on the array; after a reboot
    the kernel has assembled the array as `assembled_as` (md127, md/scratch, ...), half-assembled it (`inactive`),
    or left it alone. `name` as mdadm stores it: any:scratch (--homehost=any), <host>:scratch (earlier scripts)."""
    for i in range(1, disks + 1):
        (root / "state" / "superblock" / f"nvme{i}n1").write_text(name)
    (root / "state" / "fs" / "array").write_text(OUR_XFS)
    if assembled_as:
        (root / "state" / "assembled").write_text(_array_line(root, assembled_as, name, inactive))


def apply(root: Path, done: list[str]) -> None:
    """Do to the fake machine what the commands of a dry run would have done to a real one."""
    state = root / "state"
    for command in done:
        words = command.split()
        if words[:2] == ["mdadm", "--create"]:
            options = dict(w[2:].split("=", 1) for w in words if w.startswith("--") and "=" in w)
            name = f"{options['homehost']}:{options['name']}"
            for disk in (w for w in words if w.startswith(f"{root}/dev/nvme")):
                (state / "superblock" / Path(disk).name).write_text(name)
            (state / "fs" / "array").unlink(missing_ok=True)  # a new array holds nothing
            (state / "assembled").write_text(_array_line(root, words[2].removeprefix(f"{root}/dev/"), name))
        elif words[:2] == ["mdadm", "--assemble"]:
            name = (state / "superblock" / Path(words[3]).name).read_text()
            (state / "assembled").write_text(_array_line(root, words[2].removeprefix(f"{root}/dev/"), name))
        elif words[:2] == ["mdadm", "--stop"]:
            (state / "assembled").unlink()
        elif words[0] == "mkfs.xfs":
            on_array = words[-1].removeprefix(f"{root}/dev/").startswith("md")
            (state / "fs" / ("array" if on_array else Path(words[-1]).name)).write_text(f"TYPE=xfs\nLABEL={words[2]}\n")
        elif words[0] == "mount":
            with (root / "mounts").open("a") as mounts:
                mounts.write(f"{words[-2]} {words[-1]} xfs rw,noatime 0 0\n")


def reboot(root: Path, assembled_as: str | None, inactive: bool = False) -> None:
    """A reboot: nothing mounted or assembled, the disks as they were; the kernel may assemble the array again."""
    (root / "mounts").write_text("/dev/nvme0n1p1 / ext4 rw 0 0\n")
    (root / "state" / "assembled").unlink(missing_ok=True)
    if assembled_as:
        name = (root / "state" / "superblock" / "nvme1n1").read_text()
        (root / "state" / "assembled").write_text(_array_line(root, assembled_as, name, inactive))


def stop_start(root: Path) -> None:
    """A stop and start: the instance comes back on another host with new, blank instance-store disks."""
    reboot(root, None)
    for sub in ("superblock", "fs"):
        for path in (root / "state" / sub).iterdir():
            path.unlink()


def run_scratch(env: dict, expected: int | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """The script as the node gets it (for_node: without its comment lines), in dry run."""
    node_copy = Path(env["FAKE_STATE"]).parent / "gpucluster-scratch"
    node_copy.write_text(for_node(script("scratch-raid.sh")))
    env = {**os.environ, **env, "DRY_RUN": "1", "SCRATCH_MOUNT": "/scratch"}
    if expected is not None:
        env["EXPECTED_DISKS"] = str(expected)
    return subprocess.run(["bash", node_copy], env=env, capture_output=True, text=True, check=check)


def commands(run: subprocess.CompletedProcess) -> list[str]:
    return [line[2:] for line in run.stdout.splitlines() if line.startswith("+ ")]


def destructive(done: list[str]) -> list[str]:
    return [c for c in done if c.startswith(("mkfs", "mdadm --create", "wipefs", "dd "))]


def _members(root: Path, disks: int) -> list[str]:
    """The instance-store disks in the order bash's glob lists them (nvme10n1 before nvme2n1)."""
    return sorted(f"{root}/dev/nvme{i}n1" for i in range(1, disks + 1))


# Every local-disk count of every catalog type, both clouds: one disk included.
DISK_COUNTS = sorted({t.local_disks.count for cloud in ("aws", "gcp") for t in catalog.load(cloud) if t.local_disks.count})
# How a reboot finds the array: not assembled, assembled by the kernel under one name or another, half-assembled.
REBOOTS = {
    "not-assembled": (None, False),
    "as-md127": ("md127", False),
    "as-md-scratch": ("md/scratch", False),
    "as-md-host-scratch": ("md/ip-10-0-0-1:scratch", False),
    "inactive-md127": ("md127", True),
}


def test_the_catalog_has_single_disk_types():
    assert 1 in DISK_COUNTS and max(DISK_COUNTS) > 1


def _first_boot(root: Path, disks: int) -> list[str]:
    members = " ".join(_members(root, disks))
    array = f"{root}/dev/md/scratch"
    return [
        f"mdadm --create {array} --name=scratch --homehost=any --level=0 --raid-devices={disks} --chunk=256 --run --force {members}",
        f"mkfs.xfs -L scratch {array}",  # never forced
        "mkdir -p /scratch", f"mount -o noatime,nodiratime {array} /scratch", "chmod 1777 /scratch",
    ]


@pytest.mark.parametrize("disks", DISK_COUNTS)
def test_first_boot_builds_formats_and_mounts_once(disks, tmp_path):
    run = run_scratch(fake_machine(tmp_path, disks), expected=disks)
    assert commands(run) == _first_boot(tmp_path, disks)
    assert "blank disks: a first boot, or a stop/start gave new ones" in run.stdout and "warning" not in run.stdout


@pytest.mark.parametrize("disks", DISK_COUNTS)
@pytest.mark.parametrize("reboot_as", REBOOTS)
def test_reboot_never_creates_or_formats(disks, reboot_as, tmp_path, name="any:scratch"):
    assembled_as, inactive = REBOOTS[reboot_as]
    env = fake_machine(tmp_path, disks)
    formatted(tmp_path, disks, assembled_as, name=name, inactive=inactive)
    done = commands(run_scratch(env, expected=disks))
    assert not destructive(done), done
    active = assembled_as and not inactive
    device = f"{tmp_path}/dev/{assembled_as if active else 'md/scratch'}"
    assert done[-3:] == ["mkdir -p /scratch", f"mount -o noatime,nodiratime {device} /scratch", "chmod 1777 /scratch"]
    assemble = f"mdadm --assemble {device} " + " ".join(_members(tmp_path, disks))
    assert done[:-3] == ([] if active else [f"mdadm --stop {tmp_path}/dev/md127", assemble] if inactive else [assemble])


@pytest.mark.parametrize("reboot_as", REBOOTS)
def test_arrays_the_earlier_scripts_built_are_recognised(reboot_as, tmp_path):
    """They were created without --homehost=any: mdadm stored the name as <hostname>:scratch."""
    test_reboot_never_creates_or_formats(4, reboot_as, tmp_path, name="ip-10-0-0-1:scratch")


@pytest.mark.parametrize("disks", DISK_COUNTS)
@pytest.mark.parametrize("reboot_as", ["not-assembled", "as-md127"])
def test_second_boot_after_the_first_formats_nothing(disks, reboot_as, tmp_path):
    """First boot on blank disks, the machine left as those commands leave it, a reboot, the second boot."""
    env = fake_machine(tmp_path, disks)
    first = commands(run_scratch(env, expected=disks))
    assert first == _first_boot(tmp_path, disks)
    apply(tmp_path, first)
    assert "already mounted" in run_scratch(env).stdout  # the same boot, the unit started again
    reboot(tmp_path, *REBOOTS[reboot_as])
    second = commands(run_scratch(env, expected=disks))
    assert not destructive(second), second
    apply(tmp_path, second)
    reboot(tmp_path, *REBOOTS[reboot_as])
    assert not destructive(commands(run_scratch(env, expected=disks))), "nor the third"


@pytest.mark.parametrize("disks", DISK_COUNTS)
def test_stop_start_wiped_disks_are_rebuilt(disks, tmp_path):
    """A stop/start hands the instance new, blank instance-store disks: the data is gone by the cloud's design,
    the log says so, and the array is built and formatted again, once."""
    env = fake_machine(tmp_path, disks)
    apply(tmp_path, commands(run_scratch(env)))
    stop_start(tmp_path)
    run = run_scratch(env)
    assert "a stop/start gave new ones (what /scratch held is gone)" in run.stdout
    assert commands(run) == _first_boot(tmp_path, disks)


@pytest.mark.parametrize("disks", DISK_COUNTS)
def test_scratch_does_nothing_when_mounted(disks, tmp_path):
    env = fake_machine(tmp_path, disks, mounted=True)
    formatted(tmp_path, disks, "md127")
    run = run_scratch(env)
    assert "already mounted" in run.stdout and not commands(run)


@pytest.mark.parametrize("assembled_as", [None, "md127"], ids=["not-assembled", "as-md127"])
def test_an_array_the_first_boot_left_unformatted_is_formatted(assembled_as, tmp_path):
    """Power lost between mdadm --create and mkfs: the array is ours and holds nothing, so it is formatted (not
    forced), never created again."""
    env = fake_machine(tmp_path, 2)
    formatted(tmp_path, 2, assembled_as)
    (tmp_path / "state" / "fs" / "array").unlink()
    run = run_scratch(env)
    device = f"{tmp_path}/dev/{assembled_as or 'md/scratch'}"
    assert [c for c in commands(run) if c.startswith(("mkfs", "mdadm --create"))] == [f"mkfs.xfs -L scratch {device}"]
    assert "holds no filesystem" in run.stdout


@pytest.mark.parametrize("found, disk", [
    (OUR_XFS, 1),                                       # a lone disk formatted directly (the first version did)
    ("TYPE=ext4\nLABEL=data\n", 1),                     # somebody's filesystem
    ("PTTYPE=gpt\n", 2),                                # a partition table
    ("TYPE=linux_raid_member\nLABEL=db:data\n", 2),     # another array's member
    ("exit 8\n", 2),                                    # blkid cannot tell (ambivalent)
], ids=["our-xfs-on-a-lone-disk", "ext4", "partition-table", "other-array", "ambivalent"])
def test_a_disk_that_is_not_blank_and_not_ours_is_left_alone(found, disk, tmp_path):
    env = fake_machine(tmp_path, 4 if disk == 2 else 1)
    (tmp_path / "state" / "fs" / f"nvme{disk}n1").write_text(found)
    run = run_scratch(env, check=False)
    assert run.returncode == 1 and f"error: {tmp_path}/dev/nvme{disk}n1 holds" in run.stdout, run.stdout
    assert "leaving the disks alone" in run.stdout and not commands(run)


def test_another_arrays_superblock_is_not_ours(tmp_path):
    env = fake_machine(tmp_path, 2)
    formatted(tmp_path, 2, name="db:scratch2")
    run = run_scratch(env, check=False)
    assert run.returncode == 1 and "holds 'linux_raid_member db:scratch2', not ours" in run.stdout and not commands(run)


def test_disks_partly_in_our_array_and_partly_blank_are_left_alone(tmp_path):
    env = fake_machine(tmp_path, 4)
    formatted(tmp_path, 4)
    (tmp_path / "state" / "superblock" / "nvme3n1").unlink()
    run = run_scratch(env, check=False)
    assert run.returncode == 1 and "3 of 4 disks carry our array, the others are blank" in run.stdout
    assert not commands(run)


def test_a_foreign_filesystem_on_the_array_is_left_alone(tmp_path):
    env = fake_machine(tmp_path, 2)
    formatted(tmp_path, 2, assembled_as="md127")
    (tmp_path / "state" / "fs" / "array").write_text("TYPE=ext4\nLABEL=database\n")
    run = run_scratch(env, check=False)
    assert run.returncode == 1 and "holds 'ext4 database', not ours" in run.stdout and not commands(run)


def test_without_blkid_nothing_looks_blank(tmp_path):
    """A probe that cannot run must not read as "nothing there"."""
    env = fake_machine(tmp_path, 1)
    (tmp_path / "bin" / "blkid").write_text("#!/bin/bash\nexit 127\n")
    run = run_scratch(env, check=False)
    assert run.returncode == 1 and "unreadable (blkid exit 127)" in run.stdout and not commands(run)


def test_gce_local_ssds_reboot_by_model(tmp_path):
    """GCE local SSDs report nvme_card, their persistent boot disk nvme_card-pd: only the former are ours."""
    env = fake_machine(tmp_path, 0)
    block = Path(env["SYSFS_ROOT"]) / "block"
    (block / "nvme0n1" / "device" / "model").write_text(f"{'nvme_card-pd':<40}\n")
    for index in range(1, 17):
        (block / f"nvme{index}n1" / "device").mkdir(parents=True)
        (block / f"nvme{index}n1" / "device" / "model").write_text(f"{'nvme_card':<40}\n")
    env = {**env, "DISK_MODEL": "nvme_card"}
    first = commands(run_scratch(env, expected=16))
    assert first == _first_boot(tmp_path, 16)
    apply(tmp_path, first)
    reboot(tmp_path, "md127")
    assert commands(run_scratch(env, expected=16))[-2] == f"mount -o noatime,nodiratime {tmp_path}/dev/md127 /scratch"


def test_scratch_skips_types_without_local_disks(tmp_path):
    out = run_scratch(fake_machine(tmp_path, 0)).stdout
    assert "no local NVMe disks" in out and "+ " not in out


def test_scratch_warns_when_the_disk_count_differs_from_the_catalog(tmp_path):
    assert "found 4 local disks, the catalog says 8" in run_scratch(fake_machine(tmp_path, 4), expected=8).stdout


def test_the_ebs_root_disk_is_never_touched(tmp_path):
    assert f"{tmp_path}/dev/nvme0n1" not in run_scratch(fake_machine(tmp_path, 2)).stdout


def test_fsx_mount_dry_run(tmp_path):
    (tmp_path / "mounts").write_text("")
    env = {**os.environ, "DRY_RUN": "1", "FSX_DNS": "fs-1.fsx.us-east-1.amazonaws.com", "FSX_MOUNT_NAME": "abcdef",
           "FSX_MOUNT": "/fsx", "PROC_MOUNTS": str(tmp_path / "mounts")}
    out = subprocess.run(["bash", SCRIPTS / "fsx-mount.sh"], env=env, capture_output=True, text=True, check=True).stdout
    assert "+ mount -t lustre -o relatime,flock fs-1.fsx.us-east-1.amazonaws.com@tcp:/abcdef /fsx" in out


class FirstRequestClock:
    """Seconds since a fake metadata server's first request: the phases a fake plays (tokens refused, a notice, a
    preemption) count from there, so that however long the watcher takes to start, it sees each of them."""

    def __init__(self):
        self.started: float | None = None

    def elapsed(self) -> float:
        if self.started is None:
            self.started = time.monotonic()
        return time.monotonic() - self.started


class FakeImds:
    """IMDSv2 on loopback: PUT /latest/api/token first; every GET needs the token (401 without it)."""

    def __init__(self, notice_after: float | None, refuse_tokens_for: float = 0.0, expire_token_once: bool = False):
        self.clock = FirstRequestClock()
        self.notice_after = notice_after
        self.refuse_tokens_for = refuse_tokens_for
        self.expire_token_once = expire_token_once
        self.token = "token-1"
        self.notice_seen_at: float | None = None
        self.unauthorized = 0
        imds = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, code: int, body: str = ""):
                self.send_response(code)
                self.end_headers()
                self.wfile.write(body.encode())

            def do_PUT(self):
                elapsed = imds.clock.elapsed()
                if self.path != "/latest/api/token" or "X-aws-ec2-metadata-token-ttl-seconds" not in self.headers:
                    return self._send(400)
                if elapsed < imds.refuse_tokens_for:
                    return self._send(403)
                self._send(200, imds.token)

            def do_GET(self):
                if self.headers.get("X-aws-ec2-metadata-token") != imds.token:
                    imds.unauthorized += 1
                    return self._send(401)
                if imds.expire_token_once:
                    imds.expire_token_once = False
                    imds.token = "token-2"  # the next read with the old token is refused
                    return self._send(401)
                elapsed = imds.clock.elapsed()
                path = self.path.removeprefix("/latest/meta-data/")
                if path == "spot/instance-action":
                    if imds.notice_after is None or elapsed < imds.notice_after:
                        return self._send(404)
                    if imds.notice_seen_at is None:
                        imds.notice_seen_at = time.monotonic()
                    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 120))
                    return self._send(200, json.dumps({"action": "terminate", "time": when}))
                answers = {
                    "instance-id": "i-0123456789abcdef0",
                    "placement/region": "us-east-1",
                    "tags/instance/aws:autoscaling:groupName": "train-asg",
                }
                if path in answers:
                    return self._send(200, answers[path])
                self._send(404)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def node(tmp_path):
    """A fake `aws` CLI that logs its calls, a checkpoint directory and a checkpoint command."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "aws-calls.log"
    aws = bin_dir / "aws"
    aws.write_text(f"#!/bin/bash\necho \"$(date +%s.%N) $*\" >> {calls}\n")
    aws.chmod(0o755)
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    marker = tmp_path / "checkpointed"
    command = f"echo step-1000 > {checkpoints}/latest && date +%s.%N > {marker}"
    return {"bin": bin_dir, "calls": calls, "checkpoints": checkpoints, "marker": marker, "command": command, "tmp": tmp_path}


def watcher_env(node, endpoint: str, destination: str = "s3://ckpt-bucket/c/train") -> dict:
    return {
        **os.environ,
        "PATH": f"{node['bin']}:{os.environ['PATH']}",
        "IMDS_ENDPOINT": endpoint,
        "POLL_SECONDS": "0.1",
        "CHECKPOINT_COMMAND": node["command"],
        "CHECKPOINT_DIR": str(node["checkpoints"]),
        "CHECKPOINT_DESTINATION": destination,
        "LIFECYCLE_HOOK": "checkpoint-before-termination",
        "HEARTBEAT_SECONDS": "600",
    }


def run_watcher(env: dict, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, SCRIPTS / "interruption-watcher.py"], env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_watcher_checkpoints_within_the_two_minute_window(node):
    imds = FakeImds(notice_after=0.5)
    try:
        done = run_watcher(watcher_env(node, imds.endpoint))
    finally:
        imds.close()
    assert done.returncode == 0, done.stdout + done.stderr
    finished = time.monotonic()
    assert imds.notice_seen_at is not None
    assert finished - imds.notice_seen_at < 120, "checkpoint, copy and lifecycle call fit in the spot notice"
    assert "spot interruption notice" in done.stdout
    assert (node["checkpoints"] / "latest").read_text().strip() == "step-1000"
    calls = node["calls"].read_text().splitlines()
    sync, complete = calls[0].split(" ", 1)[1], calls[1].split(" ", 1)[1]
    assert sync == f"s3 sync --only-show-errors {node['checkpoints']} s3://ckpt-bucket/c/train/i-0123456789abcdef0"
    assert complete == (
        "autoscaling complete-lifecycle-action --lifecycle-hook-name checkpoint-before-termination "
        "--auto-scaling-group-name train-asg --instance-id i-0123456789abcdef0 --lifecycle-action-result CONTINUE "
        "--region us-east-1"
    )
    checkpointed = float(node["marker"].read_text())
    synced = float(calls[0].split(" ", 1)[0])
    assert checkpointed <= synced, "the checkpoint command finishes before the copy starts"
    assert imds.unauthorized == 0, "every read carried a token"


def test_watcher_copies_to_the_shared_file_system(node):
    imds = FakeImds(notice_after=0.3)
    shared = node["tmp"] / "fsx" / "checkpoints" / "train"
    try:
        done = run_watcher(watcher_env(node, imds.endpoint, destination=str(shared)))
    finally:
        imds.close()
    assert done.returncode == 0
    assert (shared / "i-0123456789abcdef0" / "latest").read_text().strip() == "step-1000"


def test_watcher_survives_a_missing_token_and_a_refused_one(node):
    imds = FakeImds(notice_after=0.8, refuse_tokens_for=0.3, expire_token_once=True)
    try:
        done = run_watcher(watcher_env(node, imds.endpoint))
    finally:
        imds.close()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "instance metadata unavailable (HTTP Error 403" in done.stdout
    assert "complete-lifecycle-action" in node["calls"].read_text()


def test_watcher_keeps_watching_when_imds_is_unreachable(node):
    with __import__("socket").socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    process = subprocess.Popen([sys.executable, SCRIPTS / "interruption-watcher.py"], env=watcher_env(node, closed),
                               stdout=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    said = []
    deadline = time.monotonic() + 30
    while not any("instance metadata unavailable" in line for line in said) and time.monotonic() < deadline:
        try:
            said.append(lines.get(timeout=max(0.0, deadline - time.monotonic())))
        except queue.Empty:
            break
    time.sleep(0.5)  # five more polls after the first failure
    still_running = process.poll() is None
    process.terminate()
    process.wait(timeout=10)
    out = "".join(said)
    assert still_running, out
    assert "instance metadata unavailable" in out
    assert not node["calls"].exists(), "nothing is completed without a notice"


def test_user_data_installs_every_script_and_fits_ec2s_limit():
    text = render(
        ScratchSetup("/scratch", 8),
        SharedMount("fs-1.fsx.us-east-1.amazonaws.com", "abcdef", "/fsx"),
        Watcher('kill -USR1 "$(pidof trainer)"', "/scratch/checkpoints", "s3://b/c/p", "checkpoint-before-termination", 600),
    )
    assert len(text.encode()) <= EC2_USER_DATA_LIMIT
    assert for_node(script("scratch-raid.sh")).rstrip() in text and for_node(script("interruption-watcher.py")).rstrip() in text
    assert 'CHECKPOINT_COMMAND="kill -USR1 \\"$(pidof trainer)\\""' in text
    assert "systemctl enable --now gpucluster-scratch.service gpucluster-fsx.service gpucluster-watcher.service" in text
    assert subprocess.run(["bash", "-n"], input=text, text=True).returncode == 0
    assert render() == ""


class FakeGceMetadata:
    """The GCE metadata server on loopback: reads need `Metadata-Flavor: Google` (403 without); the VM is told
    it is preempted `preempt_after` seconds after the first request."""

    def __init__(self, preempt_after: float):
        self.clock = FirstRequestClock()
        self.preempt_after = preempt_after
        self.refused = 0
        self.preempted_at: float | None = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                elapsed = server.clock.elapsed()
                if self.headers.get("Metadata-Flavor") != "Google":
                    server.refused += 1
                    return self._send(403, "Missing Metadata-Flavor:Google header.")
                path = self.path.removeprefix("/computeMetadata/v1/")
                if path == "instance/preempted":
                    preempted = elapsed >= server.preempt_after
                    if preempted and server.preempted_at is None:
                        server.preempted_at = time.monotonic()
                    return self._send(200, "TRUE" if preempted else "FALSE")
                if path == "instance/name":
                    return self._send(200, "train-abcd")
                self._send(404, "")

            def _send(self, code, body):
                self.send_response(code)
                self.end_headers()
                self.wfile.write(body.encode())

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_port}/computeMetadata/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def test_gce_preemption_checkpoints_to_gcs_within_thirty_seconds(node):
    gcloud = node["bin"] / "gcloud"
    gcloud.write_text(f"#!/bin/bash\necho \"$(date +%s.%N) gcloud $*\" >> {node['calls']}\n")
    gcloud.chmod(0o755)
    metadata = FakeGceMetadata(preempt_after=0.5)
    env = {**watcher_env(node, metadata.endpoint, destination="gs://ckpt/c/train"), "CLOUD": "gcp"}
    env.pop("LIFECYCLE_HOOK")
    try:
        done = run_watcher(env)
    finally:
        metadata.close()
    assert done.returncode == 0, done.stdout + done.stderr
    assert metadata.preempted_at is not None and time.monotonic() - metadata.preempted_at < 30
    assert metadata.refused == 0, "every read carried Metadata-Flavor: Google"
    calls = node["calls"].read_text().splitlines()
    assert [c.split(" ", 1)[1] for c in calls] == [
        f"gcloud storage rsync --recursive {node['checkpoints']} gs://ckpt/c/train/train-abcd"]
    assert (node["checkpoints"] / "latest").read_text().strip() == "step-1000"
    assert "GCE preemption notice" in done.stdout


def test_comment_lines_dropped_for_the_node_are_only_comments():
    """for_node drops lines starting with '#': none of the scripts may have such a line inside a string."""
    import io
    import tokenize

    watcher = script("interruption-watcher.py")
    for token in tokenize.generate_tokens(io.StringIO(watcher).readline):
        if token.type == tokenize.STRING:
            assert not [line for line in token.string.splitlines()[1:] if line.lstrip().startswith("#")]
    for name in ("scratch-raid.sh", "fsx-mount.sh"):
        assert "<<" not in script(name), "a here-document could hold '#' lines for_node would drop"
    assert for_node("#!/bin/bash\n# why\necho hi  # inline stays\n") == "#!/bin/bash\necho hi  # inline stays\n"


def test_scripts_as_the_node_gets_them_still_parse():
    for name in ("scratch-raid.sh", "fsx-mount.sh"):
        subprocess.run(["bash", "-n"], input=for_node(script(name)), text=True, check=True)
    compile(for_node(script("interruption-watcher.py")), "interruption-watcher.py", "exec")
