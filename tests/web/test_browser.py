"""Every journey of the web page in a real browser (Debian's Chromium, headless, driven by Playwright), against
the gateway over real HTTP with the payment simulator's checkout, and axe-core on every page (0 serious or
critical violations).

The page's one script is the payment page's live status (``static/live.js``); the journeys run with JavaScript
on, because axe-core runs in the page, and use nothing but forms and links. Paying is also tested with
JavaScript off, where the payment page offers its refresh link instead of the live status.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from tests.conftest import ANNA
from tests.web.conftest import Site, axe_check

try:
    from playwright.async_api import expect
except ImportError:  # the chromium fixture skips with the reason
    expect = None  # type: ignore[assignment]

WAIT_SECONDS = 20.0


async def sign_in(page: Any, name: str = "Anna Jensen") -> None:
    await page.goto("/")
    await expect(page).to_have_url(re.compile(r"/log-ind$"))
    await page.get_by_label(re.compile(name)).check()
    await page.get_by_role("button", name="Log ind som den valgte borger").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Dit overblik")


async def david_plan(page: Any, monthly: str) -> None:
    """David ticks all his claims, opens "Opret afdragsordning" and asks for ``monthly`` kroner a month."""
    await sign_in(page, "David Larsen")
    for box in await page.get_by_role("checkbox").all():
        await box.check()
    await page.get_by_role("button", name="Opret afdragsordning").click()
    await page.get_by_label("Beløb om måneden (kr.)").fill(monthly)
    await page.get_by_role("button", name="Fortsæt").click()


async def until_text(page: Any, text: str) -> None:
    """Until ``text`` shows, for at most WAIT_SECONDS: on a page that follows it live (JavaScript on) it shows
    by itself; else reload, as the page's own refresh link does (the link itself is tested with JavaScript off)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_SECONDS
    while not await page.get_by_text(text, exact=True).is_visible():
        assert loop.time() < deadline, f"{text!r} did not show within {WAIT_SECONDS} s"
        await page.reload()
        await page.wait_for_load_state()


async def test_sign_in_overview_details_and_language(page: Any) -> None:
    await page.goto("/log-ind")
    await axe_check(page, "sign-in")
    await sign_in(page)
    main = page.locator("main")
    await expect(main).to_contain_text("Anna Jensen")
    await expect(main).to_contain_text("150780-4321")
    await expect(page.locator("#total")).to_have_text(re.compile(r"\d+\.\d{3},\d{2}\s*kr\."))
    claims = page.locator("li.claim")
    await expect(claims).to_have_count(4)
    # The waste claim is at Gældsstyrelsen: the `*` and its explanation.
    waste = page.locator("#claim-RK-REN-2023-0931")
    await expect(waste.locator(".marker")).to_have_text("*")
    await expect(waste).to_contain_text("Sendt til inddrivelse hos Gældsstyrelsen")
    # The details disclosure: statement with running balance, and the sender's contact details.
    tax = page.locator("#claim-RK-EJD-2025-1187")
    statement = tax.locator("table")
    await expect(statement).to_be_hidden()
    await tax.locator("summary").click()
    await expect(statement).to_be_visible()
    await expect(statement.locator("tbody tr")).to_have_count(3)
    await expect(statement.locator("tbody tr").last).to_contain_text("4.474,25 kr.")
    await expect(tax).to_contain_text("ejendomsskat@randers.dk")
    await expect(tax).to_contain_text("Telefontider")
    await axe_check(page, "overview")

    await page.get_by_role("link", name="English").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Your overview")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await axe_check(page, "overview (English)")
    await page.get_by_role("link", name="Dansk").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Dit overblik")


async def test_keyboard_skip_link_and_focus_order(page: Any) -> None:
    await sign_in(page)
    await page.keyboard.press("Tab")
    focused = page.locator(":focus")
    await expect(focused).to_have_text("Gå til hovedindholdet")
    await page.keyboard.press("Enter")
    await page.keyboard.press("Tab")
    # From the main content, the next stop is in the main content (a notice's link), not the header's.
    await expect(page.locator("main :focus")).to_have_count(1)


@pytest.mark.both_databases
async def test_pay_by_card_through_the_checkout_and_back(page: Any, site: Site) -> None:
    await sign_in(page)
    before = await page.locator("#total").text_content()
    await page.locator("#claim-RK-EJD-2025-1187").get_by_role("checkbox").check()
    await page.get_by_role("button", name="Betal nu").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Betal nu")
    await expect(page.get_by_label(re.compile("Ejendomsskat, 2. rate"))).to_be_checked()
    await expect(page.locator("main")).to_contain_text("4.474,25 kr.")
    await axe_check(page, "pay")
    await page.get_by_label("Betalingskort").check()
    await page.get_by_role("button", name="Gå til betaling").click()
    # The payment provider's checkout (the simulator), on its own origin.
    await expect(page).to_have_url(re.compile(re.escape(site.payments.url) + r"/checkout/"))
    await expect(page.locator("#amount")).to_have_text("4.474,25 kr.")
    await page.get_by_role("button", name="Godkend").click()
    # Back on the page, which follows the payment until it is captured.
    await expect(page).to_have_url(re.compile(r"/betalinger/"))
    await until_text(page, "Betalingen er gennemført")
    await expect(page.locator("#payment-status-label")).to_have_text("Gennemført")
    # Captured while the page was open (the live status), the allocation is one link away; else it is here.
    if await (allocation := page.get_by_role("link", name="Se hvordan pengene er fordelt")).count():
        await allocation.click()
    await expect(page.locator("main")).to_contain_text("Hovedstol")
    await axe_check(page, "payment status")
    await page.get_by_role("link", name="Tilbage til overblikket").click()
    await expect(page.locator("#claim-RK-EJD-2025-1187")).to_have_count(0)  # paid: no longer open
    assert await page.locator("#total").text_content() != before
    await page.get_by_role("link", name="Betalinger", exact=True).click()
    await expect(page.locator("main")).to_contain_text("Gennemført")
    await axe_check(page, "payments")


async def pay_tax_by_card_with_webhooks_held(page: Any, site: Site) -> None:
    """Anna pays her property tax by card through the checkout, while the provider holds its webhooks: back on
    the page, the gateway does not know yet that she approved."""
    await site.provider("POST", "/admin/config", {"reverseOrder": True})  # webhooks held until released
    await sign_in(page)
    await page.locator("#claim-RK-EJD-2025-1187").get_by_role("checkbox").check()
    await page.get_by_role("button", name="Betal nu").click()
    await page.get_by_label("Betalingskort").check()
    await page.get_by_role("button", name="Gå til betaling").click()
    await expect(page).to_have_url(re.compile(re.escape(site.payments.url) + r"/checkout/"))
    await page.get_by_role("button", name="Godkend").click()
    await expect(page).to_have_url(re.compile(r"/betalinger/"))
    await expect(page.get_by_text("Betalingen er ikke gennemført endnu.")).to_be_visible()
    await expect(page.locator("#payment-status-label")).to_have_text("Afventer godkendelse")


async def test_payment_page_shows_the_capture_live(page: Any, site: Site) -> None:
    """With JavaScript the payment page follows the payment over the API's subscription: the capture shows up
    where the status stands, announced (aria-live), without a reload."""
    await pay_tax_by_card_with_webhooks_held(page, site)
    await page.evaluate("window.notReloaded = true")
    await site.provider("POST", "/admin/config", {"reverseOrder": False})  # the webhooks arrive: captured
    status = page.locator("#payment-status")
    await expect(status.get_by_text("Betalingen er gennemført", exact=True)).to_be_visible()
    await expect(status).to_have_attribute("aria-live", "polite")
    await expect(page.locator("#payment-status-label")).to_have_text("Gennemført")
    assert await page.evaluate("window.notReloaded === true"), "the page was reloaded"
    await axe_check(page, "payment status (live)")
    await status.get_by_role("link", name="Se hvordan pengene er fordelt").click()
    await expect(page.locator("main")).to_contain_text("Hovedstol")


async def test_without_javascript_the_payment_page_offers_a_refresh(page_without_javascript: Any, site: Site) -> None:
    page = page_without_javascript
    await pay_tax_by_card_with_webhooks_held(page, site)
    refresh = page.get_by_role("link", name="Opdater status")
    await expect(refresh).to_be_visible()
    await site.provider("POST", "/admin/config", {"reverseOrder": False})
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_SECONDS
    while await refresh.count():  # no script: only the link shows what happened
        assert loop.time() < deadline, f"not captured within {WAIT_SECONDS} s"
        await refresh.click()
        await page.wait_for_load_state()
    await expect(page.get_by_text("Betalingen er gennemført", exact=True)).to_be_visible()
    await expect(page.locator("#payment-status-label")).to_have_text("Gennemført")


async def test_declined_mobilepay_payment_says_so(page: Any, site: Site) -> None:
    await sign_in(page)
    await page.locator("#claim-RK-DAG-2025-0412").get_by_role("checkbox").check()
    await page.get_by_role("button", name="Betal nu").click()
    await page.get_by_label("MobilePay").check()
    await page.get_by_role("button", name="Gå til betaling").click()
    await expect(page.locator("#method")).to_have_text("MobilePay")
    await page.get_by_role("button", name="Afvis").click()
    await expect(page).to_have_url(re.compile(r"/betalinger/"))
    await until_text(page, "Betalingen blev ikke gennemført")
    await axe_check(page, "payment status (failed)")


async def test_pay_without_a_claim_shows_the_error_next_to_the_field(page: Any) -> None:
    await sign_in(page)
    await page.goto("/betal")
    await page.get_by_role("button", name="Gå til betaling").click()
    summary = page.get_by_role("alert")
    await expect(summary).to_contain_text("Vælg mindst ét krav, du vil betale.")
    await expect(page.locator("#krav-error")).to_contain_text("Vælg mindst ét krav, du vil betale.")
    await expect(page).to_have_title(re.compile("^Fejl:"))
    await summary.get_by_role("link").click()
    await expect(page.locator("#krav")).to_be_focused()
    await axe_check(page, "pay (error)")


async def test_installment_plan_from_range_to_creation(page: Any) -> None:
    await sign_in(page, "David Larsen")
    for box in await page.get_by_role("checkbox").all():
        await box.check()
    await page.get_by_role("button", name="Opret afdragsordning").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Opret afdragsordning")
    main = page.locator("main")
    await expect(main).to_contain_text("Mindste beløb om måneden")
    await expect(main).to_contain_text("350,00 kr.")
    await axe_check(page, "plan: range")
    # Below the minimum: the API's error next to the field, and in the summary.
    await page.get_by_label("Beløb om måneden (kr.)").fill("100")
    await page.get_by_role("button", name="Fortsæt").click()
    await expect(page.locator("#beloeb-error")).to_be_visible()
    await expect(page.get_by_role("alert")).to_be_visible()
    await axe_check(page, "plan: amount error")
    # Within 18 months: the schedule and the terms.
    await page.get_by_label("Beløb om måneden (kr.)").fill("700")
    await page.get_by_label("Betalingsdag i måneden").select_option("5")
    await page.get_by_role("button", name="Fortsæt").click()
    await expect(page.get_by_role("heading", name="Din afdragsordning")).to_be_visible()
    await page.get_by_text("Se betalingsplanen").click()
    await expect(page.locator("main table").last.locator("tbody tr")).to_have_count(18)
    await expect(page.locator("#terms")).to_contain_text("afdragsordning")
    await expect(page.locator("#terms-version")).to_contain_text("Version")
    await axe_check(page, "plan: schedule and terms")
    # Terms not accepted: refused, said next to the box.
    await page.get_by_role("button", name="Opret afdragsordning").click()
    await expect(page.locator("#betingelser-error")).to_be_visible()
    await page.get_by_label("Jeg accepterer betingelserne").check()
    await page.get_by_role("button", name="Opret afdragsordning").click()
    await expect(page.get_by_role("status")).to_contain_text("Din afdragsordning er oprettet.")
    await expect(page.locator("#plan-status")).to_have_text("Aktiv")
    await expect(main).to_contain_text("700,00 kr.")
    await axe_check(page, "plan: created")
    await page.get_by_role("link", name="Afdragsordninger", exact=True).click()
    await expect(main).to_contain_text("700,00 kr. om måneden")
    await axe_check(page, "plans")


async def test_installment_plan_over_18_months_asks_for_an_assessment(page: Any, site: Site) -> None:
    await david_plan(page, "350")
    await expect(page.get_by_role("heading", name="Individuel vurdering")).to_be_visible()
    await page.get_by_label("Jeg accepterer betingelserne").check()
    await page.get_by_role("button", name="Send anmodning om individuel vurdering").click()
    await expect(page.locator("#begrundelse-error")).to_be_visible()
    await axe_check(page, "plan: assessment error")
    await page.get_by_label("Hvorfor har du brug for en længere afdragsordning?").fill("Jeg er på SU indtil juni.")
    await page.get_by_label("Jeg accepterer betingelserne").check()
    await page.get_by_role("button", name="Send anmodning om individuel vurdering").click()
    await expect(page.get_by_role("status")).to_contain_text("individuel vurdering")
    await expect(page.locator("#plan-status")).to_have_text("Afventer individuel vurdering")
    await expect(page.locator("main")).to_contain_text("Jeg er på SU indtil juni.")
    plan_id = page.url.split("/afdragsordninger/")[1].split("?")[0]

    # The Payments Office counters with 700 kr. a month; the citizen reads why and accepts on the current terms.
    offered = await site.gql(
        """mutation($i: CounterOfferInstallmentPlanInput!) {
             counterOfferInstallmentPlan(input: $i) { plan { status } userErrors { code } } }""",
        {
            "i": {
                "planId": plan_id,
                "note": "intern",
                "messageToCitizen": "Vi kan tilbyde 700 kr. om måneden.",
                "monthlyAmount": "700",
                "idempotencyKey": "web-counter-offer",
            }
        },
        caseworker="cw-1001",
    )
    assert offered["data"]["counterOfferInstallmentPlan"]["plan"]["status"] == "COUNTER_OFFERED"
    await page.reload()
    main = page.locator("main")
    await expect(page.locator("#plan-status")).to_have_text("Modtilbud fra Betalingskontoret")
    await expect(main).to_contain_text("Vi kan tilbyde 700 kr. om måneden.")
    await axe_check(page, "plan: counter-offer")
    await page.get_by_role("button", name="Accepter modtilbuddet").click()
    await expect(page.locator("#betingelser-error")).to_be_visible()
    await page.get_by_label("Jeg accepterer betingelserne").check()
    await page.get_by_role("button", name="Accepter modtilbuddet").click()
    await expect(page.locator("#plan-status")).to_have_text("Aktiv")
    await expect(main).to_contain_text("700,00 kr.")


async def test_automatic_payment_by_mobilepay_with_a_chosen_account(page: Any, site: Site) -> None:
    await sign_in(page)
    await page.locator("#claim-RK-DAG-2025-0412").get_by_role("checkbox").check()
    await page.get_by_role("button", name="Tilmeld automatisk betaling").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Tilmeld automatisk betaling")
    await expect(page.get_by_label(re.compile("Forældrebetaling, vuggestue"))).to_be_checked()
    await axe_check(page, "automatic payment: enrol")
    await page.get_by_label("MobilePay-abonnement").check()
    await page.get_by_label(re.compile("Budgetkonto")).check()
    await page.get_by_role("button", name="Tilmeld", exact=True).click()
    # MobilePay's confirmation (the simulator): approve, and back.
    await expect(page).to_have_url(re.compile(re.escape(site.payments.url) + r"/agreements/.+/confirm"))
    await page.get_by_role("button", name="Godkend").click()
    await expect(page).to_have_url(re.compile(r"/automatisk-betaling\?tilmeldt=mobilepay"))
    await expect(page.get_by_role("status")).to_contain_text("så snart MobilePay har bekræftet den")
    await until_text(page, "Aktiv")
    await expect(page.locator("main")).to_contain_text("Budgetkonto")
    await axe_check(page, "automatic payment")
    await page.get_by_role("button", name=re.compile("Stop automatisk betaling")).click()
    await expect(page.locator("main")).to_contain_text("Stoppet")


async def test_plan_enrolled_in_betalingsservice(page: Any, site: Site) -> None:
    await david_plan(page, "700")
    await page.get_by_label("Jeg accepterer betingelserne").check()
    await page.get_by_role("button", name="Opret afdragsordning").click()
    await page.get_by_role("link", name="Tilmeld afdragsordningen automatisk betaling").click()
    await expect(page.get_by_label(re.compile("^Afdragsordning"))).to_be_checked()
    await page.get_by_label("Betalingsservice").check()
    await page.get_by_role("button", name="Tilmeld", exact=True).click()
    main = page.locator("main")
    await expect(main).to_contain_text("Afventer")
    await expect(main).to_contain_text("Indtil tilmeldingen er aktiv, får du en opkrævning i Digital Post.")
    await page.get_by_role("link", name="Beskeder").click()
    await expect(main).to_contain_text("digitale postkasse")
    await axe_check(page, "notices")


async def test_contacts_and_the_access_log(page: Any, site: Site) -> None:
    await site.gql("query($c: String!) { citizen(cpr: $c) { name } }", {"c": ANNA}, caseworker="cw-1001")
    await sign_in(page)
    await page.get_by_role("link", name="Kontakt").first.click()
    main = page.locator("main")
    await expect(main).to_contain_text("8915 1188")
    await expect(main).to_contain_text("Tirsdag: 09:00–12:00")
    await expect(main).to_contain_text("Gældsstyrelsen")
    await axe_check(page, "contacts")
    await page.get_by_role("link", name="Hvem har set mine data").click()
    await expect(main.locator("tbody tr").first).to_contain_text("Sagsbehandler")
    await expect(main).to_contain_text("cw-1001")
    await axe_check(page, "access log")


async def test_usable_at_320_px(chromium: Any, site: Site) -> None:
    context = await chromium.new_context(base_url=site.url, viewport={"width": 320, "height": 640})
    try:
        page = await context.new_page()
        await sign_in(page)
        await page.locator("#claim-RK-EJD-2025-1187 summary").click()
        for path in ("/", "/betal", "/afdragsordning", "/kontakt"):
            if path != "/":
                await page.goto(path)
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= 320, f"{path} is {width} px wide at a 320 px viewport"
        await axe_check(page, "contacts (320 px)")
    finally:
        await context.close()


async def test_sign_out(page: Any) -> None:
    await sign_in(page)
    await page.get_by_role("button", name="Log ud").click()
    await expect(page.get_by_role("status")).to_contain_text("Du er logget ud.")
    await page.goto("/")
    await expect(page).to_have_url(re.compile(r"/log-ind$"))
