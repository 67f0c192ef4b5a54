#!/usr/bin/env bash
# Back up instances by imaging them, keeping the newest N backups of each.
#
# Backups are custom images named backup-<instance ID>-<UTC time>, so sorting the names
# sorts them by age. Custom images count against a per-region quota (quota.json): when the
# quota is full, an instance's oldest backup is deleted first if it would be deleted anyway;
# otherwise the instance is skipped, with the reason. Ends non-zero if any was skipped.
# Needs `imagefs` and `jq` on the PATH.
set -euo pipefail
export LC_ALL=C  # sort names bytewise

usage() {
  cat <<USAGE
Usage: ${0##*/} MOUNTPOINT --name PATTERN [--keep N] [--region REGION]... [--timeout SECONDS]

  --name PATTERN     back up the instances whose InstanceName matches this shell pattern
  --keep N           backups to keep per instance, the new one included (default 3)
  --region REGION    only this region (repeatable; default: every region)
  --timeout SECONDS  how long to wait for an instance to run or an image to be made (default 600)
USAGE
}

die() { printf '%s: %s\n' "${0##*/}" "$*" >&2; exit 1; }
skip() { printf '%s: skipped %s\n' "${0##*/}" "$*" >&2; skipped=$((skipped + 1)); }

case ${1:-} in -h|--help) usage; exit 0 ;; '' | -*) usage >&2; exit 2 ;; esac
mnt=$1; shift
pattern='' keep=3 timeout=600 regions=()
while [ $# -gt 0 ]; do
  case $1 in
    --name) pattern=${2:?$1 needs a value}; shift 2 ;;
    --keep) keep=${2:?$1 needs a value}; shift 2 ;;
    --region) regions+=("${2:?$1 needs a value}"); shift 2 ;;
    --timeout) timeout=${2:?$1 needs a value}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
[ -n "$pattern" ] || { usage >&2; exit 2; }
[[ $keep =~ ^[1-9][0-9]*$ ]] || die "--keep needs a count of at least 1"
for tool in imagefs jq; do command -v "$tool" >/dev/null || die "$tool is not on the PATH"; done
[ -f "$mnt/account.json" ] || die "$mnt is not an imagefs mount"
if [ ${#regions[@]} -eq 0 ]; then
  for dir in "$mnt"/regions/*; do regions+=("${dir##*/}"); done
fi

skipped=0
stamp=$(date -u +%Y%m%d-%H%M%S)
for region in "${regions[@]}"; do
  r=$mnt/regions/$region
  [ -d "$r" ] || die "no region $region"
  for dir in "$r"/instances/ins-*; do
    [ -d "$dir" ] || continue
    instance=${dir##*/}
    # shellcheck disable=SC2053  # the pattern is meant as a glob
    [[ $(jq -r .InstanceName "$dir/metadata.json") == $pattern ]] || continue

    # Existing backups, oldest first (the names end in their time).
    backups=()
    for link in "$r/by-name/custom/backup-$instance-"*; do
      [ -L "$link" ] && backups+=("$(basename "$(readlink "$link")")")
    done

    # Make room: if the quota is full, delete now the oldest backup that would go anyway.
    room=$(jq '.CustomImageQuota - .CustomImagesUsed' "$r/quota.json")
    if [ "$room" -le 0 ] && [ ${#backups[@]} -ge "$keep" ]; then
      if ! rmdir "$r/custom/${backups[0]}" 2>/dev/null; then
        skip "$instance in $region: the quota is full and deleting its oldest backup was refused: $(tail -n 1 "$mnt/errors")"
        continue
      fi
      echo "$region $instance deleted ${backups[0]}"
      backups=("${backups[@]:1}") room=1
    fi
    if [ "$room" -le 0 ]; then
      skip "$instance in $region: the custom image quota is full ($(jq -r '"\(.CustomImagesUsed) of \(.CustomImageQuota)"' "$r/quota.json") used) and it has no backup due for deletion"
      continue
    fi

    # Imaging an instance that is still starting (or resetting) is refused.
    case $(cat "$dir/state") in PENDING | REBOOTING)
      imagefs wait "$dir" --state RUNNING --timeout "$timeout" || { skip "$instance in $region: not running"; continue; } ;;
    esac
    if ! { printf '%s\n' "backup-$instance-$stamp" > "$dir/create_image"; } 2>/dev/null; then
      skip "$instance in $region: $(tail -n 1 "$mnt/errors")"
      continue
    fi
    image=$(cat "$dir/create_image")
    # Delete old backups only once the new one is sound.
    if ! imagefs wait "$r/custom/$image" --state NORMAL --timeout "$timeout"; then
      skip "$instance in $region: its backup $image did not become NORMAL; old backups kept"
      continue
    fi
    echo "$region $instance created $image"
    backups+=("$image")
    while [ ${#backups[@]} -gt "$keep" ]; do
      if rmdir "$r/custom/${backups[0]}" 2>/dev/null; then
        echo "$region $instance deleted ${backups[0]}"
      else
        skip "deleting ${backups[0]} in $region: $(tail -n 1 "$mnt/errors")"
      fi
      backups=("${backups[@]:1}")
    done
  done
done
[ "$skipped" -eq 0 ] || die "$skipped skipped"
