#!/usr/bin/env bash
# The Debian packages the tests and the local stack need: installed where missing (as root), or
# named with the exact command to install them. One list for .ci/run, `npm test`, `npm start`
# and the test harness.
#   scripts/system-deps.sh           install what is missing (root), or explain and exit 1
#   scripts/system-deps.sh --check   only check: exit 1 with the install command if anything is missing
set -euo pipefail

missing=()
need() { # need PACKAGE TEST...: the package is missing when the test fails
  local package="$1"
  shift
  "$@" >/dev/null 2>&1 || missing+=("$package")
}
have() { command -v "$1"; }
need chromium have chromium
need debootstrap have debootstrap
need openssl have openssl
need postgresql sh -c 'ls /usr/lib/postgresql/*/bin/initdb'
need slapd test -x /usr/sbin/slapd
need ldap-utils have ldapmodify
need qpdf have qpdf
need poppler-utils have pdfinfo
need fonts-dejavu-core test -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf

[ ${#missing[@]} -eq 0 ] && exit 0
command="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
if [ "${1:-}" = "--check" ] || [ "$(id -u)" -ne 0 ]; then
  echo "Missing Debian packages the tests need: ${missing[*]}. Install them as root with: $command" >&2
  echo "(or run: sudo bash scripts/system-deps.sh)" >&2
  exit 1
fi
echo "system-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
