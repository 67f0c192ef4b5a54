#!/usr/bin/env bash
# Audit who your custom images are shared with, in every region, and revoke the shares of
# accounts not on an allow-list.
#
# Prints one line per share: "<region> <image ID> <account> <verdict>", the verdict being
# "shared" (no allow-list given: list only), "allowed", "unshared" or, with --dry-run,
# "would-unshare". Ends non-zero if an unshare was refused.
set -euo pipefail

usage() {
  cat <<USAGE
Usage: ${0##*/} MOUNTPOINT [--allow ACCOUNT]... [--allow-file FILE] [--dry-run]

  --allow ACCOUNT    an account that may keep its shares (repeatable)
  --allow-file FILE  accounts that may keep their shares, one per line (# starts a comment)
  --dry-run          say what would be unshared, change nothing
Without --allow or --allow-file the shares are only listed.
USAGE
}

die() { printf '%s: %s\n' "${0##*/}" "$*" >&2; exit 1; }

case ${1:-} in -h|--help) usage; exit 0 ;; '' | -*) usage >&2; exit 2 ;; esac
mnt=$1; shift
declare -A allowed=()
audit='' dry_run=''
while [ $# -gt 0 ]; do
  case $1 in
    --allow) allowed[${2:?$1 needs a value}]=1 audit=1; shift 2 ;;
    --allow-file)
      [ -r "${2:?$1 needs a value}" ] || die "cannot read $2"
      while read -r account _; do
        case $account in '' | '#'*) ;; *) allowed[$account]=1 ;; esac
      done < "$2"
      audit=1; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
[ -f "$mnt/account.json" ] || die "$mnt is not an imagefs mount"

failed=0
for image in "$mnt"/regions/*/custom/img-*; do
  [ -f "$image/share" ] || continue
  region=${image%/custom/*}; region=${region##*/}
  revoke=()
  while read -r account; do
    if [ -z "$audit" ]; then verdict=shared
    elif [ -n "${allowed[$account]:-}" ]; then verdict=allowed
    else revoke+=("$account"); continue
    fi
    echo "$region ${image##*/} $account $verdict"
  done < "$image/share"
  [ ${#revoke[@]} -gt 0 ] || continue
  if [ -n "$dry_run" ]; then
    verdict=would-unshare
  # One write revokes them all, or none if one is refused.
  elif { echo "${revoke[*]}" > "$image/unshare"; } 2>/dev/null; then
    verdict=unshared
  else
    printf '%s: %s\n' "${0##*/}" "$(tail -n 1 "$mnt/errors")" >&2
    verdict=unshare-refused failed=1
  fi
  for account in "${revoke[@]}"; do echo "$region ${image##*/} $account $verdict"; done
done
exit "$failed"
