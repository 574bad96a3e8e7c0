"""Property-based fuzzing of ``POST /alerts`` (hypothesis, derandomized) against the real Flask app, a real
SQLite ledger file and a real bot DB: five families of invalid input, at least 10,000 cases in all, each
answered with its 4xx — never a 5xx — recording nothing, creating no run or step and changing nothing in
the bot DB; the app keeps answering valid deliveries afterwards. Valid deliveries with hostile labels
run the real playbooks and still change nothing. A PostgreSQL leg runs every family at a smaller scale.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from tests.reliability import strategies as fuzz
from tests.reliability.scale import FUZZ_FAMILIES, SCALE
from tests.reliability.sideeffects import digest, install_audit, ledger_counts, seed_bot
from tests.responder.harness import OPERATOR_TOKEN, WEBHOOK_TOKEN, Harness, harness, sections
from tests.responder.payloads import alert, notification

pytestmark = pytest.mark.reliability

LIMIT = 16_384  # max_body_bytes of the fuzzed responder


@dataclass
class Fuzzed:
    """The responder under fuzz, the bot DB's state before, and the number of cases each family ran."""

    h: Harness
    before: tuple[Any, ...]
    budget: int = SCALE.fuzz_bodies
    cases: dict[str, int] = field(default_factory=dict)

    def post(self, body: bytes, headers: dict[str, str], content_type: str | None = "application/json") -> Any:
        if content_type is not None:
            headers = {**headers, "Content-Type": content_type}
        return self.h.client.post("/alerts", data=body, headers=headers)

    def assert_did_nothing(self) -> None:
        assert ledger_counts(self.h.ledger) == (0, 0, 0), "invalid input reached the ledger"
        assert self.h.runtime.executor.run_once() is False, "a step became due"
        assert digest(self.h.bot) == self.before, "the bot DB changed"

    def outcome_count(self, outcome: str) -> float:
        metrics = self.h.client.get("/metrics").text
        for family in text_string_to_metric_families(metrics):
            for sample in family.samples:
                if sample.name == "tradingbot_responder_notifications_total" and sample.labels == {"outcome": outcome}:
                    return float(sample.value)
        return 0.0

    def assert_still_serving(self) -> None:
        assert self.h.client.get("/health/ready").status_code == 200
        body = notification(alert({"alertname": "FuzzCanary", "n": str(sum(self.cases.values()))}))
        answer = self.h.post(body)
        assert answer.status_code == 200 and answer.json["new"] == 1


@contextmanager
def fuzzed_responder(tmp_path: Path, db_url: str) -> Iterator[Fuzzed]:
    with harness(tmp_path, sections(tmp_path, db_url, responder={"max_body_bytes": LIMIT})) as h:
        seed_bot(h.bot, profiles_per_account=2, accounts=2)
        install_audit(h.bot)
        yield Fuzzed(h, digest(h.bot))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fuzzed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Fuzzed]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'fuzz.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_url")
    with fuzzed_responder(tmp_path, url) as f:
        f.budget = SCALE.fuzz_bodies if request.param == "sqlite" else SCALE.fuzz_postgres
        yield f


def run_family(f: Fuzzed, name: str, strategy: st.SearchStrategy[Any], case: Callable[[Any], None]) -> int:
    """Run `case` on `budget` examples drawn from `strategy`; return how many ran."""
    ran = [0]

    @settings(max_examples=f.budget, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def family(example: Any) -> None:
        ran[0] += 1
        case(example)

    family()
    f.cases[name] = ran[0]
    return ran[0]


OUTCOMES = {400: "bad_request", 401: "unauthorized", 413: "too_large", 415: "unsupported_media_type"}


def check_family(f: Fuzzed, name: str, status: int, ran: int, before_metric: float) -> None:
    assert ran >= f.budget, f"{name}: only {ran} of {f.budget} cases ran"
    assert f.outcome_count(OUTCOMES[status]) - before_metric == ran, "every case was answered by the app"
    f.assert_still_serving()


def test_bodies_that_are_not_payloads_are_400(fuzzed: Fuzzed) -> None:
    f, seen = fuzzed, fuzzed.outcome_count("bad_request")

    def case(body: bytes) -> None:
        answer = f.post(body, {"Authorization": f"Bearer {WEBHOOK_TOKEN}"})
        assert answer.status_code == 400, (answer.status_code, answer.get_data()[:200])
        f.assert_did_nothing()

    check_family(f, "not_a_payload", 400, run_family(f, "not_a_payload", fuzz.not_a_payload(LIMIT), case), seen)


def test_payloads_with_one_field_wrong_or_missing_are_400(fuzzed: Fuzzed) -> None:
    f, seen = fuzzed, fuzzed.outcome_count("bad_request")

    def case(example: tuple[str, bytes]) -> None:
        where, body = example
        answer = f.post(body, {"Authorization": f"Bearer {WEBHOOK_TOKEN}"})
        assert answer.status_code == 400, (where, answer.status_code, answer.get_data()[:300])
        f.assert_did_nothing()

    check_family(f, "mistyped", 400, run_family(f, "mistyped", fuzz.mistyped_payload(), case), seen)


def test_wrong_or_missing_bearer_tokens_are_401(fuzzed: Fuzzed) -> None:
    f, seen = fuzzed, fuzzed.outcome_count("unauthorized")
    body = fuzz.json.dumps(fuzz.base_payload(2)).encode()

    def case(headers: dict[str, str]) -> None:
        answer = f.post(body, headers)
        assert answer.status_code == 401, (headers, answer.status_code)
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        f.assert_did_nothing()

    check_family(f, "auth", 401, run_family(f, "auth", fuzz.AUTHORIZATION, case), seen)


def test_media_types_other_than_json_are_415(fuzzed: Fuzzed) -> None:
    f, seen = fuzzed, fuzzed.outcome_count("unsupported_media_type")
    body = fuzz.json.dumps(fuzz.base_payload(2)).encode()

    def case(content_type: str | None) -> None:
        answer = f.post(body, {"Authorization": f"Bearer {WEBHOOK_TOKEN}"}, content_type)
        assert answer.status_code == 415, (content_type, answer.status_code)
        f.assert_did_nothing()

    check_family(f, "media_type", 415, run_family(f, "media_type", fuzz.CONTENT_TYPES, case), seen)


def test_bodies_over_the_limit_are_413(fuzzed: Fuzzed) -> None:
    f, seen = fuzzed, fuzzed.outcome_count("too_large")

    def case(body: bytes) -> None:
        answer = f.post(body, {"Authorization": f"Bearer {WEBHOOK_TOKEN}"})
        assert answer.status_code == 413, answer.status_code
        f.assert_did_nothing()

    check_family(f, "oversized", 413, run_family(f, "oversized", fuzz.oversized_body(LIMIT), case), seen)


def test_the_families_add_up_to_at_least_10000_cases() -> None:
    assert SCALE.fuzz_bodies * FUZZ_FAMILIES >= 10_000


LABEL_TEXT = st.text(max_size=120) | fuzz.HOSTILE_TEXT


@st.composite
def hostile_delivery(draw: st.DrawFn) -> dict[str, Any]:
    """A well-formed delivery for a routed alert whose labels are hostile (never naming a real profile)."""
    alertname = draw(st.sampled_from(["GhostPosition", "StalePendingOrders", "QuarantinedOrdersNeedReview",
                                      "PositionMismatch", "BrokerUnreachable", "Unrouted"]))
    labels = draw(st.dictionaries(st.text(min_size=1, max_size=40), LABEL_TEXT, max_size=4))
    for name in ("profile", "account", "symbol"):
        labels[name] = draw(LABEL_TEXT)
    assume(labels["profile"] not in {"p-1", "p-2", "p-3", "p-4"} and labels["account"] not in {"acct-1", "acct-2"})
    labels.update(alertname=alertname, severity=draw(LABEL_TEXT))
    status = draw(st.sampled_from(["firing", "resolved"]))
    return notification(alert(labels, status, annotations={"summary": draw(LABEL_TEXT)}))


def test_hostile_labels_in_valid_deliveries_run_the_playbooks_and_change_nothing(tmp_path: Path) -> None:
    ran, accepted = [0], [0]
    with fuzzed_responder(tmp_path, f"sqlite:///{tmp_path / 'labels.sqlite3'}") as f:

        @settings(max_examples=SCALE.fuzz_labels, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(hostile_delivery())
        def family(body: dict[str, Any]) -> None:
            ran[0] += 1
            answer = f.h.post(body)
            assert answer.status_code in (200, 400, 413), answer.status_code
            accepted[0] += answer.status_code == 200
            f.h.drain()
            assert digest(f.h.bot) == f.before

        family()
        assert ran[0] >= SCALE.fuzz_labels and accepted[0] >= ran[0] // 2, (ran, accepted)
        states = {s.state for s in f.h.steps()}
        assert states <= {"succeeded", "failed", "skipped", "awaiting_approval"}, states
        f.assert_still_serving()


OPERATOR_PATHS = st.one_of(
    st.text(max_size=30).map(lambda q: ("GET", "/runs", {"limit": q})),
    st.text(max_size=30).map(lambda q: ("GET", "/runs", {"alertname": q})),
    st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3).map(lambda q: ("GET", "/runs", q)),
    st.integers(min_value=-(2**70), max_value=2**70).map(lambda n: ("GET", f"/runs/{n}", {})),
    st.integers(min_value=-(2**70), max_value=2**70).map(lambda n: ("POST", f"/approvals/{n}", {})),
    st.text(max_size=80).map(lambda p: ("POST", f"/profiles/{quote(p, safe='')}/enable", {})),
)


def test_the_operator_api_never_answers_5xx_to_junk(tmp_path: Path) -> None:
    ran = [0]
    with fuzzed_responder(tmp_path, f"sqlite:///{tmp_path / 'operator.sqlite3'}") as f:

        @settings(max_examples=max(300, SCALE.fuzz_labels), deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(OPERATOR_PATHS, fuzz.JSON)
        def family(target: tuple[str, str, dict[str, str]], body: Any) -> None:
            ran[0] += 1
            method, path, query = target
            answer = f.h.client.open(path, method=method, query_string=query, json=body,
                                     headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"})
            assert answer.status_code < 500, (method, path, query, answer.status_code, answer.get_data()[:200])
            assert digest(f.h.bot) == f.before

        family()
    assert ran[0] >= 300
