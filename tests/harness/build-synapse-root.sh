#!/usr/bin/env bash
# Builds, once, a Debian sid root holding matrix-synapse, cached outside the repository.
# Debian stable's Synapse is too old and no Docker engine runs here (see docs/testing.md).
# Prints the root's path on stdout (progress goes to stderr).
set -euo pipefail
ROOT="${HANDOVER_SYNAPSE_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/handover/synapse-root}"

ready() { [ -x "$ROOT/usr/bin/python3" ] && chroot "$ROOT" python3 -c 'import synapse' 2>/dev/null; }
# The test homeservers are trust-a.test and trust-b.test; Synapse resolves them inside the root.
ensure_hosts() {
  grep -q 'trust-a.test' "$1/etc/hosts" 2>/dev/null || echo '127.0.0.1 trust-a.test trust-b.test' >> "$1/etc/hosts"
}

# Packages added to the root after it was first built, each installed once into a cached root
# that lacks it (the check is idempotent): authlib for Synapse's OIDC sign-in (issue 13), Redis
# and hiredis for Synapse with workers (issue 17; tests/harness/synapse-workers.ts).
ensure_added() {
  local root="$1"
  has_all() {
    chroot "$root" python3 -c 'import authlib, hiredis' 2>/dev/null && [ -x "$root/usr/bin/redis-server" ]
  }
  has_all && return 0
  exec 8>"$ROOT.apt.lock"
  flock 8
  has_all && return 0
  chroot "$root" apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -qq --no-install-recommends python3-authlib python3-hiredis redis-server >&2
  chroot "$root" apt-get clean >&2
}

if ready; then ensure_hosts "$ROOT"; ensure_added "$ROOT"; echo "$ROOT"; exit 0; fi

mkdir -p "$(dirname "$ROOT")"
# Two test runs starting at once on a fresh machine must not build into the same directory.
exec 9>"$ROOT.lock"
flock 9
if ready; then ensure_hosts "$ROOT"; ensure_added "$ROOT"; echo "$ROOT"; exit 0; fi

command -v debootstrap >/dev/null || { apt-get update -qq >&2 && apt-get install -y -qq debootstrap >&2; }
tmp="$ROOT.partial"
rm -rf "$tmp"
debootstrap --variant=minbase sid "$tmp" http://deb.debian.org/debian >&2
# The mirror's sid Release file can be past its Valid-Until date; packages are still signed.
echo 'Acquire::Check-Valid-Until "false";' > "$tmp/etc/apt/apt.conf.d/99handover-no-valid-until"
chroot "$tmp" apt-get update -qq >&2
# --include=matrix-synapse in debootstrap fails: it does not resolve virtual packages.
DEBIAN_FRONTEND=noninteractive chroot "$tmp" apt-get install -y -qq --no-install-recommends matrix-synapse python3-psycopg2 python3-authlib python3-hiredis redis-server >&2
chroot "$tmp" apt-get clean >&2
ensure_hosts "$tmp"
rm -rf "$ROOT"; mv "$tmp" "$ROOT"
echo "$ROOT"
