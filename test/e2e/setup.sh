#!/usr/bin/env bash
# Installs what the end-to-end tests need, offline apart from Debian's apt and the npm registry:
# Debian's chromium, ripgrep and libkrb5-dev, and code-server (the real VS Code workbench) in its
# own folder <repo>/.run/code-server/, outside the project's dependency tree. Idempotent: each
# part is skipped when it is already there. test/e2e/README.md lists the pitfalls this works around.
set -euo pipefail

CODE_SERVER_VERSION=4.100.3
# @vscode/ripgrep's postinstall looks for this archive in its cache before downloading it;
# both names are tied to the @vscode/ripgrep that this code-server version pins.
RIPGREP_CACHE_NAME=vscode-ripgrep-cache-1.15.11
RIPGREP_ARCHIVE=ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
target="$repo/.run/code-server"
marker="$target/.installed-$CODE_SERVER_VERSION"

log() { echo "e2e setup: $*"; }
started=$SECONDS

# 1. Debian packages.
missing=()
for pkg in chromium ripgrep libkrb5-dev; do
  if [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" != "install ok installed" ]]; then missing+=("$pkg"); fi
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then echo "e2e setup: need root to install ${missing[*]} (apt-get)" >&2; exit 1; fi
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends chromium ripgrep libkrb5-dev
else
  log "Debian packages already installed (chromium, ripgrep, libkrb5-dev)"
fi

# 2. code-server, in its own folder.
if [[ -f "$marker" && -f "$target/node_modules/code-server/package.json" ]]; then
  log "code-server $CODE_SERVER_VERSION already installed in $target"
  exit 0
fi
log "installing code-server@$CODE_SERVER_VERSION into $target (a few minutes: native modules build from source)"
rm -rf "$target"
mkdir -p "$target/tmp"
echo '{ "name": "flatness-lens-e2e-code-server", "private": true }' > "$target/package.json"

# Pre-seed @vscode/ripgrep's download cache with Debian's rg (its postinstall would download one).
export TMPDIR="$target/tmp"
mkdir -p "$TMPDIR/$RIPGREP_CACHE_NAME"
tar czf "$TMPDIR/$RIPGREP_CACHE_NAME/$RIPGREP_ARCHIVE" -C /usr/bin rg

# code-server's postinstall refuses root without unsafe-perm; node-pty's postinstall runs
# `npx node-gyp`, which needs `yes`; Node's headers are in /usr/include/node (no download).
export npm_config_unsafe_perm=true npm_config_yes=true npm_config_nodedir=/usr
export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false
(cd "$target" && npm install --no-save --no-package-lock --loglevel=warn "code-server@$CODE_SERVER_VERSION")

entry="$target/node_modules/code-server/out/node/entry.js"
[[ -f "$entry" ]] || { echo "e2e setup: code-server installed but $entry is missing" >&2; exit 1; }
installed="$(node -p "require('$target/node_modules/code-server/package.json').version")"
[[ "$installed" == "$CODE_SERVER_VERSION" ]] || { echo "e2e setup: expected code-server $CODE_SERVER_VERSION, found $installed" >&2; exit 1; }
touch "$marker"
log "code-server $installed installed in $((SECONDS - started)) s"
