#!/usr/bin/env bash
# `make run`: SparkWeb with a local development Prosody, or against the server you name.
#   SPARKWEB_UPSTREAM=ws://host:7070/ws/ SPARKWEB_DOMAIN=example.org make run   existing server
#   make run                                                                    local Prosody
# Listens on SPARKWEB_LISTEN (default 127.0.0.1:8080).
set -euo pipefail
cd "$(dirname "$0")/.."
listen=${SPARKWEB_LISTEN:-127.0.0.1:8080}

if [ -n "${SPARKWEB_UPSTREAM:-}" ]; then
  echo "SparkWeb: open http://$listen/ (XMPP server $SPARKWEB_UPSTREAM)"
  exec ./bin/sparkweb --listen "$listen"
fi

./testenv/deps.sh server
run=.run/prosody
mkdir -p "$run"
./testenv/prosody.sh start "$run" >/dev/null
trap './testenv/prosody.sh stop "$run"' EXIT INT TERM
. "$run/env"

accounts=.run/demo-accounts
if [ ! -f "$accounts" ]; then
  # Passwords are made once per checkout and kept so a restart keeps the same accounts.
  for u in alice bob; do
    echo "$u $(head -c 9 /dev/urandom | base64 | tr '+/' 'xy')"
  done > "$accounts"
  while read -r u p; do ./testenv/prosody.sh adduser "$run" "$u" "$p"; done < "$accounts"
  ./testenv/prosody.sh befriend "$run" alice bob
fi

echo
echo "  SparkWeb is running: open http://$listen/"
echo "  Demo accounts on the local Prosody ($PROSODY_WS_URL):"
while read -r u p; do printf '    %-18s password %s\n' "$u@$PROSODY_DOMAIN" "$p"; done < "$accounts"
echo "  Stop with Ctrl-C."
echo
./bin/sparkweb --listen "$listen" --upstream "$PROSODY_WS_URL" --domain "$PROSODY_DOMAIN" --store .run/relay.db
