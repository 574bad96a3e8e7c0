"""Auth failures (runbook 3): failing token claims, a diagnosis with a category, restarting the bot.

Categories (what ``diagnose_auth`` concludes, in this order):
- ``infra``: Supabase auth is down or issues no tokens (5xx / unreachable), or the bot does not answer;
- ``config``: SUPABASE_URL or the service-role key is missing/invalid/not service_role/expired/refused,
  the probe user cannot sign in (4xx), or the bot rejects a token Supabase has just issued;
- ``app regression``: all of the above is healthy and a fresh token works, yet clients keep failing —
  their tokens are wrong (audience, expiry, signature): the client/dashboard side regressed.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta
from typing import Any

from responder.actions.context import ActionContext
from responder.actions.hooks import HookOutput, call_bot_hook, describe_bot_hook
from responder.actions.registry import SUCCEEDED, ActionSpec, NoParams, Outcome, Params, StepOutput
from responder.actions.views import View
from responder.evidence import Evidence
from sources.accesslog import AccessEvent, LineFormat, read_recent
from sources.supabase import SupabaseError
from sources.tokens import decode_claims


class AuthEvidence(StepOutput):
    """Recent auth rejections by reason and client, the failing tokens' claims, the bot's readiness."""

    requests: int = 0
    failures: int = 0
    by_reason: dict[str, int] = {}
    failing_clients: int = 0
    active_clients: int = 0
    top_failing_clients: dict[str, int] = {}
    claims: list[dict[str, Any]] = []
    malformed_lines: int = 0
    bot_health: dict[str, Any] = {}


class Check(View):
    ok: bool
    detail: str


class AuthDiagnosis(StepOutput):
    """Each check's verdict and the category they point to (config / infra / app regression)."""

    checks: dict[str, Check]
    category: str
    reason: str
    failing_checks: list[str] = []


class RestartOutput(HookOutput):
    """The restart hook's record, then the bot's health after it."""

    health_live: int | None = None
    health_ready: int | None = None
    readiness: dict[str, Any] | None = None


class AuthEvidenceParams(Params):
    window_seconds: float = 900.0
    channel_label: str = "channel"
    max_claims: int = 20
    max_clients: int = 10


def capture_auth_evidence(ctx: ActionContext, params: AuthEvidenceParams) -> Outcome:
    """Count recent auth rejections by reason and client, keep the failing tokens' claims (never the tokens),
    and what /health/ready reports (its degraded fields)."""
    bot = ctx.services.config.bot
    readiness = ctx.services.bot_api().readiness(bot.health.degraded_fields).as_dict()
    if bot.access_log is None:
        summary = "no access log configured (bot.access_log): rejections are known only from the bot's counters"
        return Outcome(SUCCEEDED, "partial", AuthEvidence(bot_health=readiness, summary=summary))
    since = ctx.now() - timedelta(seconds=params.window_seconds)
    channel = ctx.label(params.channel_label)
    chunk = read_recent(bot.access_log, line_format=LineFormat(bot.access_log_format))
    recent = [e for e in chunk.events if (e.ts is None or e.ts >= since) and (not channel or e.channel == channel)]
    failures = [e for e in recent if e.is_auth_failure]
    reasons = Counter(f"{e.channel} {e.status} {e.reason or '-'}" for e in failures)
    clients = Counter(e.client or "(unnamed)" for e in failures)
    share = len(failures) / len(recent) if recent else 0.0
    summary = (
        f"{len(failures)} of {len(recent)} recent requests rejected ({share:.0%}) from {len(clients)} client(s); "
        "top: " + ", ".join(f"{reason} x{count}" for reason, count in reasons.most_common(3))
    )
    output = AuthEvidence(
        requests=len(recent),
        failures=len(failures),
        by_reason=dict(reasons),
        failing_clients=len(clients),
        active_clients=len({e.client or "(unnamed)" for e in recent}),
        top_failing_clients=dict(clients.most_common(params.max_clients)),
        claims=_claims(failures, params.max_claims),
        malformed_lines=chunk.malformed,
        bot_health=readiness,
        summary=summary,
    )
    return Outcome(SUCCEEDED, "captured", output)


def _claims(failures: list[AccessEvent], limit: int) -> list[dict[str, Any]]:
    by_fingerprint: dict[str, dict[str, Any]] = {}
    for event in failures:
        claims = decode_claims(event.token) if event.token else None
        if claims is None:
            continue
        entry = by_fingerprint.get(claims.fingerprint)
        if entry is None:
            if len(by_fingerprint) >= limit:
                continue
            entry = by_fingerprint[claims.fingerprint] = {**claims.as_dict(), "count": 0, "reasons": []}
            entry["expired_when_used"] = bool(event.ts and claims.expired(event.ts))
        entry["count"] += 1
        if event.reason and event.reason not in entry["reasons"]:
            entry["reasons"].append(event.reason)
    return list(by_fingerprint.values())


def _check(ok: bool, detail: str) -> dict[str, Any]:
    return {"ok": ok, "detail": detail}


def _issue_probe_token(ctx: ActionContext) -> tuple[dict[str, Any], str | None, str]:
    """Sign the probe user in; returns (check, token or None, failure kind 'infra'/'config'/'')."""
    secrets = ctx.services.secrets
    if not (secrets.probe_email and secrets.probe_password):
        return _check(False, "probe user credentials are not set"), None, "config"
    try:
        issued = ctx.services.supabase_auth().password_grant(secrets.probe_email, secrets.probe_password, ctx.now())
    except SupabaseError as exc:
        kind = "config" if 400 <= exc.status < 500 else "infra"  # refused credentials vs no answer / 5xx
        return _check(False, str(exc)), None, kind
    return _check(True, "a token was issued for the probe user"), issued.access_token, ""


def _service_role(ctx: ActionContext) -> dict[str, Any]:
    key = ctx.services.secrets.service_role_key
    if not key:
        return _check(False, "SUPABASE_SERVICE_ROLE_KEY is not set")
    claims = decode_claims(key)
    if claims is not None:
        if claims.role != "service_role":
            return _check(False, f"the key's role is {claims.role!r}, not 'service_role' (an anon key?)")
        if claims.expired(ctx.now()):
            return _check(False, "the service-role key has expired")
    url = ctx.services.config.supabase.url.rstrip("/") + "/auth/v1/admin/users"
    headers = {"apikey": key, "Authorization": f"Bearer {key}"}
    try:
        status = ctx.services.http.get(url, headers=headers, params={"per_page": 1}, timeout=3).status_code
    except Exception as exc:  # transport errors never carry the headers
        return _check(False, f"admin endpoint unreachable: {type(exc).__name__}")
    if status != 200:
        return _check(False, f"Supabase refused the service-role key on /auth/v1/admin/users (HTTP {status})")
    return _check(True, "present, role service_role, accepted by /auth/v1/admin/users")


def diagnose_auth(ctx: ActionContext, params: NoParams) -> Outcome:
    checks: dict[str, dict[str, Any]] = {}
    supabase_url = ctx.services.config.supabase.url
    checks["supabase_url"] = _check(bool(supabase_url), f"SUPABASE_URL = {supabase_url or '(unset)'}")
    try:
        ctx.services.supabase_auth().health()
        checks["auth_health"] = _check(True, "GET /auth/v1/health answered 200")
    except SupabaseError as exc:
        checks["auth_health"] = _check(False, str(exc))
    checks["jwt_issuance"], token, issue_failure = _issue_probe_token(ctx)
    checks["service_role_key"] = _service_role(ctx)
    checks["fresh_token_accepted"], bot_down = _fresh_token(ctx, token)
    category, reason = _categorise(checks, issue_failure, bot_down)
    summary = f"auth diagnosis: {category} ({reason})"
    failing = [name for name, check in checks.items() if not check["ok"]]
    diagnosis = {"checks": checks, "category": category, "reason": reason, "failing_checks": failing,
                 "summary": summary}
    return Outcome(SUCCEEDED, "diagnosed", AuthDiagnosis.model_validate(diagnosis))


def _fresh_token(ctx: ActionContext, token: str | None) -> tuple[dict[str, Any], bool]:
    if token is None:
        return _check(False, "no fresh token to try"), False
    answer = ctx.services.bot_api().get("/api/status", token)
    if not answer.answered:
        return _check(False, f"the bot did not answer /api/status ({answer.error})"), True
    return _check(answer.status == 200, f"/api/status with a fresh token answered HTTP {answer.status}"), False


def _categorise(checks: dict[str, dict[str, Any]], issue_failure: str, bot_down: bool) -> tuple[str, str]:
    if not checks["auth_health"]["ok"]:
        return "infra", "Supabase auth is down"
    if issue_failure == "infra":
        return "infra", "Supabase auth issues no tokens"
    if bot_down:
        return "infra", "the bot does not answer"
    for name in ("supabase_url", "service_role_key", "jwt_issuance"):
        if not checks[name]["ok"]:
            return "config", checks[name]["detail"]
    if not checks["fresh_token_accepted"]["ok"]:
        return "config", "the bot rejects a token Supabase has just issued (JWT secret/audience/issuer mismatch)"
    return "app regression", "Supabase and the bot accept fresh tokens; the failing clients send bad tokens"


class RestartParams(Params):
    wait_seconds: float = 10.0


def restart_bot(ctx: ActionContext, params: RestartParams) -> Outcome:
    """Restart the bot (the ``bot.hooks.restart`` hook) — the runbook does this only after credentials/config
    are verified; then wait for /health/live and read /health/ready with its degraded fields."""
    outcome = call_bot_hook(ctx, "restart", {"reason": ctx.alert.alertname}, "bot restart requested")
    if outcome.result != SUCCEEDED:
        return outcome
    after = _wait_until_live(ctx, params.wait_seconds)
    output = RestartOutput.model_validate({**outcome.output.stored(), **after})
    return Outcome(SUCCEEDED, "changed", output, after=after)


def bot_health(ctx: ActionContext, params: RestartParams) -> dict[str, Any]:
    """The before-state of a restart: /health/live, and /health/ready with its degraded fields."""
    bot = ctx.services.bot_api()
    return _health(ctx, bot.get("/health/live").status)


def _health(ctx: ActionContext, live: int) -> dict[str, Any]:
    readiness = ctx.services.bot_api().readiness(ctx.services.config.bot.health.degraded_fields)
    return {"health_live": live, "health_ready": readiness.status, "readiness": readiness.as_dict()}


def restart_preview(ctx: ActionContext, params: RestartParams) -> Evidence:
    """What a restart would do (the hook) and the bot's health now, its degraded fields included."""
    health = bot_health(ctx, params)
    degraded = ", ".join(health["readiness"]["degraded_fields"]) or "none"
    summary = (f"restart the bot: {describe_bot_hook(ctx, 'restart')} (now /health/live "
               f"{health['health_live'] or 'no answer'}, /health/ready {health['health_ready'] or 'no answer'}, "
               f"degraded fields: {degraded})")
    row = {"health_live": health["health_live"], "health_ready": health["health_ready"], "degraded_fields": degraded}
    return Evidence(summary, (row,))


def _wait_until_live(ctx: ActionContext, wait_seconds: float) -> dict[str, Any]:
    """Poll /health/live (bounded), then read /health/ready once: the runbook's post-restart checks."""
    bot = ctx.services.bot_api()
    deadline = time.monotonic() + wait_seconds
    live = bot.get("/health/live")
    while live.status != 200 and time.monotonic() < deadline:
        time.sleep(0.25)
        live = bot.get("/health/live")
    return _health(ctx, live.status)


SPECS: tuple[ActionSpec[Any], ...] = (
    ActionSpec(
        "capture_auth_evidence",
        AuthEvidenceParams,
        capture_auth_evidence,
        "observe",
        "recent 401/403s from the access log by reason and client, the failing tokens' claims (tokens are never "
        "stored), /health/ready's degraded fields",
        output=AuthEvidence,
    ),
    ActionSpec(
        "diagnose_auth",
        NoParams,
        diagnose_auth,
        "observe",
        "Supabase health, JWT issuance, SUPABASE_URL, service-role key, fresh token against the bot; a category",
        output=AuthDiagnosis,
    ),
    ActionSpec(
        "restart_bot",
        RestartParams,
        restart_bot,
        "mutate",
        "run the bot's restart hook, an HTTP call or a command (health and degraded fields before and after)",
        output=RestartOutput,
        snapshot=bot_health,
        preview=restart_preview,
    ),
)
