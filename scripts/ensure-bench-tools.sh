#!/usr/bin/env bash
# Make sure the load and peer tools `make bench` drives are present: Debian's wrk, hyperfine and
# prometheus-sql-exporter (justwatchcom/sql_exporter 0.4.5). Installs them when missing and we are root.
set -euo pipefail

packages=(wrk hyperfine prometheus-sql-exporter)
missing=()
for pkg in "${packages[@]}"; do
  command -v "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "error: missing ${missing[*]}; install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
  || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
# prometheus-sql-exporter's package may start its service; the benchmark runs its own instance.
for pkg in "${missing[@]}"; do
  command -v "$pkg" >/dev/null 2>&1 || { echo "error: $pkg still missing after install" >&2; exit 1; }
done
