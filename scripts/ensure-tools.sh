#!/usr/bin/env bash
# Make sure the Prometheus and Alertmanager binaries the tests and the demo run are present.
# Installs Debian's packages (promtool 2.42, amtool 0.25) when missing and we are root.
set -euo pipefail

missing=()
for bin in prometheus promtool prometheus-alertmanager amtool; do
  command -v "$bin" >/dev/null 2>&1 || missing+=("$bin")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "error: missing ${missing[*]}; install them with: sudo apt-get install -y prometheus prometheus-alertmanager" >&2
  exit 1
fi
echo "installing prometheus and prometheus-alertmanager (missing: ${missing[*]})"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq prometheus prometheus-alertmanager >/dev/null 2>&1 \
  || { apt-get update -qq && apt-get install -y -qq prometheus prometheus-alertmanager >/dev/null; }
# The packages try to start their services; nothing of ours relies on them.
for bin in prometheus promtool prometheus-alertmanager amtool; do
  command -v "$bin" >/dev/null 2>&1 || { echo "error: $bin still missing after install" >&2; exit 1; }
done
