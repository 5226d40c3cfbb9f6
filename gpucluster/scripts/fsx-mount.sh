#!/bin/bash
# Mounts the cluster's FSx for Lustre file system at $FSX_MOUNT; idempotent, retried while the
# file system finishes creating. DRY_RUN=1 prints the commands.
set -euo pipefail

: "${FSX_DNS:?}" "${FSX_MOUNT_NAME:?}"
FSX_MOUNT=${FSX_MOUNT:-/fsx}
PROC_MOUNTS=${PROC_MOUNTS:-/proc/mounts}

log() { echo "gpucluster-fsx: $*"; }
run() {
  if [[ ${DRY_RUN:-0} == 1 ]]; then echo "+ $*"; else "$@"; fi
}

if awk -v m="$FSX_MOUNT" '$2 == m { found = 1 } END { exit !found }' "$PROC_MOUNTS"; then
  log "$FSX_MOUNT is already mounted"
  exit 0
fi
run mkdir -p "$FSX_MOUNT"
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  if run mount -t lustre -o relatime,flock "$FSX_DNS@tcp:/$FSX_MOUNT_NAME" "$FSX_MOUNT"; then
    log "mounted $FSX_DNS@tcp:/$FSX_MOUNT_NAME at $FSX_MOUNT"
    exit 0
  fi
  log "mount attempt $attempt failed; retrying in 30 s"
  sleep 30
done
log "could not mount $FSX_MOUNT"
exit 1
