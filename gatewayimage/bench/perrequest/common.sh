# Sourced by the perrequest scripts: builds the bench backend and fixedload, starts two backends
# on core 1 and gateways on core 0 (GOMAXPROCS=1) with the bench's gateway (the shared section's
# routes: 50/50 weights, a Firefox condition), and stops what it started on exit.
# Ports (below the ephemeral range, away from run.sh's): backends 28081-28082, gateways 29050+,
# admin 29900+.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
WORK=$(mktemp -d /tmp/vamp-perrequest.XXXXXX)
B1=28081 B2=28082
export VAMP_GATEWAY_TOKEN=perrequest$RANDOM$RANDOM
UA='Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36'
PIDS=()
CGROUPS=()
cleanup() {
  local p c
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  for c in "${CGROUPS[@]}"; do rmdir "$c" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
(cd "$ROOT" && go build -o "$WORK/backend" ./gatewayimage/bench/backend && go build -o "$WORK/fixedload" ./gatewayimage/bench/perrequest/fixedload)
# Another program on these ports would be measured instead (an nginx answers with more header
# lines, which costs the gateway more framing work per answer): refuse to run.
for port in $B1 $B2 29050 29051 29900 29901; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "perrequest: something already listens on 127.0.0.1:$port (ss -ltnp says what); stop it first" >&2
    exit 1
  fi
done
taskset -c 1 "$WORK/backend" -listen 127.0.0.1:$B1 -name b1 >"$WORK/b1.log" 2>&1 &
PIDS+=($!)
taskset -c 1 "$WORK/backend" -listen 127.0.0.1:$B2 -name b2 >"$WORK/b2.log" 2>&1 &
PIDS+=($!)

wait_port() { # wait_port PORT SECONDS
  local i
  for i in $(seq $(($2 * 10))); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on $1 after $2 s" >&2
  return 1
}

# start_gateway N CMD...: gateway number N (port 29050+N, admin 29900+N) as CMD, pinned to core
# 0; sets GW_PID and GW_PORT. CMD is the gateway binary, or a wrapper (valgrind) and the binary.
start_gateway() {
  local n=$1 admin=$((29900 + $1))
  shift
  GW_PORT=$((29050 + n))
  GOMAXPROCS=1 taskset -c 0 "$@" --admin-listen 127.0.0.1:$admin --state-file "$WORK/state-$n.json" \
    --log-level warn >"$WORK/gateway-$n.log" 2>&1 &
  GW_PID=$!
  PIDS+=($GW_PID)
  wait_port $admin 60
  curl -sS --fail-with-body -X PUT -H "Authorization: Bearer $VAMP_GATEWAY_TOKEN" -H 'Content-Type: application/json' \
    --data "$(printf '{"port": %d, "routes": [
      {"name": "sava:1.0.0", "weight": 50, "condition": "user-agent == Firefox", "condition_strength": 100,
       "instances": [{"host": "127.0.0.1", "port": %d}]},
      {"name": "sava:1.1.0", "weight": 50, "instances": [{"host": "127.0.0.1", "port": %d}]}]}' $GW_PORT $B1 $B2)" \
    "http://127.0.0.1:$admin/v1/gateways/bench" >/dev/null
  wait_port $GW_PORT 30
}

load() { # load PORT DURATION [OUTPUT]: wrk -t1 -c64 with the Chrome User-Agent on core 1
  taskset -c 1 wrk -t1 -c64 -d"$2" -H "User-Agent: $UA" "http://127.0.0.1:$1/" >"${3:-/dev/null}"
}

requests() { awk '/ requests in / {print $1}' "$1"; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
voluntary_switches() {
  local t v=0 n
  for t in /proc/"$1"/task/*; do
    n=$(awk '/^voluntary_ctxt_switches/ {print $2}' "$t/status")
    v=$((v + n))
  done
  echo $v
}
