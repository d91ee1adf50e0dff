#!/usr/bin/env bash
# The seed scenario's traffic steps against three gateway replicas kept in step through etcd
# (`make demo-ha`): an etcd started for the demo, three `vamp-gateway` replicas bound to
# 127.0.0.1, 127.0.0.2 and 127.0.0.3 on the same ports (admin API :9900, the stable endpoint
# :9050), sava:1.0.0 and sava:1.1.0 as two local processes. Each step is written once, through
# replica 1's admin API, which in store mode puts it into etcd; the script then waits until every
# replica serves that revision and sends 100 Firefox and 100 Chrome requests to each replica,
# printing each replica's split and checking it. Everything it starts is stopped by PID on exit,
# also on failure or Ctrl-C, and the script checks that no process is left.
#
# Why not through the provider: the provider's `etcd { endpoints = [...] }` block
# (examples/provider-etcd) writes the same keys, in one transaction per apply, and waits for the
# replicas' acknowledgements itself; but it deploys services on Marathon only (the local dev
# runtime is reached through one gateway's admin API), so this demo puts the documents the
# quickstart's deployment gives the stable endpoint, with the two sava processes as static
# instances (`put_step`).
#
# Needs bin/vamp-gateway and bin/sava (make demo-ha builds them), curl, and etcd (Debian's
# etcd-server; make demo-ha installs it when missing).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ETCD="${ETCD:-$(command -v etcd || true)}"
# Ports below the ephemeral range (32768+), so that no outgoing connection holds them.
ETCD_PORT="${VAMP_DEMO_ETCD_PORT:-19379}"
ETCD_PEER_PORT="${VAMP_DEMO_ETCD_PEER_PORT:-19380}"
SAVA_PORTS=("${VAMP_DEMO_SAVA_PORT_A:-19101}" "${VAMP_DEMO_SAVA_PORT_B:-19102}")
HOSTS=(127.0.0.1 127.0.0.2 127.0.0.3)
ADMIN_PORT=9900
PORT=9050
GATEWAY="sava/9050"
DEMO=demo-ha
# shellcheck source=scenario.sh
source "$ROOT/examples/quickstart/scenario.sh"

# --- preconditions -----------------------------------------------------------------------------
[[ -n "$ETCD" && -x "$ETCD" ]] || die "no etcd binary: apt-get install -y etcd-server (make demo-ha does), or set ETCD=/path/to/etcd"
command -v curl >/dev/null || die "curl is needed to send the requests"
for bin in vamp-gateway sava; do
  [[ -x "$ROOT/bin/$bin" ]] || die "bin/$bin is missing: run 'make gateway sava' (make demo-ha does)"
done
port_busy() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
for p in "$ETCD_PORT" "$ETCD_PEER_PORT" "${SAVA_PORTS[@]}"; do
  port_busy 127.0.0.1 "$p" && die "127.0.0.1:$p is in use: stop what holds it, or set VAMP_DEMO_ETCD_PORT / VAMP_DEMO_SAVA_PORT_A/B"
done
for h in "${HOSTS[@]}"; do
  for p in "$ADMIN_PORT" "$PORT"; do
    port_busy "$h" "$p" && die "$h:$p is in use (make demo running?): stop it first"
  done
done

# --- clean-up on every exit --------------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/vamp-demo-ha.XXXXXX")"
PIDS=()    # every process the demo started, in start order
NAMES=()
STATUS="FAILED"
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  say "stopping ${#PIDS[@]} processes (gateways, sava, etcd) by PID"
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill -TERM "${PIDS[i]}" 2>/dev/null; done
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    for _ in $(seq 100); do kill -0 "${PIDS[i]}" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "${PIDS[i]}" 2>/dev/null
    wait "${PIDS[i]}" 2>/dev/null
  done
  left=0
  for i in "${!PIDS[@]}"; do
    if kill -0 "${PIDS[i]}" 2>/dev/null; then echo "demo-ha: ${NAMES[i]} (pid ${PIDS[i]}) is still running" >&2; left=1; fi
  done
  if [[ $left -eq 0 && ${#PIDS[@]} -gt 0 ]]; then echo "no process left: ${NAMES[*]} stopped"; else [[ $left -eq 0 ]] || rc=1; fi
  if [[ $rc -ne 0 ]]; then
    for f in "$WORK"/*.log; do
      [[ -f "$f" ]] || continue
      echo "--- last lines of $(basename "$f") ---" >&2
      tail -n 15 "$f" >&2
    done
  fi
  rm -rf "$WORK"
  [[ $rc -eq 0 ]] && STATUS="OK"
  printf '\ndemo-ha: %s\n' "$STATUS"
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "demo-ha: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
trap 'echo "demo-ha: interrupted" >&2; exit 130' INT TERM

start() { # start NAME LOG CMD...: runs CMD in the background and remembers its PID
  local name="$1" log="$2"
  shift 2
  "$@" >"$log" 2>&1 &
  PIDS+=("$!")
  NAMES+=("$name")
}
wait_http() { # wait_http NAME URL: up to 30 s for URL to answer 2xx, while NAME's process runs
  local name="$1" url="$2" pid="" i
  for i in "${!NAMES[@]}"; do [[ "${NAMES[i]}" == "$name" ]] && pid="${PIDS[i]}"; done
  for _ in $(seq 300); do
    curl -sf --max-time 2 "$url" >/dev/null && return 0
    [[ -z "$pid" ]] || kill -0 "$pid" 2>/dev/null || die "$name exited: $(tail -n 3 "$WORK/$name.log")"
    sleep 0.1
  done
  die "$name did not answer $url within 30s"
}

# --- etcd, the services, three replicas --------------------------------------------------------
say "starting etcd $("$ETCD" --version 2>/dev/null | sed -n 's/^etcd Version: //p') on 127.0.0.1:$ETCD_PORT"
start etcd "$WORK/etcd.log" "$ETCD" --name vamp-demo-ha --data-dir "$WORK/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "vamp-demo-ha=http://127.0.0.1:$ETCD_PEER_PORT"
wait_http etcd "http://127.0.0.1:$ETCD_PORT/health"

say "starting sava:1.0.0 on 127.0.0.1:${SAVA_PORTS[0]} and sava:1.1.0 on 127.0.0.1:${SAVA_PORTS[1]}"
start sava-1.0.0 "$WORK/sava-1.0.0.log" "$ROOT/bin/sava" --version 1.0.0 --listen "127.0.0.1:${SAVA_PORTS[0]}"
start sava-1.1.0 "$WORK/sava-1.1.0.log" "$ROOT/bin/sava" --version 1.1.0 --listen "127.0.0.1:${SAVA_PORTS[1]}"
wait_http sava-1.0.0 "http://127.0.0.1:${SAVA_PORTS[0]}/health"
wait_http sava-1.1.0 "http://127.0.0.1:${SAVA_PORTS[1]}/health"

VAMP_GATEWAY_TOKEN="demo-ha-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
export VAMP_GATEWAY_TOKEN
AUTH=(-H "Authorization: Bearer $VAMP_GATEWAY_TOKEN")
for i in "${!HOSTS[@]}"; do
  h="${HOSTS[i]}" id="gw-$((i + 1))"
  say "starting replica $id on $h (admin $h:$ADMIN_PORT, gateways on $h)"
  start "$id" "$WORK/$id.log" "$ROOT/bin/vamp-gateway" --admin-listen "$h:$ADMIN_PORT" --bind-host "$h" \
    --state-file "$WORK/$id.json" --drain-timeout 2s \
    --etcd-endpoints "http://127.0.0.1:$ETCD_PORT" --replica-id "$id"
done
for i in "${!HOSTS[@]}"; do wait_http "gw-$((i + 1))" "http://${HOSTS[i]}:$ADMIN_PORT/healthz"; done

metric() { # metric HOST NAME: the value of an unlabelled metric on a replica's /metrics
  curl -sf "${AUTH[@]}" "http://$1:$ADMIN_PORT/metrics" | awk -v n="$2" '$1 == n { print $2 }'
}

# --- the steps ---------------------------------------------------------------------------------
route() { # route NAME WEIGHT PORT [CONDITION]
  local cond=""
  [[ -n "${4:-}" ]] && cond=", \"condition\": \"$4\", \"condition_strength\": 100"
  printf '{"name": "%s", "weight": %d%s, "instances": [{"host": "127.0.0.1", "port": %d}]}' "$1" "$2" "$cond" "$3"
}
document() { # the gateway document of a step, as the quickstart's deployment makes it
  local a="${SAVA_PORTS[0]}" b="${SAVA_PORTS[1]}"
  case "$1" in
    1-deploy) echo "{\"port\": $PORT, \"routes\": [$(route sava:1.0.0 100 "$a")]}" ;;
    3-canary) echo "{\"port\": $PORT, \"routes\": [$(route sava:1.0.0 100 "$a"), $(route sava:1.1.0 0 "$b")]}" ;;
    4-fifty-fifty) echo "{\"port\": $PORT, \"routes\": [$(route sava:1.0.0 50 "$a"), $(route sava:1.1.0 50 "$b")]}" ;;
    5-firefox) echo "{\"port\": $PORT, \"routes\": [$(route sava:1.0.0 0 "$a" "user-agent == Firefox"), $(route sava:1.1.0 100 "$b")]}" ;;
  esac
}
# put_step STEP: one write, through replica 1's admin API (store mode: it goes into etcd with a
# compare-and-set and is answered once replica 1 applied it). [provider: terraform apply here]
put_step() {
  curl -sf "${AUTH[@]}" -X PUT --data-binary "$(document "$1")" "http://${HOSTS[0]}:$ADMIN_PORT/v1/gateways/$GATEWAY" >/dev/null \
    || die "PUT of step $1 through ${HOSTS[0]} failed: $(curl -s "${AUTH[@]}" -X PUT --data-binary "$(document "$1")" "http://${HOSTS[0]}:$ADMIN_PORT/v1/gateways/$GATEWAY")"
}
# converge: waits until every replica serves the store revision replica 1 serves; prints it.
converge() {
  local want got start
  start=$(date +%s%N)
  want="$(metric "${HOSTS[0]}" vamp_gateway_store_serving_revision)"
  for h in "${HOSTS[@]}"; do
    for _ in $(seq 100); do
      got="$(metric "$h" vamp_gateway_store_serving_revision)"
      [[ -n "$got" && "$got" -ge "$want" ]] && break
      sleep 0.1
    done
    [[ -n "$got" && "$got" -ge "$want" ]] || die "replica on $h serves revision ${got:-none}, not $want, after 10s"
  done
  echo "all 3 replicas serve store revision $want ($(( ($(date +%s%N) - start) / 1000000 )) ms after replica 1 answered the PUT, polling /metrics)"
}
count() { # count HOST UA: "<1.0.0 count> <1.1.0 count>" over REQUESTS requests to HOST:9050
  local urls=()
  for _ in $(seq "$REQUESTS"); do urls+=("http://$1:$PORT/"); done
  curl -s --max-time 30 -A "$2" "${urls[@]}" | awk '
    $0 == "sava:1.0.0" { a++ } $0 == "sava:1.1.0" { b++ } END { printf "%d %d\n", a, b }'
}

ROWS=()
FAILED=0
header() { printf '%-15s %-10s %-8s %11s %11s\n' step replica UA sava:1.0.0 sava:1.1.0; }
for step in "${STEPS[@]}"; do
  say "step $step: one write through replica 1 (${HOSTS[0]}), then every replica's split"
  put_step "$step"
  converge
  for h in "${HOSTS[@]}"; do
    for agent in Firefox Chrome; do
      ua="$FIREFOX_UA"; [[ $agent == Chrome ]] && ua="$CHROME_UA"
      read -r v1 v2 < <(count "$h" "$ua")
      verdict="ok"
      if [[ "$v1/$v2" != "${EXPECT[$step/$agent]}" ]]; then verdict="expected ${EXPECT[$step/$agent]}"; FAILED=1; fi
      ROWS+=("$(printf '%-15s %-10s %-8s %11s %11s   %s' "$step" "$h" "$agent" "$v1" "$v2" "$verdict")")
    done
  done
  header
  printf '%s\n' "${ROWS[@]: -6}"
done

leaders=""
for i in "${!HOSTS[@]}"; do [[ "$(metric "${HOSTS[i]}" vamp_gateway_store_leader)" == 1 ]] && leaders+="gw-$((i + 1)) "; done
say "where $REQUESTS requests per user agent went on each replica, step by step"
header
printf '%s\n' "${ROWS[@]}"
echo
echo "roll-out election leader (ticks roll-outs and SLA scaling): ${leaders:-none}"
[[ "$(wc -w <<<"$leaders")" -eq 1 ]] || { echo "demo-ha: want exactly one leader, got: ${leaders:-none}" >&2; FAILED=1; }
[[ $FAILED -eq 0 ]] || die "the traffic did not go where the steps say on every replica"

# --- a roll-out whose leader is killed ---------------------------------------------------------
# sava:1.1.0 from 0 to 100% in steps of 20 every 10 s, judged by the leader on its own traffic,
# under a steady load on every replica. Once the roll-out is at step 2 the leader is killed
# (SIGKILL: no resignation); another replica takes over within the lease (10 s) and goes on from
# the stored step. The weight steps every replica served are printed; the surviving replicas must
# answer every request.
say "step 6-rollout: a roll-out of sava:1.1.0 (20% steps every 10s); its leader is killed from step 2 on"
rollout_doc() {
  echo "{\"port\": $PORT, \"routes\": [$(route sava:1.0.0 100 "${SAVA_PORTS[0]}"), $(route sava:1.1.0 0 "${SAVA_PORTS[1]}")],
    \"rollout\": {\"canary\": \"sava:1.1.0\", \"steps\": [20, 40, 60, 80, 100], \"interval\": \"10s\",
      \"checks\": {\"max_5xx_rate\": 0.05, \"min_requests\": 1}, \"max_wait_intervals\": 10}}"
}
load_loop() { # load_loop URL: one request after the other until TERM, one status code a line
  local c=""
  trap 'kill "$c" 2>/dev/null; exit 0' TERM
  while :; do
    curl -s -o /dev/null --max-time 2 -A "$CHROME_UA" -w '%{http_code}\n' "$1" &
    c=$!
    wait "$c" || true
  done
}
LOADS=()
for i in "${!HOSTS[@]}"; do
  start "load-gw-$((i + 1))" "$WORK/load-gw-$((i + 1)).codes" load_loop "http://${HOSTS[i]}:$PORT/"
  LOADS+=("${PIDS[-1]}")
done
curl -sf "${AUTH[@]}" -X PUT --data-binary "$(rollout_doc)" "http://${HOSTS[0]}:$ADMIN_PORT/v1/gateways/$GATEWAY" >/dev/null \
  || die "PUT of the roll-out through ${HOSTS[0]} failed"
status() { # status HOST: "<phase> <step> <canary weight>" as the replica serves it ("down" if it does not answer)
  local doc
  doc="$(curl -sf --max-time 2 "${AUTH[@]}" "http://$1:$ADMIN_PORT/v1/gateways/$GATEWAY")" || { echo down; return 0; }
  sed -n 's/.*"rollout_status":{"phase":"\([a-z_]*\)","step":\([0-9]*\),"steps":[0-9]*,"canary":"[^"]*","weight":\([0-9]*\).*/\1 \2 \3/p' <<<"$(tr -d ' \n' <<<"$doc")" | grep . || echo "no-rollout-yet"
}
leader_index() {
  local i
  for i in "${!HOSTS[@]}"; do
    if [[ "$(metric "${HOSTS[i]}" vamp_gateway_store_leader 2>/dev/null)" == 1 ]]; then echo "$i"; fi
  done
  return 0
}
KILLED=""
declare -A SEEN=()
printf '\n%-8s %-22s %-22s %-22s %s\n' time gw-1 gw-2 gw-3 leader
began=$(date +%s%N)
last=""
for _ in $(seq 600); do
  line="" phases=""
  for i in "${!HOSTS[@]}"; do
    if [[ "$i" == "$KILLED" ]]; then st="killed"; else st="$(status "${HOSTS[i]}")"; fi
    line+="$(printf '%-22s ' "$st")"
    [[ "$st" == killed || "$st" == down || "$st" == no-rollout-yet ]] || { phases+="${st%% *} "; SEEN[gw-$((i + 1))]+="$(awk '{print $3}' <<<"$st") "; }
  done
  li="$(leader_index | head -n 1)"
  lead="${li:+gw-$((li + 1))}"
  if [[ "$line $lead" != "$last" ]]; then
    printf '%-8s %s%s\n' "$(( ($(date +%s%N) - began) / 1000000 ))ms" "$line" "${lead:-(election)}"
    last="$line $lead"
  fi
  lst=""
  [[ -z "$KILLED" && -n "$li" ]] && lst="$(status "${HOSTS[li]}")"
  if [[ "$lst" == "progressing "[234]" "* ]]; then
    kill -KILL "${PIDS[$((3 + li))]}"   # gw-N is the (3+N-1)th process started: etcd, sava x2, gw-1..3
    KILLED="$li"
    killed_at=$(date +%s%N)
    echo "         killed the leader gw-$((li + 1)) (SIGKILL, pid ${PIDS[$((3 + li))]}) at step $(awk '{print $2}' <<<"$lst")"
  fi
  if [[ -n "$KILLED" && -n "$li" && "$li" != "$KILLED" && -z "${TOOK_OVER:-}" ]]; then
    TOOK_OVER="gw-$((li + 1)) leads $(( ($(date +%s%N) - killed_at) / 1000000 )) ms after the kill"
  fi
  [[ -n "$KILLED" && "$phases" == "promoted promoted " ]] && break
  [[ -z "$KILLED" && "$phases" == "promoted promoted promoted " ]] && break # finished before a kill: reported below
  sleep 0.2
done
for pid in "${LOADS[@]}"; do kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
echo
[[ -n "$KILLED" ]] || die "the roll-out ended before this script saw its leader at step 2-4 (a slow machine?); nothing was killed"
echo "take-over: ${TOOK_OVER:-none}"
for i in "${!HOSTS[@]}"; do
  codes="$WORK/load-gw-$((i + 1)).codes"
  total=$(grep -c . "$codes" || true); bad=$(grep -vc '^200$' "$codes" || true)
  steps=$(tr ' ' '\n' <<<"${SEEN[gw-$((i + 1))]:-}" | grep . | uniq | tr '\n' ' ')
  if [[ "$i" == "$KILLED" ]]; then
    printf 'gw-%d (killed)  canary weights served: %-22s requests: %d, not 200: %d (after its death)\n' $((i + 1)) "$steps" "$total" "$bad"
  else
    printf 'gw-%d           canary weights served: %-22s requests: %d, not 200: %d\n' $((i + 1)) "$steps" "$total" "$bad"
    [[ "$bad" -eq 0 ]] || { echo "demo-ha: surviving replica gw-$((i + 1)) failed $bad requests" >&2; FAILED=1; }
    # Polled every few hundred ms: a step may be missed on a slow machine, but every weight seen
    # must be one of the roll-out's, in order, ending at 100.
    awk -v s="$steps" 'BEGIN { n = split(s, w, " "); prev = -1; ok = n > 0 && w[n] == 100
      for (k = 1; k <= n; k++) { if (w[k] % 20 != 0 || w[k] <= prev) ok = 0; prev = w[k] } exit !ok }' \
      || { echo "demo-ha: gw-$((i + 1)) went through $steps, not the roll-out's steps in order" >&2; FAILED=1; }
  fi
done
[[ "$phases" == "promoted promoted " ]] || die "the roll-out was not promoted on the surviving replicas after the leader was killed"
[[ $FAILED -eq 0 ]] || die "the roll-out did not go on as it should after the leader was killed"
