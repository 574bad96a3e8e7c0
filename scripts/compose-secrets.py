#!/usr/bin/env python3
"""Generate the secret files docker-compose.yml reads: one file per secret, random values.

    python3 scripts/compose-secrets.py                # create the missing files in var/compose/secrets/
    python3 scripts/compose-secrets.py --dir DIR      # somewhere else (the Compose file expects the default)
    python3 scripts/compose-secrets.py --force        # replace every file (see "Rotation" in docs/deploy.md)
    python3 scripts/compose-secrets.py --list         # the file names and what each holds

Existing files are kept, so running it again is harmless and a value you put in a file (the real
PagerDuty key, a real Slack URL) stays. The directory is readable by its owner only; the files in it
are 0644 because Compose bind-mounts them unchanged and the containers read them as other users
(nobody, grafana, postgres, uid 10001). Nothing here is committed (var/ is ignored by git).

The Supabase keys are HS256 JWTs signed with the generated JWT secret, as the simulator (the Supabase
stand-in) expects. Against the real Supabase, put the project's keys in the files instead.
Standard library only: runs with any python3 >= 3.9, no virtualenv needed.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DIR = REPO / "var" / "compose" / "secrets"
TEN_YEARS_SECONDS = 10 * 365 * 24 * 3600
STUB_SLACK_URL = "http://receivers:8080/slack"

Values = dict[str, str]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def api_key_jwt(jwt_secret: str, role: str, now: int | None = None) -> str:
    """A legacy Supabase API key: a long-lived HS256 JWT ``{"iss": "supabase", "role": role}``."""
    issued = int(time.time()) if now is None else now
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {"iss": "supabase", "ref": "local", "role": role, "iat": issued, "exp": issued + TEN_YEARS_SECONDS}
    signing_input = ".".join(_b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims))
    signature = hmac.new(jwt_secret.encode(), signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(signature)}"


def _token(nbytes: int = 32) -> Callable[[Values], str]:
    return lambda _values: secrets.token_urlsafe(nbytes)


# file name -> (what it holds and who reads it, generator given the values made so far). Order matters:
# the Supabase keys are signed with the JWT secret made before them.
SECRETS: dict[str, tuple[str, Callable[[Values], str]]] = {
    "postgres_password": ("PostgreSQL superuser `postgres` (postgres only)", _token(24)),
    "db_password": ("role `tradingbot`: bot DB + ledger (simulator, responder: PGPASSWORD_FILE; postgres init)",
                    _token(24)),
    "db_exporters_password": ("role `tradingbot_exporters`, read-only bot DB (exporters; postgres init)", _token(24)),
    "apca_api_secret_key": ("APCA_API_SECRET_KEY, the broker API secret (simulator, exporters, responder)",
                            _token(32)),
    "supabase_jwt_secret": ("SUPABASE_JWT_SECRET, signs the Supabase stand-in's tokens (simulator only)",
                            _token(48)),
    "supabase_anon_key": ("SUPABASE_ANON_KEY, JWT role anon (simulator, exporters, responder)",
                          lambda v: api_key_jwt(v["supabase_jwt_secret"], "anon")),
    "supabase_service_role_key": ("SUPABASE_SERVICE_ROLE_KEY, JWT role service_role (simulator, responder)",
                                  lambda v: api_key_jwt(v["supabase_jwt_secret"], "service_role")),
    "probe_user_email": ("PROBE_USER_EMAIL, the synthetic probe user (simulator, exporters, responder)",
                         lambda _v: f"probe-{secrets.token_hex(4)}@example.com"),
    "probe_user_password": ("PROBE_USER_PASSWORD (simulator, exporters, responder)", _token(24)),
    "responder_webhook_token": ("RESPONDER_WEBHOOK_TOKEN (responder) = Alertmanager's responder_token", _token(32)),
    "responder_operator_token": ("RESPONDER_OPERATOR_TOKEN, approvals / re-enable API (responder)", _token(32)),
    "responder_session_secret": ("RESPONDER_SESSION_SECRET, signs console sessions (responder)", _token(32)),
    "slack_signing_secret": ("SLACK_SIGNING_SECRET, verifies Slack interactions (responder); put the Slack app's",
                             _token(32)),
    "slack_webhook_url": ("SLACK_WEBHOOK_URL (responder) = Alertmanager's slack_webhook_url; default: the stub",
                          lambda _v: STUB_SLACK_URL),
    "pagerduty_routing_key": ("PagerDuty Events v2 key (alertmanager); a random placeholder: put the real one",
                              lambda _v: secrets.token_hex(16)),
    "heartbeat_token": ("bearer token for the heartbeat endpoint (alertmanager)", _token(32)),
    "tickets_token": ("bearer token for the ticket endpoint (alertmanager)", _token(32)),
    "grafana_admin_password": ("Grafana's `admin` password (grafana)", _token(18)),
}

DERIVED_FROM = {"supabase_anon_key": "supabase_jwt_secret", "supabase_service_role_key": "supabase_jwt_secret"}


def _read(path: Path) -> str:
    lines = path.read_text(encoding="utf-8").splitlines()
    return lines[0].strip() if lines else ""


def generate(directory: Path, force: bool = False) -> list[str]:
    """Write every missing (or, with `force`, every) secret file; return the names written.

    A file is also rewritten when a secret it is derived from was (a new JWT secret re-signs the keys).
    Files hold the value without a trailing newline: every reader takes the content as it is.
    """
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    values: Values = {}
    written: list[str] = []
    for name, (_about, make) in SECRETS.items():
        path = directory / name
        current = _read(path) if path.exists() else ""
        if current and not force and DERIVED_FROM.get(name) not in written:
            values[name] = current
            continue
        values[name] = make(values)
        path.write_text(values[name], encoding="utf-8")
        path.chmod(0o644)
        written.append(name)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="where to write (%(default)s)")
    parser.add_argument("--force", action="store_true", help="replace existing files too")
    parser.add_argument("--list", action="store_true", help="print the file names and what each holds, then exit")
    args = parser.parse_args(argv)
    if args.list:
        width = max(map(len, SECRETS))
        for name, (about, _make) in SECRETS.items():
            print(f"{name.ljust(width)}  {about}")
        return 0
    written = generate(args.dir, args.force)
    kept = len(SECRETS) - len(written)
    print(f"{args.dir}: wrote {len(written)} secret file(s){', kept ' + str(kept) if kept else ''}")
    if "pagerduty_routing_key" in written:
        print("  pagerduty_routing_key is a placeholder: put the real PagerDuty Events v2 key in it")
    if args.force and kept == 0:
        print("  the PostgreSQL passwords apply only to a new postgres volume (docs/deploy.md, Rotation)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
