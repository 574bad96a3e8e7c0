"""The broker for one account (its key id from the mapping, its secret from the environment: the account
and its positions read) and Supabase auth's health."""

from __future__ import annotations

from common.broker_secrets import read_broker_secrets
from common.config import ConfigError, read_secret
from doctor.context import Context
from doctor.report import Result, fail, ok, skipped
from sources.broker import BrokerClient, BrokerError
from sources.supabase import SupabaseAuth, SupabaseError


def check_broker(ctx: Context) -> list[Result]:
    check = "broker"
    if not ctx.mapping_fits:
        return [skipped(check, "the mapping does not fit the database: no account to read")]
    accounts = ctx.bot.accounts()
    if not accounts:
        return [skipped(check, "no broker account in the bot's data yet")]
    account = accounts[0]
    if not account.key_id:
        return [fail(check, f"bot_db.mapping.accounts: account {account.id!r} has no broker key id "
                            f"(key_id or key_ids)")]
    try:
        secret = read_broker_secrets(ctx.config.broker, ctx.env, required=False).for_key(account.key_id)
    except ConfigError as exc:
        return [fail(check, str(exc))]
    if secret is None:
        name = ctx.config.broker.account_secret_envs.get(account.key_id, ctx.config.broker.secret_env)
        return [fail(check, f"broker: ${name} (or ${name}_FILE) is not set: the secret of key id {account.key_id}")]
    broker = ctx.config.broker
    client = BrokerClient(broker.base_url, account.key_id, secret, ctx.http,
                          (broker.connect_timeout_seconds, broker.read_timeout_seconds))
    try:
        status = client.account_status()
        positions = client.list_positions()
    except BrokerError as exc:
        return [fail(check, f"broker: account {account.id!r} (key id {account.key_id}): {exc}")]
    return [ok(check, f"account {account.id}: {status}, {len(positions)} positions ({len(accounts)} accounts)")]


def check_supabase(ctx: Context) -> list[Result]:
    check = "supabase auth"
    supabase = ctx.config.supabase
    auth = SupabaseAuth(supabase.url, read_secret(supabase.anon_key_env, ctx.env, required=False), ctx.http,
                        ctx.timeout)
    try:
        auth.health()
    except SupabaseError as exc:
        return [fail(check, f"supabase.url: {exc}")]
    return [ok(check, "auth health 200")]
