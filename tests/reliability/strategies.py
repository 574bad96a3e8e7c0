"""Hypothesis strategies for input the webhook must refuse without doing anything.

Each strategy draws cases that are invalid in exactly one respect, so the expected answer is known:
not a payload (400), a payload with one field of a wrong type or missing (400), a wrong or missing bearer
token (401), a media type other than JSON (415), a body over ``max_body_bytes`` (413).
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st
from werkzeug.http import parse_options_header

from tests.responder.harness import WEBHOOK_TOKEN
from tests.responder.payloads import alert, ghost_labels, notification

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=24)
)
JSON = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=25,
)
HOSTILE_TEXT = st.sampled_from([
    "'; DROP TABLE profiles; --", "p-1' OR '1'='1", "%", "_", "\\", '"', "${jndi:ldap://x}", "<!channel>",
    "{{ 7*7 }}", "{% raw %}", "\u202e", "\u0000", "\ud800", "\udfff", "🔥" * 40, "\n\r\t", "p-1\u0000",
    "../../etc/passwd", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "1700000000", "",
])


def base_payload(alerts: int = 1) -> dict[str, Any]:
    """A valid delivery for a routed alert (GhostPosition on p-1): accepted, it would deactivate p-1."""
    items = [alert(ghost_labels("p-1" if n == 0 else f"p-{n + 1}")) for n in range(alerts)]
    return notification(*items)


# ---- 400: not an Alertmanager payload ---------------------------------------------------------------

def _prefixes(body: bytes) -> st.SearchStrategy[bytes]:
    return st.integers(min_value=0, max_value=len(body) - 1).map(lambda n: body[:n])


def not_a_payload(limit: int) -> st.SearchStrategy[bytes]:
    """Bodies of at most `limit` bytes that are not an Alertmanager payload (deep nesting included)."""
    return st.one_of(
        st.binary(max_size=300),
        JSON.map(lambda v: json.dumps(v).encode()),
        _prefixes(json.dumps(base_payload(2)).encode()),
        st.integers(min_value=50, max_value=limit // 2).map(lambda depth: b"[" * depth + b"]" * depth),
        st.integers(min_value=50, max_value=limit // 6 - 1).map(lambda d: b'{"a":' * d + b"1" + b"}" * d),
        HOSTILE_TEXT.map(lambda text: json.dumps(text).encode()),
    )


# ---- 400: one field of a valid payload has a wrong type, a wrong value, or is missing ------------------

def _not(*kinds: type) -> st.SearchStrategy[Any]:
    return JSON.filter(lambda v: not isinstance(v, kinds))


def _not_a_count(value: Any) -> bool:
    if isinstance(value, bool):
        return True
    if isinstance(value, int):
        return value < 0
    if isinstance(value, float):
        return not value.is_integer() or value < 0
    return True


NOT_TEXT = _not(str)
NOT_MAP = st.one_of(_not(dict), st.dictionaries(st.text(min_size=1, max_size=8), _not(str), min_size=1, max_size=3))
BAD_TIME = st.one_of(
    _not(str),
    st.text(max_size=40),
    HOSTILE_TEXT,
    st.sampled_from(["2026-01-01T00:00:00", "2026-01-01 00:00:00Z", "2026-13-01T00:00:00Z", "0", "-1", "1e9",
                     "2026-01-01T00:00:00+0100", "0001-01-01T00:00:00+00:01", "9999-12-31T23:59:59-00:01",
                     "\uff12\uff10\uff12\uff16-01-01T00:00:00Z", "2026-01-01T00:00:00.Z"]),
)
BAD_FINGERPRINT = st.one_of(
    _not(str), st.just(""), st.text(min_size=65, max_size=80, alphabet="abc0"),
    st.text(min_size=1, max_size=20).filter(lambda s: not all(c.isascii() and (c.isalnum() or c in "_.:-") for c in s)),
)
BAD_ALERTNAME = st.one_of(_not(str), st.just(""), st.text(min_size=201, max_size=210, alphabet="A"), st.just("A\u0000"))
BAD_LABEL_NAMES = st.sampled_from(["", "x" * 257, "a\u0000b", "\ud800"])
# (path into the payload, strategy for a value that makes it invalid); None = remove the key
MUTATIONS: list[tuple[tuple[Any, ...], st.SearchStrategy[Any] | None]] = [
    (("version",), JSON.filter(lambda v: v != "4")),
    (("version",), None),
    (("status",), JSON.filter(lambda v: v not in ("firing", "resolved"))),
    (("status",), None),
    (("alerts",), _not(list)),
    (("alerts",), None),
    (("alerts", 0), _not(dict)),
    (("alerts", 0, "status"), JSON.filter(lambda v: v not in ("firing", "resolved"))),
    (("alerts", 0, "status"), None),
    (("alerts", 0, "labels"), NOT_MAP),
    (("alerts", 0, "labels"), None),
    (("alerts", 0, "labels", "alertname"), BAD_ALERTNAME),
    (("alerts", 0, "labels", "alertname"), None),
    (("alerts", 0, "labels", "profile"), st.one_of(NOT_TEXT, st.just("p-1\u0000"), st.just("\udfff"))),
    (("alerts", 0, "labels", BAD_LABEL_NAMES), st.text(max_size=10)),
    (("alerts", 0, "annotations"), NOT_MAP),
    (("alerts", 0, "startsAt"), BAD_TIME),
    (("alerts", 0, "startsAt"), None),
    (("alerts", 0, "endsAt"), BAD_TIME),
    (("alerts", 0, "endsAt"), None),
    (("alerts", 0, "fingerprint"), BAD_FINGERPRINT),
    (("alerts", 0, "fingerprint"), None),
    (("alerts", 0, "generatorURL"), NOT_TEXT),
    (("alerts", 1), _not(dict)),
    (("receiver",), NOT_TEXT),
    (("externalURL",), NOT_TEXT),
    (("groupKey",), NOT_TEXT),
    (("groupLabels",), NOT_MAP),
    (("commonLabels",), NOT_MAP),
    (("truncatedAlerts",), JSON.filter(_not_a_count)),
]


@st.composite
def mistyped_payload(draw: st.DrawFn) -> tuple[str, bytes]:
    """A valid two-alert GhostPosition delivery with exactly one field broken; (where, body)."""
    path, value_strategy = draw(st.sampled_from(MUTATIONS))
    path = tuple(draw(part) if isinstance(part, st.SearchStrategy) else part for part in path)
    payload = base_payload(2)
    target: Any = payload
    for key in path[:-1]:
        target = target[key]
    if value_strategy is None:
        del target[path[-1]]
    else:
        target[path[-1]] = draw(value_strategy)
    where = ".".join(str(p) for p in path)
    return where, json.dumps(payload).encode("utf-8", errors="surrogatepass")


# ---- 401: the bearer token is wrong or missing ------------------------------------------------------------

LATIN1 = st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f")


def _near_misses() -> st.SearchStrategy[str]:
    token = WEBHOOK_TOKEN
    return st.one_of(
        st.integers(min_value=0, max_value=len(token) - 1).map(lambda n: token[:n]),
        st.text(LATIN1, min_size=1, max_size=4).map(lambda extra: token + extra),
        st.integers(min_value=0, max_value=len(token) - 1).map(
            lambda n: token[:n] + ("X" if token[n] != "X" else "Y") + token[n + 1:]),
        st.just(token.upper()),
        st.text(LATIN1, max_size=60),
    )


AUTHORIZATION: st.SearchStrategy[dict[str, str]] = st.one_of(
    st.just({}),
    _near_misses().map(lambda t: {"Authorization": f"Bearer {t}"}),
    st.sampled_from(["Basic", "Token", "bearer:", "Bearer\t", "Digest", ""]).map(
        lambda scheme: {"Authorization": f"{scheme} {WEBHOOK_TOKEN}"}),
    st.just({"Authorization": WEBHOOK_TOKEN}),
    st.just({"Authorization": f"Bearer{WEBHOOK_TOKEN}"}),
    st.text(LATIN1, max_size=80).map(lambda v: {"Authorization": v}),
    st.just({"X-Authorization": f"Bearer {WEBHOOK_TOKEN}"}),
    st.just({"Proxy-Authorization": f"Bearer {WEBHOOK_TOKEN}"}),
).filter(lambda h: h.get("Authorization", "").partition(" ")[2].strip() != WEBHOOK_TOKEN
         or h.get("Authorization", "").partition(" ")[0].lower() != "bearer")


# ---- 415: not JSON ----------------------------------------------------------------------------------------

def _is_json(content_type: str) -> bool:
    return parse_options_header(content_type)[0].lower() == "application/json"


CONTENT_TYPES: st.SearchStrategy[str | None] = st.one_of(
    st.none(),
    st.sampled_from([
        "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml",
        "application/jsonx", "application/json-patch+json", "application/problem+json", "text/json",
        "application/ json", "application/octet-stream", "*/*", "application/*", "",
    ]),
    st.text(LATIN1, max_size=40),
).filter(lambda ct: ct is None or not _is_json(ct))


# ---- 413: too large ---------------------------------------------------------------------------------------

@st.composite
def oversized_body(draw: st.DrawFn, limit: int) -> bytes:
    """A body over `limit` bytes: a valid delivery padded with a huge annotation, or plain filler."""
    size = draw(st.integers(min_value=limit + 1, max_value=limit * 4))
    if draw(st.booleans()):
        payload = base_payload(1)
        payload["alerts"][0]["annotations"]["description"] = draw(st.sampled_from("x🔥\u00e9 ")) * size
        return json.dumps(payload).encode()
    return draw(st.sampled_from([b" ", b"[", b"x", b"\x00"])) * size
