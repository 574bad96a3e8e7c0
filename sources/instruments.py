"""One identity per traded instrument, whatever the spelling.

Alpaca names a crypto pair two ways: ``BTC/USD`` in orders and assets, ``BTCUSD`` in positions (where the
slashed form is not even a valid path: ``GET /v2/positions/BTC/USD`` answers 404 while the position exists).
A bot stores either. `instrument()` resolves every spelling to one `Instrument`, so the exporters, the
rules, the evidence, parity and the responder's broker calls all speak of the same thing:

- ``instrument.symbol`` is the one ``symbol`` label value per instrument: the pair form for crypto
  (``BTC/USD``), the ticker for equities (unchanged);
- ``instrument.position_symbol`` is what ``/v2/positions/{symbol}`` answers for: the compact form;
- ``instrument.spellings`` are the forms a bot may have stored, for reading its rows.

A symbol is a crypto pair when it has a slash (``ETH/BTC``), when the broker lists it with asset class
``crypto``, or when, without a slash, it is longer than any US equity ticker (6 characters or more) and ends
in one of Alpaca's quote currencies (``USD``, ``USDT``, ``USDC``, ``BTC``) after a base of 2 or more
characters (``BTCUSD``, ``LINKUSDT``). Anything else is an equity, kept exactly as spelled.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

CRYPTO_QUOTES = ("USDT", "USDC", "USD", "BTC")  # Alpaca's quote currencies, longest first
CRYPTO_ASSET_CLASS = "crypto"
_MAX_EQUITY_TICKER = 5  # US equity tickers have at most 5 letters (a share class is written BRK.B)
_MIN_BASE = 2
_CODE = re.compile(r"[A-Z0-9]+")


@dataclass(frozen=True, order=True)
class Instrument:
    """An equity (``quote`` empty) or a crypto pair ``base/quote``."""

    base: str
    quote: str = ""

    @property
    def crypto(self) -> bool:
        return bool(self.quote)

    @property
    def symbol(self) -> str:
        """The label value and the orders' and assets' spelling: ``BTC/USD``, or the equity's ticker."""
        return f"{self.base}/{self.quote}" if self.quote else self.base

    @property
    def position_symbol(self) -> str:
        """The spelling ``/v2/positions/{symbol}`` answers for: ``BTCUSD``, or the equity's ticker."""
        return self.base + self.quote

    @property
    def spellings(self) -> tuple[str, ...]:
        """Every spelling a bot may store for this instrument (the label form first)."""
        return (self.symbol, self.position_symbol) if self.crypto else (self.symbol,)

    def __str__(self) -> str:
        return self.symbol


def _pair(text: str) -> Instrument | None:
    base, _, quote = text.upper().partition("/")
    if _CODE.fullmatch(base) and _CODE.fullmatch(quote):
        return Instrument(base, quote)
    return None


def _compact(text: str, *, listed_as_crypto: bool) -> Instrument | None:
    upper = text.upper()
    if not _CODE.fullmatch(upper) or (not listed_as_crypto and len(upper) <= _MAX_EQUITY_TICKER):
        return None
    for quote in CRYPTO_QUOTES:
        if upper.endswith(quote) and len(upper) - len(quote) >= _MIN_BASE:
            return Instrument(upper[: -len(quote)], quote)
    return None


def instrument(symbol: str | Instrument, asset_class: str | None = None) -> Instrument:
    """Resolve any spelling (``BTC/USD``, ``BTCUSD``, ``AAPL``); `asset_class` is the broker's, when known."""
    if isinstance(symbol, Instrument):
        return symbol
    text = symbol.strip()
    if "/" in text:
        return _pair(text) or Instrument(text)
    listed = asset_class == CRYPTO_ASSET_CLASS
    if asset_class is not None and not listed:
        return Instrument(text)
    return _compact(text, listed_as_crypto=listed) or Instrument(text)


_FORMAT_FIELD = re.compile(r"\{(\w*)\}")


def check_crypto_format(text: str) -> str:
    """A bot's own spelling of a crypto pair: ``{base}`` and ``{quote}`` once each, in that order (``{base}-{quote}``,
    ``{base}_{quote}``); ValueError otherwise."""
    names = _FORMAT_FIELD.findall(text)
    if names != ["base", "quote"]:
        raise ValueError(f"{text!r}: give {{base}} then {{quote}} once each, e.g. '{{base}}-{{quote}}'")
    return text


@dataclass(frozen=True)
class BotSpelling:
    """How a bot spells a crypto pair when it is neither of Alpaca's forms (``crypto_format``, e.g.
    ``{base}-{quote}`` for ``BTC-USD``); None: the bot stores one of Alpaca's forms. A stored symbol is read
    as a pair only when it ends in one of Alpaca's quote currencies (``BRK-B`` stays an equity)."""

    crypto_format: str | None = None

    def _pattern(self) -> re.Pattern[str] | None:
        if self.crypto_format is None:
            return None
        before, middle, after = (re.escape(part) for part in re.split(r"\{base\}|\{quote\}", self.crypto_format))
        quotes = "|".join(CRYPTO_QUOTES)
        return re.compile(f"{before}(?P<base>[A-Za-z0-9]+?){middle}(?P<quote>{quotes}){after}", re.IGNORECASE)

    def label(self, stored: str) -> str:
        """A symbol as the bot stored it, in a spelling `instrument()` resolves (the pair form for crypto)."""
        pattern = self._pattern()
        found = pattern.fullmatch(stored.strip()) if pattern is not None else None
        if found is None or "/" in stored:
            return stored
        return f"{found['base'].upper()}/{found['quote'].upper()}"

    def stored(self, symbols: Sequence[str]) -> list[str]:
        """`symbols` (any spelling) with the bot's own spelling of each crypto pair added."""
        found = list(dict.fromkeys(symbols))
        if self.crypto_format is None:
            return found
        for symbol in list(found):
            held = instrument(self.label(symbol))
            if held.crypto:
                own = self.crypto_format.format(base=held.base, quote=held.quote)
                found += [form for form in (own, *held.spellings) if form not in found]
        return found
