#!/usr/bin/env bash
# Throwaway ejabberd 23.01 (Debian) on free loopback ports: a non-distributed Erlang node, so no
# epmd and no cookie.
#
#   ejabberd.sh start DIR          start in DIR; prints KEY=VALUE lines (also kept in DIR/env)
#   ejabberd.sh adduser DIR USER PASSWORD
#   ejabberd.sh passwd DIR USER PASSWORD
#   ejabberd.sh befriend DIR USER1 USER2   mutual "both" subscription
#   ejabberd.sh restart DIR        stop, then start again on the same ports with the same data
#   ejabberd.sh stop DIR
#
# Env for start: EJABBERD_JWT_SECRET (HS256 secret for JWT logins), EJABBERD_COMPONENT_SECRET.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
cmd=${1:?usage: ejabberd.sh start|adduser|stop DIR ...}
DIR=$(mkdir -p "${2:?missing DIR}" && cd "$2" && pwd)

load_env() { set -a; . "$DIR/env"; set +a; }
api() { # api COMMAND JSON
  curl -fsS -X POST -H 'Content-Type: application/json' -d "$2" "http://127.0.0.1:$EJABBERD_HTTP_PORT/api/$1"
}

case $cmd in
start)
  [ -x /usr/sbin/ejabberdctl ] || { echo "ejabberd is not installed (apt-get install ejabberd)" >&2; exit 1; }
  lib=$(ls -d /usr/lib/x86_64-linux-gnu/ejabberd-* /usr/lib/*/ejabberd-* 2>/dev/null | head -1)
  mkdir -p "$DIR/spool" "$DIR/log" "$DIR/upload"
  secret=${EJABBERD_JWT_SECRET:-test-jwt-secret-0123456789abcdef}
  pinned=${EJABBERD_HTTP_PORT:-}
  for attempt in 1 2 3; do
    cat > "$DIR/env" <<ENV
EJABBERD_DOMAIN=localhost
EJABBERD_C2S_PORT=${EJABBERD_C2S_PORT:-$(free_port)}
EJABBERD_HTTP_PORT=${EJABBERD_HTTP_PORT:-$(free_port)}
EJABBERD_COMPONENT_PORT=${EJABBERD_COMPONENT_PORT:-$(free_port)}
EJABBERD_COMPONENT_SECRET=${EJABBERD_COMPONENT_SECRET:-push-secret}
EJABBERD_JWT_SECRET=$secret
ENV
    load_env
    echo "EJABBERD_WS_URL=ws://127.0.0.1:$EJABBERD_HTTP_PORT/ws" >> "$DIR/env"
    k=$(printf %s "$secret" | base64 -w0 | tr '+/' '-_' | tr -d '=')
    printf '{"kty":"oct","k":"%s"}\n' "$k" > "$DIR/jwt.jwk"
    sed -e "s|@RUN@|$DIR|g" -e "s|@C2S@|$EJABBERD_C2S_PORT|g" -e "s|@HTTP@|$EJABBERD_HTTP_PORT|g" \
        -e "s|@COMP@|$EJABBERD_COMPONENT_PORT|g" -e "s|@COMPONENT_SECRET@|$EJABBERD_COMPONENT_SECRET|g" \
        "$HERE/ejabberd.yml" > "$DIR/ejabberd.yml"
    (
      cd "$DIR"
      export EJABBERD_CONFIG_PATH="$DIR/ejabberd.yml" EJABBERD_LOG_PATH="$DIR/log/ejabberd.log"
      export ERL_LIBS=$(dirname "$lib") ERL_CRASH_DUMP="$DIR/log/erl_crash.dump" ERL_CRASH_DUMP_BYTES=0
      export ERL_INETRC=/etc/ejabberd/inetrc HOME="$DIR" ERL_MAX_PORTS=32000 ERL_MAX_ETS_TABLES=1400
      exec erl +K true +P 250000 +S 2:2 +A 4 -noinput -noshell \
        -mnesia dir "\"$DIR/spool\"" -s ejabberd > "$DIR/log/stdout.log" 2>&1
    ) &
    echo $! > "$DIR/ejabberd.pid"
    for _ in $(seq 1 600); do
      if api status '{}' >/dev/null 2>&1; then cat "$DIR/env"; exit 0; fi
      kill -0 "$(cat "$DIR/ejabberd.pid")" 2>/dev/null || break
      sleep 0.1
    done
    stop_pidfile "$DIR/ejabberd.pid"
    # A port picked free can be taken before ejabberd binds it (tests start servers in
    # parallel): pick new ones and try again, unless the caller pinned them.
    grep -q eaddrinuse "$DIR/log/stdout.log" 2>/dev/null && [ -z "$pinned" ] || break
    unset EJABBERD_C2S_PORT EJABBERD_HTTP_PORT EJABBERD_COMPONENT_PORT
    echo "ejabberd start attempt $attempt: a port was taken; retrying" >&2
  done
  echo "ejabberd did not come up; see $DIR/log" >&2
  tail -n 30 "$DIR/log/stdout.log" "$DIR/log/ejabberd.log" >&2 || true
  exit 1 ;;
adduser)
  load_env
  api register "{\"user\":\"${3:?missing USER}\",\"host\":\"$EJABBERD_DOMAIN\",\"password\":\"${4:?missing PASSWORD}\"}" >/dev/null ;;
passwd)
  load_env
  api change_password "{\"user\":\"${3:?missing USER}\",\"host\":\"$EJABBERD_DOMAIN\",\"newpass\":\"${4:?missing PASSWORD}\"}" >/dev/null ;;
befriend)
  load_env
  a=${3:?missing USER1}; b=${4:?missing USER2}
  for pair in "$a $b" "$b $a"; do
    set -- $pair
    name=$(capitalize "$2")
    api add_rosteritem "{\"localuser\":\"$1\",\"localhost\":\"$EJABBERD_DOMAIN\",\"user\":\"$2\",\"host\":\"$EJABBERD_DOMAIN\",\"nick\":\"$name\",\"group\":\"Friends\",\"subs\":\"both\"}" >/dev/null
  done ;;
restart)
  load_env
  "$0" stop "$DIR"
  EJABBERD_C2S_PORT=$EJABBERD_C2S_PORT EJABBERD_HTTP_PORT=$EJABBERD_HTTP_PORT \
    EJABBERD_COMPONENT_PORT=$EJABBERD_COMPONENT_PORT exec "$0" start "$DIR" ;;
stop)
  stop_pidfile "$DIR/ejabberd.pid" ;;
*) echo "unknown command $cmd" >&2; exit 2 ;;
esac
