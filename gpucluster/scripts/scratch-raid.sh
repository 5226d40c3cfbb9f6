#!/bin/bash
# Stripes every local NVMe disk (EC2 instance store, GCE local SSD) into one RAID0 volume at $SCRATCH_MOUNT.
# Runs at every boot and never formats a disk that holds our data. One mechanism for every disk count: the
# disks always become an md array named "scratch" (also a single disk, as Google's Cluster Toolkit does), so a
# reboot always finds something to recognise:
#   mounted already                                  -> nothing;
#   an array named scratch is assembled (the kernel  -> mount it, whatever device it got (/dev/md/scratch,
#     often does it at boot)                            /dev/md127, ...);
#   the disks carry our md superblock (a reboot)     -> assemble them, mount;
#   one disk carrying our XFS directly (formatted    -> mount it as it is;
#     by an earlier version of this script)
#   blank disks (first boot, or a stop/start that    -> create the array, format it, mount.
#     wiped the instance store)
# mkfs is never forced: it refuses a device that already holds a filesystem. A device holding a filesystem
# that is not ours is left alone, with an error.
# DRY_RUN=1 prints the commands that change anything instead of running them (the probes, mdadm --examine,
# mdadm --detail --scan and blkid, still run); SYSFS_ROOT, DEV_ROOT and PROC_MOUNTS let tests present a
# machine of their own, and tools of their own on PATH.
set -euo pipefail

SCRATCH_MOUNT=${SCRATCH_MOUNT:-/scratch}
# What local disks report as their model: EC2 instance store by default; GCE local SSDs say "nvme_card"
# (their persistent disks "nvme_card-pd", which must not match).
DISK_MODEL=${DISK_MODEL:-Amazon EC2 NVMe Instance Storage}
EXPECTED_DISKS=${EXPECTED_DISKS:-}
SYSFS_ROOT=${SYSFS_ROOT:-/sys}
DEV_ROOT=${DEV_ROOT:-/dev}
PROC_MOUNTS=${PROC_MOUNTS:-/proc/mounts}
NAME=scratch  # the array's name and the filesystem's label
ARRAY=$DEV_ROOT/md/$NAME

log() { echo "gpucluster-scratch: $*"; }
run() {
  if [[ ${DRY_RUN:-0} == 1 ]]; then echo "+ $*"; else "$@"; fi
}
has_superblock() { mdadm --examine "$1" >/dev/null 2>&1; }
label_of() { blkid -o value -s LABEL "$1" 2>/dev/null || true; }
assembled_array() {  # the device of an assembled array named $NAME ("host:scratch" or "scratch"), if any
  { mdadm --detail --scan 2>/dev/null || true; } |
    awk -v name="$NAME" '$1 == "ARRAY" { for (i = 3; i <= NF; i++) if ($i == "name=" name || $i ~ ("^name=.*:" name "$")) { print $2; exit } }'
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

members=()
for disk in "${disks[@]}"; do
  if has_superblock "$disk"; then members+=("$disk"); fi
done

created=0
device=$(assembled_array)
if [[ -n $device ]]; then
  log "array $NAME is assembled as $device (reboot): mounting it"
elif (( ${#members[@]} > 0 )); then
  log "our array's members found on ${members[*]} (reboot): assembling"
  run mdadm --assemble "$ARRAY" "${members[@]}"
  device=$ARRAY
elif (( ${#disks[@]} == 1 )) && [[ $(label_of "${disks[0]}") == "$NAME" ]]; then
  log "${disks[0]} holds our filesystem directly (formatted by an earlier version): mounting it as it is"
  device=${disks[0]}
else
  log "blank disks (first boot, or a stop/start wiped the instance store): creating RAID0 over ${#disks[@]} disk(s): ${disks[*]}"
  # --force: mdadm asks for it to build an array of one device.
  run mdadm --create "$ARRAY" --level=0 --raid-devices=${#disks[@]} --chunk=256 --run --force "${disks[@]}"
  device=$ARRAY
  created=1
fi

label=$(label_of "$device")
if (( created )) || [[ -z $label ]]; then
  run mkfs.xfs -L "$NAME" "$device"  # not forced: refuses a device that already holds a filesystem
elif [[ $label != "$NAME" ]]; then
  log "error: $device holds a filesystem labelled '$label', not ours; leaving it alone"
  exit 1
fi

run mkdir -p "$SCRATCH_MOUNT"
run mount -o noatime,nodiratime "$device" "$SCRATCH_MOUNT"
run chmod 1777 "$SCRATCH_MOUNT"
log "mounted $device at $SCRATCH_MOUNT"
