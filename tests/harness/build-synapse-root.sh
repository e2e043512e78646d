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

# Synapse's OIDC sign-in needs authlib (the single sign-on trust, issue 13). A root cached before
# that was added gets the package now, once: the check is a Python import, so this is idempotent.
ensure_authlib() {
  chroot "$1" python3 -c 'import authlib' 2>/dev/null && return 0
  exec 8>"$ROOT.apt.lock"
  flock 8
  chroot "$1" python3 -c 'import authlib' 2>/dev/null && return 0
  chroot "$1" apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive chroot "$1" apt-get install -y -qq --no-install-recommends python3-authlib >&2
  chroot "$1" apt-get clean >&2
}

if ready; then ensure_hosts "$ROOT"; ensure_authlib "$ROOT"; echo "$ROOT"; exit 0; fi

mkdir -p "$(dirname "$ROOT")"
# Two test runs starting at once on a fresh machine must not build into the same directory.
exec 9>"$ROOT.lock"
flock 9
if ready; then ensure_hosts "$ROOT"; ensure_authlib "$ROOT"; echo "$ROOT"; exit 0; fi

command -v debootstrap >/dev/null || { apt-get update -qq >&2 && apt-get install -y -qq debootstrap >&2; }
tmp="$ROOT.partial"
rm -rf "$tmp"
debootstrap --variant=minbase sid "$tmp" http://deb.debian.org/debian >&2
# The mirror's sid Release file can be past its Valid-Until date; packages are still signed.
echo 'Acquire::Check-Valid-Until "false";' > "$tmp/etc/apt/apt.conf.d/99handover-no-valid-until"
chroot "$tmp" apt-get update -qq >&2
# --include=matrix-synapse in debootstrap fails: it does not resolve virtual packages.
DEBIAN_FRONTEND=noninteractive chroot "$tmp" apt-get install -y -qq --no-install-recommends matrix-synapse python3-psycopg2 python3-authlib >&2
chroot "$tmp" apt-get clean >&2
ensure_hosts "$tmp"
rm -rf "$ROOT"; mv "$tmp" "$ROOT"
echo "$ROOT"
