#!/usr/bin/env bash
# Build a golden image and hand it out: launch an instance from a source image, image it,
# copy the image to other regions and share it, in every region, with other accounts.
# Prints one "<region> <image ID>" line per region. Needs `imagefs` on the PATH.
set -euo pipefail

usage() {
  cat <<USAGE
Usage: ${0##*/} MOUNTPOINT --region REGION --from IMAGE_ID --name NAME
           [--copy-to REGIONS] [--share ACCOUNTS] [--timeout SECONDS] [--keep-instance]

  --region REGION     where to build (e.g. ap-guangzhou)
  --from IMAGE_ID     the image to start from (public, custom, shared or marketplace)
  --name NAME         the golden image's name (unique among your custom images per region)
  --copy-to REGIONS   regions to copy it to, separated by commas or spaces
  --share ACCOUNTS    accounts to share it with (in every region), commas or spaces
  --timeout SECONDS   how long to wait for each step (default 600)
  --keep-instance     keep the build instance (by default it is terminated at the end)
USAGE
}

die() { printf '%s: %s\n' "${0##*/}" "$*" >&2; exit 1; }

# One command per write; on refusal the mount's errors file says why (the API's code).
control() {
  { printf '%s\n' "$2" > "$1"; } 2>/dev/null || die "$1: $(tail -n 1 "$mnt/errors")"
}

case ${1:-} in -h|--help) usage; exit 0 ;; '' | -*) usage >&2; exit 2 ;; esac
mnt=$1; shift
region='' from='' name='' copy_to='' share='' timeout=600 keep_instance=''
while [ $# -gt 0 ]; do
  case $1 in
    --region) region=${2:?$1 needs a value}; shift 2 ;;
    --from) from=${2:?$1 needs a value}; shift 2 ;;
    --name) name=${2:?$1 needs a value}; shift 2 ;;
    --copy-to) copy_to=${2:?$1 needs a value}; shift 2 ;;
    --share) share=${2:?$1 needs a value}; shift 2 ;;
    --timeout) timeout=${2:?$1 needs a value}; shift 2 ;;
    --keep-instance) keep_instance=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
if [ -z "$region" ] || [ -z "$from" ] || [ -z "$name" ]; then usage >&2; exit 2; fi
command -v imagefs >/dev/null || die "imagefs is not on the PATH (cargo install --path .)"
[ -f "$mnt/account.json" ] || die "$mnt is not an imagefs mount"
r=$mnt/regions/$region
[ -d "$r" ] || die "no region $region"

src=''
for kind in public custom shared marketplace; do
  [ -d "$r/$kind/$from" ] && src=$r/$kind/$from && break
done
[ -n "$src" ] || die "no image $from in $region"

control "$src/launch" 1
instance=$(head -n 1 "$src/launch")
# The build instance costs money: terminate it however the script ends.
terminate() { [ -n "$keep_instance" ] || rmdir "$r/instances/$instance" || true; }
trap terminate EXIT

# Imaging a PENDING instance is refused: wait until it runs.
imagefs wait "$r/instances/$instance" --state RUNNING --timeout "$timeout"
control "$r/instances/$instance/create_image" "$name"
image=$(cat "$r/instances/$instance/create_image")
imagefs wait "$r/custom/$image" --state NORMAL --timeout "$timeout"

images=("$region $image")
if [ -n "$copy_to" ]; then
  # One write copies to every region or to none; reading copy_to names the copies.
  control "$r/custom/$image/copy_to" "$copy_to"
  while read -r copy_region copy; do
    images+=("$copy_region $copy")
  done < "$r/custom/$image/copy_to"
fi

for entry in "${images[@]}"; do
  dir=$mnt/regions/${entry% *}/custom/${entry#* }
  # Copies are SYNCING at first (and their source until they are done): wait for each.
  imagefs wait "$dir" --state NORMAL --timeout "$timeout"
  [ -z "$share" ] || control "$dir/share" "$share"
done
printf '%s\n' "${images[@]}"
