"""The console in a real browser (Debian's headless Chromium through Selenium, over real HTTP on loopback):
a wrong login is refused, a ghost incident appears with its evidence, two operators approve the close,
the step runs once and the timeline shows it, the profile is re-armed with its parity check, and a
form whose CSRF token was removed is refused; the kill switch is engaged, its flatten approved by two
operators, and the profile re-armed.

Screenshots of the main pages go to $CONSOLE_SCREENSHOTS when set (``docs/img`` refreshes the README's).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from responder.web import create_app
from tests.responder.consoleops import CONSOLE_ENV, PASSWORDS, write_operators
from tests.responder.harness import Harness, harness, sections
from tests.responder.payloads import alert, ghost_labels, notification
from tests.responder.servers import FakeBroker
from tests.support.botstate import add_account, add_profile
from tests.support.wsgi import serve_wsgi

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.wait import WebDriverWait  # noqa: E402

pytestmark = pytest.mark.browser
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1400,1000")


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    if not (CHROMIUM and DRIVER):
        pytest.fail("chromium and chromedriver are missing: make test installs them (scripts/ensure-packages.sh)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={tmp_path / 'chromium'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=DRIVER))
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def served(tmp_path: Path, broker: tuple[FakeBroker, str]) -> Iterator[tuple[Harness, str]]:
    db_url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    config = sections(tmp_path, db_url, broker={"base_url": broker[1]}, responder={
        "max_close_notional": 1000, "console": {"operators_file": str(write_operators(tmp_path / "ops.yml"))}})
    with harness(tmp_path, config, env=CONSOLE_ENV) as h:
        add_account(h.bot, "acct-1", "key-acct-1")
        add_profile(h.bot, "p-1", "acct-1", datetime.now(UTC))
        with serve_wsgi(create_app(h.runtime)) as url:
            yield h, url


def shot(driver: webdriver.Chrome, name: str) -> None:
    target = os.environ.get("CONSOLE_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(target) / f"console-{name}.png"))


def submit(driver: webdriver.Chrome, button: WebElement) -> None:
    """Click a form's button and wait until the answer's page has replaced this one."""
    page = driver.find_element(By.TAG_NAME, "html")
    button.click()
    WebDriverWait(driver, 10).until(expected_conditions.staleness_of(page))


def sign_in(driver: webdriver.Chrome, url: str, name: str, password: str) -> None:
    driver.delete_all_cookies()
    driver.get(f"{url}/console/login")
    driver.find_element(By.NAME, "name").send_keys(name)
    driver.find_element(By.NAME, "password").send_keys(password)
    submit(driver, driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))


def decide(driver: webdriver.Chrome, step_id: int, decision: str, reason: str = "") -> str:
    card = driver.find_element(By.ID, f"waiting-{step_id}")
    if reason:
        card.find_element(By.NAME, "reason").send_keys(reason)
    submit(driver, card.find_element(By.CSS_SELECTOR, f"button[value={decision}]"))
    return driver.find_element(By.TAG_NAME, "main").text


def test_two_operators_handle_a_ghost_incident_in_the_browser(
    browser: webdriver.Chrome, served: tuple[Harness, str], broker: tuple[FakeBroker, str]
) -> None:
    h, url = served
    fake = broker[0]
    sign_in(browser, url, "alice", "not-her-password")
    assert "Wrong operator name or password" in browser.find_element(By.ID, "login-error").text

    fake.positions[("key-acct-1", "MSFT")] = (50.0, 100.0)
    (run_id,) = h.post(notification(alert(ghost_labels("p-1", symbol="MSFT")))).json["runs"]
    h.drain()
    sign_in(browser, url, "alice", PASSWORDS["alice"])
    assert browser.find_element(By.ID, "operator").text == "alice"
    incidents = browser.find_element(By.ID, "incidents").text
    assert "GhostPosition" in incidents and "profile p-1, account acct-1, symbol MSFT" in incidents
    shot(browser, "incidents")

    browser.get(f"{url}/console/incidents/{run_id}")
    evidence = browser.find_element(By.ID, f"step-{h.step(run_id, 'evidence').id}").text
    assert "broker position" in evidence and "MSFT" in evidence
    reconcile = h.step(run_id, "reconcile")
    assert "Rejected" in decide(browser, reconcile.id, "reject", "reconciling by hand")
    h.drain()

    close = h.step(run_id, "close")
    browser.get(f"{url}/console/approvals")
    assert "close 50 MSFT (long) on acct-1 at market, notional 5000.00" in browser.page_source
    shot(browser, "approvals")
    assert "a second, different operator must approve" in decide(browser, close.id, "approve")
    assert h.step(run_id, "close").state == "awaiting_approval"

    sign_in(browser, url, "bob", PASSWORDS["bob"])
    browser.get(f"{url}/console/incidents/{run_id}")
    assert "alice" in browser.find_element(By.ID, f"waiting-{close.id}").text
    assert "Approved: the step runs now" in decide(browser, close.id, "approve", "desk confirmed")
    h.drain()
    browser.get(f"{url}/console/incidents/{run_id}")
    timeline = browser.find_element(By.ID, "timeline").text
    assert "close [close_position]: succeeded" in timeline and "approved by bob via console" in timeline
    assert fake.calls.count("POST /v2/orders") == 1
    shot(browser, "incident")

    browser.get(f"{url}/console/profiles")
    row = browser.find_element(By.ID, "profile-p-1")
    row.find_element(By.NAME, "reason").send_keys("parity confirmed after the close")
    submit(browser, row.find_element(By.CSS_SELECTOR, "button"))
    assert "re-enabled: positions match at the broker" in browser.find_element(By.TAG_NAME, "main").text
    assert browser.find_element(By.CSS_SELECTOR, "#profile-p-1 .status").text == "active"
    shot(browser, "profiles")

    h.post(notification(alert(ghost_labels("p-1", symbol="AAPL"))))
    h.drain()
    browser.get(f"{url}/console/approvals")
    browser.execute_script("document.querySelectorAll('input[name=csrf_token]').forEach(e => e.remove())")
    submit(browser, browser.find_element(By.CSS_SELECTOR, "button[value=approve]"))
    assert "CSRF" in browser.find_element(By.ID, "refused").text


def test_the_kill_switch_is_engaged_flattened_by_two_operators_and_a_profile_re_armed_in_the_browser(
    browser: webdriver.Chrome, served: tuple[Harness, str], broker: tuple[FakeBroker, str]
) -> None:
    h, url = served
    fake = broker[0]
    fake.positions[("key-acct-1", "MSFT")] = (50.0, 100.0)
    sign_in(browser, url, "alice", PASSWORDS["alice"])
    browser.get(f"{url}/console/kill-switch")
    assert browser.find_element(By.ID, "kill-switch-armed").text == "Not engaged."
    form = browser.find_element(By.ID, "engage-kill-switch")
    form.find_element(By.CSS_SELECTOR, "input[name=level][value=flatten]").click()
    form.find_element(By.NAME, "reason").send_keys("exchange halt drill")
    submit(browser, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert "Kill switch flatten engaged for p-1" in browser.find_element(By.TAG_NAME, "main").text
    h.drain()
    browser.get(f"{url}/console/kill-switch")
    engaged = browser.find_element(By.ID, "engaged-flatten").text
    assert "p-1" in engaged and "by alice via console" in engaged
    shot(browser, "kill-switch")
    (run_id,) = h.run_ids()
    flatten = h.step(run_id, "flatten")
    assert h.step(run_id, "stop-entries").state == "succeeded" and flatten.state == "awaiting_approval"

    browser.get(f"{url}/console/approvals")
    assert "close 1 position(s) reduce-only at market, notional 5000.00" in browser.page_source
    assert "a second, different operator must approve" in decide(browser, flatten.id, "approve")
    sign_in(browser, url, "bob", PASSWORDS["bob"])
    browser.get(f"{url}/console/approvals")
    assert "Approved: the step runs now" in decide(browser, flatten.id, "approve", "flat before the halt")
    h.drain()
    assert h.step(run_id, "flatten").state == "succeeded" and not fake.positions
    assert fake.calls.count("POST /v2/orders") == 1

    browser.get(f"{url}/console/profiles")
    assert browser.find_element(By.CSS_SELECTOR, "#profile-p-1 .status").text == "inactive"
    row = browser.find_element(By.ID, "profile-p-1")
    row.find_element(By.NAME, "reason").send_keys("halt over, parity checked")
    submit(browser, row.find_element(By.CSS_SELECTOR, "button"))
    assert "re-enabled: positions match at the broker" in browser.find_element(By.TAG_NAME, "main").text
    browser.get(f"{url}/console/kill-switch")
    assert browser.find_element(By.ID, "kill-switch-armed").text == "Not engaged."
    assert "alice" in browser.find_element(By.ID, "kill-switch-recent").text
