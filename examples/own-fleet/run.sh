#!/usr/bin/env bash
# import -> calibrate -> run -> backtest on the files of this folder (setpoint.toml says what
# each step is for). Usage: examples/own-fleet/run.sh [FLEETSIM] [OUT]
#
# FLEETSIM: the binary (default: `fleetsim` on the PATH, else target/release/fleetsim);
# OUT: where the outputs go (default: a temporary folder). Fails (exit 1) when a step fails or
# its output is not what the committed files say: the fleet file is what `import` writes, the
# behaviour pasted into setpoint.toml is what `calibrate` writes, the expectations hold, and
# the real spring run falls inside its predicted band (at most 2 measures outside).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
fleetsim="${1:-}"
if [ -z "$fleetsim" ]; then
  fleetsim="$(command -v fleetsim || echo "$here/../../target/release/fleetsim")"
fi
fleetsim="$(cd "$(dirname "$fleetsim")" && pwd)/$(basename "$fleetsim")"
out="${2:-$(mktemp -d)}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
cd "$here"

step() { printf '\n--- %s\n' "$*"; }

step "1. import: the IoT Hub twin export -> a fleet file"
"$fleetsim" import export/iothub-twins.json -o "$out/fleet.jsonl"
if ! cmp -s "$out/fleet.jsonl" fleet.jsonl; then
  echo "examples/own-fleet/fleet.jsonl is not what import writes today: rerun step 1 here" >&2
  exit 1
fi

step "2. calibrate: the winter job's results -> the scenario's behaviour"
"$fleetsim" calibrate history/setpoint-winter/*.json --scenario setpoint.toml \
  --by properties.reported.firmware --posterior -o "$out/behaviour.toml"
sed -n '/^# ---- calibrated/,$p' setpoint.toml | tail -n +2 > "$out/pasted.toml"
if ! cmp -s "$out/behaviour.toml" "$out/pasted.toml"; then
  diff "$out/pasted.toml" "$out/behaviour.toml" | head -20 >&2 || true
  echo "the behaviour pasted into setpoint.toml is not what calibrate writes today" >&2
  exit 1
fi
grep -E '^(name|# failure|# latency)' "$out/behaviour.toml"

step "3. run: the spring job on the imported fleet with the calibrated behaviour"
"$fleetsim" run setpoint.toml --replications 200 --html "$out/spring.html"

step "4. backtest: the spring job that really ran, against the prediction"
"$fleetsim" backtest setpoint.toml --job history/setpoint-spring/*.json \
  --max-outside 2 --html "$out/backtest.html"

echo
echo "own-fleet: every step held; outputs in $out"
