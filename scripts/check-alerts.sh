#!/usr/bin/env bash
# promtool and amtool checks over alerts/ and promtool-tests/ (filled in with the rules).
set -euo pipefail
cd "$(dirname "$0")/.."
shopt -s nullglob
rules=(alerts/rules/*.yml)
tests=(promtool-tests/*.yml)
if [ "${#rules[@]}" -gt 0 ]; then promtool check rules "${rules[@]}"; fi
if [ "${#tests[@]}" -gt 0 ]; then promtool test rules "${tests[@]}"; fi
if [ -f alerts/alertmanager.yml ]; then amtool check-config alertmanager.yml; fi
