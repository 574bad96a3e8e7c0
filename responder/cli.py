"""``python -m responder``: serve the webhook (default), or talk to a running responder's operator API."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import requests

from common.config import ConfigError, load_config, read_secret, split_listen
from responder.settings import OPERATOR_TOKEN, load_settings

DEFAULT_CONFIG = "config/local.yml"
ENVIRONMENT = """\
environment (secrets; each also as NAME_FILE naming a file that holds it):
  RESPONDER_WEBHOOK_TOKEN    bearer token Alertmanager presents on POST /alerts (required unless --insecure-local)
  RESPONDER_OPERATOR_TOKEN   bearer token for the approvals / runs / profile re-enable / kill switch API and this CLI
  RESPONDER_SESSION_SECRET   signs the console's sessions (>= 32 characters, the same on every replica)
  SLACK_SIGNING_SECRET       verifies POST /slack/interactions (Slack's request signatures, v0)
  SLACK_WEBHOOK_URL          Slack-compatible incoming webhook (unset: notifications recorded as not_configured)
  APCA_API_SECRET_KEY        broker API secret (key ids come from the bot DB's broker_accounts)
  SUPABASE_SERVICE_ROLE_KEY  diagnosed by the auth playbook; bearer for the bot's admin hooks
  SUPABASE_ANON_KEY, PROBE_USER_EMAIL, PROBE_USER_PASSWORD   JWT issuance check with the probe user
  SUPABASE_URL, BOT_DB_URL, LEDGER_DB_URL, BROKER_BASE_URL   override the URLs in the YAML

exit status: 0 ok; 1 the API refused (e.g. 409); 2 bad usage, bad config, missing token, unreachable ledger.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m responder",
        description="Receive Alertmanager webhooks, record them in the ledger and run the runbook's first "
        "mitigations (playbooks). Without a command: serve (gunicorn, workers/threads from the config).",
        epilog=ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", default=DEFAULT_CONFIG, metavar="FILE",
                        help=f"the project's YAML configuration (default: {DEFAULT_CONFIG})")
    parser.add_argument("--insecure-local", action="store_true",
                        help="serve without RESPONDER_WEBHOOK_TOKEN, and with the operator API open when "
                        "RESPONDER_OPERATOR_TOKEN is unset (only on a loopback listen address; local runs)")
    parser.add_argument("--check", action="store_true",
                        help="validate config, secrets, playbooks and the ledger (creating its schema), then exit")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="log level of the JSON logs on stderr (default: INFO)")
    client = argparse.ArgumentParser(add_help=False)
    client.add_argument("--url", help="responder base URL (default: http://<responder.listen> from --config)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    approvals = commands.add_parser("approvals", parents=[client], help="list, approve or reject parked steps")
    verbs = approvals.add_subparsers(dest="verb", required=True, metavar="VERB")
    verbs.add_parser("list", parents=[client], help="steps awaiting approval (policy or budget_exhausted)")
    for verb in ("approve", "reject"):
        decide = verbs.add_parser(verb, parents=[client], help=f"{verb} the step STEP_ID")
        decide.add_argument("step_id", type=int, metavar="STEP_ID", help="the step's id (from 'approvals list')")
        decide.add_argument("--by", required=True, help="who decides (recorded in the ledger)")
        decide.add_argument("--reason", default="", required=verb == "reject", help="why (recorded in the ledger)")
    profiles = commands.add_parser("profiles", parents=[client], help="re-enable a profile after parity")
    enable = profiles.add_subparsers(dest="verb", required=True, metavar="VERB").add_parser(
        "enable", parents=[client], help="re-enable PROFILE_ID if position parity holds at the broker"
    )
    switch = commands.add_parser("killswitch", parents=[client], help="engage the kill switch, or show its state")
    switch_verbs = switch.add_subparsers(dest="verb", required=True, metavar="VERB")
    switch_verbs.add_parser("status", parents=[client], help="engagements in force and recent")
    engage = switch_verbs.add_parser("engage", parents=[client], help="engage LEVEL for every profile, or --profile")
    engage.add_argument("level", choices=["stop-entries", "cancel-working", "flatten"], metavar="LEVEL",
                        help="stop-entries, cancel-working (and stop entries), flatten (and both; two-person)")
    engage.add_argument("--profile", action="append", default=[], dest="profiles", metavar="PROFILE_ID",
                        help="a profile to cover (repeatable; default: every profile)")
    engage.add_argument("--by", required=True, help="who engages (recorded in the ledger)")
    engage.add_argument("--reason", default="", help="why (recorded in the ledger)")
    operators = commands.add_parser("operators", help="console operators")
    operators.add_subparsers(dest="verb", required=True, metavar="VERB").add_parser(
        "hash", help="read a password on stdin, print its hash for the operators file's password_hash"
    )
    enable.add_argument("profile_id", metavar="PROFILE_ID")
    enable.add_argument("--by", required=True, help="who re-enables (recorded in the ledger)")
    enable.add_argument("--reason", default="", help="why (recorded in the ledger)")
    return parser


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    env = os.environ if env is None else env
    try:
        if args.command is None:
            return _serve(args, env)
        if args.command == "operators":
            return _hash_password()
        return _client(args, env)
    except ConfigError as exc:
        print(f"responder: {exc}", file=sys.stderr)
        return 2


def _serve(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    settings = load_settings(Path(args.config), env, insecure_local=args.insecure_local)
    metrics_dir = _metrics_dir(settings.responder.listen)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)  # before anything imports prometheus_client
    from responder.runtime import prepare

    prepare(settings)
    if args.check:
        print("responder: configuration, secrets, playbooks and ledger are OK")
        return 0
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(mode=0o700)
    from responder.server import serve

    serve(settings, metrics_dir, args.log_level)
    return 0


def _hash_password() -> int:
    from werkzeug.security import generate_password_hash

    password = sys.stdin.readline().rstrip("\n")
    if len(password) < 12:
        print("responder: a console password needs at least 12 characters", file=sys.stderr)
        return 2
    print(generate_password_hash(password))
    return 0


def _metrics_dir(listen: str) -> Path:
    """Where every gunicorn worker of this instance keeps its metric files (emptied when serving starts).

    It is named after the listen port, so a restart after a crash (SIGKILL leaves it behind) starts from an
    empty one instead of summing a dead instance's counters into the new one's.
    """
    _, port = split_listen(listen)
    return Path(tempfile.gettempdir()) / f"responder-metrics-{os.getuid()}-{port}"


def _client(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    url = args.url or f"http://{load_config(Path(args.config), env).section('responder').listen}"
    token = read_secret(OPERATOR_TOKEN, env, required=False)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if args.command == "approvals" and args.verb == "list":
        return _show(requests.get(f"{url}/approvals", headers=headers, timeout=10), _approvals_table)
    if args.command == "approvals":
        body = {"decision": args.verb, "by": args.by, "reason": args.reason}
        return _show(requests.post(f"{url}/approvals/{args.step_id}", json=body, headers=headers, timeout=10))
    if args.command == "killswitch" and args.verb == "status":
        return _show(requests.get(f"{url}/kill-switch", headers=headers, timeout=10))
    if args.command == "killswitch":
        body = {"level": args.level, "profiles": args.profiles, "by": args.by, "reason": args.reason}
        return _show(requests.post(f"{url}/kill-switch", json=body, headers=headers, timeout=30))
    body = {"by": args.by, "reason": args.reason}
    return _show(requests.post(f"{url}/profiles/{args.profile_id}/enable", json=body, headers=headers, timeout=30))


def _approvals_table(body: Any) -> str:
    rows = [f"{'STEP':>6}  {'REASON':<17} {'ACTION':<24} {'ALERT':<22} LABELS"]
    for item in body.get("approvals", []):
        labels = ",".join(f"{k}={v}" for k, v in sorted(item["labels"].items()) if k not in ("alertname", "severity"))
        reason = item["reason"] or ""
        rows.append(f"{item['step_id']:>6}  {reason:<17} {item['action']:<24} {item['alertname']:<22} {labels}")
    return "\n".join(rows)


def _show(response: requests.Response, render: Any = None) -> int:
    try:
        body = response.json()
    except ValueError:
        body = {"error": f"HTTP {response.status_code} without a JSON body"}
    if response.ok:
        print(render(body) if render else json.dumps(body, indent=2, sort_keys=True))
        return 0
    print(f"responder: HTTP {response.status_code}: {json.dumps(body, sort_keys=True)}", file=sys.stderr)
    return 2 if response.status_code in (400, 401) else 1
