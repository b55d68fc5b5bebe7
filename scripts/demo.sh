#!/usr/bin/env bash
# `make demo`: a LiveKit server on loopback, onaird on the simulated board
# speaking recorded speech into room "demo", and `onairctl listen` showing
# what arrives, per participant. Ctrl-C stops all three.
#
# Environment: DEMO_PORT (default 7880, or the next free port), DEMO_SECONDS
# (stop by itself after this many seconds; default: run until Ctrl-C).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
LK=${ONAIR_LIVEKIT_SERVER:-$HOME/.cache/onair/bin/server}
[ -x "$LK" ] || { echo "demo: livekit-server not found at $LK; run: make deps" >&2; exit 1; }
[ -x bin/onaird ] && [ -x bin/onairctl ] || { echo "demo: bin/onaird or bin/onairctl missing; run: make build" >&2; exit 1; }

busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=${DEMO_PORT:-7880}
while busy "$port"; do port=$((port + 10)); done
rtc=$((port + 2))

work=$(mktemp -d /tmp/onair-demo.XXXXXX)
pids=()
cleanup() {
  trap - EXIT INT TERM
  echo
  echo "demo: stopping"
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  # livekit-server waits for participants on the first SIGTERM; a second stops it.
  sleep 1
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  echo "demo: logs kept in $work (livekit.log, onaird.log)"
}
trap cleanup EXIT INT TERM

cat > "$work/livekit.yaml" <<CONF
port: $port
bind_addresses: ["127.0.0.1"]
keys:
  devkey: secret
rtc:
  udp_port: $rtc
  tcp_port: 0
  node_ip: 127.0.0.1
  use_external_ip: false
  enable_loopback_candidate: true
  interfaces:
    includes: [lo]
  ips:
    includes: [127.0.0.1/32]
logging:
  level: warn
CONF
echo "demo: starting livekit-server on 127.0.0.1:$port (UDP $rtc)"
"$LK" --dev --config "$work/livekit.yaml" > "$work/livekit.log" 2>&1 &
pids+=($!)
for i in $(seq 1 100); do
  busy "$port" && break
  sleep 0.1
  kill -0 "${pids[0]}" 2>/dev/null || { echo "demo: livekit-server exited:" >&2; tail -20 "$work/livekit.log" >&2; exit 1; }
done
busy "$port" || { echo "demo: livekit-server did not listen within 10 s" >&2; exit 1; }

sed -e "s#ws://127.0.0.1:7880#ws://127.0.0.1:$port#" -e "s#file: testdata/#file: $root/testdata/#" examples/sim.yaml > "$work/onair.yaml"
chmod 600 "$work/onair.yaml"
sed -i "s#state_dir: /var/lib/onair#state_dir: $work/state#" "$work/onair.yaml"

# With Debian's mosquitto installed, the demo device is also provisioned
# and watched over MQTT, as a fleet is.
mosq=$(command -v mosquitto || ls /usr/sbin/mosquitto 2>/dev/null || true)
mqport=""
if [ -n "$mosq" ]; then
  mqport=$((port + 5))
  while busy "$mqport"; do mqport=$((mqport + 1)); done
  printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$mqport" > "$work/mosquitto.conf"
  [ "$(id -u)" -eq 0 ] && echo "user root" >> "$work/mosquitto.conf"
  echo "demo: starting mosquitto on 127.0.0.1:$mqport"
  "$mosq" -c "$work/mosquitto.conf" > "$work/mosquitto.log" 2>&1 &
  pids+=($!)
  sed -i -e "s#broker: \"\" *\(.*\)#broker: tcp://127.0.0.1:$mqport#" "$work/onair.yaml"
else
  echo "demo: mosquitto not installed: no MQTT view (apt-get install mosquitto)"
fi
passphrase=$(sed -n 's/^ *passphrase: *\([^ #]*\).*/\1/p' "$work/onair.yaml" | head -1)
echo "demo: starting onaird on the simulated board (examples/sim.yaml): speech from testdata/speech48k.wav, on air after 1 s"
bin/onaird -config "$work/onair.yaml" -log-format text < /dev/null > "$work/onaird.log" 2>&1 &
pids+=($!)

echo "demo: starting onairctl listen in room demo (Ctrl-C to stop)"
listen=(bin/onairctl listen -url "ws://127.0.0.1:$port" -room demo -api-key devkey -api-secret secret -identity demo-listener)
[ -n "${DEMO_SECONDS:-}" ] && listen+=(-duration "${DEMO_SECONDS}s")
# The passphrase goes in the environment, out of ps, as README advises.
ONAIR_E2EE_PASSPHRASE="$passphrase" "${listen[@]}" &
listener=$!
pids+=($listener)
if [ -n "$mqport" ]; then
  (sleep 4; echo; echo "demo: the fleet's view over MQTT (onairctl watch -once):"
   bin/onairctl watch -once -broker "tcp://127.0.0.1:$mqport" || true; echo) &
  pids+=($!)
fi
wait "$listener" || true
