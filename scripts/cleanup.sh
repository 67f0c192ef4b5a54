#!/usr/bin/env bash
# Clean up what a pattern names: terminate instances and delete custom images whose names
# match, once they are older than an age. Images still shared are left alone (unshare them
# first, e.g. with share-audit.sh), as are images still being made or copied, and instances
# already being terminated.
#
# Prints one line per instance or image: "<verdict> <region> <ID> <name>", the verdict being
# "terminated", "deleted", "would-terminate", "would-delete" (--dry-run) or "skipped" (with
# the reason after the name). Ends non-zero if a termination or deletion was refused.
# Needs `jq` on the PATH.
set -euo pipefail

usage() {
  cat <<USAGE
Usage: ${0##*/} MOUNTPOINT --match PATTERN --older-than AGE [--region REGION]... [--dry-run]

  --match PATTERN    instance and image names to clean up, a shell pattern (e.g. 'tmp-*')
  --older-than AGE   only those created at least AGE ago: a number and s, m, h or d (e.g. 7d)
  --region REGION    only this region (repeatable; default: every region)
  --dry-run          say what would be done, change nothing
USAGE
}

die() { printf '%s: %s\n' "${0##*/}" "$*" >&2; exit 1; }

case ${1:-} in -h|--help) usage; exit 0 ;; '' | -*) usage >&2; exit 2 ;; esac
mnt=$1; shift
pattern='' age='' dry_run='' regions=()
while [ $# -gt 0 ]; do
  case $1 in
    --match) pattern=${2:?$1 needs a value}; shift 2 ;;
    --older-than) age=${2:?$1 needs a value}; shift 2 ;;
    --region) regions+=("${2:?$1 needs a value}"); shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
# A pattern is required: cleaning up everything should take an explicit '*'.
if [ -z "$pattern" ] || [ -z "$age" ]; then usage >&2; exit 2; fi
[[ $age =~ ^([0-9]+)([smhd])$ ]] || die "--older-than: give a number and s, m, h or d, not '$age'"
case ${BASH_REMATCH[2]} in s) unit=1 ;; m) unit=60 ;; h) unit=3600 ;; d) unit=86400 ;; esac
cutoff=$(( $(date +%s) - BASH_REMATCH[1] * unit ))
command -v jq >/dev/null || die "jq is not on the PATH"
[ -f "$mnt/account.json" ] || die "$mnt is not an imagefs mount"
if [ ${#regions[@]} -eq 0 ]; then
  for dir in "$mnt"/regions/*; do regions+=("${dir##*/}"); done
fi

# Directories carry their CreatedTime as mtime.
older() { [ -d "$1" ] && [ "$(stat -c %Y "$1")" -le "$cutoff" ]; }

failed=0
# Removes a directory (terminates or deletes) unless --dry-run; reports either way.
remove() {  # DIR VERB NAME
  local id=${1##*/} region=${1%/*/*}
  region=${region##*/}
  if [ -n "$dry_run" ]; then
    echo "would-$2 $region $id $3"
  elif rmdir "$1" 2>/dev/null; then
    echo "${2}d $region $id $3"
  else
    echo "skipped $region $id $3: $(tail -n 1 "$mnt/errors")"
    failed=1
  fi
}

for region in "${regions[@]}"; do
  r=$mnt/regions/$region
  [ -d "$r" ] || die "no region $region"
  for dir in "$r"/instances/ins-*; do
    older "$dir" || continue
    name=$(jq -r .InstanceName "$dir/metadata.json")
    # shellcheck disable=SC2053  # the pattern is meant as a glob
    [[ $name == $pattern ]] || continue
    # A terminated instance is listed, TERMINATING, until it is gone: it needs nothing more.
    state=$(cat "$dir/state")
    if [ "$state" = TERMINATING ]; then
      echo "skipped $region ${dir##*/} $name: already TERMINATING"
    else
      remove "$dir" terminate "$name"
    fi
  done
  for dir in "$r"/custom/img-*; do
    older "$dir" || continue
    name=$(cat "$dir/name")
    # shellcheck disable=SC2053
    [[ $name == $pattern ]] || continue
    state=$(cat "$dir/state")
    shares=$(wc -l < "$dir/share")
    if [ "$shares" -gt 0 ]; then
      echo "skipped $region ${dir##*/} $name: shared with $shares account(s)"
    elif [ "$state" = CREATING ] || [ "$state" = SYNCING ] || [ "$state" = IMPORTING ]; then
      echo "skipped $region ${dir##*/} $name: still $state"
    else
      remove "$dir" delete "$name"
    fi
  done
done
exit "$failed"
