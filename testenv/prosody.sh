#!/usr/bin/env bash
# Throwaway Prosody on free loopback ports, for tests and `make run`. One script for Go tests,
# browser tests and the dev server, so all three run the same server the same way.
#
#   prosody.sh start DIR             start in DIR; prints KEY=VALUE lines (also kept in DIR/env)
#   prosody.sh adduser DIR USER PASSWORD
#   prosody.sh passwd DIR USER PASSWORD
#   prosody.sh befriend DIR USER1 USER2   mutual "both" subscription (before either logs in)
#   prosody.sh restart DIR          stop, then start again on the same ports with the same data
#   prosody.sh stop DIR
#
# Env for start: PROSODY_DOMAIN (localhost), PROSODY_PASSWORD_HASH (SHA-1 | SHA-256),
# PROSODY_PUSH_BODY=1 (XEP-0357 summaries with the message's sender and body),
# PROSODY_ALLOW_REGISTRATION=1 (in-band registration of new accounts, XEP-0077),
# PROSODY_HTTP_PORT etc. to pin ports (otherwise free ones are picked).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
CFG="$HERE/prosody.cfg.lua"
cmd=${1:?usage: prosody.sh start|adduser|befriend|stop DIR ...}
DIR=$(mkdir -p "${2:?missing DIR}" && cd "$2" && pwd)
export PROSODY_RUN_DIR=$DIR

load_env() { set -a; . "$DIR/env"; set +a; }


case $cmd in
start)
  command -v prosody >/dev/null || { echo "prosody is not installed (apt-get install prosody prosody-modules lua-unbound)" >&2; exit 1; }
  mkdir -p "$DIR/data" "$DIR/certs"
  for attempt in 1 2 3; do
    cat > "$DIR/env" <<ENV
PROSODY_DOMAIN=${PROSODY_DOMAIN:-localhost}
PROSODY_PASSWORD_HASH=${PROSODY_PASSWORD_HASH:-SHA-1}
PROSODY_C2S_PORT=${PROSODY_C2S_PORT:-$(free_port)}
PROSODY_HTTP_PORT=${PROSODY_HTTP_PORT:-$(free_port)}
PROSODY_COMPONENT_PORT=${PROSODY_COMPONENT_PORT:-$(free_port)}
PROSODY_COMPONENT_SECRET=${PROSODY_COMPONENT_SECRET:-push-secret}
PROSODY_PUSH_BODY=${PROSODY_PUSH_BODY:-0}
PROSODY_ALLOW_REGISTRATION=${PROSODY_ALLOW_REGISTRATION:-0}
ENV
    load_env
    echo "PROSODY_WS_URL=ws://127.0.0.1:$PROSODY_HTTP_PORT/xmpp-websocket" >> "$DIR/env"
    : > "$DIR/prosody.log"
    prosody --config "$CFG" -F > "$DIR/stdout.log" 2>&1 &
    echo $! > "$DIR/prosody.fg.pid"
    for _ in $(seq 1 200); do
      # Ready when our own instance logs that it listens (a GET alone could reach a stranger on a raced port).
      if grep -q "Activated service 'http' on \[127.0.0.1\]:$PROSODY_HTTP_PORT" "$DIR/prosody.log" 2>/dev/null &&
         curl -fsS -o /dev/null "http://127.0.0.1:$PROSODY_HTTP_PORT/xmpp-websocket"; then
        cat "$DIR/env"; exit 0
      fi
      if grep -q "Failed to open server port" "$DIR/prosody.log" 2>/dev/null; then break; fi
      kill -0 "$(cat "$DIR/prosody.fg.pid")" 2>/dev/null || break
      sleep 0.05
    done
    kill "$(cat "$DIR/prosody.fg.pid")" 2>/dev/null || true; wait 2>/dev/null || true
    unset PROSODY_C2S_PORT PROSODY_HTTP_PORT PROSODY_COMPONENT_PORT
    echo "prosody start attempt $attempt failed; see $DIR/prosody.log" >&2
  done
  tail -20 "$DIR/stdout.log" "$DIR/prosody.log" >&2; exit 1 ;;
adduser)
  load_env
  user=${3:?missing USER}; pass=${4:?missing PASSWORD}
  printf '%s\n%s\n' "$pass" "$pass" | prosodyctl --config "$CFG" adduser "$user@$PROSODY_DOMAIN" >/dev/null ;;
passwd)
  load_env
  user=${3:?missing USER}; pass=${4:?missing PASSWORD}
  printf '%s\n%s\n' "$pass" "$pass" | prosodyctl --config "$CFG" passwd "$user@$PROSODY_DOMAIN" >/dev/null ;;
befriend)
  load_env
  a=${3:?missing USER1}; b=${4:?missing USER2}
  # Prosody's internal storage is a Lua file per user; rosters are read at login, so writing them
  # before anyone logs in gives both users a mutual subscription without a client dance.
  host_dir="$DIR/data/$(printf %s "$PROSODY_DOMAIN" | sed 's/\./%2e/g')/roster"
  mkdir -p "$host_dir"
  for pair in "$a $b" "$b $a"; do
    set -- $pair
    f="$host_dir/$1.dat"
    name=$(capitalize "$2")
    if [ -f "$f" ]; then
      grep -q "\"$2@$PROSODY_DOMAIN\"" "$f" && continue
      sed -i "s|^return {|return {\n\t[\"$2@$PROSODY_DOMAIN\"] = { subscription = \"both\"; groups = { [\"Friends\"] = true }; name = \"$name\" };|" "$f"
    else
      printf 'return {\n\t["%s@%s"] = { subscription = "both"; groups = { ["Friends"] = true }; name = "%s" };\n\t[false] = { version = 1; pending = {} };\n};\n' "$2" "$PROSODY_DOMAIN" "$name" > "$f"
    fi
  done ;;
restart)
  load_env
  "$0" stop "$DIR"
  PROSODY_C2S_PORT=$PROSODY_C2S_PORT PROSODY_HTTP_PORT=$PROSODY_HTTP_PORT \
    PROSODY_COMPONENT_PORT=$PROSODY_COMPONENT_PORT exec "$0" start "$DIR" ;;
stop)
  stop_pidfile "$DIR/prosody.fg.pid" ;;
*) echo "unknown command $cmd" >&2; exit 2 ;;
esac
