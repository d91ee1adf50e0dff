#!/usr/bin/env bash
# syscalls.sh BIN [DURATION]: system calls (perf tracepoints), voluntary context switches and CPU
# time per request of the gateway BIN under `wrk -t1 -c64 -dDURATION` (default 5s), alone on core 0.
# Needs perf with tracepoints (perf_event_paranoid <= 1 or root).
source "$(dirname "$0")/common.sh"
BIN=$1 DUR=${2:-5s}
start_gateway 0 "$BIN"
load $GW_PORT 2s
EV='raw_syscalls:sys_enter,syscalls:sys_enter_recvfrom,syscalls:sys_enter_sendto,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_epoll_ctl,syscalls:sys_enter_futex,syscalls:sys_enter_nanosleep'
v0=$(voluntary_switches $GW_PID) t0=$(ticks $GW_PID)
perf stat -x, -e "$EV" -p $GW_PID -o "$WORK/perf.txt" &
perf_pid=$!
sleep 0.2
load $GW_PORT "$DUR" "$WORK/wrk.txt"
kill -INT $perf_pid
wait $perf_pid 2>/dev/null || true
v1=$(voluntary_switches $GW_PID) t1=$(ticks $GW_PID)
req=$(requests "$WORK/wrk.txt")
printf '%s: %s requests; per request: voluntary switches %.3f, CPU %.1f us;' "$BIN" "$req" \
  "$(echo "($v1 - $v0) / $req" | bc -l)" "$(echo "($t1 - $t0) * 10000 / $req" | bc -l)"
awk -F, -v r="$req" '$1 ~ /^[0-9]+$/ {sub("syscalls:sys_enter_", "", $3); printf " %s %.3f", $3, $1 / r} END {print ""}' "$WORK/perf.txt"
