# The seed scenario's traffic checks, shared by demo.sh and demo-ha.sh (sourced, not run): the
# steps, the requests sent after each and the split expected per user agent. DEMO names the
# script in its messages.
STEPS=(1-deploy 3-canary 4-fifty-fifty 5-firefox)
REQUESTS=100
FIREFOX_UA="Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
CHROME_UA="Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"

# Expected split per step and user agent: "requests to sava:1.0.0 / requests to sava:1.1.0".
declare -A EXPECT=(
  [1-deploy/Firefox]="100/0" [1-deploy/Chrome]="100/0"
  [3-canary/Firefox]="100/0" [3-canary/Chrome]="100/0"
  [4-fifty-fifty/Firefox]="50/50" [4-fifty-fifty/Chrome]="50/50"
  [5-firefox/Firefox]="100/0" [5-firefox/Chrome]="0/100"
)

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
die() { printf '\n%s: %s\n' "$DEMO" "$*" >&2; exit 1; }
