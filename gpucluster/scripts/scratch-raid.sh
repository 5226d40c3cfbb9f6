#!/bin/bash
# Stripes every local NVMe disk (EC2 instance store, GCE local SSD) into one RAID0 volume at $SCRATCH_MOUNT.
# Runs at every boot and is idempotent: mounted -> nothing; array present (a reboot) -> mount it;
# otherwise (first boot, or a stop/start wiped the disks) -> create, format, mount.
# DRY_RUN=1 prints the commands instead of running them; SYSFS_ROOT, DEV_ROOT and PROC_MOUNTS let tests
# present a machine of their own.
set -euo pipefail

SCRATCH_MOUNT=${SCRATCH_MOUNT:-/scratch}
# What local disks report as their model: EC2 instance store by default; GCE local SSDs say "nvme_card"
# (their persistent disks "nvme_card-pd", which must not match).
DISK_MODEL=${DISK_MODEL:-Amazon EC2 NVMe Instance Storage}
EXPECTED_DISKS=${EXPECTED_DISKS:-}
SYSFS_ROOT=${SYSFS_ROOT:-/sys}
DEV_ROOT=${DEV_ROOT:-/dev}
PROC_MOUNTS=${PROC_MOUNTS:-/proc/mounts}
ARRAY=$DEV_ROOT/md/scratch

log() { echo "gpucluster-scratch: $*"; }
run() {
  if [[ ${DRY_RUN:-0} == 1 ]]; then echo "+ $*"; else "$@"; fi
}

if awk -v m="$SCRATCH_MOUNT" '$2 == m { found = 1 } END { exit !found }' "$PROC_MOUNTS"; then
  log "$SCRATCH_MOUNT is already mounted"
  exit 0
fi

disks=()
for block in "$SYSFS_ROOT"/block/nvme*n1; do
  [[ -e $block/device/model ]] || continue
  model=$(sed 's/[[:space:]]*$//' "$block/device/model")  # sysfs pads the model with spaces
  if [[ $model == "$DISK_MODEL" ]]; then
    disks+=("$DEV_ROOT/$(basename "$block")")
  fi
done

if (( ${#disks[@]} == 0 )); then
  log "no local NVMe disks ($DISK_MODEL) on this instance; $SCRATCH_MOUNT is not created"
  exit 0
fi
if [[ -n $EXPECTED_DISKS && ${#disks[@]} != "$EXPECTED_DISKS" ]]; then
  log "warning: found ${#disks[@]} local disks, the catalog says $EXPECTED_DISKS"
fi

if [[ -e $ARRAY ]]; then
  log "array $ARRAY is present (reboot): mounting it"
elif (( ${#disks[@]} > 1 )) && [[ ${DRY_RUN:-0} != 1 ]] && mdadm --examine "${disks[0]}" >/dev/null 2>&1; then
  log "array members found: assembling"
  run mdadm --assemble "$ARRAY" "${disks[@]}"
else
  log "creating RAID0 over ${#disks[@]} disk(s): ${disks[*]}"
  if (( ${#disks[@]} == 1 )); then
    ARRAY=${disks[0]}
  else
    run mdadm --create "$ARRAY" --level=0 --raid-devices=${#disks[@]} --chunk=256 --run --force "${disks[@]}"
  fi
  run mkfs.xfs -f -L scratch "$ARRAY"
fi

run mkdir -p "$SCRATCH_MOUNT"
run mount -o noatime,nodiratime "$ARRAY" "$SCRATCH_MOUNT"
run chmod 1777 "$SCRATCH_MOUNT"
log "mounted $ARRAY at $SCRATCH_MOUNT"
