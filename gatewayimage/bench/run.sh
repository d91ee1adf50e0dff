#!/usr/bin/env bash
# The gateway benchmark harness (`make bench`): the gateway against HAProxy 2.6 and nginx on the
# same backends, the same CPU budget and the same load, then reconfiguration under load, the
# propagation of weight changes and the scale figures. Loopback only; every run is bounded; every
# process it starts is stopped on exit. See docs/benchmarks.md for what it measures and why.
#
#   gatewayimage/bench/run.sh [section ...]   sections: throughput shared latency reconfig propagation
#                                             scale micro (the default, in that order) and profile
#                                             (CPU and allocation profiles of the gateway under load)
# Settings (environment): DURATION=10s CONNS=64 THREADS=1 ROUNDS=3 RATE=4000 LAT_CONNS=8
#   RECONF_SECONDS=20 CHANGES=50 FLIPS=200 IDLE_CONNS=10000 GATEWAYS=1000
#   BACKEND=auto|go|nginx PRIORITY=-20 OUT=/tmp/vamp-bench-results.md BUILD_GATEWAY=1
#   GATEWAY_BIN=bin/vamp-gateway
#   KEEP_WORK=1 (keep the work directory: the load generators' outputs, the configs, the logs)
#   UA=chrome|firefox (the User-Agent of every section's load but the matrix's: chrome takes the
#     weighted path, firefox the condition's)
# Section matrix (not in the default list): MATRIX="workload ..." (default: all, see matrix_workload),
#   MATRIX_MODES="shared alternating" (same seconds and/or alternating rounds), ROUNDS, DURATION.
# Section profile: PROFILE_WORKLOAD=one of the matrix's workloads (default: GET with UA's agent),
#   PROFILE_BEFORE=a matrix workload run once (for DURATION) before it, on the same gateway process.
# Section scaling (not in the default list): the gateway with GOMAXPROCS 1 and 2 against HAProxy
#   with nbthread 1 and 2, each given every core (the load shares them: see docs/benchmarks.md).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BENCH=$ROOT/gatewayimage/bench
GATEWAY_BIN=${GATEWAY_BIN:-$ROOT/bin/vamp-gateway}
BUILD_GATEWAY=${BUILD_GATEWAY:-1} # 0: benchmark GATEWAY_BIN as it is

DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-1}
ROUNDS=${ROUNDS:-3}
RATE=${RATE:-4000}
LAT_CONNS=${LAT_CONNS:-8}
RECONF_SECONDS=${RECONF_SECONDS:-20}
CHANGES=${CHANGES:-50}
FLIPS=${FLIPS:-200}
IDLE_CONNS=${IDLE_CONNS:-10000}
GATEWAYS=${GATEWAYS:-1000}
BACKEND=${BACKEND:-auto}
PRIORITY=${PRIORITY:--20}
OUT=${OUT:-/tmp/vamp-bench-results.md}

# Ports on 127.0.0.1, below the ephemeral range so that no client socket takes them.
B1=18081 B2=18082
GW_PORT=19050 HAPROXY_PORT=19051 NGINX_PORT=19052 NGINX_H2_PORT=19054 SCALE_HAPROXY_PORT=19055 SCALE_GW_PORT=19056
ADMIN_PORT=19900 SCALE_ADMIN_PORT=19901 LAG_PORT=19060 FIRST_GW_PORT=20000
PROF_ADMIN_PORT=19902 PROF_PORT=19053 PPROF_PORT=19990

UA_CHROME='Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36'
UA_FIREFOX='Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0'
case ${UA:-chrome} in
  chrome) LOAD_UA=$UA_CHROME ;;
  firefox) LOAD_UA=$UA_FIREFOX ;;
  *) echo "run.sh: UA=$UA: use chrome or firefox" >&2; exit 2 ;;
esac
PROXIES=(gateway haproxy nginx)

# CPU layout: the proxy under test gets core 0 alone; backends, wrk and the helper programs share
# the other cores. On one core everything shares it (the numbers then say little).
CORES=$(nproc) # before the script pins itself to the load cores (nproc follows the affinity)
case $CORES in
  1) PROXY_CPU=0 LOAD_CPU=0 ;;
  2) PROXY_CPU=0 LOAD_CPU=1 ;;
  *) PROXY_CPU=0 LOAD_CPU=1-$((CORES - 1)) ;;
esac

# Builds of other work on the machine would take the proxy's core in turns, and the kernel shares
# CPU between sessions (autogroups) before it looks at nice values. So the harness re-runs itself
# in a session of its own and gives that session's autogroup PRIORITY (-20: other sessions get
# about 1% while a run is on). The parent forwards Ctrl-C and SIGTERM to it.
if [ -z "${VAMP_BENCH_SESSION:-}" ] && [ "$PRIORITY" != 0 ]; then
  VAMP_BENCH_SESSION=1 setsid "$0" "$@" &
  child=$!
  trap 'kill -TERM "$child" 2>/dev/null' INT TERM HUP
  rc=0
  wait "$child" || rc=$?
  while kill -0 "$child" 2>/dev/null; do wait "$child" || rc=$?; done
  exit $rc
fi
if [ "$PRIORITY" != 0 ] && ! echo "$PRIORITY" 2>/dev/null >/proc/self/autogroup; then
  echo "run.sh: could not set the autogroup priority to $PRIORITY (needs CAP_SYS_NICE); other work may slow the runs" >&2
fi

WORK=$(mktemp -d /tmp/vamp-bench.XXXXXX)
TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
export VAMP_GATEWAY_TOKEN=$TOKEN
declare -A PID=()     # name -> pid of every long-running process this script started
declare -a REPORT=()  # markdown lines of the summary
declare -a CGROUPS=() # cpu cgroups this script made (section shared), removed on exit

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }
report() { REPORT+=("$*"); }

cleanup() {
  local name
  for name in "${!PID[@]}"; do kill "${PID[$name]}" 2>/dev/null || true; done
  for name in "${!PID[@]}"; do wait "${PID[$name]}" 2>/dev/null || true; done
  for name in "${CGROUPS[@]}"; do rmdir "$name" 2>/dev/null || true; done
  if [ "${KEEP_WORK:-0}" = 1 ]; then log "kept $WORK (KEEP_WORK=1)"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 143' INT TERM HUP

# start NAME CPU CMD...: run CMD in the background pinned to CPU, output to $WORK/NAME.log.
start() {
  local name=$1 cpu=$2
  shift 2
  taskset -c "$cpu" "$@" >"$WORK/$name.log" 2>&1 &
  PID[$name]=$!
}

stop() {
  local name=$1
  [ -n "${PID[$name]:-}" ] || return 0
  kill "${PID[$name]}" 2>/dev/null || true
  wait "${PID[$name]}" 2>/dev/null || true
  unset "PID[$name]"
}

# wait_port PORT [NAME]: wait until something listens on PORT; on failure show NAME's log.
wait_port() {
  local port=$1 name=${2:-} deadline=$((SECONDS + 15))
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      log "nothing listens on port $port after 15s${name:+; the log of $name:}"
      [ -z "$name" ] || tail -20 "$WORK/$name.log" >&2
      return 1
    fi
    sleep 0.05
  done
}

# fill TEMPLATE W1 W2 PORT: the template with its @NAME@ placeholders replaced.
fill() {
  sed -e "s|@WORK@|$WORK|g" -e "s|@B1@|$B1|g" -e "s|@B2@|$B2|g" \
    -e "s|@W1@|$2|g" -e "s|@W2@|$3|g" -e "s|@PORT@|${4:-0}|g" -e "s|@H2PORT@|$NGINX_H2_PORT|g" \
    -e "s|@NBTHREAD@|${NBTHREAD:-1}|g" "$BENCH/$1"
}

# rss_kb PID: VmRSS of PID and its children (nginx and HAProxy -W have a master), in KiB.
rss_kb() {
  local total=0 p kb
  for p in $1 $(pgrep -P "$1" || true); do
    kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
    total=$((total + ${kb:-0}))
  done
  echo $total
}

# cpu_ticks PID: user+system clock ticks of PID and its children so far.
cpu_ticks() {
  local total=0 p t
  for p in $1 $(pgrep -P "$1" || true); do
    t=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)
    total=$((total + ${t:-0}))
  done
  echo $total
}

# core_busy CORE: "busy total" jiffies of one core from /proc/stat.
core_busy() { awk -v c="cpu$1" '$1 == c {print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8}' /proc/stat; }

load1() { cut -d' ' -f1 /proc/loadavg; }

# ---------------------------------------------------------------- setup

install_missing() {
  local missing=() cmd
  for cmd in haproxy:haproxy nginx:nginx wrk:wrk hey:hey socat:socat taskset:util-linux h2load:nghttp2-client; do
    command -v "${cmd%%:*}" >/dev/null || missing+=("${cmd#*:}")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing from Debian: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

build_programs() {
  if [ "$BUILD_GATEWAY" = 1 ]; then
    log "building the gateway (as make gateway does) and the bench programs"
    (cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$GATEWAY_BIN" ./gatewayimage)
  else
    log "using the gateway binary $GATEWAY_BIN as it is (BUILD_GATEWAY=0)"
    [ -x "$GATEWAY_BIN" ] || { log "$GATEWAY_BIN does not exist: build it (make gateway) or drop BUILD_GATEWAY=0"; exit 1; }
  fi
  mkdir -p "$WORK/bin"
  local prog
  for prog in backend weightlag idleconns manygw; do
    (cd "$ROOT" && go build -o "$WORK/bin/$prog" "./gatewayimage/bench/$prog")
  done
}

machine() {
  report "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
  report "- machine: $CORES cores, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r)"
  report "- $(go version | cut -d' ' -f3-), $(haproxy -v | head -1 | cut -d' ' -f1-3), $(nginx -v 2>&1 | cut -d' ' -f3), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
  report "- layout: proxy pinned to core $PROXY_CPU (gateway GOMAXPROCS=1, haproxy nbthread 1, nginx worker_processes 1); backends (nginx: two worker processes), wrk and helpers on core(s) $LOAD_CPU; the benchmark in its own session with autogroup nice $(cut -d" " -f3 /proc/self/autogroup 2>/dev/null || echo ?)"
  report "- load: wrk -t$THREADS -c$CONNS -d$DURATION --latency, ${UA:-chrome} User-Agent, $ROUNDS alternating rounds after a 2s warm-up each; load average at start $(load1)"
}

# ---------------------------------------------------------------- backends

start_backends() {
  local kind=$1
  case $kind in
    go)
      start backend-b1 "$LOAD_CPU" "$WORK/bin/backend" -listen "127.0.0.1:$B1" -name b1
      start backend-b2 "$LOAD_CPU" "$WORK/bin/backend" -listen "127.0.0.1:$B2" -name b2 ;;
    nginx)
      mkdir -p "$WORK/nginx-backends-tmp"
      fill nginx-backends.conf.tmpl 0 0 >"$WORK/nginx-backends.conf"
      start backend-nginx "$LOAD_CPU" nginx -p "$WORK" -c "$WORK/nginx-backends.conf" -g 'daemon off;' ;;
  esac
  wait_port $B1
  wait_port $B2
}

stop_backends() { stop backend-b1; stop backend-b2; stop backend-nginx; }

# pick_backend: sets BACKEND to the faster of the Go and the nginx backend, measured directly with
# wrk on the load cores, so that the backends are never what limits a proxy.
pick_backend() {
  [ "$BACKEND" = auto ] || return 0
  local kind best=go best_rps=0 rps
  for kind in go nginx; do
    start_backends $kind
    rps=$(taskset -c "$LOAD_CPU" wrk -t"$THREADS" -c"$CONNS" -d3s "http://127.0.0.1:$B1/" | awk '/^Requests\/sec/ {printf "%d", $2}')
    log "backend $kind direct: $rps requests/s"
    report "- backend calibration: $kind answers $rps requests/s directly (wrk on the same cores)"
    if [ "$rps" -gt "$best_rps" ]; then best=$kind best_rps=$rps; fi
    stop_backends
  done
  BACKEND=$best
}

# ---------------------------------------------------------------- proxies

admin() { # admin METHOD PATH [BODY]: call the gateway's admin API, fail on a non-2xx answer
  curl -sS --fail-with-body -X "$1" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    ${3:+--data "$3"} "http://127.0.0.1:$ADMIN_PORT$2" >/dev/null
}

gateway_doc() { # gateway_doc W1 W2 [PORT]: the bench gateway, the same routes as the HAProxy config
  printf '{"port": %d, "routes": [
    {"name": "sava:1.0.0", "weight": %d, "condition": "user-agent == Firefox", "condition_strength": 100,
     "instances": [{"host": "127.0.0.1", "port": %d}]},
    {"name": "sava:1.1.0", "weight": %d, "instances": [{"host": "127.0.0.1", "port": %d}]}]}' \
    "${3:-$GW_PORT}" "$1" $B1 "$2" $B2
}

start_gateway() {
  GOMAXPROCS=1 start gateway "$PROXY_CPU" "$GATEWAY_BIN" --admin-listen "127.0.0.1:$ADMIN_PORT" \
    --state-file "$WORK/gateway-state.json" --log-level warn
  wait_port $ADMIN_PORT gateway
  admin PUT /v1/gateways/bench "$(gateway_doc 50 50)"
  wait_port $GW_PORT
}

start_haproxy() {
  fill haproxy.cfg.tmpl 50 50 $HAPROXY_PORT >"$WORK/haproxy.cfg"
  # -W: master-worker, so that reloads hand the listeners over; -S: the master CLI.
  start haproxy "$PROXY_CPU" haproxy -W -db -f "$WORK/haproxy.cfg" -S "$WORK/haproxy-master.sock"
  wait_port $HAPROXY_PORT haproxy
}

start_nginx() {
  mkdir -p "$WORK/nginx-proxy-tmp"
  fill nginx-proxy.conf.tmpl 50 50 $NGINX_PORT >"$WORK/nginx-proxy.conf"
  start nginx "$PROXY_CPU" nginx -p "$WORK" -c "$WORK/nginx-proxy.conf" -g 'daemon off;'
  wait_port $NGINX_PORT nginx
}

port_of() { case $1 in gateway) echo $GW_PORT ;; haproxy) echo $HAPROXY_PORT ;; nginx) echo $NGINX_PORT ;; direct) echo $B1 ;; esac; }

# ---------------------------------------------------------------- wrk

# wrk_run OUTFILE PORT DURATION: wrk on the load cores against 127.0.0.1:PORT.
wrk_run() {
  taskset -c "$LOAD_CPU" wrk -t"$THREADS" -c"$CONNS" -d"$3" --latency -H "User-Agent: $LOAD_UA" \
    "http://127.0.0.1:$2/" >"$1" 2>&1
}

# wrk_fields FILE: "rps p50_ms p99_ms socket_errors non_2xx_3xx requests" from wrk's output.
wrk_fields() {
  awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v + 0 }
    /^ +50%/ { p50 = ms($2) }
    /^ +99%/ { p99 = ms($2) }
    / requests in / { reqs = $1 }
    /Socket errors:/ { gsub(",", ""); errs = $4 + $6 + $8 + $10 }
    /Non-2xx or 3xx responses:/ { bad = $5 }
    /^Requests\/sec:/ { rps = $2 }
    END { printf "%.0f %.3f %.3f %d %d %d\n", rps, p50, p99, errs, bad, reqs }' "$1"
}

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

# ---------------------------------------------------------------- 1. throughput

throughput() {
  log "throughput: warm-up"
  local proxy round pid t0 t1 c0 c1 o0 o1 l0 l1 m0 m1 f load_core=${LOAD_CPU%%-*}
  for proxy in "${PROXIES[@]}"; do wrk_run "$WORK/warmup.txt" "$(port_of "$proxy")" 2s; done
  for round in $(seq "$ROUNDS"); do
    for proxy in "${PROXIES[@]}"; do
      pid=${PID[$proxy]}
      t0=$(cpu_ticks "$pid")
      read -r c0 o0 < <(core_busy "$PROXY_CPU")
      read -r l0 m0 < <(core_busy "$load_core")
      f="$WORK/wrk-$proxy-$round.txt"
      wrk_run "$f" "$(port_of "$proxy")" "$DURATION"
      t1=$(cpu_ticks "$pid")
      read -r c1 o1 < <(core_busy "$PROXY_CPU")
      read -r l1 m1 < <(core_busy "$load_core")
      # The proxy's own CPU use over the run, against one core (100% = saturated), how busy its
      # core was in all (other processes included), and how busy the (first) load core was.
      echo "$(wrk_fields "$f") $(((t1 - t0) * 100 / ($(getconf CLK_TCK) * ${DURATION%s}))) $(((c1 - c0) * 100 / (o1 - o0))) $(((l1 - l0) * 100 / (m1 - m0)))" \
        >>"$WORK/throughput-$proxy.txt"
      log "round $round $proxy: $(tail -1 "$WORK/throughput-$proxy.txt") (rps p50 p99 errors non2xx requests proxy_cpu% proxy_core_busy% load_core_busy%)"
    done
  done
  report ""
  report "#### Throughput (median of $ROUNDS rounds)"
  report ""
  report "| proxy | requests/s | p50 ms | p99 ms | errors + non-2xx | proxy CPU (of one core) | core $PROXY_CPU busy (proxy) | core $load_core busy (load) | requests/s per proxy core | rounds (requests/s) |"
  report "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
  declare -A RPS PER_CORE
  for proxy in "${PROXIES[@]}"; do
    f="$WORK/throughput-$proxy.txt"
    RPS[$proxy]=$(awk '{print $1}' "$f" | median)
    # requests/s divided by the share of its core that the proxy used: what it would serve with
    # its core saturated, when the load side (wrk and backends on the other core) is the limit.
    PER_CORE[$proxy]=$(awk '$7 > 0 {printf "%.0f\n", $1 * 100 / $7}' "$f" | median)
    report "| $proxy | ${RPS[$proxy]} | $(awk '{print $2}' "$f" | median) | $(awk '{print $3}' "$f" | median) | $(awk '{s += $4 + $5} END {print s}' "$f") | $(awk '{print $7}' "$f" | median)% | $(awk '{print $8}' "$f" | median)% | $(awk '{print $9}' "$f" | median)% | ${PER_CORE[$proxy]} | $(awk '{printf "%s ", $1}' "$f")|"
  done
  for proxy in "${PROXIES[@]}"; do
    if [ "$(awk '{print $7}' "$WORK/throughput-$proxy.txt" | median | cut -d. -f1)" -lt 95 ]; then
      report ""
      report "Note: $proxy used less than 95% of its core: the load side (wrk and backends on core(s) $LOAD_CPU) limited it, so its requests/s is a lower bound and its requests/s per proxy core the better figure."
    fi
  done
  report ""
  report "Ratio gateway/HAProxy per round (requests/s): $(paste -d' ' "$WORK/throughput-gateway.txt" "$WORK/throughput-haproxy.txt" |
    awk '{printf "%.2fx ", $1 / $10}')(the rounds alternate, so machine-wide slowdowns hit both alike)"
  report ""
  report "Ratio gateway/HAProxy per round (p99 at saturation): $(paste -d' ' "$WORK/throughput-gateway.txt" "$WORK/throughput-haproxy.txt" |
    awk '$12 > 0 {printf "%.2fx ", $3 / $12}')(the goal is at most 1.2x)"
  report ""
  report "Ratio gateway/HAProxy: **$(ratio "${RPS[gateway]}" "${RPS[haproxy]}")** in requests/s, **$(ratio "${PER_CORE[gateway]}" "${PER_CORE[haproxy]}")** in requests/s per proxy core; gateway/nginx: $(ratio "${RPS[gateway]}" "${RPS[nginx]}") and $(ratio "${PER_CORE[gateway]}" "${PER_CORE[nginx]}")"
}

# ---------------------------------------------------------------- 1a. same core, same seconds

# shared: the gateway and HAProxy on the proxy core AT THE SAME TIME, each in a cpu cgroup of its
# own with equal shares, so that each gets half the core; one wrk per proxy on the load cores,
# started together. Alternating rounds leave each proxy to a different stretch of a machine whose
# speed swings by a third from minute to minute (docs/benchmarks.md); here both share every
# second, so the per-round ratio is the ratio of what each does with the same CPU, and it moves
# by a few percent where the alternating one moves by tens. With half a core each the proxies
# are usually the limit; when the load core saturates anyway, requests per CPU tick compares them.
shared() {
  local round proxy base cg t0 t1 f
  base=$(cpu_cgroup_base) || {
    report ""
    report "#### Same core, same seconds: not run (no writable cpu cgroup: $base)"
    return 0
  }
  for proxy in gateway haproxy; do
    cg="$base/vamp-bench-$proxy"
    mkdir -p "$cg"
    CGROUPS+=("$cg")
    cgroup_equal_share "$cg"
    move_to_cgroup "$cg" "${PID[$proxy]}"
  done
  log "shared: warm-up"
  shared_round "$WORK/shared-warmup" 2s
  local load_core=${LOAD_CPU%%-*} l0 m0 l1 m1
  for round in $(seq "$ROUNDS"); do
    t0=()
    for proxy in gateway haproxy; do t0+=("$(cpu_ticks "${PID[$proxy]}")"); done
    read -r l0 m0 < <(core_busy "$load_core")
    shared_round "$WORK/shared-$round" "$DURATION"
    read -r l1 m1 < <(core_busy "$load_core")
    t1=()
    for proxy in gateway haproxy; do t1+=("$(cpu_ticks "${PID[$proxy]}")"); done
    echo "$(wrk_fields "$WORK/shared-$round-gateway.txt") $((t1[0] - t0[0])) $(wrk_fields "$WORK/shared-$round-haproxy.txt") $((t1[1] - t0[1])) $(((l1 - l0) * 100 / (m1 - m0)))" >>"$WORK/shared.txt"
    log "round $round shared: $(tail -1 "$WORK/shared.txt") (gateway: rps p50 p99 errors non2xx requests cpu_ticks; haproxy: the same; load_core_busy%)"
  done
  # Back to the whole core each, for the sections after this one.
  for proxy in gateway haproxy; do move_to_cgroup "$base" "${PID[$proxy]}"; done
  f="$WORK/shared.txt"
  report ""
  report "#### Same core, same seconds (gateway and HAProxy share core $PROXY_CPU, equal cgroup shares, $ROUNDS rounds of $DURATION)"
  report ""
  report "| proxy | requests/s (median) | p99 ms (median) | errors + non-2xx | CPU ticks (median) | rounds (requests/s) |"
  report "|---|---:|---:|---:|---:|---|"
  report "| gateway | $(awk '{print $1}' "$f" | median) | $(awk '{print $3}' "$f" | median) | $(awk '{s += $4 + $5} END {print s}' "$f") | $(awk '{print $7}' "$f" | median) | $(awk '{printf "%s ", $1}' "$f")|"
  report "| haproxy | $(awk '{print $8}' "$f" | median) | $(awk '{print $10}' "$f" | median) | $(awk '{s += $11 + $12} END {print s}' "$f") | $(awk '{print $14}' "$f" | median) | $(awk '{printf "%s ", $8}' "$f")|"
  report ""
  report "Ratio gateway/HAProxy per round (requests/s, same seconds): $(awk '$8 > 0 {printf "%.3fx ", $1 / $8}' "$f")"
  report ""
  report "Ratio gateway/HAProxy per round (requests per CPU tick): $(awk '$8 > 0 && $7 > 0 && $14 > 0 {printf "%.3fx ", ($1 / $7) / ($8 / $14)}' "$f")"
  report ""
  report "Core $load_core (load) busy per round: $(awk '{printf "%d%% ", $15}' "$f")"
  if [ "$(awk '{print $15}' "$f" | median | cut -d. -f1)" -ge 95 ]; then
    report ""
    report "Note: the load core was saturated (median >= 95%), so wrk and the backends may have set the pace for one proxy or both; requests per CPU tick is then the fairer comparison."
  fi
  report ""
  report "Ratio gateway/HAProxy, median of the rounds: **$(awk '$8 > 0 {printf "%.4f\n", $1 / $8}' "$f" | median | awk '{printf "%.3fx", $1}')** in requests/s; $(awk '$8 > 0 && $7 > 0 && $14 > 0 {printf "%.4f\n", ($1 / $7) / ($8 / $14)}' "$f" | median | awk '{printf "%.3fx", $1}') in requests per CPU tick; p99 $(awk '$10 > 0 {printf "%.4f\n", $3 / $10}' "$f" | median | awk '{printf "%.2fx", $1}') (both wait for their half of the core, so both p99s are longer than in the throughput section)"
}

# shared_round PREFIX DURATION: wrk against the gateway and HAProxy at once.
shared_round() {
  local g h
  wrk_run "$1-gateway.txt" $GW_PORT "$2" &
  g=$!
  wrk_run "$1-haproxy.txt" $HAPROXY_PORT "$2" &
  h=$!
  wait $g
  wait $h
}

# cpu_cgroup_base: the directory in which cpu cgroups can be made (cgroup v1's cpu controller or
# cgroup v2 with cpu enabled); on failure, why not.
cpu_cgroup_base() {
  local d
  for d in /sys/fs/cgroup/cpu /sys/fs/cgroup/cpu,cpuacct; do
    if [ -f "$d/cpu.shares" ] && [ -w "$d" ]; then echo "$d"; return 0; fi
  done
  d=/sys/fs/cgroup
  if grep -qw cpu "$d/cgroup.subtree_control" 2>/dev/null && [ -w "$d" ]; then echo "$d"; return 0; fi
  echo "neither /sys/fs/cgroup/cpu (v1) nor /sys/fs/cgroup with the cpu controller (v2) is writable"
  return 1
}

# move_to_cgroup DIR PID: PID and its children (HAProxy's worker under its master), with all
# their threads.
move_to_cgroup() {
  local p
  for p in $2 $(pgrep -P "$2" || true); do echo "$p" >"$1/cgroup.procs"; done
}

# cgroup_equal_share DIR: the default weight and no quota, whatever an earlier run left.
cgroup_equal_share() {
  if [ -f "$1/cpu.shares" ]; then
    echo 1024 >"$1/cpu.shares"
    echo -1 >"$1/cpu.cfs_quota_us"
  else
    echo 100 >"$1/cpu.weight"
    echo max >"$1/cpu.max"
  fi
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2fx", a / b; else print "n/a"}'; }

# ---------------------------------------------------------------- 1b. latency at a fixed rate

# latency: p50/p99 of each proxy at the same fixed request rate (RATE, below every proxy's
# capacity), so that latency is compared at equal load rather than at each one's saturation.
# wrk has no rate limit; hey has (-q per connection). hey is heavier than wrk: with few
# connections (LAT_CONNS) its own latency stays small, and the row "direct" (hey straight to a
# backend) shows that floor.
latency() {
  local target round f per_conn=$(( (RATE + LAT_CONNS - 1) / LAT_CONNS ))
  for round in $(seq "$ROUNDS"); do
    for target in direct "${PROXIES[@]}"; do
      f="$WORK/hey-$target-$round.txt"
      taskset -c "$LOAD_CPU" hey -z "$DURATION" -c "$LAT_CONNS" -q "$per_conn" -H "User-Agent: $LOAD_UA" \
        "http://127.0.0.1:$(port_of "$target")/" >"$f" 2>&1
      hey_fields "$f" >>"$WORK/latency-$target.txt"
      log "latency round $round $target: $(tail -1 "$WORK/latency-$target.txt") (rps p50 p99 failed)"
    done
  done
  report ""
  report "#### Latency at a fixed rate ($((per_conn * LAT_CONNS)) requests/s: hey -c$LAT_CONNS -q$per_conn -z$DURATION, median of $ROUNDS rounds)"
  report ""
  report "| target | requests/s | p50 ms | p99 ms | failed requests |"
  report "|---|---:|---:|---:|---:|"
  declare -A P99
  for target in direct "${PROXIES[@]}"; do
    f="$WORK/latency-$target.txt"
    P99[$target]=$(awk '{print $3}' "$f" | median)
    report "| $target | $(awk '{print $1}' "$f" | median) | $(awk '{print $2}' "$f" | median) | ${P99[$target]} | $(awk '{s += $4} END {print s}' "$f") |"
  done
  report ""
  report "\"direct\" is hey straight to backend $B1: the floor of what hey can measure on its core. p99 gateway/HAProxy at this rate: **$(ratio "${P99[gateway]}" "${P99[haproxy]}")**"
}

# hey_fields FILE: "rps p50_ms p99_ms failed" from hey's output (failed: errors and non-2xx).
hey_fields() {
  awk '
    /Requests\/sec:/ { rps = $2 }
    / 50% in / { p50 = $3 * 1000 }
    / 99% in / { p99 = $3 * 1000 }
    /^Status code distribution:/ { section = "status"; next }
    /^Error distribution:/ { section = "errors"; next }
    section == "status" && /\[[0-9]+\]/ { code = $1; gsub(/[][]/, "", code); if (code !~ /^2/) failed += $2 }
    section == "errors" && /\[[0-9]+\]/ { n = $1; gsub(/[][]/, "", n); failed += n }
    END { printf "%.0f %.3f %.3f %d\n", rps, p50, p99, failed }' "$1"
}

# ---------------------------------------------------------------- 2. reconfiguration under load

# change_gateway I: the gateway's weights through the admin API.
change_gateway() { admin PUT /v1/gateways/bench "$(gateway_doc "$(weight1 "$1")" "$(weight2 "$1")")"; }

# change_haproxy_reload I: rewrite the config and reload seamlessly through the master CLI (the
# master starts a new worker with -sf, which takes the listeners over the expose-fd socket).
change_haproxy_reload() {
  fill haproxy.cfg.tmpl "$(weight1 "$1")" "$(weight2 "$1")" $HAPROXY_PORT >"$WORK/haproxy.cfg.new"
  mv "$WORK/haproxy.cfg.new" "$WORK/haproxy.cfg"
  local before
  before=$(haproxy_reloads)
  echo reload | socat - "UNIX-CONNECT:$WORK/haproxy-master.sock" >/dev/null
  # HAProxy 2.6's master re-executes itself to reload and answers nothing; the reload is done when
  # its CLI counts one more. A reload sent before that could be lost.
  local deadline=$((SECONDS + 5))
  until [ "$(haproxy_reloads)" -gt "$before" ]; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.01
  done
}

# haproxy_reloads: the master's reload counter (0 while its CLI is down, during a re-exec).
haproxy_reloads() {
  echo "show proc" | socat - "UNIX-CONNECT:$WORK/haproxy-master.sock" 2>/dev/null |
    awk '$2 == "master" {n = $3} END {print n + 0}'
}

# change_haproxy_runtime I: the runtime API, no reload.
change_haproxy_runtime() {
  local answer
  answer=$(echo "set weight weighted/sava_1.0.0 $(weight1 "$1"); set weight weighted/sava_1.1.0 $(weight2 "$1")" |
    socat - "UNIX-CONNECT:$WORK/haproxy.sock" | tr -s '\n')
  # The runtime API answers nothing but empty lines when the commands succeed.
  [ -z "${answer//$'\n'/}" ] || { log "HAProxy runtime API: $answer"; return 1; }
}

# change_nginx_reload I: rewrite the config and send the master SIGHUP (nginx's graceful reload).
change_nginx_reload() {
  fill nginx-proxy.conf.tmpl "$(weight1 "$1")" "$(weight2 "$1")" $NGINX_PORT >"$WORK/nginx-proxy.conf"
  kill -HUP "${PID[nginx]}"
}

# weight1 I, weight2 I: the weights of the two routes at change I (20/80 and 80/20 in turn).
weight1() { if [ $(($1 % 2)) -eq 0 ]; then echo 20; else echo 80; fi; }
weight2() { echo $((100 - $(weight1 "$1"))); }

# under_load PROXY METHOD: a wrk run of RECONF_SECONDS with CHANGES weight changes spread evenly
# over it: change i is due at i * RECONF_SECONDS / (CHANGES + 1); a change that takes longer than
# the gap delays the next ones (HAProxy reloads do), so the table says how many fell inside the run.
under_load() {
  local proxy=$1 method=$2 i failed=0 inside=0 f="$WORK/reconf-$1-$2.txt"
  local start due now
  wrk_run "$f" "$(port_of "$proxy")" "${RECONF_SECONDS}s" &
  local wrk_pid=$!
  start=$EPOCHREALTIME
  for i in $(seq "$CHANGES"); do
    due=$(awk -v s="$start" -v i="$i" -v d="$RECONF_SECONDS" -v n="$CHANGES" 'BEGIN {printf "%.6f", s + i * d / (n + 1)}')
    now=$EPOCHREALTIME
    sleep "$(awk -v due="$due" -v now="$now" 'BEGIN {w = due - now; printf "%.3f", (w > 0 ? w : 0)}')"
    "change_$method" "$i" || failed=$((failed + 1))
    if kill -0 $wrk_pid 2>/dev/null; then inside=$((inside + 1)); fi
  done
  local took
  took=$(awk -v s="$start" -v e="$EPOCHREALTIME" 'BEGIN {printf "%.1f", e - s}')
  wait $wrk_pid
  local rps p99 errs bad reqs
  read -r rps _ p99 errs bad reqs < <(wrk_fields "$f")
  log "reconfig $method: $rps rps, p99 $p99 ms, $errs socket errors, $bad non-2xx, $failed failed changes, $inside of $CHANGES changes inside the run, all done after ${took}s"
  report "| $method | $CHANGES | $inside | ${took}s | $failed | $reqs | $errs | $bad | $((errs + bad)) | $p99 | $rps |"
}

reconfig() {
  report ""
  report "#### Reconfiguration under load ($CHANGES weight changes 20/80 <-> 80/20 during a ${RECONF_SECONDS}s wrk run)"
  report ""
  report "| how | changes | changes while wrk ran | all changes done after | failed changes | requests | socket errors | non-2xx | failed requests | p99 ms | requests/s |"
  report "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  under_load gateway gateway
  under_load haproxy haproxy_runtime
  under_load haproxy haproxy_reload
  under_load nginx nginx_reload
  # back to 50/50 for whatever runs next, and wait until the old workers that the reloads left
  # (they finish their connections, HAProxy for at most hard-stop-after) stop taking core 0
  admin PUT /v1/gateways/bench "$(gateway_doc 50 50)"
  local deadline=$((SECONDS + 40))
  while [ "$(pgrep -c -P "${PID[haproxy]}")" -gt 1 ] || [ "$(pgrep -c -P "${PID[nginx]}")" -gt 1 ]; do
    [ $SECONDS -lt $deadline ] || { log "old HAProxy or nginx workers still running after 40s"; break; }
    sleep 0.5
  done
}

# ---------------------------------------------------------------- 3. propagation

propagation() {
  report ""
  report "#### Propagation of a weight change ($FLIPS flips 100/0 <-> 0/100; times from the PUT's answer)"
  report ""
  report '```'
  local out
  log "propagation: idle"
  out=$(taskset -c "$LOAD_CPU" "$WORK/bin/weightlag" -admin "http://127.0.0.1:$ADMIN_PORT" -port $LAG_PORT -n "$FLIPS" 2>&1) || true
  report "idle gateway:"
  report "$out"
  log "$out"
  log "propagation: while wrk loads the bench gateway"
  wrk_run "$WORK/lag-load.txt" $GW_PORT "${RECONF_SECONDS}s" &
  local wrk_pid=$!
  sleep 1
  out=$(taskset -c "$LOAD_CPU" "$WORK/bin/weightlag" -admin "http://127.0.0.1:$ADMIN_PORT" -port $LAG_PORT -n "$FLIPS" 2>&1) || true
  wait $wrk_pid
  report "gateway under wrk load (-c$CONNS on another gateway of the same process):"
  report "$out"
  log "$out"
  report '```'
}

# ---------------------------------------------------------------- 4. scale

# idle_conns PROXY: RSS of the proxy before and while it holds IDLE_CONNS idle keep-alive clients.
idle_conns() {
  local proxy=$1 pid=${PID[$1]} before during out
  before=$(rss_kb "$pid")
  : >"$WORK/idle-$proxy.txt"
  taskset -c "$LOAD_CPU" "$WORK/bin/idleconns" -addr "127.0.0.1:$(port_of "$proxy")" -n "$IDLE_CONNS" -hold 60s \
    >"$WORK/idle-$proxy.txt" 2>&1 &
  local idle_pid=$!
  local deadline=$((SECONDS + 90))
  until grep -q '^holding' "$WORK/idle-$proxy.txt" || ! kill -0 $idle_pid 2>/dev/null || [ $SECONDS -ge $deadline ]; do sleep 0.2; done
  # Idle means idle for a while: the gateway parks a connection after 1 s without a request
  # and gives the freed memory back 2 s after a wave of connections parked; HAProxy and nginx
  # settle at once. 5 s covers both.
  sleep 5
  during=$(rss_kb "$pid")
  kill $idle_pid 2>/dev/null || true
  wait $idle_pid || true
  out=$(tr '\n' ' ' <"$WORK/idle-$proxy.txt")
  log "idle conns $proxy: $before KiB -> $during KiB; $out"
  HOLDING[$proxy]=$during ADDED[$proxy]=$((during - before))
  report "| $proxy | $((before / 1024)) | $((during / 1024)) | $(((during - before) / 1024)) | $(((during - before) * 1024 / IDLE_CONNS)) | $out |"
}

# many_gateways FIRST_PORT WHAT: GATEWAYS gateways PUT through the API into a fresh gateway process
# (ports FIRST_PORT.. or, with 0, internal gateways without a listener), then the same process
# restarted from the state file those PUTs wrote.
many_gateways() {
  local first_port=$1 what=$2 state="$WORK/many-state-$1.json" out rss t0
  GOMAXPROCS=1 start many "$PROXY_CPU" "$GATEWAY_BIN" --admin-listen "127.0.0.1:$SCALE_ADMIN_PORT" \
    --state-file "$state" --log-level warn
  wait_port $SCALE_ADMIN_PORT many
  rss=$(rss_kb "${PID[many]}")
  out=$(taskset -c "$LOAD_CPU" "$WORK/bin/manygw" put -admin "http://127.0.0.1:$SCALE_ADMIN_PORT" -n "$GATEWAYS" -first-port "$first_port")
  log "$out; RSS $rss KiB before, $(rss_kb "${PID[many]}") KiB after"
  report "| $GATEWAYS $what PUT one after another through the admin API | $out | $((rss / 1024)) → $(($(rss_kb "${PID[many]}") / 1024)) |"
  stop many
  t0=$(date +%s%N)
  GOMAXPROCS=1 start many "$PROXY_CPU" "$GATEWAY_BIN" --admin-listen "127.0.0.1:$SCALE_ADMIN_PORT" \
    --state-file "$state" --log-level warn
  out=$(taskset -c "$LOAD_CPU" "$WORK/bin/manygw" wait -admin "http://127.0.0.1:$SCALE_ADMIN_PORT" -n "$GATEWAYS" -since "$t0")
  rss=$(rss_kb "${PID[many]}")
  log "$out; RSS $rss KiB"
  report "| the same $GATEWAYS $what loaded from the state file ($(($(stat -c %s "$state") / 1024)) KiB) at start | $out | $((rss / 1024)) |"
  stop many
}

scale() {
  report ""
  report "#### Memory with $IDLE_CONNS idle keep-alive client connections (VmRSS, process and children)"
  report ""
  report "| proxy | before MiB | holding MiB | added MiB | bytes per connection | client's view |"
  report "|---|---:|---:|---:|---:|---|"
  local proxy
  declare -A HOLDING ADDED
  for proxy in "${PROXIES[@]}"; do idle_conns "$proxy"; done
  report ""
  report "Gateway/HAProxy while holding them: **$(ratio "${HOLDING[gateway]}" "${HOLDING[haproxy]}")** in all, $(ratio "${ADDED[gateway]}" "${ADDED[haproxy]}") in memory added by the connections."
  report ""
  report "#### Many gateways (GOMAXPROCS=1, core $PROXY_CPU)"
  report ""
  report "| what | time | VmRSS MiB |"
  report "|---|---|---:|"
  many_gateways $FIRST_GW_PORT "gateways, each on its own port,"
  many_gateways 0 "internal gateways (port 0, no listener),"
}

# ---------------------------------------------------------------- 5. profile

# profile: gwprof (the gateway library with pprof) on the proxy core under the same wrk load; the
# top of its CPU and allocation profiles, the profiles themselves next to OUT.
profile() {
  (cd "$ROOT" && go build -o "$WORK/bin/gwprof" ./gatewayimage/bench/gwprof)
  GOMAXPROCS=1 start gwprof "$PROXY_CPU" "$WORK/bin/gwprof" --admin-listen "127.0.0.1:$PROF_ADMIN_PORT" \
    --pprof-listen "127.0.0.1:$PPROF_PORT"
  wait_port $PROF_ADMIN_PORT gwprof
  ADMIN_PORT=$PROF_ADMIN_PORT admin PUT /v1/gateways/bench "$(gateway_doc 50 50 $PROF_PORT)"
  wait_port $PROF_PORT gwprof
  # PROFILE_BEFORE: a matrix workload run once first, to profile the state it leaves behind (the
  # matrix runs its workloads one after another on the same processes).
  # The allocation profile covers the process's life: its requests count in the division below.
  local before_reqs=0
  if [ -n "${PROFILE_BEFORE:-}" ]; then
    matrix_workload "$PROFILE_BEFORE"
    if [ "$W_PATH" != / ]; then matrix_files; fi
    log "profile: $PROFILE_BEFORE first ($W_WHAT)"
    load_run "$WORK/profile-before.txt" $PROF_PORT "$DURATION"
    before_reqs=$(load_fields "$WORK/profile-before.txt" | cut -d' ' -f6)
  fi
  # PROFILE_WORKLOAD: one of the matrix's workloads instead of the GET of the other sections.
  matrix_workload "${PROFILE_WORKLOAD:-get-chrome}"
  [ -n "${PROFILE_WORKLOAD:-}" ] || W_UA=$LOAD_UA
  [ "${PROFILE_WORKLOAD:-}" != conns-10000 ] || W_MIN_SECONDS=0
  if [ "$W_PATH" != / ]; then matrix_files; fi
  load_run "$WORK/warmup.txt" $PROF_PORT 2s
  load_run "$WORK/wrk-profile.txt" $PROF_PORT 12s &
  local wrk_pid=$! base=${OUT%.md}
  sleep 1
  curl -sS -o "$base-cpu.pprof" "http://127.0.0.1:$PPROF_PORT/debug/pprof/profile?seconds=10"
  curl -sS -o "$base-allocs.pprof" "http://127.0.0.1:$PPROF_PORT/debug/pprof/allocs"
  wait $wrk_pid
  stop gwprof
  report ""
  report "#### Profile of the gateway under load (gwprof, GOMAXPROCS=1, ${PROFILE_WORKLOAD:-GET with the ${UA:-chrome} User-Agent}${PROFILE_BEFORE:+ right after $PROFILE_BEFORE}, $W_TOOL -c$W_CONNS; $(load_fields "$WORK/wrk-profile.txt" | cut -d' ' -f1) requests/s while profiled)"
  report ""
  report "Profiles: $base-cpu.pprof, $base-allocs.pprof (\`go tool pprof -http=: FILE\`)."
  # The allocation profile covers the process's life: PROFILE_BEFORE's run, the warm-up and the
  # profiled run.
  local reqs bytes objects
  reqs=$((before_reqs + $(load_fields "$WORK/warmup.txt" | cut -d' ' -f6) + $(load_fields "$WORK/wrk-profile.txt" | cut -d' ' -f6)))
  bytes=$(allocs_total alloc_space "$base-allocs.pprof")
  objects=$(allocs_total alloc_objects "$base-allocs.pprof")
  report ""
  report "Allocations per proxied request (sampled profile ÷ $reqs requests): $((bytes / reqs)) bytes, $((objects / reqs)) objects."
  report ""
  report '```'
  report "$(cd "$ROOT" && go tool pprof -top -nodecount=25 "$WORK/bin/gwprof" "$base-cpu.pprof" 2>/dev/null | sed -n '/^Showing\|flat%/,$p')"
  report ""
  report "$(cd "$ROOT" && go tool pprof -top -cum -nodecount=25 "$WORK/bin/gwprof" "$base-cpu.pprof" 2>/dev/null | sed -n '/flat%/,$p')"
  report ""
  report "$(cd "$ROOT" && go tool pprof -sample_index=alloc_space -top -nodecount=15 "$WORK/bin/gwprof" "$base-allocs.pprof" 2>/dev/null | sed -n '/^Showing\|flat%/,$p')"
  report '```'
}

# allocs_total INDEX FILE: the total of an allocation profile's sample index, in bytes or objects.
allocs_total() {
  (cd "$ROOT" && go tool pprof -sample_index="$1" -unit=B -top -nodecount=1 "$WORK/bin/gwprof" "$2" 2>/dev/null) |
    sed -n 's/.* of \([0-9]*\)B* total.*/\1/p'
}

# ---------------------------------------------------------------- 6. micro-benchmarks

# micro: `make bench-micro` (the routing decision, the condition matcher) on every core, in this
# session, so that it gets the same priority as the rest.
micro() {
  local out
  out=$(taskset -c "0-$((CORES - 1))" make -C "$ROOT" --no-print-directory bench-micro 2>&1)
  printf '%s\n' "$out" >&2
  report ""
  report "#### Micro-benchmarks of the routing core (\`make bench-micro\`)"
  report ""
  report '```'
  report "$out"
  report '```'
}

# ---------------------------------------------------------------- 7. workload matrix

# The matrix's workloads (MATRIX: names separated by spaces; the default is every one). Each is
# run against the gateway, HAProxy and nginx in the same seconds (MATRIX_MODES shared: the three
# share the proxy core in cpu cgroups of equal weight, one load generator each, started together)
# and in alternating rounds (alternating: each proxy alone on its core in turn).
MATRIX_ALL="get-chrome get-firefox answer-1k answer-64k answer-1m post-4k-length post-4k-chunked post-256k-length post-256k-chunked close conns-1000 conns-10000 slow-1000 h2"

# matrix_workload NAME: sets what one load run of workload NAME does: W_TOOL (wrk or h2load),
# W_CONNS, W_PATH, W_UA, W_SCRIPT (a wrk lua script), W_ENV (its environment), W_HEADER (one
# more request header), W_WHAT (a description for the table).
matrix_workload() {
  W_TOOL=wrk W_CONNS=$CONNS W_PATH=/ W_UA=$UA_CHROME W_SCRIPT= W_ENV=() W_HEADER= W_MIN_SECONDS=0
  case $1 in
    get-chrome) W_WHAT="GET, 14-byte answer, Chrome UA (condition evaluated, no match: weighted 50/50)" ;;
    get-firefox) W_UA=$UA_FIREFOX W_WHAT="GET, 14-byte answer, Firefox UA (condition user-agent == Firefox matches)" ;;
    answer-1k) W_PATH=/files/1k W_WHAT="GET, 1 KiB answer" ;;
    answer-64k) W_PATH=/files/64k W_WHAT="GET, 64 KiB answer" ;;
    answer-1m) W_PATH=/files/1m W_WHAT="GET, 1 MiB answer" ;;
    post-4k-length | post-4k-chunked | post-256k-length | post-256k-chunked)
      local size=${1#post-}
      size=${size%%-*}
      W_SCRIPT=$BENCH/wrk/post.lua
      W_ENV=("BODY_BYTES=$((${size%k} * 1024))" "BODY_FRAMING=${1##*-}" "WRK_UA=$UA_CHROME")
      W_WHAT="POST, $size body with ${1##*-} framing, 14-byte answer" ;;
    close) W_HEADER="Connection: close" W_WHAT="GET with Connection: close (a new client connection per request)" ;;
    conns-1000) W_CONNS=1000 W_WHAT="GET, 1,000 connections" ;;
    conns-10000)
      # wrk opens the 10,000 connections inside its run, on the load core: 4 s can pass before the
      # first request on a busy machine, so this workload runs for at least 15 s.
      W_CONNS=10000 W_MIN_SECONDS=15 W_WHAT="GET, 10,000 connections (runs of at least 15 s)" ;;
    slow-1000)
      W_CONNS=1000 W_SCRIPT=$BENCH/wrk/slow.lua W_ENV=(DELAY_MS=100)
      W_WHAT="slow clients: 1,000 connections, each waiting 100 ms before every request (at most 10,000 requests/s)" ;;
    h2)
      W_TOOL=h2load W_CONNS=$CONNS
      W_WHAT="HTTP/2 with prior knowledge (h2c), $CONNS connections, 10 streams each (h2load; percentiles from its per-request log)" ;;
    *) log "matrix: no workload $1 (known: $MATRIX_ALL)"; return 1 ;;
  esac
}

# load_run OUTFILE PORT DURATION: one run of the current workload against 127.0.0.1:PORT.
load_run() {
  set -- "$1" "$2" "$(w_duration "$3")"
  if [ "$W_TOOL" = h2load ]; then
    taskset -c "$LOAD_CPU" h2load -c"$W_CONNS" -m10 -D"${3%s}" -H "user-agent: $W_UA" \
      --log-file="$1.requests" "http://127.0.0.1:$2$W_PATH" >"$1" 2>&1
    return 0
  fi
  local args=(-t"$THREADS" -c"$W_CONNS" -d"$3" --latency --timeout 10s -H "User-Agent: $W_UA")
  [ -z "$W_HEADER" ] || args+=(-H "$W_HEADER")
  [ -z "$W_SCRIPT" ] || args+=(-s "$W_SCRIPT")
  env "${W_ENV[@]}" taskset -c "$LOAD_CPU" wrk "${args[@]}" "http://127.0.0.1:$2$W_PATH" >"$1" 2>&1
}

# w_duration DURATION: DURATION, or the current workload's minimum if that is longer.
w_duration() {
  local d=${1%s}
  if [ "$d" -lt "$W_MIN_SECONDS" ]; then echo "${W_MIN_SECONDS}s"; else echo "$1"; fi
}

# load_fields FILE: wrk_fields for either tool ("rps p50_ms p99_ms errors non_2xx requests").
# h2load prints no percentiles: they come from its per-request log (FILE.requests, written by
# load_run: one line per request, its time in microseconds in the third column).
load_fields() {
  if [ "$W_TOOL" != h2load ]; then wrk_fields "$1"; return; fi
  local pct
  pct=$(awk -F'\t' '$2 != -1 { print $3 }' "$1.requests" | sort -n | awk '
    { v[NR] = $1 }
    END { if (NR == 0) { print "0 0"; exit }
          i50 = int(NR * 0.50); if (i50 < 1) i50 = 1; i99 = int(NR * 0.99); if (i99 < 1) i99 = 1
          printf "%.3f %.3f\n", v[i50] / 1000, v[i99] / 1000 }')
  awk -v pct="$pct" '
    /^finished in/ { rps = $4 }
    /^requests:/ { reqs = $8; errs = $10 + $12 + $14 }
    /^status codes:/ { bad = $7 + $9 }
    END { split(pct, p, " "); printf "%.0f %.3f %.3f %d %d %d\n", rps, p[1], p[2], errs, bad, reqs }' "$1"
}

# matrix_port PROXY: the port PROXY serves the current workload on.
matrix_port() {
  if [ "$W_TOOL" = h2load ] && [ "$1" = nginx ]; then echo $NGINX_H2_PORT; else port_of "$1"; fi
}

matrix() {
  local modes=${MATRIX_MODES:-shared alternating} workloads=${MATRIX:-$MATRIX_ALL} w base= proxy cg
  matrix_files
  case " $modes " in *" shared "*)
    base=$(cpu_cgroup_base) || { log "matrix: no cpu cgroup ($base): alternating rounds only"; modes=alternating; } ;;
  esac
  if [ -n "$base" ]; then
    for proxy in "${PROXIES[@]}"; do
      cg="$base/vamp-bench-$proxy"
      mkdir -p "$cg"
      CGROUPS+=("$cg")
      cgroup_equal_share "$cg"
      move_to_cgroup "$cg" "${PID[$proxy]}"
    done
  fi
  : >"$WORK/matrix-shared.txt"
  : >"$WORK/matrix-alternating.txt"
  for w in $workloads; do
    matrix_workload "$w" || continue
    log "matrix: $w ($W_WHAT)"
    # warm-up: every proxy gets the workload once, which also opens its connections to the instances
    for proxy in "${PROXIES[@]}"; do load_run "$WORK/warmup.txt" "$(matrix_port "$proxy")" 2s; done
    case " $modes " in *" shared "*) matrix_shared "$w" ;; esac
    case " $modes " in *" alternating "*) matrix_alternating "$w" ;; esac
  done
  if [ -n "$base" ]; then for proxy in "${PROXIES[@]}"; do move_to_cgroup "$base" "${PID[$proxy]}"; done; fi
  if [ "$BACKEND" != nginx ]; then
    stop_backends
    start_backends "$BACKEND"
  fi
  matrix_report "$modes" "$workloads"
}

# matrix_files: the answers of several sizes, files that the nginx backends serve (started here
# if the Go backends run; matrix puts the Go ones back at its end).
matrix_files() {
  [ ! -f "$WORK/files/1m" ] || return 0
  mkdir -p "$WORK/files"
  head -c 1024 /dev/urandom >"$WORK/files/1k"
  head -c 65536 /dev/urandom >"$WORK/files/64k"
  head -c 1048576 /dev/urandom >"$WORK/files/1m"
  # nginx's workers run as an unprivileged user: they must reach the files (and the proxy's
  # temporary directory, should it ever buffer), which mktemp made the owner's alone.
  chmod 711 "$WORK"
  chmod 755 "$WORK/files"
  chmod 644 "$WORK"/files/*
  chmod 1777 "$WORK/nginx-proxy-tmp"
  if [ "$BACKEND" != nginx ]; then
    stop_backends
    start_backends nginx
  fi
}

# matrix_shared W: ROUNDS rounds of the three proxies under load at once on the proxy core.
# One line per round in matrix-shared.txt: W, then per proxy "rps p50 p99 errors non2xx requests
# cpu_ticks", then the load core's busy %.
matrix_shared() {
  local round proxy i load_core=${LOAD_CPU%%-*} l0 m0 l1 m1 line
  local -a t0 t1 pids
  for round in $(seq "$ROUNDS"); do
    t0=()
    for proxy in "${PROXIES[@]}"; do t0+=("$(cpu_ticks "${PID[$proxy]}")"); done
    read -r l0 m0 < <(core_busy "$load_core")
    pids=()
    for proxy in "${PROXIES[@]}"; do
      load_run "$WORK/m-$1-$round-$proxy.txt" "$(matrix_port "$proxy")" "$DURATION" &
      pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i"; done
    read -r l1 m1 < <(core_busy "$load_core")
    line=$1
    i=0
    for proxy in "${PROXIES[@]}"; do
      line+=" $(load_fields "$WORK/m-$1-$round-$proxy.txt") $(($(cpu_ticks "${PID[$proxy]}") - t0[i]))"
      i=$((i + 1))
    done
    echo "$line $(((l1 - l0) * 100 / (m1 - m0)))" >>"$WORK/matrix-shared.txt"
    log "matrix $1 shared round $round: $(tail -1 "$WORK/matrix-shared.txt" | cut -d' ' -f2-) (per proxy gateway haproxy nginx: rps p50 p99 errors non2xx requests cpu_ticks; load_core_busy%)"
  done
}

# matrix_alternating W: ROUNDS rounds of gateway, HAProxy, nginx one after another, each alone.
# Same line format as matrix_shared (cpu_ticks over each proxy's own run).
matrix_alternating() {
  local round proxy t0 line f load_core=${LOAD_CPU%%-*} l0 m0 l1 m1 busy
  for round in $(seq "$ROUNDS"); do
    line=$1 busy=0
    for proxy in "${PROXIES[@]}"; do
      f="$WORK/a-$1-$round-$proxy.txt"
      t0=$(cpu_ticks "${PID[$proxy]}")
      read -r l0 m0 < <(core_busy "$load_core")
      load_run "$f" "$(matrix_port "$proxy")" "$DURATION"
      read -r l1 m1 < <(core_busy "$load_core")
      line+=" $(load_fields "$f") $(($(cpu_ticks "${PID[$proxy]}") - t0))"
      busy=$((busy + (l1 - l0) * 100 / (m1 - m0)))
    done
    echo "$line $((busy / ${#PROXIES[@]}))" >>"$WORK/matrix-alternating.txt"
    log "matrix $1 alternating round $round: $(tail -1 "$WORK/matrix-alternating.txt" | cut -d' ' -f2-)"
  done
}

# matrix_report MODES WORKLOADS: one table per mode. Columns of a line (see matrix_shared):
# gateway $2-$8, haproxy $9-$15, nginx $16-$22 (rps p50 p99 errors non2xx requests ticks), $23 load.
matrix_report() {
  local mode w f
  report ""
  report "#### Workload matrix ($ROUNDS rounds of $DURATION per workload and mode; medians of the rounds)"
  report ""
  report "Workloads:"
  report ""
  for w in $2; do
    matrix_workload "$w" && report "- \`$w\`: $W_WHAT"
  done
  for mode in $1; do
    f="$WORK/matrix-$mode.txt"
    report ""
    if [ "$mode" = shared ]; then
      report "Same seconds: gateway, HAProxy and nginx share core $PROXY_CPU at once (equal cgroup weights), one load generator each on core(s) $LOAD_CPU, started together."
    else
      report "Alternating rounds: gateway, HAProxy, nginx one after another, each alone on core $PROXY_CPU (ratios are medians of the per-round ratios)."
    fi
    report ""
    report "| workload | gateway req/s | HAProxy req/s | nginx req/s | gw/HAProxy | gw/HAProxy per CPU tick | gw/nginx | gw/nginx per CPU tick | p99 ms gw | p99 ms HAProxy | p99 ms nginx | p99 gw/HAProxy | errors + non-2xx gw/HAProxy/nginx | load core busy |"
    report "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for w in $2; do
      grep -q "^$w " "$f" || continue
      report "| $w | $(col "$f" "$w" 2) | $(col "$f" "$w" 9) | $(col "$f" "$w" 16) | $(per_round "$f" "$w" '$2 / $9' '$9 > 0') | $(per_round "$f" "$w" '($2 / $8) / ($9 / $15)' '$8 > 0 && $9 > 0 && $15 > 0') | $(per_round "$f" "$w" '$2 / $16' '$16 > 0') | $(per_round "$f" "$w" '($2 / $8) / ($16 / $22)' '$8 > 0 && $16 > 0 && $22 > 0') | $(col "$f" "$w" 4) | $(col "$f" "$w" 11) | $(col "$f" "$w" 18) | $(per_round "$f" "$w" '$4 / $11' '$11 > 0') | $(awk -v w="$w" '$1 == w {g += $5 + $6; h += $12 + $13; n += $19 + $20} END {print g "/" h "/" n}' "$f") | $(col "$f" "$w" 23)% |"
    done
  done
  for mode in $1; do
    report ""
    report "Per-round ratios gw/HAProxy in requests/s ($mode): $(awk '{r[$1] = r[$1] sprintf(" %.3f", ($9 > 0 ? $2 / $9 : 0))} END {for (w in r) printf "%s:%s; ", w, r[w]}' "$WORK/matrix-$mode.txt")"
  done
}

# col FILE W N: the median of column N over workload W's rounds.
col() { awk -v w="$2" -v n="$3" '$1 == w {print $n}' "$1" | median; }

# per_round FILE W EXPR COND: the median over workload W's rounds of EXPR (an awk expression of
# the columns), rounds where COND fails left out; "x" appended.
per_round() {
  awk -v w="$2" "\$1 == w && $4 {printf \"%.4f\\n\", $3}" "$1" | median | awk 'NF {printf "%.3fx", $1} !NF {print "n/a"}'
}

# ---------------------------------------------------------------- 8. scaling with threads

# scaling: the gateway with GOMAXPROCS 1 then 2 (up to the cores there are), HAProxy with nbthread 1
# then 2, each a fresh process allowed on every core, in alternating rounds. The load (wrk with one
# thread per core) runs on the same cores, and the backends stay on the load core: on a 2-core
# machine a proxy with 2 threads competes with its own load, so the figures say how each proxy
# uses a second thread when the core is shared, not what it would do with cores of its own.
scaling() {
  local n round proxy f t0 all="0-$((CORES - 1))" max=$((CORES < 2 ? CORES : 2))
  : >"$WORK/scaling.txt"
  for n in $(seq "$max"); do
    GOMAXPROCS=$n start scale-gateway "$all" "$GATEWAY_BIN" --admin-listen "127.0.0.1:$SCALE_ADMIN_PORT" \
      --state-file "$WORK/scale-state-$n.json" --log-level warn
    wait_port $SCALE_ADMIN_PORT scale-gateway
    ADMIN_PORT=$SCALE_ADMIN_PORT admin PUT /v1/gateways/bench "$(gateway_doc 50 50 $SCALE_GW_PORT)"
    wait_port $SCALE_GW_PORT
    NBTHREAD=$n fill haproxy.cfg.tmpl 50 50 $SCALE_HAPROXY_PORT | sed "s|haproxy.sock|haproxy-scale.sock|" >"$WORK/haproxy-scale.cfg"
    start scale-haproxy "$all" haproxy -db -f "$WORK/haproxy-scale.cfg"
    wait_port $SCALE_HAPROXY_PORT scale-haproxy
    for proxy in gateway haproxy; do scaling_wrk "$WORK/warmup.txt" "$(scaling_port $proxy)" 2s; done
    for round in $(seq "$ROUNDS"); do
      for proxy in gateway haproxy; do
        f="$WORK/scale-$n-$round-$proxy.txt"
        t0=$(cpu_ticks "${PID[scale-$proxy]}")
        scaling_wrk "$f" "$(scaling_port $proxy)" "$DURATION"
        echo "$n $proxy $(wrk_fields "$f") $(($(cpu_ticks "${PID[scale-$proxy]}") - t0))" >>"$WORK/scaling.txt"
        log "scaling threads=$n round $round: $(tail -1 "$WORK/scaling.txt") (threads proxy rps p50 p99 errors non2xx requests cpu_ticks)"
      done
    done
    stop scale-gateway
    stop scale-haproxy
  done
  report ""
  report "#### Threads 1 → $max: gateway GOMAXPROCS, HAProxy nbthread (each on cores $all, wrk -t$CORES -c$CONNS on the same cores, backends on core(s) $LOAD_CPU; $ROUNDS alternating rounds of $DURATION, medians)"
  report ""
  report "| threads | gateway req/s | HAProxy req/s | gw/HAProxy | gateway CPU (cores) | HAProxy CPU (cores) | gw/HAProxy per CPU tick | p99 ms gw | p99 ms HAProxy | rounds gw | rounds HAProxy |"
  report "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"
  local hz secs=${DURATION%s}
  hz=$(getconf CLK_TCK)
  for n in $(seq "$max"); do
    report "| $n | $(scol "$n" gateway 3) | $(scol "$n" haproxy 3) | $(ratio "$(scol "$n" gateway 3)" "$(scol "$n" haproxy 3)") | $(awk -v n="$n" -v d=$((hz * secs)) '$1 == n && $2 == "gateway" {printf "%.2f\n", $9 / d}' "$WORK/scaling.txt" | median) | $(awk -v n="$n" -v d=$((hz * secs)) '$1 == n && $2 == "haproxy" {printf "%.2f\n", $9 / d}' "$WORK/scaling.txt" | median) | $(ratio "$(awk -v n="$n" '$1 == n && $2 == "gateway" && $9 > 0 {print $3 / $9}' "$WORK/scaling.txt" | median)" "$(awk -v n="$n" '$1 == n && $2 == "haproxy" && $9 > 0 {print $3 / $9}' "$WORK/scaling.txt" | median)") | $(scol "$n" gateway 5) | $(scol "$n" haproxy 5) | $(awk -v n="$n" '$1 == n && $2 == "gateway" {printf "%s ", $3}' "$WORK/scaling.txt")| $(awk -v n="$n" '$1 == n && $2 == "haproxy" {printf "%s ", $3}' "$WORK/scaling.txt")|"
  done
  if [ "$max" -ge 2 ]; then
    report ""
    report "From 1 to 2 threads: gateway $(ratio "$(scol 2 gateway 3)" "$(scol 1 gateway 3)"), HAProxy $(ratio "$(scol 2 haproxy 3)" "$(scol 1 haproxy 3)") in requests/s."
  fi
}

# scol THREADS PROXY N: the median of column N of scaling.txt for that thread count and proxy.
scol() { awk -v n="$1" -v p="$2" -v c="$3" '$1 == n && $2 == p {print $c}' "$WORK/scaling.txt" | median; }

scaling_port() { if [ "$1" = gateway ]; then echo $SCALE_GW_PORT; else echo $SCALE_HAPROXY_PORT; fi; }

# scaling_wrk OUTFILE PORT DURATION: wrk with a thread per core, on every core.
scaling_wrk() {
  taskset -c "0-$((CORES - 1))" wrk -t"$CORES" -c"$CONNS" -d"$3" --latency -H "User-Agent: $LOAD_UA" \
    "http://127.0.0.1:$2/" >"$1" 2>&1
}

# ---------------------------------------------------------------- main

main() {
  local sections=("$@")
  [ ${#sections[@]} -gt 0 ] || sections=(throughput shared latency reconfig propagation scale micro)
  install_missing
  build_programs
  # From here on the script itself and whatever it runs unpinned (curl, socat, sed for the weight
  # changes) stay off the proxy's core; the proxies are pinned to theirs explicitly.
  taskset -pc "$LOAD_CPU" $$ >/dev/null
  # For the idle connections: as many file descriptors as allowed, for every process started from
  # here on (raising the hard limit needs CAP_SYS_RESOURCE, which containers often lack).
  ulimit -n "$(ulimit -Hn)"
  if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((IDLE_CONNS + 1000)) ]; then
    log "the open-files limit $(ulimit -n) is below IDLE_CONNS=$IDLE_CONNS + 1000: lowering IDLE_CONNS"
    IDLE_CONNS=$(($(ulimit -n) - 1000))
  fi
  report "### Run of $(date -u '+%Y-%m-%d %H:%M UTC'): \`gatewayimage/bench/run.sh ${sections[*]}\`"
  report ""
  machine
  pick_backend
  report "- backends: $BACKEND (two instances on ports $B1 and $B2)"
  start_backends "$BACKEND"
  start_gateway
  start_haproxy
  start_nginx
  local section
  for section in "${sections[@]}"; do
    report_load_before=$(load1)
    log "== $section (load average $report_load_before)"
    "$section"
    report ""
    report "(load average before this section: $report_load_before, after: $(load1))"
  done
  printf '%s\n' "${REPORT[@]}" | tee "$OUT"
  log "results also in $OUT"
}

main "$@"
