#!/usr/bin/env bash
# Debian packages the test suite needs: Chromium for the browser tests (never `playwright install`:
# it downloads a browser, which fails without internet), and the load tools wrk and hey for the fault-injection
# suite (tests/test_fault_injection.py), and redis-server for the Redis state store's tests (each starts its own on
# a loopback port). Installs as root; otherwise says what to run.
set -euo pipefail
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
# A Chinese font, so that the browser tests' screenshots show characters rather than empty boxes (5 MB).
[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need+=(fonts-wqy-microhei)
command -v wrk >/dev/null || need+=(wrk)
command -v hey >/dev/null || need+=(hey)
command -v redis-server >/dev/null || need+=(redis-server)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
else
  echo "system-deps: missing ${need[*]}; run: sudo apt-get install -y ${need[*]}" >&2
fi
