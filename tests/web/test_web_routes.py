"""The web page's routes through the ASGI app (no browser): sessions, CSRF, sign-in and sign-out, production."""

from __future__ import annotations

import ast
import html
import json
import re
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
from starlette.requests import Request

from gateway.auth import issue_token
from gateway.settings import Settings
from tests.conftest import ANNA, DAVID, Api, ThreadedServer, build_api
from tests.web.conftest import CSRF_RE, Browser
from web import i18n, pages, session
from web.app import DEMO_CITIZENS, session_secret

PRODUCTION = {
    "environment": "production",
    "auth_secret": "production-key-" + "k" * 40,
    "payments_webhook_secret": "production-webhook-secret",
}


def _set_cookie(response: httpx.Response) -> str:
    cookies = [v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith("mbo_session=")]
    assert len(cookies) == 1, response.headers
    return cookies[0]


async def test_signed_out_visitor_is_sent_to_sign_in(browser: Browser) -> None:
    response = await browser.get("/")
    assert response.status_code == 303
    assert response.headers["location"] == "/log-ind"


async def test_overview_after_dev_sign_in(browser: Browser) -> None:
    await browser.sign_in(ANNA)
    page = await browser.get("/")
    assert page.status_code == 200
    assert "Anna Jensen" in page.text
    assert "150780-4321" in page.text  # the CPR, as DDMMYY-SSSS
    assert 'lang="da"' in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    # The claim at Gældsstyrelsen carries the marker, with a text for screen readers.
    assert re.search(r'class="marker">\*</span><span class="visually-hidden">', page.text)


async def test_session_cookie_flags_on_loopback(browser: Browser) -> None:
    response = await browser.post_form("/log-ind/udvikling", {"cpr": ANNA})
    cookie = _set_cookie(response)
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Path=/" in cookie
    assert "Secure" not in cookie  # development on a loopback address: plain HTTP
    # The cookie is encrypted: neither the token nor the CPR can be read from it.
    value = cookie.split(";")[0].removeprefix("mbo_session=")
    assert ANNA not in value
    assert "eyJ" not in value  # no JWT in the clear


async def test_session_cookie_is_secure_off_loopback(api: Api) -> None:
    transport = httpx.ASGITransport(app=api.app)
    async with httpx.AsyncClient(transport=transport, base_url="https://borger.randers.dk") as client:
        response = await client.get("/log-ind")
    cookie = _set_cookie(response)
    assert "Secure" in cookie
    assert "HttpOnly" in cookie


async def test_forms_without_the_csrf_token_are_refused(browser: Browser) -> None:
    await browser.csrf()  # the visitor has a session
    refused = await browser.client.post("/log-ind/udvikling", data={"cpr": ANNA})
    assert refused.status_code == 403
    wrong = await browser.client.post("/log-ind/udvikling", data={"cpr": ANNA, "csrf_token": "x" * 43})
    assert wrong.status_code == 403
    assert (await browser.get("/")).status_code == 303  # still signed out

    await browser.sign_in(ANNA)
    sign_out = await browser.client.post("/log-ud", data={})
    assert sign_out.status_code == 403
    assert (await browser.get("/")).status_code == 200  # still signed in


async def test_csrf_token_of_another_visitor_is_refused(browser: Browser, api: Api) -> None:
    transport = httpx.ASGITransport(app=api.app, client=("127.0.0.1", 50001))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as other:
        other_token = re.search(r'name="csrf_token" value="([^"]+)"', (await other.get("/log-ind")).text)
    assert other_token
    await browser.csrf()
    response = await browser.client.post("/log-ind/udvikling", data={"cpr": ANNA, "csrf_token": other_token.group(1)})
    assert response.status_code == 403


async def test_sign_in_renews_the_csrf_secret(browser: Browser) -> None:
    before = await browser.csrf()
    await browser.sign_in(ANNA)
    after = await browser.csrf("/")
    assert before != after


async def test_sign_out_ends_the_session(browser: Browser) -> None:
    await browser.sign_in(ANNA)
    old_cookie = browser.client.cookies.get(session.COOKIE_NAME)
    response = await browser.post_form("/log-ud", {}, csrf_from="/")
    assert response.status_code == 303
    assert response.headers["location"] == "/log-ind?besked=logget-ud"
    assert (await browser.get("/")).status_code == 303
    page = await browser.get("/log-ind?besked=logget-ud")
    assert "Du er logget ud." in page.text
    # The new cookie holds no token; the old one, replayed, still works only until its token expires (documented).
    assert browser.client.cookies.get(session.COOKIE_NAME) != old_cookie


async def test_session_ends_when_the_token_does(browser: Browser, api: Api) -> None:
    expired = session.Session(token=issue_token(api.settings, citizen_cpr=ANNA), expires_at=int(time.time()) - 1)
    browser.client.cookies.set(session.COOKIE_NAME, _cookie_value(api, expired))
    response = await browser.get("/")
    assert response.status_code == 303
    assert response.headers["location"] == "/log-ind?besked=udloebet"
    page = await browser.get("/log-ind?besked=udloebet")
    assert "Din session er udløbet. Log ind igen." in page.text


async def test_a_refused_token_ends_the_session(browser: Browser, api: Api) -> None:
    """The API refuses the token (here: signed with another key), so the page signs the citizen out."""
    alien = issue_token(Settings(auth_secret="another-key-" + "x" * 40), citizen_cpr=DAVID)
    forged = session.Session(token=alien, expires_at=int(time.time()) + 600, name="David")
    browser.client.cookies.set(session.COOKIE_NAME, _cookie_value(api, forged))
    response = await browser.get("/")
    assert response.status_code == 303
    assert response.headers["location"] == "/log-ind?besked=udloebet"


async def test_a_tampered_cookie_is_a_new_session(browser: Browser) -> None:
    await browser.sign_in(ANNA)
    value = browser.client.cookies.get(session.COOKIE_NAME)
    assert value
    browser.client.cookies.set(session.COOKIE_NAME, value[:-4] + ("AAAA" if not value.endswith("AAAA") else "BBBB"))
    assert (await browser.get("/")).status_code == 303


async def test_dev_sign_in_refuses_anyone_but_the_demo_citizens(browser: Browser) -> None:
    response = await browser.post_form("/log-ind/udvikling", {"cpr": "0101011234"})
    assert response.status_code == 400
    assert 'role="alert"' in response.text
    assert (await browser.get("/")).status_code == 303


async def test_language_switch(browser: Browser) -> None:
    await browser.sign_in(ANNA)
    response = await browser.get("/sprog/en?naeste=/")
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    page = await browser.get("/")
    assert 'lang="en"' in page.text
    assert "Your overview" in page.text
    # Never a redirect to another site.
    assert (await browser.get("/sprog/da?naeste=//evil.example")).headers["location"] == "/"
    assert (await browser.get("/sprog/xx")).status_code == 404


async def test_unknown_page_is_a_404_page(browser: Browser) -> None:
    response = await browser.get("/findes-ikke")
    assert response.status_code == 404
    assert "Siden findes ikke" in response.text


async def test_production_has_no_dev_sign_in(migrated: str, gaeldst_sim: ThreadedServer) -> None:
    async with build_api(
        migrated,
        gaeldst_sim,
        **PRODUCTION,
        web_session_secret="production-session-secret",
    ) as prod:
        transport = httpx.ASGITransport(app=prod.app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
            page = await client.get("/log-ind")
            assert page.status_code == 200
            assert "demoborger" not in page.text.lower()
            assert "1507804321" not in page.text and "150780-4321" not in page.text
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert token is None  # no form at all on this page without an identity broker
            cookie = _set_cookie(page)
            assert "Secure" in cookie  # production: Secure even on loopback
            response = await client.post("/log-ind/udvikling", data={"cpr": ANNA})
            assert response.status_code in (403, 404, 405)


async def test_production_without_a_session_secret_serves_no_page(migrated: str, gaeldst_sim: ThreadedServer) -> None:
    async with build_api(
        migrated,
        gaeldst_sim,
        **PRODUCTION,
    ) as prod:
        response = await prod.client.get("/log-ind")
        assert response.status_code == 404


def _page_texts() -> set[str]:
    """Every Danish text the page shows: ``_("...")`` in the templates, the navigation's labels, the labels of the
    API's values, and the messages the routes put next to fields (``errors[...] = "..."``)."""
    web_dir = Path(i18n.__file__).parent
    texts: set[str] = set()
    for path in (web_dir / "templates").glob("*.html"):
        source = path.read_text()
        texts |= set(re.findall(r'_\(\s*"([^"]+)"\s*\)', source))
        texts |= set(re.findall(r"_\(\s*'([^']+)'\s*\)", source))
        texts |= set(re.findall(r'\("/[^"]*", "([^"]+)"\)', source))
    texts |= {text for values in i18n.LABELS.values() for text in values.values()}
    texts |= set(pages._PAGE_MESSAGES.values())
    for path in web_dir.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                target = node.targets[0]
                if isinstance(target, ast.Subscript) and getattr(target.value, "id", "") == "errors":
                    texts.add(node.value.value)
            if isinstance(node, ast.Dict) and any(
                isinstance(k, ast.Constant) and k.value in ("udloebet", "logget-ud", "cpr") for k in node.keys
            ):
                texts |= {v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)}
    return texts


def test_every_text_of_the_page_has_an_english_translation() -> None:
    texts = _page_texts()
    assert "Vælg mindst ét krav, du vil betale." in texts  # the collection reaches the routes' messages
    assert "Du er logget ud." in texts
    missing = sorted(t for t in texts if t not in i18n.ENGLISH)
    assert not missing, missing


def test_demo_citizens_are_the_seeded_ones() -> None:
    from adapters.ledger.seed.demo_data import _demo_citizens

    assert list(DEMO_CITIZENS) == [(cpr, name) for cpr, name, _ in _demo_citizens()]


def _cookie_value(api: Api, s: session.Session) -> str:
    """The cookie the app would write for ``s`` (made with the app's own key)."""
    secret = session_secret(api.settings)
    assert secret is not None
    request = Request({"type": "http", "headers": [(b"host", b"127.0.0.1:8000")], "scheme": "http", "path": "/"})
    header = session.SessionCookies(secret, development=True).header(request, s)
    return header.split(";")[0].removeprefix(session.COOKIE_NAME + "=")


def test_the_page_sends_only_trusted_documents_by_id() -> None:
    from gateway.trusted_documents import trusted_documents
    from web.documents import Documents

    documents = Documents()
    registry = trusted_documents()
    used = set(re.findall(r'"(Web[A-Za-z]+)"', (Path(i18n.__file__).parent / "pages.py").read_text()))
    used |= set(re.findall(r'"(Web[A-Za-z]+)"', (Path(i18n.__file__).parent / "app.py").read_text()))
    assert used and used <= documents.names()
    for name in documents.names():
        body = documents.request_body(name, {})
        assert set(body) == {"documentId", "variables"}  # never the text
        trusted = registry.by_id(body["documentId"])
        assert trusted is not None and trusted.operation_name == name


async def test_the_page_works_where_citizens_may_send_only_trusted_documents(
    migrated: str, gaeldst_sim: ThreadedServer
) -> None:
    async with build_api(
        migrated,
        gaeldst_sim,
        **PRODUCTION,
        web_session_secret="production-session-secret",
        trusted_documents_only_for_citizens=True,
    ) as prod:
        # Any other query of a citizen is refused here ...
        refused = await prod.gql("{ me { name } }", citizen=ANNA)
        assert refused["errors"][0]["extensions"]["code"] == "TRUSTED_DOCUMENT_REQUIRED"
        # ... and the page, signed in (production has no development sign-in: the cookie is made here), works.
        token = issue_token(prod.settings, citizen_cpr=ANNA)
        s = session.Session(token=token, expires_at=int(time.time()) + 600, name="Anna Jensen")
        secret = session_secret(prod.settings)
        assert secret is not None
        request = Request({"type": "http", "headers": [(b"host", b"borger.test")], "scheme": "https", "path": "/"})
        cookie = session.SessionCookies(secret, development=False).header(request, s).split(";")[0]
        transport = httpx.ASGITransport(app=prod.app)
        async with httpx.AsyncClient(transport=transport, base_url="https://borger.test") as client:
            for path in (
                "/",
                "/betal",
                "/afdragsordning",
                "/afdragsordninger",
                "/automatisk-betaling",
                "/beskeder",
                "/kontakt",
                "/indsigt",
                "/betalinger",
            ):
                page = await client.get(path, headers={"Cookie": cookie})
                assert page.status_code == 200, (path, page.text[-500:])
            assert "150780-4321" in (await client.get("/", headers={"Cookie": cookie})).text


async def _claim_ids(api: Api, cpr: str) -> dict[str, str]:
    body = await api.gql("{ me { claims(first: 20) { nodes { id reference } } } }", citizen=cpr)
    return {c["reference"]: c["id"] for c in body["data"]["me"]["claims"]["nodes"]}


def _ticked(page: str) -> set[str]:
    """The claim IDs ticked on a page's form."""
    return set(re.findall(r'<input type="checkbox" name="krav" value="([^"]+)"[^>]*\schecked>', page))


async def test_a_payment_link_opens_betal_nu_with_its_claims_ticked_after_signing_in(
    browser: Browser, api: Api
) -> None:
    """The payment link a caseworker sends (``<public URL>/betal?krav=<id>,<id>``, the notice's link): a signed-out
    citizen signs in and comes back to it, with the claims ticked."""
    claims = await _claim_ids(api, ANNA)
    wanted = [claims["RK-EJD-2025-1187"], claims["RK-DAG-2025-0412"]]
    link = "/betal?krav=" + ",".join(wanted)
    response = await browser.get(link)
    assert response.status_code == 303
    sign_in = response.headers["location"]
    assert sign_in == "/log-ind?" + urlencode({"naeste": link})
    page = await browser.get(sign_in)
    assert f'name="naeste" value="{html.escape(link)}"' in page.text
    csrf = CSRF_RE.search(page.text)
    assert csrf
    signed_in = await browser.client.post(
        "/log-ind/udvikling", data={"csrf_token": csrf.group(1), "cpr": ANNA, "naeste": link}
    )
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == link
    pay = await browser.get(link)
    assert pay.status_code == 200
    assert _ticked(pay.text) == set(wanted)
    # The page's own form sends them one by one: the same.
    repeated = await browser.get("/betal", params=[("krav", wanted[0]), ("krav", wanted[1])])
    assert _ticked(repeated.text) == set(wanted)


async def test_signing_in_never_leads_to_another_site(browser: Browser) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", "/a\r\nb"):
        page = await browser.get("/log-ind", params={"naeste": target})
        assert 'name="naeste"' not in page.text
        csrf = CSRF_RE.search(page.text)
        assert csrf
        response = await browser.client.post(
            "/log-ind/udvikling", data={"csrf_token": csrf.group(1), "cpr": ANNA, "naeste": target}
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/", target


async def test_the_live_status_is_not_where_a_sign_in_comes_back_to(browser: Browser) -> None:
    response = await browser.get("/betalinger/UGF5bWVudDox/status")
    assert response.headers["location"] == "/log-ind"


async def test_an_access_log_cursor_the_page_did_not_make_is_a_404_page(browser: Browser) -> None:
    await browser.sign_in(ANNA)
    for cursor in ("x", "A" * 10_000):
        page = await browser.get("/indsigt", params={"efter": cursor})
        assert page.status_code == 404
        assert page.headers["content-type"].startswith("text/html")
        assert "Siden findes ikke" in page.text


async def test_a_refusal_with_no_form_to_show_it_on_is_a_page(browser: Browser) -> None:
    await browser.sign_in(ANNA)
    stop = await browser.post_form("/automatisk-betaling/ikke-en-tilmelding/stop", {}, csrf_from="/")
    assert stop.status_code == 400
    assert stop.headers["content-type"].startswith("text/html")
    assert "Det kunne ikke lade sig gøre" in stop.text and "Content-Security-Policy" in stop.headers
    # Starlette's own refusal (a form with more fields than it reads) in words, not in its English.
    csrf = await browser.csrf("/")
    crowded = await browser.client.post("/log-ud", data={"csrf_token": csrf, **{f"f{i}": "x" for i in range(1200)}})
    assert crowded.status_code == 400
    assert "Siden kunne ikke behandle det, du sendte." in crowded.text
    assert "Too many" not in crowded.text


async def test_an_assessment_reason_over_2000_characters_is_refused_next_to_its_field(browser: Browser) -> None:
    await browser.sign_in(DAVID)
    claims = await browser.get("/afdragsordning")
    ticked = re.findall(r'<input type="checkbox" name="krav" value="([^"]+)"', claims.text)
    assert ticked
    response = await browser.post_form(
        "/afdragsordning",
        {
            "krav": ticked,
            "beloeb": "350",
            "dag": "1",
            "vurdering": "ja",
            "begrundelse": "Syg " * 1000,
            "betingelser": "ja",
        },
        csrf_from="/",
    )
    assert response.status_code == 400
    assert 'id="begrundelse-error"' in response.text
    assert "Begrundelsen må højst være 2.000 tegn." in response.text


async def test_over_the_rate_limit_the_page_says_to_wait(migrated: str, gaeldst_sim: ThreadedServer) -> None:
    async with build_api(
        migrated, gaeldst_sim, rate_limit_citizen_burst=2, rate_limit_citizen_per_second=0.001
    ) as limited:
        transport = httpx.ASGITransport(app=limited.app, client=("127.0.0.1", 50001))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
            browser = Browser(client)
            await browser.sign_in(ANNA)
            statuses = [(await browser.get("/")).status_code for _ in range(4)]
            assert statuses[:2] == [200, 200] and statuses[2:] == [429, 429]
            page = await browser.get("/")
            assert "For mange forespørgsler" in page.text and "Vent et øjeblik" in page.text


async def test_a_form_sent_again_with_other_choices_says_so_in_the_pages_words(browser: Browser, api: Api) -> None:
    """The same form (its key) sent again with another amount, as after the browser's back button: the API's
    IDEMPOTENCY_KEY_REUSED was shown as it came ("Idempotensnøglen er allerede brugt …"). The page says what happened,
    in both languages."""
    await browser.sign_in(DAVID)
    claims = await _claim_ids(api, DAVID)
    chosen = claims["RK-DAG-2025-0888"]  # 4,100.00 DKK
    form_page = await browser.get("/afdragsordning", params={"krav": chosen, "beloeb": "700", "dag": "5"})
    key = re.search(r'name="noegle" value="([^"]+)"', form_page.text)
    version = re.search(r'name="betingelsesversion" value="([^"]+)"', form_page.text)
    assert key and version
    form = {
        "noegle": key.group(1),
        "krav": chosen,
        "dag": "5",
        "betingelser": "ja",
        "betingelsesversion": version.group(1),
    }
    created = await browser.post_form("/afdragsordning", {**form, "beloeb": "700"}, csrf_from="/afdragsordning")
    assert created.status_code == 303, created.text
    for language, expected in (
        ("da", "Formularen var allerede sendt med andre valg. Tjek dine valg, og send den igen."),
        ("en", "The form had already been sent with other choices. Check your choices and send it again."),
    ):
        await browser.get(f"/sprog/{language}")
        again = await browser.post_form("/afdragsordning", {**form, "beloeb": "800"}, csrf_from="/afdragsordning")
        assert again.status_code == 400
        assert html.escape(expected) in again.text
        assert "dempoten" not in again.text  # no word of the API's machinery


async def test_a_path_with_a_cpr_number_is_never_where_signing_in_comes_back_to(browser: Browser) -> None:
    """The sign-in page's URL carried it (``/log-ind?naeste=/betal%3Fkrav%3D1507804321``): into the browser's history
    and any proxy's log. The page's own paths never hold one."""
    for target in (
        "/betal?krav=1507804321",
        "/betal?krav=150780-4321",
        "/betal?krav=15078%304321",
        "/betalinger/1507804321",
    ):
        response = await browser.get(target)
        assert response.status_code == 303
        assert response.headers["location"] == "/log-ind", target
        page = await browser.get("/log-ind", params={"naeste": target})
        assert 'name="naeste"' not in page.text
        csrf = CSRF_RE.search(page.text)
        assert csrf
        signed_in = await browser.client.post(
            "/log-ind/udvikling", data={"csrf_token": csrf.group(1), "cpr": ANNA, "naeste": target}
        )
        assert signed_in.headers["location"] == "/", target
        await browser.client.post("/log-ud", data={"csrf_token": await browser.csrf("/")})
    assert session.safe_next("/betal?krav=Q2xhaW06MTA,Q2xhaW06OQ") == "/betal?krav=Q2xhaW06MTA,Q2xhaW06OQ"


def test_a_session_cookie_keeps_its_payments_and_reads_one_written_before_them() -> None:
    s = session.Session()
    s.payments = {f"k{i}": f"P{i}" for i in range(3)}
    written = json.loads(json.dumps(s.to_cookie()))  # as the cookie carries it
    again = session.Session.from_cookie(written)
    assert again is not None and again.payments == s.payments  # in order: the last is the last started
    # A cookie of the version before: its one "pay" is the payment to come back to.
    old = {k: v for k, v in written.items() if k != "pays"} | {"pay": "P-old"}
    assert (read := session.Session.from_cookie(old)) is not None and read.payments == {"": "P-old"}
