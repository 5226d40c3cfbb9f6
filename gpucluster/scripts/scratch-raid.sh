#!/bin/bash
# Stripes every local NVMe disk (EC2 instance store, GCE local SSD) into one RAID0 volume at $SCRATCH_MOUNT.
# Runs at every boot (a systemd oneshot unit) and never creates an array over, or formats, a disk that holds
# data: checkpoints on /scratch survive a reboot.
#
# One mechanism for every disk count, one disk included: the disks always become an md RAID0 array named
# "scratch" (mdadm --create --name=scratch --homehost=any, as Google's Cluster Toolkit does), with the XFS
# labelled "scratch" inside it. mdadm refuses an array of one device at any level (RAID0, RAID1, linear)
# without --force, so RAID0 of one with --force is no odder than the others, keeps one create command and one
# layout for every count, and avoids md-linear, which the kernel has deprecated. Every disk then carries an md
# superblock that a reboot finds, and each boot looks before it creates or formats anything:
#   1. $SCRATCH_MOUNT mounted already                     -> nothing.
#   2. our array assembled: mdadm --detail --scan lists  -> mount it, whatever device the kernel gave it
#      an active ARRAY named scratch or <host>:scratch       (/dev/md/scratch, /dev/md127, /dev/md/<host>:scratch).
#   3. every disk carries our superblock                  -> assemble them as /dev/md/scratch (stopping first a
#      (mdadm --examine --brief names the array scratch)     half-done, inactive assembly of it), mount.
#   4. every disk blank: mdadm finds no superblock and    -> create the array, format it, mount. Instance
#      blkid -p no filesystem or partition table (first     storage is blank after a stop/start and what it
#      boot, or a stop/start that gave new disks)             held is gone by the cloud's design: the log says so.
#   Anything else is left alone with an error for an operator: a disk with a filesystem, partition table or
#   array that is not ours (a lone disk formatted directly, as the script's first version did, included),
#   some disks in our array and others blank, a probe that cannot tell.
# Then the array's own filesystem: XFS labelled scratch -> mounted; none (a new array, or a first boot that
# stopped before mkfs) -> formatted; anything else -> left alone with an error. mkfs is never forced: it
# refuses a device that already holds a filesystem, a last line of defence.
#
# Every probe is a call to mdadm or blkid found on PATH (`blkid -p` reads the device, not blkid's cache). A
# disk is blank only when both find nothing on it; blkid failing (other than "nothing found") stops the script.
# DRY_RUN=1 prints the commands that change anything instead of running them; the probes still run.
# SYSFS_ROOT, DEV_ROOT and PROC_MOUNTS let tests present a machine of their own, and their own mdadm and blkid
# on PATH that answer from files.
set -euo pipefail

SCRATCH_MOUNT=${SCRATCH_MOUNT:-/scratch}
# What local disks report as their model: EC2 instance store by default; GCE local SSDs say "nvme_card"
# (their persistent disks "nvme_card-pd", which must not match).
DISK_MODEL=${DISK_MODEL:-Amazon EC2 NVMe Instance Storage}
EXPECTED_DISKS=${EXPECTED_DISKS:-}
SYSFS_ROOT=${SYSFS_ROOT:-/sys}
DEV_ROOT=${DEV_ROOT:-/dev}
PROC_MOUNTS=${PROC_MOUNTS:-/proc/mounts}
# The array's name and the filesystem's label.
NAME=scratch
ARRAY=$DEV_ROOT/md/$NAME

log() { echo "gpucluster-scratch: $*"; }
fail() { log "error: $*; leaving the disks alone"; exit 1; }
run() {
  if [[ ${DRY_RUN:-0} == 1 ]]; then echo "+ $*"; else "$@"; fi
}
# Our arrays in mdadm's ARRAY lines (--detail --scan, --examine --brief): "ARRAY <device>" or
# "INACTIVE-ARRAY <device>". mdadm stores the name as <homehost>:scratch (any:scratch with --homehost=any).
ours() {
  awk -v n="$NAME" '$1 ~ /^(INACTIVE-)?ARRAY$/ { for (i = 3; i <= NF; i++) if ($i ~ ("^name=([^ ]*:)?" n "$")) { print $1, $2; exit } }'
}
# What blkid finds on a device, as "TYPE LABEL" (PTTYPE for a partition table): empty only when it positively
# finds nothing (exit 2), "unreadable" when it cannot tell (an error, an ambivalent result).
probe() {
  local out rc=0
  out=$(blkid -p -o export "$1" 2>/dev/null) || rc=$?
  (( rc != 2 )) || return 0
  (( rc == 0 )) || { echo "unreadable (blkid exit $rc)"; return; }
  echo "$out" | awk -F= '$1 == "TYPE" || $1 == "PTTYPE" { t = $2 } $1 == "LABEL" { l = $2 } END { print t, l }'
}

if awk -v m="$SCRATCH_MOUNT" '$2 == m { found = 1 } END { exit !found }' "$PROC_MOUNTS"; then
  log "$SCRATCH_MOUNT is already mounted"
  exit 0
fi

# Let udev finish with the disks (and the kernel's own assembly of the array) before looking at them.
[[ ${DRY_RUN:-0} == 1 ]] || udevadm settle --timeout=60 || true

disks=()
for block in "$SYSFS_ROOT"/block/nvme*n1; do
  [[ -e $block/device/model ]] || continue
  # sysfs pads the model with spaces
  model=$(sed 's/[[:space:]]*$//' "$block/device/model")
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

created=0
found=$(mdadm --detail --scan 2>/dev/null | ours) || true
state=${found%% *} device=${found#* }
if [[ $state == ARRAY ]]; then
  log "array $NAME is assembled as $device (a reboot): mounting it"
else
  # A disk is ours if mdadm finds our superblock on it, blank if neither mdadm nor blkid finds anything.
  members=0
  for disk in "${disks[@]}"; do
    if [[ -n $(mdadm --examine --brief "$disk" 2>/dev/null | ours) ]]; then
      ((++members))
    else
      found=$(probe "$disk")
      [[ -z $found ]] || fail "$disk holds '$found', not ours"
    fi
  done
  if (( members == ${#disks[@]} )); then
    log "every disk carries our array (a reboot): assembling it"
    # The kernel's own assembly of it, left half done and inactive, holds the disks.
    if [[ $state == INACTIVE-ARRAY ]]; then run mdadm --stop "$device"; fi
    run mdadm --assemble "$ARRAY" "${disks[@]}"
  elif (( members )); then
    fail "$members of ${#disks[@]} disks carry our array, the others are blank"
  else
    log "blank disks: a first boot, or a stop/start gave new ones (what $SCRATCH_MOUNT held is gone); creating RAID0 over ${disks[*]}"
    # --force: mdadm asks for it to build an array of one device.
    run mdadm --create "$ARRAY" --name=$NAME --homehost=any --level=0 --raid-devices=${#disks[@]} --chunk=256 --run --force "${disks[@]}"
    created=1
  fi
  device=$ARRAY
fi

found=$(probe "$device")
if (( created )) || [[ -z $found ]]; then
  (( created )) || log "$device holds no filesystem (a first boot stopped before mkfs): formatting it"
  # Not forced: mkfs.xfs refuses a device that already holds a filesystem.
  run mkfs.xfs -L "$NAME" "$device"
elif [[ $found != "xfs $NAME" ]]; then
  fail "$device holds '$found', not ours"
fi

run mkdir -p "$SCRATCH_MOUNT"
run mount -o noatime,nodiratime "$device" "$SCRATCH_MOUNT"
run chmod 1777 "$SCRATCH_MOUNT"
log "mounted $device at $SCRATCH_MOUNT"
