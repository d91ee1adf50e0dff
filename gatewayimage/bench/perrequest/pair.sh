#!/usr/bin/env bash
# pair.sh BIN_A BIN_B [ROUNDS] [DURATION]: two gateway builds on core 0 at the same time, each in
# a cpu cgroup with equal shares, one `wrk -c64` each on core 1; per round: requests, CPU ticks,
# requests per tick and B/A, and with PERF=1 system calls (all, epoll_pwait) per request. Both
# builds share every second, so the machine's swings fall on both alike.
source "$(dirname "$0")/common.sh"
A=$1 B=$2 ROUNDS=${3:-6} DUR=${4:-5s}
declare -A PID PORT
base=/sys/fs/cgroup/cpu
[ -w "$base" ] || { echo "pair.sh: $base (cgroup v1 cpu controller) is not writable" >&2; exit 1; }
n=0
for side in a b; do
  bin=$A
  [ $side = b ] && bin=$B
  start_gateway $n "$bin"
  PID[$side]=$GW_PID PORT[$side]=$GW_PORT
  cg=$base/vamp-perrequest-$side
  mkdir -p "$cg"
  CGROUPS+=("$cg")
  echo 1024 >"$cg/cpu.shares"
  echo -1 >"$cg/cpu.cfs_quota_us"
  for t in /proc/$GW_PID/task/*; do echo "${t##*/}" >"$cg/tasks"; done
  n=$((n + 1))
done
both() { # both DURATION
  load ${PORT[a]} "$1" "$WORK/wrk-a.txt" &
  local x=$!
  load ${PORT[b]} "$1" "$WORK/wrk-b.txt" &
  local y=$!
  wait $x
  wait $y
}
both 2s
EV='raw_syscalls:sys_enter,syscalls:sys_enter_epoll_pwait'
for r in $(seq "$ROUNDS"); do
  ta0=$(ticks ${PID[a]}) tb0=$(ticks ${PID[b]})
  if [ "${PERF:-0}" = 1 ]; then
    perf stat -x, -e "$EV" -p ${PID[a]} -o "$WORK/perf-a.txt" &
    pa=$!
    perf stat -x, -e "$EV" -p ${PID[b]} -o "$WORK/perf-b.txt" &
    pb=$!
    sleep 0.2
  fi
  both "$DUR"
  if [ "${PERF:-0}" = 1 ]; then
    kill -INT $pa $pb
    wait $pa $pb 2>/dev/null || true
  fi
  ta=$(($(ticks ${PID[a]}) - ta0)) tb=$(($(ticks ${PID[b]}) - tb0))
  ra=$(requests "$WORK/wrk-a.txt") rb=$(requests "$WORK/wrk-b.txt")
  line=$(printf 'round %d  A: %d requests %d ticks  B: %d requests %d ticks  B/A requests %.3f, per tick %.3f' \
    "$r" "$ra" "$ta" "$rb" "$tb" "$(echo "$rb / $ra" | bc -l)" "$(echo "($rb / $tb) / ($ra / $ta)" | bc -l)")
  if [ "${PERF:-0}" = 1 ]; then
    line="$line  system calls, epoll_pwait per request A: $(awk -F, -v r="$ra" '$1 ~ /^[0-9]+$/ {printf "%.3f ", $1 / r}' "$WORK/perf-a.txt")B: $(awk -F, -v r="$rb" '$1 ~ /^[0-9]+$/ {printf "%.3f ", $1 / r}' "$WORK/perf-b.txt")"
  fi
  echo "$line"
done
