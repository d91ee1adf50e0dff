#!/usr/bin/env bash
# The seed scenario end to end on one machine (`make demo`): start the gateway with the local dev
# runtime, apply each step of examples/quickstart with the real Terraform CLI (its plan printed
# first: that is the release a reviewer sees), send 100 Firefox and 100 Chrome requests to the
# stable endpoint after each step, print where they went, and check it. Everything it starts is
# destroyed and stopped on exit, also on failure or Ctrl-C.
#
# Needs bin/vamp-gateway, bin/terraform-provider-vamp and bin/sava (make demo builds them), curl,
# and TERRAFORM (default: terraform on PATH). Ports: the admin API on 127.0.0.1:${VAMP_DEMO_ADMIN_PORT:-9900},
# the blueprint's stable endpoint on 127.0.0.1:9050.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TERRAFORM="${TERRAFORM:-$(command -v terraform || true)}"
ADMIN_PORT="${VAMP_DEMO_ADMIN_PORT:-9900}"
ENDPOINT="http://127.0.0.1:9050/"
DEMO=demo
# shellcheck source=scenario.sh
source "$ROOT/examples/quickstart/scenario.sh"

# --- preconditions -----------------------------------------------------------------------------
[[ -n "$TERRAFORM" && -x "$TERRAFORM" ]] || die "no Terraform CLI: set TERRAFORM=/path/to/terraform or run 'make tools'"
command -v curl >/dev/null || die "curl is needed to send the requests"
for bin in vamp-gateway terraform-provider-vamp; do
  [[ -x "$ROOT/bin/$bin" ]] || die "bin/$bin is missing: run 'make build' (make demo does)"
done
if [[ ! -x "$ROOT/bin/sava" ]]; then
  say "building bin/sava, the demo service (examples/sava)"
  (cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -o bin/sava ./examples/sava)
fi
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port_busy "$ADMIN_PORT" && die "127.0.0.1:$ADMIN_PORT is in use (another vamp-gateway dev?): stop it, or set VAMP_DEMO_ADMIN_PORT"
port_busy 9050 && die "127.0.0.1:9050, the blueprint's stable endpoint, is in use (another vamp-gateway dev?): stop it first"

# --- clean-up on every exit --------------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/vamp-demo.XXXXXX")"
GATEWAY_PID=""
APPLIED_STEP=""
STATUS="FAILED"
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  if [[ -n "$APPLIED_STEP" ]]; then
    say "terraform destroy (removes every process and gateway the demo made)"
    "$TERRAFORM" -chdir="$WORK/quickstart/$APPLIED_STEP" destroy -auto-approve -input=false -no-color >"$WORK/destroy.log" 2>&1 \
      && tail -n 1 "$WORK/destroy.log" || { cat "$WORK/destroy.log"; rc=1; }
    left=$(curl -s -H "Authorization: Bearer $VAMP_GATEWAY_TOKEN" "http://127.0.0.1:$ADMIN_PORT/v1/services" | grep -c '"id"')
    [[ "$left" == 0 ]] && echo "no local service left running" || { echo "demo: $left local services still defined after destroy" >&2; rc=1; }
  fi
  if [[ -n "$GATEWAY_PID" ]]; then
    say "stopping vamp-gateway dev (pid $GATEWAY_PID) and its processes"
    kill -TERM "$GATEWAY_PID" 2>/dev/null
    for _ in $(seq 150); do kill -0 "$GATEWAY_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$GATEWAY_PID" 2>/dev/null
    wait "$GATEWAY_PID" 2>/dev/null
  fi
  if [[ $rc -ne 0 && -f "$WORK/gateway.log" ]]; then
    echo "--- last lines of the gateway's log ---" >&2
    tail -n 40 "$WORK/gateway.log" >&2
  fi
  rm -rf "$WORK"
  [[ $rc -eq 0 ]] && STATUS="OK"
  printf '\ndemo: %s\n' "$STATUS"
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "demo: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
trap 'echo "demo: interrupted" >&2; exit 130' INT TERM

# --- the dev runtime ---------------------------------------------------------------------------
say "starting bin/vamp-gateway dev (admin API on 127.0.0.1:$ADMIN_PORT, processes run in $ROOT)"
# Its own process group (set -m): Ctrl-C reaches this script, whose clean-up still needs the
# gateway to destroy what Terraform made, then stops it.
set -m
(cd "$ROOT" && exec bin/vamp-gateway dev --state-dir "$WORK/dev-state" --admin-listen "127.0.0.1:$ADMIN_PORT" \
  --drain-timeout 5s >"$WORK/gateway.log" 2>&1) &
GATEWAY_PID=$!
set +m
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$ADMIN_PORT/healthz" >/dev/null && break
  kill -0 "$GATEWAY_PID" 2>/dev/null || die "vamp-gateway dev exited: $(tail -n 5 "$WORK/gateway.log")"
  sleep 0.1
done
curl -sf "http://127.0.0.1:$ADMIN_PORT/healthz" >/dev/null || die "vamp-gateway dev did not come up in 10s"
export VAMP_GATEWAY_URL="http://127.0.0.1:$ADMIN_PORT"
VAMP_GATEWAY_TOKEN="$(cat "$WORK/dev-state/token")"
export VAMP_GATEWAY_TOKEN

# --- Terraform with the provider built in bin/ -------------------------------------------------
# A filesystem mirror holding bin/terraform-provider-vamp, so that a plain `terraform init`
# installs it offline. (dev_overrides would skip installation, but then `terraform init` still
# asks registry.terraform.io for vamp-canary/vamp, and init is needed for the steps' shared
# backend.)
PLATFORM="$(TF_CLI_CONFIG_FILE=/dev/null "$TERRAFORM" version -json | sed -n 's/.*"platform": *"\([^"]*\)".*/\1/p')"
[[ -n "$PLATFORM" ]] || die "cannot tell Terraform's platform from '$TERRAFORM version -json'"
MIRROR="$WORK/providers"
mkdir -p "$MIRROR/registry.terraform.io/vamp-canary/vamp/0.0.1/$PLATFORM"
cp "$ROOT/bin/terraform-provider-vamp" "$MIRROR/registry.terraform.io/vamp-canary/vamp/0.0.1/$PLATFORM/terraform-provider-vamp_v0.0.1"
cat >"$WORK/terraformrc" <<EOF
provider_installation {
  filesystem_mirror {
    path    = "$MIRROR"
    include = ["registry.terraform.io/vamp-canary/vamp"]
  }
}
EOF
export TF_CLI_CONFIG_FILE="$WORK/terraformrc" TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1
# A copy, so that Terraform's state and .terraform/ stay out of the repository.
mkdir -p "$WORK/quickstart"
cp -R "$ROOT/examples/quickstart/." "$WORK/quickstart/"
"$TERRAFORM" version | sed -n 1p

# count UA: sends REQUESTS requests with the user agent and prints "<1.0.0 count> <1.1.0 count> <other>".
count() {
  local ua="$1" urls=()
  for _ in $(seq "$REQUESTS"); do urls+=("$ENDPOINT"); done
  curl -s --max-time 30 -A "$ua" "${urls[@]}" | awk '
    $0 == "sava:1.0.0" { a++ } $0 == "sava:1.1.0" { b++ } END { printf "%d %d\n", a, b }'
}

ROWS=()
FAILED=0
for step in "${STEPS[@]}"; do
  dir="$WORK/quickstart/$step"
  say "step $step: terraform plan (the release to review)"
  "$TERRAFORM" -chdir="$dir" init -input=false -no-color >"$WORK/init-$step.log" 2>&1 || { cat "$WORK/init-$step.log"; die "terraform init failed in $step"; }
  "$TERRAFORM" -chdir="$dir" plan -input=false -no-color -out=release.tfplan
  say "step $step: terraform apply"
  APPLIED_STEP="$step"
  "$TERRAFORM" -chdir="$dir" apply -input=false -no-color -auto-approve release.tfplan
  for agent in Firefox Chrome; do
    ua="$FIREFOX_UA"; [[ $agent == Chrome ]] && ua="$CHROME_UA"
    read -r v1 v2 < <(count "$ua")
    verdict="ok"
    if [[ "$v1/$v2" != "${EXPECT[$step/$agent]}" ]]; then verdict="expected ${EXPECT[$step/$agent]}"; FAILED=1; fi
    ROWS+=("$(printf '%-15s %-8s %11s %11s   %s' "$step" "$agent" "$v1" "$v2" "$verdict")")
  done
  printf '\n%-15s %-8s %11s %11s\n' step UA sava:1.0.0 sava:1.1.0
  printf '%s\n' "${ROWS[@]: -2}"
done

say "where $REQUESTS requests per user agent went, step by step (via $ENDPOINT)"
printf '%-15s %-8s %11s %11s\n' step UA sava:1.0.0 sava:1.1.0
printf '%s\n' "${ROWS[@]}"
[[ $FAILED -eq 0 ]] || die "the traffic did not go where the steps say"
