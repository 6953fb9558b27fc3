#!/usr/bin/env bash
# Install what SparkWeb's dev stack and tests need on a Debian/Ubuntu machine, skipping what is
# already there: Prosody (dev and test server), ejabberd (tests), Chromium (browser tests),
# Node.js + npm packages.
#   deps.sh          everything
#   deps.sh server   only what `make run` needs
set -euo pipefail
cd "$(dirname "$0")/.."
want=${1:-all}

pkgs=()
command -v prosody >/dev/null || pkgs+=(prosody prosody-modules lua-unbound)
command -v curl >/dev/null || pkgs+=(curl)
if [ "$want" = all ]; then
  command -v chromium >/dev/null || pkgs+=(chromium)
  [ -x /usr/sbin/ejabberdctl ] || pkgs+=(ejabberd)
  command -v node >/dev/null || pkgs+=(nodejs)
  command -v npm >/dev/null || pkgs+=(npm)
fi
if [ ${#pkgs[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "installing ${pkgs[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${pkgs[@]}" >/dev/null
  # Debian starts the packaged Prosody as a service; SparkWeb runs its own throwaway instances.
  for svc in prosody ejabberd; do
    if printf '%s\n' "${pkgs[@]}" | grep -qx $svc; then $sudo service $svc stop >/dev/null 2>&1 || true; fi
  done
fi

if [ "$want" = all ] && { [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; }; then
  npm ci --no-audit --no-fund --loglevel=error
  touch node_modules
fi
