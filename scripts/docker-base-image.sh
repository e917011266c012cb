#!/usr/bin/env bash
# Build the local base image lazyaf-base:bookworm (Debian bookworm minbase + python3, venv, git,
# CA certificates) when the tag is missing: no image registry is needed, only the Debian
# mirror this machine's apt already uses. Safe to re-run; instant when the tag exists.
#   LAZYAF_BASE_IMAGE    tag to build (default lazyaf-base:bookworm)
#   LAZYAF_DEBIAN_MIRROR mirror to debootstrap from (default: read from apt's sources)
# Exit 0 when the image exists; otherwise non-zero with one line on stderr that says why.
set -euo pipefail
cd "$(dirname "$0")/.."

TAG=${LAZYAF_BASE_IMAGE:-lazyaf-base:bookworm}
SUITE=bookworm
PACKAGES=python3,python3-venv,git,ca-certificates

fail() { echo "docker-base-image: $*" >&2; exit 1; }
have_image() { docker image inspect "$TAG" >/dev/null 2>&1; }

scripts/docker-setup.sh
have_image && exit 0
[ "$(id -u)" = 0 ] || fail "building $TAG needs root (debootstrap); run this script as root."

exec 9>/run/lazyaf-docker-base-image.lock
flock -w 1200 9 || fail "another build of $TAG is still running; try again."
have_image && exit 0

# The first URI of an apt source for "$SUITE" (deb822 .sources, then one-line .list files).
apt_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v suite="$SUITE" 'BEGIN { RS = ""; FS = "\n" }
      {
        uri = ""; deb = 0; hit = 0
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^Types:/ && $i ~ /[ \t]deb([ \t]|$)/) deb = 1
          if ($i ~ /^URIs:/) { split($i, u, /[ \t]+/); uri = u[2] }
          if ($i ~ /^Suites:/ && (" " substr($i, 8) " ") ~ ("[ \t]" suite "[ \t]")) hit = 1
        }
        if (deb && hit && uri != "") { print uri; exit }
      }' "$f"
  done
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
    | awk -v suite="$SUITE" '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) break;
                                          if ($(i + 1) == suite) print $i }' || true
}
MIRROR=${LAZYAF_DEBIAN_MIRROR:-$(apt_mirror | head -n 1 || true)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}

if ! command -v debootstrap >/dev/null 2>&1 || [ ! -f /usr/share/keyrings/debian-archive-keyring.gpg ]; then
  echo "docker-base-image: installing debootstrap from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt_opts=(-q -o DPkg::Lock::Timeout=300)
  if ! apt-get "${apt_opts[@]}" install -y debootstrap debian-archive-keyring >/dev/null 2>&1; then
    apt-get "${apt_opts[@]}" update >/dev/null 2>&1 || fail "apt-get update failed; check the Debian mirror."
    apt-get "${apt_opts[@]}" install -y debootstrap debian-archive-keyring >/dev/null 2>&1 \
      || fail "apt-get install debootstrap failed; run it by hand to see why."
  fi
fi

ROOTFS=$(mktemp -d /var/tmp/lazyaf-rootfs.XXXXXX)
LOGFILE=$ROOTFS.log
cleanup() {
  # debootstrap mounts proc/sys inside the target and may leave them mounted when it fails:
  # unmount before deleting, and never cross into another filesystem.
  awk -v d="$ROOTFS" 'index($2, d "/") == 1 { print $2 }' /proc/mounts | sort -r \
    | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf --one-file-system "$ROOTFS"
}
trap cleanup EXIT

echo "docker-base-image: building $TAG from $MIRROR (a few minutes; log: $LOGFILE)" >&2
start=$(date +%s)
debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOTFS" "$MIRROR" >"$LOGFILE" 2>&1 \
  || fail "debootstrap failed: $(grep -E '^E:' "$LOGFILE" | tail -n 1 | cut -c1-200) (see $LOGFILE)"
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/log/*.log
tar --numeric-owner -C "$ROOTFS" -c . \
  | docker import \
      --change 'ENV LANG=C.UTF-8' \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'CMD ["/bin/bash"]' \
      --message "debootstrap --variant=minbase --include=$PACKAGES $SUITE $MIRROR" \
      - "$TAG" >/dev/null \
  || fail "docker import of the rootfs failed."
rm -f "$LOGFILE"
echo "docker-base-image: built $TAG in $(($(date +%s) - start))s" >&2
