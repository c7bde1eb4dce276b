"""The citizen's journeys, one handler per page and form: pay ("Betal nu"), installment plans ("Afdragsordning"),
automatic payment, notices, contacts and the access log.

Each handler runs the page's GraphQL documents through ``WebApp.query`` and renders a template. A form posts
to the same place it was shown from; the API's ``userErrors`` come back next to their fields (``field_errors``)
and in the error summary. Every form that changes something carries an idempotency key made when the form was
shown, so submitting it twice (a double click, the back button) does the thing once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import secrets
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlencode

import structlog
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from web import i18n, session
from web.api import ApiError, SignedOut, UserError, user_errors

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from web.app import WebApp

log = structlog.get_logger(__name__)

# The API's input fields and the page's form fields they are about (the error summary links to the field).
_FORM_FIELDS: Final = {
    "claimIds": "krav",
    "monthlyAmount": "beloeb",
    "amount": "beloeb",
    "dayOfMonth": "dag",
    "acceptTerms": "betingelser",
    "termsVersion": "betingelser",
    "assessmentReason": "begrundelse",
    "requestAssessment": "begrundelse",
    "method": "metode",
    "kind": "type",
    "mobilePayAccountId": "konto",
    "planId": "hvad",
}
# Error codes that are about a field even when the API names none.
_CODE_FIELDS: Final = {
    "NO_CLAIMS_SELECTED": "krav",
    "TERMS_NOT_ACCEPTED": "betingelser",
    "MONTHLY_AMOUNT_BELOW_MINIMUM": "beloeb",
    "PLAN_TOO_LONG": "beloeb",
    "MOBILEPAY_ACCOUNT_NOT_FOUND": "konto",
    "TERMS_VERSION_OUTDATED": "betingelser",
}
DAYS_OF_MONTH: Final = tuple(range(1, 29))
# The longest reason for an individual assessment (the API's bound; the form's maxlength).
MAX_REASON_LENGTH: Final = 2000
# A bound on how many ticked claims one request is read for (more than any citizen has).
MAX_TICKED: Final = 100
DEFAULT_DAY: Final = 1


class Refused(HTTPException):
    """The API refused what the citizen asked for, with no form to show it on: a page with its message."""

    def __init__(self, message: str) -> None:
        super().__init__(400, message)


# The API's messages that speak of the API, not of the form: the page says what happened in its own words (a form
# sent again with other choices, e.g. after the browser's back button; the page shown again has a new key).
_PAGE_MESSAGES: Final = {
    "IDEMPOTENCY_KEY_REUSED": "Formularen var allerede sendt med andre valg. Tjek dine valg, og send den igen.",
    "INVALID_IDEMPOTENCY_KEY": "Formularen er ugyldig. Send den igen.",
}


def field_errors(errors: list[UserError]) -> dict[str, str]:
    """The API's userErrors by the form field they are about ("_" for the form as a whole), first one wins."""
    out: dict[str, str] = {}
    for error in errors:
        if error.code in _PAGE_MESSAGES:
            out.setdefault("_", _PAGE_MESSAGES[error.code])
            continue
        name = error.field_name
        field = _FORM_FIELDS.get(name or "") or _CODE_FIELDS.get(error.code) or "_"
        out.setdefault(field, error.message)
    return out


# An idempotency key the page made (``new_key``): URL-safe, so the provider's return URL may carry it.
_KEY: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")


def new_key() -> str:
    return secrets.token_urlsafe(18)


def _key(form: FormData) -> str:
    value = form.get("noegle")
    return value if isinstance(value, str) and _KEY.fullmatch(value) else new_key()


def _ids(values: list[Any]) -> list[str]:
    """Ticked IDs, in order, without repeats (the API refuses duplicates; a form never sends any). A value may
    hold several, comma-separated: the payment link a caseworker sends (``/betal?krav=<id>,<id>``; global IDs
    never contain a comma)."""
    seen: dict[str, None] = {}
    for value in values:
        if not isinstance(value, str):
            continue
        for part in value.split(",")[:MAX_TICKED]:
            if part and len(part) <= 200:
                seen.setdefault(part, None)
    return list(seen)[:MAX_TICKED]


def _return_url(web: WebApp, path: str) -> str:
    return web.settings.public_url.rstrip("/") + path


# --- Betal nu --------------------------------------------------------------------------------------------------


async def _open_claims(web: WebApp, request: Request) -> list[dict[str, Any]]:
    result = await web.query(request, "WebOpenClaims")
    claims: list[dict[str, Any]] = result.data["me"]["claims"]["nodes"]
    return claims


async def pay_page(web: WebApp, request: Request) -> Response:
    selected = _ids(request.query_params.getlist("krav"))
    return await _render_pay(web, request, selected, "CARD", {})


async def _render_pay(
    web: WebApp, request: Request, selected: list[str], method: str, errors: dict[str, str], status: int = 200
) -> Response:
    claims = [c for c in await _open_claims(web, request) if c["eligibility"]["canPay"]]
    ticked = [c for c in claims if c["id"] in selected]
    total_oere = sum(int(c["outstanding"]["amountOere"]) for c in ticked)
    return web.render(
        request,
        "pay.html",
        {
            "claims": claims,
            "selected": selected,
            "method": method,
            "errors": errors,
            "total_oere": total_oere,
        },
        status,
    )


async def start_payment(web: WebApp, request: Request) -> Response:
    form = await request.form()
    selected = _ids(form.getlist("krav"))
    method = form.get("metode")
    key = _key(form)
    errors: dict[str, str] = {}
    if not selected:
        errors["krav"] = "Vælg mindst ét krav, du vil betale."
    if method not in ("CARD", "MOBILEPAY"):
        errors["metode"] = "Vælg, hvordan du vil betale."
    if errors:
        return await _render_pay(web, request, selected, "CARD", errors, 400)
    result = await web.query(
        request,
        "WebStartPayment",
        {
            "input": {
                "claimIds": selected,
                "method": method,
                "returnUrl": _return_url(web, "/betaling/retur?" + urlencode({"noegle": key})),
                "idempotencyKey": key,
            }
        },
    )
    payload = result.data["startPayment"]
    if problems := user_errors(payload):
        return await _render_pay(web, request, selected, str(method), field_errors(problems), 400)
    payment = payload["payment"]
    session.remember_payment(request, key, payment["id"])
    if payment["status"] == "CREATED" and payment["redirectUrl"]:
        return RedirectResponse(payment["redirectUrl"], status_code=303)
    return RedirectResponse(f"/betalinger/{payment['id']}", status_code=303)


async def payment_return(web: WebApp, request: Request) -> Response:
    """Where the provider sends the citizen back: the payment this session sent them to pay."""
    payment_id = session.returned_payment(request, request.query_params.get("noegle"))
    return RedirectResponse(f"/betalinger/{payment_id}" if payment_id else "/betalinger", status_code=303)


async def payment_page(web: WebApp, request: Request) -> Response:
    result = await web.query(request, "WebPayment", {"id": request.path_params["id"]})
    payment = result.data["node"]
    if not payment or "status" not in payment:
        raise HTTPException(404)
    live = payment["status"] in LIVE_PAYMENT_STATUSES
    return web.render(request, "payment.html", {"payment": payment, "live": live})


# A payment in these states is still on its way: its page follows it live (``static/live.js``).
LIVE_PAYMENT_STATUSES: Final = ("CREATED", "AUTHORIZED")
# Seconds between the live status's keep-alive comments (proxies close a connection that says nothing).
LIVE_PING_SECONDS: Final = 15
# Live status streams one session may have open at once in one gateway process (each holds a subscription to the
# API): a few tabs' worth. Counted per process, as a guard of that process's resources, not a quota; a further
# stream ends at once with the reason ``too-many`` (the page keeps its refresh link).
LIVE_STREAMS_PER_SESSION: Final = 5


async def payment_status_events(web: WebApp, request: Request) -> Response:
    """The payment's status, live, as Server-Sent Events for the payment page's script: the API's
    ``paymentUpdated`` subscription (``WebPaymentUpdated``), subscribed with the session's token on the browser's
    behalf, relayed event by event. Each ``status`` event carries the status, its label and the page's status
    notice rendered again; one ``end`` event (``reason``: ``complete``, ``not-found``, ``signed-out``,
    ``unavailable`` or ``too-many``) tells the script to stop listening. A payment that is not the citizen's gets
    ``not-found``, as the API answers it."""
    current = session.current(request)
    token = current.token
    assert token is not None  # the route requires a signed-in session
    language = i18n.language_of(request)
    payment_id = request.path_params["id"]
    # The session, by a hash of its CSRF secret (a new one at every sign-in; two sessions may hold the same token).
    viewer = hashlib.sha256(current.csrf.encode()).hexdigest()

    async def events() -> AsyncIterator[ServerSentEvent]:
        if web.live_streams[viewer] >= LIVE_STREAMS_PER_SESSION:
            yield ServerSentEvent(data=json.dumps({"reason": "too-many"}), event="end")
            return
        web.live_streams[viewer] += 1
        reason = "complete"
        updates = web.api.subscribe("WebPaymentUpdated", {"id": payment_id}, token=token, language=language)
        try:
            async with contextlib.aclosing(updates):
                async for data in updates:
                    payment = data.get("paymentUpdated")
                    if payment is None:
                        reason = "not-found"
                        break
                    notice = web.render_fragment(
                        request, "payment_status.html", {"payment": payment, "live_update": True}
                    )
                    update = {
                        "status": payment["status"],
                        "label": i18n.label("PaymentStatus", payment["status"], language),
                        "html": notice,
                    }
                    yield ServerSentEvent(data=json.dumps(update), event="status")
        except SignedOut:
            reason = "signed-out"
        except ApiError as exc:
            if exc.code == "BAD_USER_INPUT":  # not a payment's id
                reason = "not-found"
            else:
                log.warning("web_live_status_ended", code=exc.code)
                reason = "unavailable"
        finally:
            web.live_streams[viewer] -= 1
            if web.live_streams[viewer] <= 0:
                del web.live_streams[viewer]
        yield ServerSentEvent(data=json.dumps({"reason": reason}), event="end")

    return EventSourceResponse(events(), ping=LIVE_PING_SECONDS, headers={"Cache-Control": "no-store"})


async def payments_page(web: WebApp, request: Request) -> Response:
    result = await web.query(request, "WebPayments")
    return web.render(request, "payments.html", {"payments": result.data["me"]["payments"]["nodes"]})


# --- Afdragsordning --------------------------------------------------------------------------------------------


def _day(value: object) -> int | None:
    try:
        day = int(str(value))
    except ValueError:
        return None
    return day if day in DAYS_OF_MONTH else None


async def plan_page(web: WebApp, request: Request) -> Response:
    """Step 1 (no amount yet): tick claims, see the range and choose an amount and day. Step 2 (an amount): the
    schedule, the terms and, over 18 months, the request for an individual assessment."""
    q = request.query_params
    selected = _ids(q.getlist("krav"))
    amount = (q.get("beloeb") or "").strip()
    day = _day(q.get("dag") or DEFAULT_DAY)
    return await _render_plan(web, request, selected, amount, day, {}, {})


async def _render_plan(
    web: WebApp,
    request: Request,
    selected: list[str],
    amount: str,
    day: int | None,
    errors: dict[str, str],
    answers: dict[str, str],
    status: int = 200,
) -> Response:
    claims = await _open_claims(web, request)
    eligible = [c for c in claims if c["eligibility"]["canCreateInstallmentPlan"]]
    others = [c for c in claims if not c["eligibility"]["canCreateInstallmentPlan"]]
    selected = [i for i in selected if any(c["id"] == i for c in eligible)]
    errors = dict(errors)
    range_preview = preview = terms = None
    if selected:
        # The range comes with any preview; the least amount gives it without a violation of its own.
        base = {"claimIds": selected, "dayOfMonth": day or DEFAULT_DAY, "requestAssessment": True}
        ranged = await web.query(request, "WebPreviewPlan", {"input": {**base, "monthlyAmount": "350.00"}})
        range_preview = ranged.data["previewInstallmentPlan"]
        terms = ranged.data["terms"]  # the current terms: their text and version, accepted with the plan
        if amount and day:
            shown = await web.query(request, "WebPreviewPlan", {"input": {**base, "monthlyAmount": amount}})
            preview = shown.data["previewInstallmentPlan"]
            for field, message in field_errors(
                [UserError(v["code"], v.get("field"), v["message"]) for v in preview["violations"]]
            ).items():
                errors.setdefault(field, message)
            if not preview["allowed"]:
                preview = None
        elif amount and not day:
            errors["dag"] = "Vælg en dag i måneden mellem 1 og 28."
    elif request.query_params.get("krav") is not None or request.method == "POST":
        errors["krav"] = "Vælg mindst ét krav til afdragsordningen."
    return web.render(
        request,
        "plan.html",
        {
            "eligible": eligible,
            "others": others,
            "selected": selected,
            "amount": amount,
            "day": day or DEFAULT_DAY,
            "days": DAYS_OF_MONTH,
            "range": range_preview["range"] if range_preview else None,
            "terms": terms,
            "principal": range_preview["principal"] if range_preview else None,
            "preview": preview,
            "errors": errors,
            "answers": answers,
        },
        status,
    )


async def create_plan(web: WebApp, request: Request) -> Response:
    form = await request.form()
    selected = _ids(form.getlist("krav"))
    amount = str(form.get("beloeb") or "").strip()
    day = _day(form.get("dag"))
    assessment = form.get("vurdering") == "ja"
    reason = str(form.get("begrundelse") or "").strip()
    accepted = form.get("betingelser") == "ja"
    answers = {"begrundelse": reason}
    errors: dict[str, str] = {}
    if not accepted:
        errors["betingelser"] = "Du skal acceptere betingelserne for at oprette afdragsordningen."
    if assessment and not reason:
        errors["begrundelse"] = "Skriv, hvorfor du har brug for en længere afdragsordning."
    elif len(reason) > MAX_REASON_LENGTH:  # the field's maxlength, which a browser may not enforce
        errors["begrundelse"] = "Begrundelsen må højst være 2.000 tegn."
        answers["begrundelse"] = reason[:MAX_REASON_LENGTH]
    if errors:
        return await _render_plan(web, request, selected, amount, day, errors, answers, 400)
    result = await web.query(
        request,
        "WebCreatePlan",
        {
            "input": {
                "claimIds": selected,
                "monthlyAmount": amount,
                "dayOfMonth": day or DEFAULT_DAY,
                "acceptTerms": accepted,
                "requestAssessment": assessment,
                "assessmentReason": reason if assessment else None,
                "termsVersion": str(form.get("betingelsesversion") or "") or None,
                "idempotencyKey": _key(form),
            }
        },
    )
    payload = result.data["createInstallmentPlan"]
    if problems := user_errors(payload):
        return await _render_plan(web, request, selected, amount, day, field_errors(problems), answers, 400)
    return RedirectResponse(f"/afdragsordninger/{payload['plan']['id']}?oprettet=1", status_code=303)


async def plans_page(web: WebApp, request: Request) -> Response:
    result = await web.query(request, "WebPlans")
    return web.render(request, "plans.html", {"plans": result.data["me"]["installmentPlans"]["nodes"]})


async def plan_detail_page(web: WebApp, request: Request, errors: dict[str, str] | None = None) -> Response:
    result = await web.query(request, "WebPlan", {"id": request.path_params["id"]})
    plan = result.data["node"]
    if not plan or "installments" not in plan:
        raise HTTPException(404)
    return web.render(
        request,
        "plan_detail.html",
        {
            "plan": plan,
            "terms": result.data["terms"],
            "created": request.query_params.get("oprettet") == "1",
            "errors": errors or {},
        },
        400 if errors else 200,
    )


async def accept_counter_offer(web: WebApp, request: Request) -> Response:
    form = await request.form()
    plan_id = request.path_params["id"]
    if form.get("betingelser") != "ja":
        return await plan_detail_page(
            web, request, {"betingelser": "Du skal acceptere betingelserne for at oprette afdragsordningen."}
        )
    result = await web.query(
        request,
        "WebAcceptCounterOffer",
        {
            "input": {
                "planId": plan_id,
                "acceptTerms": True,
                "termsVersion": str(form.get("betingelsesversion") or "") or None,
                "idempotencyKey": _key(form),
            }
        },
    )
    if problems := user_errors(result.data["acceptCounterOffer"]):
        return await plan_detail_page(web, request, field_errors(problems))
    return RedirectResponse(f"/afdragsordninger/{plan_id}?oprettet=1", status_code=303)


async def decline_counter_offer(web: WebApp, request: Request) -> Response:
    form = await request.form()
    plan_id = request.path_params["id"]
    result = await web.query(
        request, "WebDeclineCounterOffer", {"input": {"planId": plan_id, "idempotencyKey": _key(form)}}
    )
    if problems := user_errors(result.data["declineCounterOffer"]):
        return await plan_detail_page(web, request, field_errors(problems))
    return RedirectResponse(f"/afdragsordninger/{plan_id}", status_code=303)


async def cancel_plan(web: WebApp, request: Request) -> Response:
    form = await request.form()
    plan_id = request.path_params["id"]
    result = await web.query(request, "WebCancelPlan", {"input": {"planId": plan_id, "idempotencyKey": _key(form)}})
    payload = result.data["cancelInstallmentPlan"]
    if problems := user_errors(payload):
        return await plan_detail_page(web, request, {"_": problems[0].message})
    return RedirectResponse(f"/afdragsordninger/{plan_id}", status_code=303)


# --- Automatisk betaling ---------------------------------------------------------------------------------------


async def automatic_page(web: WebApp, request: Request) -> Response:
    result = await web.query(request, "WebAutomaticPayment")
    me = result.data["me"]
    return web.render(
        request,
        "automatic.html",
        {
            "methods": me["paymentMethods"]["nodes"],
            "enrolled": request.query_params.get("tilmeldt"),
        },
    )


def _enrolable(me: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    plans = [
        p
        for p in me["installmentPlans"]["nodes"]
        if p["status"] in ("ACTIVE", "PENDING_APPROVAL") and not p["paymentMethod"]
    ]
    bills = [
        c
        for c in me["claims"]["nodes"]
        if not c["installmentPlan"] and not c["automaticPayment"] and c["collection"]["status"] != "AT_COLLECTION"
    ]
    return plans, bills


async def enrol_page(web: WebApp, request: Request) -> Response:
    q = request.query_params
    plan = q.get("plan")
    answers = {"hvad": f"plan:{plan}" if plan else "regninger", "type": "BETALINGSSERVICE", "konto": ""}
    return await _render_enrol(web, request, _ids(q.getlist("krav")), answers, {})


async def _render_enrol(
    web: WebApp,
    request: Request,
    selected: list[str],
    answers: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    result = await web.query(request, "WebAutomaticPayment")
    me = result.data["me"]
    plans, bills = _enrolable(me)
    accounts = me["mobilePayAccounts"]
    if not answers.get("konto") and accounts:
        answers["konto"] = next((a["id"] for a in accounts if a["isDefault"]), accounts[0]["id"])
    return web.render(
        request,
        "enrol.html",
        {
            "plans": plans,
            "bills": bills,
            "accounts": accounts,
            "selected": selected,
            "answers": answers,
            "errors": errors,
        },
        status,
    )


async def enrol(web: WebApp, request: Request) -> Response:
    form = await request.form()
    what = str(form.get("hvad") or "")
    kind = str(form.get("type") or "")
    account = str(form.get("konto") or "")
    selected = _ids(form.getlist("krav"))
    answers = {"hvad": what, "type": kind, "konto": account}
    errors: dict[str, str] = {}
    if kind not in ("BETALINGSSERVICE", "MOBILEPAY_SUBSCRIPTION"):
        errors["type"] = "Vælg Betalingsservice eller MobilePay-abonnement."
    if not what:
        errors["hvad"] = "Vælg, hvad der skal betales automatisk."
    elif what == "regninger" and not selected:
        errors["krav"] = "Vælg mindst én regning."
    if errors:
        return await _render_enrol(web, request, selected, answers, errors, 400)
    enrolment: dict[str, Any] = {"kind": kind, "idempotencyKey": _key(form)}
    if what.startswith("plan:"):
        enrolment["planId"] = what.removeprefix("plan:")
    else:
        enrolment["claimIds"] = selected
    if kind == "MOBILEPAY_SUBSCRIPTION":
        enrolment["returnUrl"] = _return_url(web, "/automatisk-betaling/retur")
        if account:
            enrolment["mobilePayAccountId"] = account
    result = await web.query(request, "WebEnrolAutomaticPayment", {"input": enrolment})
    payload = result.data["enrolAutomaticPayment"]
    if problems := user_errors(payload):
        return await _render_enrol(web, request, selected, answers, field_errors(problems), 400)
    method = payload["paymentMethod"]
    if method["status"] == "PENDING" and method["confirmationUrl"]:
        return RedirectResponse(method["confirmationUrl"], status_code=303)
    done = "mobilepay" if kind == "MOBILEPAY_SUBSCRIPTION" else "betalingsservice"
    return RedirectResponse(f"/automatisk-betaling?tilmeldt={done}", status_code=303)


async def enrol_return(web: WebApp, request: Request) -> Response:
    """Where MobilePay sends the citizen back after confirming (or not) the subscription."""
    return RedirectResponse("/automatisk-betaling?tilmeldt=mobilepay", status_code=303)


async def stop_automatic(web: WebApp, request: Request) -> Response:
    form = await request.form()
    result = await web.query(
        request,
        "WebStopAutomaticPayment",
        {"input": {"paymentMethodId": request.path_params["id"], "idempotencyKey": _key(form)}},
    )
    if problems := user_errors(result.data["stopAutomaticPayment"]):
        raise Refused(problems[0].message)
    return RedirectResponse("/automatisk-betaling", status_code=303)


# --- Beskeder, kontakt, indsigt --------------------------------------------------------------------------------


async def notices_page(web: WebApp, request: Request) -> Response:
    result = await web.query(request, "WebNotices")
    return web.render(request, "notices.html", {"notices": result.data["me"]["notices"]})


async def contacts_page(web: WebApp, request: Request) -> Response:
    result = await web.query(request, "WebContacts")
    return web.render(request, "contacts.html", {"contacts": result.data["contacts"]})


async def access_log_page(web: WebApp, request: Request) -> Response:
    after = request.query_params.get("efter") or None
    result = await web.query(request, "WebAccessLog", {"after": after})
    me = result.data.get("me")
    if after is not None and (me is None or "BAD_USER_INPUT" in result.codes()):
        raise HTTPException(404)  # not a page of the log (a cursor the page did not make)
    if me is None:
        raise ApiError(next(iter(result.codes()), "INTERNAL"))
    log = me["accessLog"]
    return web.render(request, "access_log.html", {"log": log, "first_page": after is None})
