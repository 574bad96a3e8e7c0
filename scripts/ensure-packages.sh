#!/usr/bin/env bash
# Make sure Debian packages the targets drive are installed: each argument is PACKAGE:BINARY, and the
# package is installed (as root) when the binary is missing.
#   scripts/ensure-packages.sh prometheus:promtool prometheus-alertmanager:amtool
set -euo pipefail

missing=()
for pair in "$@"; do
  package=${pair%%:*} binary=${pair#*:}
  command -v "$binary" >/dev/null 2>&1 && continue
  [[ " ${missing[*]} " == *" $package "* ]] || missing+=("$package")
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
# Some packages try to start their services; nothing here relies on those (no systemd is needed).
for pair in "$@"; do
  command -v "${pair#*:}" >/dev/null 2>&1 || { echo "error: ${pair#*:} still missing after installing ${pair%%:*}" >&2; exit 1; }
done
