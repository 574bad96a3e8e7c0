"""The bot's endpoints as the exporters' probes call them: ``/health/ready`` (with the configured degraded
fields), the unauthenticated trade probe (must be rejected 401/403), and the authenticated status probe
(a token issued by Supabase auth to the probe user, accepted by ``/api/status``)."""

from __future__ import annotations

from common.config import read_secret
from doctor.context import Context, utc_now
from doctor.report import Result, fail, ok, skipped, warn
from sources.botapi import READY_PATH, BotApi
from sources.supabase import SupabaseAuth, SupabaseError


def check_endpoints(ctx: Context) -> list[Result]:
    api = BotApi(ctx.config.bot.base_url, ctx.http, ctx.timeout)
    return [_health(ctx, api), _trade_probe(api), _status_probe(ctx, api)]


def _health(ctx: Context, api: BotApi) -> Result:
    check = "bot health"
    readiness = api.readiness(ctx.config.bot.health.degraded_fields)
    if readiness.status == 0:
        return fail(check, f"bot.base_url: {READY_PATH} did not answer ({readiness.error})")
    if readiness.status != 200:
        return fail(check, f"bot: {READY_PATH} answered HTTP {readiness.status}: the bot is not ready")
    if readiness.degraded_fields:
        return warn(check, f"200, degraded: {', '.join(readiness.degraded_fields)} (bot.health.degraded_fields)")
    fields = ", ".join(f"{f.name}={f.value}" for f in readiness.fields)
    return ok(check, "200 ready" + (f"; {fields}" if fields else ""))


def _trade_probe(api: BotApi) -> Result:
    check = "probe unauthenticated trade"
    answer = api.trade_unauthenticated()
    if answer.status in (401, 403):
        return ok(check, f"rejected with HTTP {answer.status}")
    if answer.status == 0:
        return fail(check, f"bot.base_url: POST /api/trade did not answer ({answer.error})")
    return fail(check, f"bot: an unauthenticated POST /api/trade answered HTTP {answer.status}, not 401/403")


def _status_probe(ctx: Context, api: BotApi) -> Result:
    check = "probe authenticated status"
    supabase = ctx.config.supabase
    email = read_secret(supabase.probe_email_env, ctx.env, required=False)
    password = read_secret(supabase.probe_password_env, ctx.env, required=False)
    if not email or not password:
        return skipped(check, f"${supabase.probe_email_env} / ${supabase.probe_password_env} are not set")
    auth = SupabaseAuth(supabase.url, read_secret(supabase.anon_key_env, ctx.env, required=False), ctx.http,
                        ctx.timeout)
    try:
        token = auth.password_grant(email, password, utc_now())
    except SupabaseError as exc:
        where = "supabase.url" if exc.status == 0 else "supabase"
        return fail(check, f"{where}: the probe user gets no token: {exc}")
    answer = api.get("/api/status", token=token.access_token)
    if answer.status != 200:
        return fail(check, f"bot: GET /api/status with the probe user's token answered HTTP {answer.status}")
    return ok(check, "the probe user's token is accepted by /api/status")
