"""The main journey in Firefox ESR (Debian's ``firefox-esr``), with axe-core in Firefox too.

How Firefox is driven here, without downloads: Playwright's WebDriver BiDi channel for Firefox ("moz-firefox")
launches Debian's Firefox ESR but fails on its first browser context (the ESR does not implement the BiDi command
``emulation.setMediaFeaturesOverride`` that Playwright sends), and Selenium needs geckodriver, which neither
Debian nor PyPI ships for Linux. So the tests speak Marionette, Firefox's own automation protocol (the one
geckodriver translates WebDriver into), with Mozilla's ``marionette-driver`` package from PyPI. Its API is
synchronous; the gateway runs in its own thread, so blocking calls here hold up nothing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import AXE_RESULTS, BROWSER_REQUIRED, Site, free_port

FIREFOX = os.environ.get("GATEWAY_TEST_FIREFOX", "/usr/bin/firefox-esr")
WAIT_SECONDS = 30.0


def _no_firefox(reason: str) -> None:
    if BROWSER_REQUIRED and shutil.which("firefox-esr"):
        pytest.fail(f"Firefox tests cannot run: {reason}")
    pytest.skip(f"Firefox tests skipped: {reason}")


@pytest.fixture(scope="session")
def firefox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    try:
        from marionette_driver.marionette import Marionette
    except ImportError:
        _no_firefox("marionette-driver is not installed (pip install marionette-driver)")
    if not Path(FIREFOX).exists():
        _no_firefox(f"no Firefox at {FIREFOX} (apt-get install firefox-esr)")
    log = tmp_path_factory.mktemp("firefox") / "gecko.log"  # Firefox's own log, never in the working tree
    client = Marionette(
        bin=FIREFOX, headless=True, host="127.0.0.1", port=free_port(), startup_timeout=120, gecko_log=str(log)
    )
    client.start_session()
    client.timeout.implicit = 10  # find_element waits this long for an element to appear
    try:
        yield client
    finally:
        client.cleanup()


def _wait(client: Any, condition: Any, message: str) -> None:
    from marionette_driver import Wait

    Wait(client, timeout=WAIT_SECONDS, interval=0.2).until(condition, message=message)


def _main_text(client: Any) -> str:
    from marionette_driver.by import By

    return str(client.find_element(By.TAG_NAME, "main").text)


def _axe(client: Any, name: str) -> None:
    """axe-core (the copy axe-playwright-python bundles) in Firefox: 0 serious or critical violations."""
    import axe_playwright_python

    script = (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text(encoding="utf-8")
    client.execute_script(script, sandbox=None)
    found = json.loads(
        client.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document).then(r => done(JSON.stringify(r.violations.map(v => [v.id, v.impact]))));",
            sandbox=None,
            script_timeout=60_000,
        )
    )
    counts: dict[str, int] = {}
    for _, impact in found:
        counts[impact] = counts.get(impact, 0) + 1
    AXE_RESULTS[f"{name} (Firefox)"] = counts
    assert not [v for v in found if v[1] in ("serious", "critical")], found


async def test_the_main_journey_in_firefox(firefox: Any, site: Site) -> None:
    from marionette_driver.by import By

    client = firefox
    client.navigate(f"{site.url}/log-ind")
    client.delete_all_cookies()
    client.navigate(f"{site.url}/")
    assert client.get_url().endswith("/log-ind")
    _axe(client, "sign-in")
    client.find_element(By.CSS_SELECTOR, "input[name=cpr][value='1507804321']").click()
    client.find_element(By.CSS_SELECTOR, "form[action='/log-ind/udvikling'] button").click()
    _wait(client, lambda c: "Dit overblik" in _main_text(c), "the overview did not show")
    text = _main_text(client)
    assert "Anna Jensen" in text and "150780-4321" in text
    assert client.find_element(By.CSS_SELECTOR, "#claim-RK-REN-2023-0931 .marker").text == "*"
    # The details disclosure opens with its statement.
    tax = client.find_element(By.ID, "claim-RK-EJD-2025-1187")
    tax.find_element(By.TAG_NAME, "summary").click()
    assert tax.find_element(By.CSS_SELECTOR, "table").is_displayed()
    assert "4.474,25 kr." in tax.text
    _axe(client, "overview")

    # Betal nu: through the simulator's checkout and back.
    tax.find_element(By.CSS_SELECTOR, "input[type=checkbox]").click()
    client.find_element(By.CSS_SELECTOR, "button[formaction='/betal']").click()
    _wait(client, lambda c: c.get_url().startswith(f"{site.url}/betal?"), "the pay page did not show")
    client.find_element(By.CSS_SELECTOR, "input[name=metode][value=CARD]").click()
    client.find_element(By.CSS_SELECTOR, "form[action='/betal'] button[type=submit]").click()
    _wait(client, lambda c: "/checkout/" in c.get_url(), "the provider's checkout did not show")
    assert client.find_element(By.ID, "amount").text == "4.474,25 kr."
    await site.provider("POST", "/admin/config", {"reverseOrder": True})  # the provider holds its webhooks
    client.find_element(By.CSS_SELECTOR, "form[action$='/approve'] button").click()
    _wait(client, lambda c: re.search(r"/betalinger/[^/]+$", c.get_url()) is not None, "not back from checkout")
    assert "Betalingen er ikke gennemført endnu." in _main_text(client)

    # The live status (static/live.js): the capture shows up without a reload.
    client.execute_script("window.notReloaded = true;", sandbox=None)
    await site.provider("POST", "/admin/config", {"reverseOrder": False})  # the webhooks arrive
    _wait(client, lambda c: "Betalingen er gennemført" in _main_text(c), "the capture did not show live")
    assert client.execute_script("return window.notReloaded === true;", sandbox=None), "the page was reloaded"
    assert client.find_element(By.ID, "payment-status-label").text == "Gennemført"
    _axe(client, "payment status (live)")
    client.refresh()
    _axe(client, "payment status")

    # English by the switch.
    client.find_element(By.CSS_SELECTOR, "a[hreflang=en]").click()
    _wait(client, lambda c: "How the money was allocated" in _main_text(c), "no English")
    assert client.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
