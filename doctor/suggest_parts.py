"""The parts of a suggested mapping (profiles, orders, positions) from the tables found, and the references
between them: a ``<table>_id`` column of the row, or one hop through a table that has one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from doctor import suggest_words as w
from sources.botdata.introspect import ColumnInfo, TableInfo

PROFILE_KEYS = ("profile_id", "strategy_id", "bot_id", "trading_profile_id")
ACCOUNT_KEYS = ("account_id", "broker_account_id", "alpaca_account_id", "exchange_account_id")
CREATED = ("submitted_at", "created_at", "placed_at", "order_date", "inserted_at", "opened_at", "open_date")
UPDATED = ("updated_at", "modified_at", "order_update_date", "synced_at", "last_synced_at")
ENABLED_FLAGS = ("is_enabled", "is_active", "enabled", "active", "trading_enabled")
STATE = ("status", "state", "mode")
STATIC = "main"


@dataclass
class Guess:
    tables: list[TableInfo]
    dialect: str
    accounts: TableInfo | None = None
    profiles: TableInfo | None = None
    taken: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    timestamps: str | None = None

    def id_of(self, table: TableInfo) -> str:
        return "id" if "id" in table.names or not table.primary_key else table.primary_key[0]

    def ref(self, table: TableInfo, keys: tuple[str, ...]) -> Any:
        """A reference from `table`'s rows to a `keys` column: its own, or one hop through another table."""
        own = pick(table, keys)
        if own:
            return own
        for other in self.tables:
            hop = f"{other.name.rstrip('s')}_id"
            target = pick(other, keys)
            if other is not table and hop in table.names and target:
                return {"through": [{"table": other.name, "key": self.id_of(other), "from": hop}], "column": target}
        return None

    def link(self, table: TableInfo, keys: tuple[str, ...]) -> Any:
        """From a profile row to an account through an assignment table (``strategy_accounts``)."""
        for other in self.tables:
            back = pick(other, (*PROFILE_KEYS, f"{table.name.rstrip('s')}_id"))
            target = pick(other, keys)
            if other is not table and back and target and other.name not in self.taken:
                return {"through": [{"table": other.name, "key": back, "from": self.id_of(table)}], "column": target}
        return None

    def clock_format(self, table: TableInfo, column: str, default: bool = True) -> str:
        info = table.column(column)
        kind = info.kind if info else "other"
        if kind in ("integer", "number"):
            found = "epoch_millis" if kind == "integer" else "epoch_seconds"
        else:
            found = "naive_utc" if kind == "timestamp" and self.dialect == "postgresql" else "aware"
        if default:
            self.timestamps = self.timestamps or found
        return found


def pick(table: TableInfo | None, names: tuple[str, ...]) -> str | None:
    if table is None:
        return None
    return next((name for name in names if name in table.names), None)


def values_of(table: TableInfo, column: str | None) -> list[str]:
    info: ColumnInfo | None = table.column(column) if column else None
    return w.texts(info.values) if info else []


def profiles_part(guess: Guess) -> dict[str, Any]:
    table = guess.profiles
    if table is None:
        guess.notes.append(f"no profiles table: one static profile {STATIC!r}; its entries need a lock table or "
                           "the bot's control API (control_api URLs below are placeholders)")
        static = {"id": STATIC, "account": next(iter(_account_ids(guess)), STATIC)}
        return {"static": [static], "entries": _lock_table(guess) or _control_api()}
    part: dict[str, Any] = {"table": table.name, "id": guess.id_of(table)}
    if "name" in table.names:
        part["name"] = "name"
    account: Any = guess.ref(table, ACCOUNT_KEYS) or guess.link(table, ACCOUNT_KEYS)
    if account is None:
        guess.notes.append("profiles.account: no account column or assignment table found")
        account = {"value": next(iter(_account_ids(guess)), STATIC)}
    part["account"] = account
    part["entries"] = _entries(guess, table)
    return part


def _account_ids(guess: Guess) -> list[str]:
    return values_of(guess.accounts, guess.id_of(guess.accounts)) if guess.accounts else []


def _lock_table(guess: Guess) -> dict[str, Any] | None:
    """A lock table the bot reads every cycle (freqtrade's ``pairlocks``): a row stops entries."""
    for table in guess.tables:
        active = next((c.name for c in table.columns if c.name == "active" and c.kind == "boolean"), None)
        ends_at = pick(table, ("lock_end_time", "ends_at", "expires_at", "until", "end_time"))
        if "lock" not in table.name.lower() or not (active or ends_at):
            continue
        guess.notes.append(f"profiles.entries: rows written to {table.name} carry the values below: check them")
        spec: dict[str, Any] = {"mechanism": "lock_table", "table": table.name}
        wildcards = [name for name in ("pair", "symbol", "side") if name in table.names]
        spec["values"] = {**{name: "*" for name in wildcards}, **({"reason": "incident automation: entries "
                                                                   "stopped"} if "reason" in table.names else {})}
        if wildcards:
            spec["match"] = {name: ["*"] for name in wildcards}
        starts_at = pick(table, ("lock_time", "starts_at", "start_time", "created_at"))
        for key, found in (("starts_at", starts_at), ("ends_at", ends_at), ("active", active)):
            if found:
                spec[key] = found
        if ends_at:
            spec["timestamps"] = guess.clock_format(table, ends_at, default=False)
        return spec
    return None


def _control_api() -> dict[str, Any]:
    url = "http://127.0.0.1:8080/SET-ME"
    return {"mechanism": "control_api", "stop": {"url": f"{url}/stop"}, "resume": {"url": f"{url}/resume"},
            "state": {"call": {"url": f"{url}/state", "method": "GET"}, "field": "SET-ME", "stopped": [True]}}


def _entries(guess: Guess, table: TableInfo) -> dict[str, Any]:
    touch = pick(table, UPDATED)
    flag = next((c.name for c in table.columns if c.name in ENABLED_FLAGS and c.kind == "boolean"), None)
    extra = {"touch": touch} if touch else {}
    if flag:
        return {"mechanism": "column", "column": flag, "enabled": [True], "stopped": [False], "stop": False,
                "resume": True, **extra}
    column = pick(table, STATE) or "status"
    values = values_of(table, column)
    enabled, stopped = w.of(values, w.ENABLED), w.of(values, w.STOPPED)
    _unclassified(guess, f"{table.name}.{column}", w.unknown(values, w.ENABLED, w.STOPPED), "profiles.entries")
    resume = w.first_of(w.RESUME_FIRST, enabled) or (enabled[0] if enabled else w.spelled_like(values, "active"))
    stop = w.first_of(w.STOP_FIRST, stopped) or w.spelled_like(values, w.OPPOSITE.get(resume.lower(), "paused"))
    return {"mechanism": "column", "column": column, "enabled": _with(enabled, resume),
            "stopped": _with(stopped, stop), "stop": stop, "resume": resume, **extra}


def _with(words: list[str], word: str) -> list[str]:
    return words if word in words else [*words, word]


def _unclassified(guess: Guess, where: str, words: list[str], key: str) -> None:
    if words:
        guess.notes.append(f"{where}: {', '.join(map(repr, words))} not classified: add them to {key}")


def orders_part(guess: Guess, table: TableInfo | None) -> dict[str, Any]:
    if table is None:
        table = TableInfo("SET-ME-orders", (), ())
    created = pick(table, CREATED) or "created_at"
    part: dict[str, Any] = {"table": table.name, "id": guess.id_of(table)}
    part["profile"] = guess.ref(table, PROFILE_KEYS) if guess.profiles else {"value": STATIC}
    if part["profile"] is None:
        guess.notes.append("orders.profile: no profile column, and no table on the way to one")
        part["profile"] = {"value": STATIC}
    optional = {"account": ACCOUNT_KEYS, "symbol": ("symbol", "ft_pair", "pair", "ticker"),
                "side": ("side", "ft_order_side", "order_side"), "qty": ("qty", "quantity", "amount"),
                "status": ("status", "state"), "order_type": ("order_type", "type"),
                "time_in_force": ("time_in_force", "tif"), "client_order_id": ("client_order_id",),
                "broker_order_id": ("broker_order_id", "alpaca_order_id", "exchange_order_id", "order_id")}
    part.update({key: found for key, names in optional.items() if (found := pick(table, names))})
    if "side" in part:
        _sides(guess, table, part)
    part["created_at"] = created
    updated = pick(table, UPDATED)
    if updated:
        part["updated_at"] = updated
    guess.clock_format(table, created)
    return {**part, **_order_words(guess, table, part, created, updated)}


def _sides(guess: Guess, table: TableInfo, part: dict[str, Any]) -> None:
    values = values_of(table, part["side"])
    _unclassified(guess, f"{table.name}.{part['side']}", w.unknown(values, w.BUY, w.SELL), "orders.sides")
    buy, sell = w.of(values, w.BUY), w.of(values, w.SELL)
    if any(word not in ("buy", "sell") for word in buy + sell):  # another spelling: name it
        part["sides"] = {"buy": buy or ["buy"], "sell": sell or ["sell"]}


def _order_words(guess: Guess, table: TableInfo, part: dict[str, Any], clock: str, touch: str | None) -> dict[str, Any]:
    values = values_of(table, part.get("status", "status"))
    folded = any(value != value.lower() for value in values)
    if folded:
        values = w.distinct_folded(values)
    working, terminal = w.of(values, w.ORDER_WORKING), w.of(values, w.ORDER_TERMINAL)
    held = w.of(values, w.ORDER_QUARANTINED) or [w.spelled_like(values, "unknown")]
    _unclassified(guess, f"{table.name}.{part.get('status', 'status')}",
                  w.unknown(values, w.ORDER_WORKING, w.ORDER_TERMINAL, w.ORDER_QUARANTINED), "orders.statuses")
    statuses: dict[str, Any] = {"working": working or list(w.ALPACA_WORKING),
                                "terminal": terminal or list(w.ALPACA_TERMINAL), "quarantined": held}
    for name in ("rejected", "filled"):
        if any(word.lower() == name for word in statuses["terminal"]):
            statuses[name] = [word for word in statuses["terminal"] if word.lower() == name]
    if folded:
        statuses["case_insensitive"] = True
    stale: list[dict[str, Any]] = []
    boundary = w.of(statuses["working"], w.ORDER_DAY_BOUNDARY)
    if boundary:
        stale.append({"status": boundary, "never": True})
    resting = [word for word in w.of(statuses["working"], w.ORDER_RESTING) if word not in boundary]
    if "order_type" in part and resting:
        types = w.of(values_of(table, part["order_type"]), frozenset(w.LIMIT_TYPES)) or list(w.LIMIT_TYPES)
        stale.append({"status": resting, "order_type": types, "never": True})  # a resting limit order
    stale.append({"class": "working", "clock": clock})
    quarantine: dict[str, Any] = {"write": held[0], **({"touch": touch} if touch else {})}
    return {"statuses": statuses, "quarantine": quarantine, "stale": stale}


def positions_part(guess: Guess, table: TableInfo | None) -> dict[str, Any]:
    if table is None:
        guess.notes.append("no positions table found: name it under positions.table")
        table = TableInfo("SET-ME-positions", (), ())
    part: dict[str, Any] = {"table": table.name, "id": guess.id_of(table),
                            "symbol": pick(table, ("symbol", "pair", "ticker")) or "symbol"}
    account = pick(table, ACCOUNT_KEYS)
    profile = guess.ref(table, PROFILE_KEYS) if guess.profiles else {"value": STATIC}
    if account:
        part["account"] = account
    if profile or not account:
        part["profile"] = profile or {"value": STATIC}
    part["quantity"] = _quantity(guess, table)
    part["open"] = _open(guess, table)
    for key, names in (("opened_at", ("opened_at", "open_date", "created_at")), ("closed_at", ("closed_at",
                                                                                                 "close_date"))):
        found = pick(table, names)
        if found:
            part[key] = found
    if "opened_at" in part and guess.clock_format(table, part["opened_at"]) != guess.timestamps:
        part["timestamps"] = guess.clock_format(table, part["opened_at"])
    return part


def _quantity(guess: Guess, table: TableInfo) -> Any:
    column = pick(table, ("qty", "quantity", "amount", "size", "position_qty")) or "qty"
    side = pick(table, ("side", "position_type", "direction", "position_side"))
    if side:
        values = values_of(table, side)
        long_words, short_words = w.of(values, w.LONG) or ["long"], w.of(values, w.SHORT) or ["short"]
        _unclassified(guess, f"{table.name}.{side}", w.unknown(values, w.LONG, w.SHORT), "positions.quantity.side")
        return {"column": column, "side": {"column": side, "long": long_words, "short": short_words}}
    if "is_short" in table.names:
        return {"column": column, "short_flag": "is_short"}
    return column


def _open(guess: Guess, table: TableInfo) -> dict[str, Any]:
    status = pick(table, ("status", "state"))
    if status:
        values = values_of(table, status)
        _unclassified(guess, f"{table.name}.{status}", w.unknown(values, w.POSITION_OPEN, w.POSITION_CLOSED),
                      "positions.open.status")
        return {"status": {"column": status, "open": w.of(values, w.POSITION_OPEN) or ["open"],
                           "closed": w.of(values, w.POSITION_CLOSED) or ["closed"]}}
    if "is_open" in table.names:
        return {"flag": "is_open"}
    if pick(table, ("closed_at", "close_date")):
        return {"closed_at_null": True}
    guess.notes.append(f"positions.open: no status, flag or close time found in {table.name}")
    return {"status": {"column": "status", "open": ["open"], "closed": ["closed"]}}
