#!/usr/bin/env bash
# The promtool and amtool checks of the alerting layer (alerts/, promtool-tests/):
#   1. promtool check rules / check config     syntax of the rule files and alerts/prometheus.yml
#   2. promtool test rules                      the rule unit tests, one file per rule file
#   3. amtool check-config                      alerts/alertmanager.yml (people) with its templates, and
#                                               alerts/alertmanager-automation.yml (the responder's)
#   4. amtool config routes test                every alert of the rules, and each special route, reaches
#                                               exactly the expected people's receivers, and the responder
#                                               through the automation's Alertmanager
#   5. amtool template render                   every template against every recorded payload, and the
#                                               communication template's lines for each payload
# Runs every step, prints what failed, exits 1 if anything did. The YAML quality bar (pint-style checks)
# lives in tests/alerts/test_rule_quality.py.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
AM_CONFIG=alerts/alertmanager.yml
AUTOMATION_CONFIG=alerts/alertmanager-automation.yml
TEMPLATES='alerts/templates/*.tmpl'
failures=()

step() { printf '\n== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*"; failures+=("$*"); }
run() {  # run a command; record a failure with its description
  local what=$1; shift
  "$@" || fail "$what"
}

step "promtool check rules"
run "promtool check rules" promtool check rules alerts/rules/*.yml

step "promtool check config alerts/prometheus.yml"
run "promtool check config" promtool check config alerts/prometheus.yml

step "promtool test rules"
run "promtool test rules" promtool test rules promtool-tests/*.yml

step "amtool check-config $AM_CONFIG $AUTOMATION_CONFIG"
run "amtool check-config" amtool check-config "$AM_CONFIG" "$AUTOMATION_CONFIG"

# ---------------------------------------------------------------------------------------------------------
step "amtool config routes test"
# route [--config FILE] LABELS... RECEIVERS: the receivers amtool 0.25 resolves must be exactly these.
# amtool prints them comma-separated in routing-tree order, and --verify.receivers compares the whole list,
# order included. The default config is the people's Alertmanager.
route() {
  local config=$AM_CONFIG
  if [ "$1" = --config ]; then config=$2; shift 2; fi
  local receivers=${*: -1} labels=("${@:1:$#-1}") got
  got=$(amtool config routes test --config.file="$config" "${labels[@]}" 2>/dev/null)
  if amtool config routes test --config.file="$config" --verify.receivers="$receivers" "${labels[@]}" \
      >/dev/null 2>&1; then
    printf 'ok   %-28s %-72s -> %s\n' "$(basename "$config")" "${labels[*]}" "$receivers"
  else
    fail "route ($config) ${labels[*]}: expected $receivers, got $got"
  fi
}
# Every alert the rules define, by its severity, to the people's receivers; and to the responder, alone,
# through the automation's Alertmanager.
declare -A by_severity=(
  [sev1]=pagerduty,slack
  [sev2]=slack
  [sev3]=tickets
  [none]=heartbeat  # Watchdog, the only alert without a severity
)
alerts=$("$PYTHON" - <<'PY'
import glob, yaml
for path in sorted(glob.glob("alerts/rules/*.yml")):
    for group in yaml.safe_load(open(path))["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:
                print(rule["alert"], rule.get("labels", {}).get("severity", "none"))
PY
) || fail "listing the alerts of alerts/rules/*.yml"
[ -n "$alerts" ] || fail "no alerts found in alerts/rules/*.yml"
while read -r alertname severity; do
  [ -n "$alertname" ] || continue
  if [ "$severity" = none ]; then
    labels=(alertname="$alertname")
  else
    labels=(alertname="$alertname" severity="$severity" profile=p-1 account=acct-1 symbol=AAPL)
  fi
  route "${labels[@]}" "${by_severity[$severity]:-unknown-severity}"
  route --config "$AUTOMATION_CONFIG" "${labels[@]}" responder
done <<<"$alerts"
# Special routes: what is not one of the rules' alerts still reaches a person (root receiver: chat) and
# the responder; the Watchdog route is chosen by name, whatever labels come with it.
route alertname=SomeNewAlert slack
route alertname=SomeNewAlert severity=critical slack
route alertname=Watchdog severity=sev1 heartbeat
route --config "$AUTOMATION_CONFIG" alertname=SomeNewAlert responder

# ---------------------------------------------------------------------------------------------------------
step "amtool template render"
render() {  # render PAYLOAD TEMPLATE: print the output, fail on error or empty output
  amtool template render --template.glob="$TEMPLATES" --template.data="alerts/testdata/$1" \
    --template.text="{{ template \"$2\" . }}" 2>&1
}
# expect PAYLOAD TEMPLATE LINE...: each LINE must be a whole line of the rendered output.
expect() {
  local payload=$1 template=$2 out line ok=1; shift 2
  if ! out=$(render "$payload" "$template"); then
    fail "render $template with $payload: $out"; return
  fi
  for line in "$@"; do
    if ! grep -qxF -- "$line" <<<"$out"; then
      fail "$template with $payload: no line '$line' in:"$'\n'"$out"; ok=0
    fi
  done
  [ "$ok" = 1 ] && printf 'ok   %-36s %s\n' "$template" "$payload"
}
mapfile -t defined < <(grep -ho 'define "tradingbot\.[a-z_.]*"' alerts/templates/*.tmpl | cut -d'"' -f2 | grep -v '\.__')
[ "${#defined[@]}" -gt 0 ] || fail "no templates defined in $TEMPLATES"
for payload in alerts/testdata/*.json; do
  payload=$(basename "$payload")
  for template in "${defined[@]}"; do
    out=$(render "$payload" "$template") && [ -n "$out" ] || fail "render $template with $payload: '${out}'"
  done
done
printf 'ok   every template renders against every payload (%d templates)\n' "${#defined[@]}"

ghost_title='Ghost position: broker holds AAPL on acct-1, profile p-42 records it closed'
ghost_impact='account=acct-1 profile=p-42 symbol=AAPL: The broker reports a net quantity of 10 AAPL on account acct-1 while profile p-42 records the position as closed, for more than 30s. While the account'"'"'s broker cannot be read the alert keeps its last verdict instead of resolving.'
ghost_mitigation='Captures evidence (broker and bot orders and positions, a suggested root cause), deactivates profile p-42 and notifies; reconciliation and closing AAPL at the broker await approval; the RCA is drafted once resolved.'
expect ghost-firing.json tradingbot.slack.title "[FIRING:1] SEV-1 $ghost_title"
expect ghost-firing.json tradingbot.slack.text \
  "*Incident:* $ghost_title" \
  "*Severity:* SEV-1" \
  "*Impact:* $ghost_impact" \
  "*Mitigation:* $ghost_mitigation" \
  "*Next Update:* within 30 min: this notice repeats every 30 min while firing" \
  "*Runbook:* http://127.0.0.1:9809/runbooks#ghostposition"
expect ghost-firing.json tradingbot.pagerduty.description "[FIRING] SEV-1: $ghost_title"
expect ghost-firing.json tradingbot.impact "$ghost_impact"
expect ghost-firing.json tradingbot.mitigation "$ghost_mitigation"
expect ghost-firing.json tradingbot.component "profile p-42"
expect ghost-firing.json tradingbot.slack.color danger
expect ghost-resolved.json tradingbot.slack.title "[RESOLVED] SEV-1 $ghost_title"
expect ghost-resolved.json tradingbot.pagerduty.description "[RESOLVED] SEV-1: $ghost_title"
expect ghost-resolved.json tradingbot.next_update "none: resolved at 2026-11-25 00:09 UTC"
expect ghost-resolved.json tradingbot.slack.color good
expect escalation-firing.json tradingbot.slack.text \
  "*Incident:* Stale order backlog above 20 for 15 minutes (21 orders)" \
  "*Severity:* SEV-1" \
  "*Impact:* 21 stale orders across all profiles, more than 20 for more than 15 minutes (the runbook's escalation criterion). Stale orders per profile: p-1 12, p-2 9." \
  "*Next Update:* within 30 min: this notice repeats every 30 min while firing" \
  "*Runbook:* http://127.0.0.1:9809/runbooks#stalebacklogescalation"
expect escalation-firing.json tradingbot.component tradingbot
# Two alerts started 10 minutes apart; the earlier one (second in the payload) sets the Next Update.
expect mismatch-group-firing.json tradingbot.slack.title "[FIRING:2] SEV-2 PositionMismatch (2 alerts)"
expect mismatch-group-firing.json tradingbot.slack.text \
  "*Severity:* SEV-2" \
  "- account=acct-3 symbol=BTCUSD: For more than 2 minutes the broker has reported a net quantity of 0.5 BTCUSD on account acct-3 while the bot records 0.25 (not a ghost: the bot still holds a position, e.g. one closed by hand at the broker, or the sizes differ)." \
  "- account=acct-3 symbol=ETHUSD: For more than 2 minutes the broker has reported a net quantity of 0 ETHUSD on account acct-3 while the bot records 2.5 (not a ghost: the bot still holds a position, e.g. one closed by hand at the broker, or the sizes differ)." \
  "*Mitigation:* Captures evidence (bot and broker positions of the account) and notifies; any change to positions or orders is left to a person." \
  "*Next Update:* within 2 h: this notice repeats every 2 h while firing"
expect mismatch-group-firing.json tradingbot.slack.color warning

# ---------------------------------------------------------------------------------------------------------
printf '\n'
if [ "${#failures[@]}" -gt 0 ]; then
  printf 'check-alerts: %d check(s) FAILED:\n' "${#failures[@]}"
  printf '  - %s\n' "${failures[@]%%$'\n'*}"
  exit 1
fi
printf 'check-alerts: all promtool and amtool checks passed\n'
