#!/usr/bin/env bash
# instructions.sh OUT BIN [N]: the gateway BIN under callgrind, its instructions counted while
# exactly 64*N keep-alive GETs pass (fixedload; default N=400); the profile goes to OUT (read it
# with callgrind_annotate, or parts.py), the request count to OUT.req. BIN must keep its symbols
# (go build, without -ldflags=-s). Valgrind 3.19 knows neither RDTSCP nor Go's asynchronous
# preemption signals: GODEBUG turns both off.
source "$(dirname "$0")/common.sh"
OUT=$1 BIN=$2 N=${3:-400}
rm -f "$OUT" "$OUT".*
GODEBUG=cpu.rdtscp=off,asyncpreemptoff=1 start_gateway 0 valgrind --tool=callgrind --separate-recs=1 \
  --callgrind-out-file="$OUT" "$BIN"
load $GW_PORT 3s # warm-up: the pools fill, the code paths are translated
sleep 1
coproc FL { taskset -c 1 "$WORK/fixedload" -addr 127.0.0.1:$GW_PORT -c 64 -n "$N"; }
read -r line <&"${FL[0]}"
[ "$line" = ready ] || { echo "fixedload: $line" >&2; exit 1; }
sleep 3 # the gateway (slow under valgrind) accepts the connections before the count starts
callgrind_control -z $GW_PID >/dev/null
echo go >&"${FL[1]}"
read -r line <&"${FL[0]}"
callgrind_control -d $GW_PID >/dev/null
echo "$BIN: fixedload $line"
exec {FL[1]}>&-
wait "$FL_PID" 2>/dev/null || true
echo $((64 * N)) >"$OUT.req"
