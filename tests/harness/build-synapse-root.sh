#!/usr/bin/env bash
# Builds, once, a Debian sid root holding matrix-synapse, cached outside the repository.
# Debian stable's Synapse is too old and no Docker engine runs here (see docs/testing.md).
set -euo pipefail
ROOT="${HANDOVER_SYNAPSE_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/handover/synapse-root}"
if [ -x "$ROOT/usr/bin/python3" ] && chroot "$ROOT" python3 -c 'import synapse' 2>/dev/null; then
  echo "$ROOT"; exit 0
fi
command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }
tmp="$ROOT.partial"
rm -rf "$tmp"; mkdir -p "$(dirname "$ROOT")"
debootstrap --variant=minbase sid "$tmp" http://deb.debian.org/debian >&2
# The mirror's sid Release file can be past its Valid-Until date; packages are still signed.
echo 'Acquire::Check-Valid-Until "false";' > "$tmp/etc/apt/apt.conf.d/99handover-no-valid-until"
chroot "$tmp" apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive chroot "$tmp" apt-get install -y -qq --no-install-recommends matrix-synapse python3-psycopg2 >&2
grep -q 'trust-a.test' "$tmp/etc/hosts" 2>/dev/null || echo '127.0.0.1 trust-a.test trust-b.test' >> "$tmp/etc/hosts"
rm -rf "$ROOT"; mv "$tmp" "$ROOT"
echo "$ROOT"
