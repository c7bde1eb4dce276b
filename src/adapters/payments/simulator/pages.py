"""The pages a citizen's browser sees: checkout (approve/decline a payment) and MobilePay agreement confirmation.

Plain HTML, no JavaScript, no external assets; every value is escaped.
"""

from __future__ import annotations

import html
from typing import Final

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from adapters.payments.client import OPAQUE_REF_RE, looks_like_cpr
from adapters.payments.simulator.state import Problem
from adapters.payments.simulator.web import Handler, sim_of, with_query
from gateway.domain.money import format_dkk

_METHOD_LABELS: Final = {"CARD": "Betalingskort", "MOBILEPAY": "MobilePay"}
_DEMO_ACCOUNTS: Final = ("mpacc_loenkonto", "mpacc_budgetkonto")


def _page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    doc = (
        '<!doctype html>\n<html lang="da"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem}"
        "form{display:inline-block;margin-right:1rem}button{font-size:1.1rem;padding:.5rem 1.5rem}</style>"
        f"</head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(doc, status_code=status_code)


def _button_form(action: str, label: str, extra: str = "") -> str:
    return (
        f'<form method="post" action="{html.escape(action)}">{extra}'
        f'<button type="submit">{html.escape(label)}</button></form>'
    )


async def checkout_page(request: Request) -> Response:
    payment = sim_of(request).payment(request.path_params["id"])
    if payment is None:
        return _page("Betalingen findes ikke", "<p>Ukendt betaling.</p>", 404)
    details = (
        f'<p>Beløb: <strong id="amount">{html.escape(format_dkk(payment.amount_oere))}</strong></p>'
        f'<p>Betalingsmetode: <span id="method">{html.escape(_METHOD_LABELS[payment.method])}</span></p>'
        f'<p>Tekst: <span id="description">{html.escape(payment.description)}</span></p>'
    )
    if payment.state != "CREATED":
        return _page("Betaling", details + f'<p>Status: <span id="state">{html.escape(payment.state)}</span></p>')
    forms = _button_form(f"/checkout/{payment.id}/approve", "Godkend") + _button_form(
        f"/checkout/{payment.id}/decline", "Afvis"
    )
    return _page("Betaling", details + forms)


def _checkout_action(target: str) -> Handler:
    async def handler(request: Request) -> Response:
        sim = sim_of(request)
        payment = sim.payment(request.path_params["id"])
        if payment is None:
            return _page("Betalingen findes ikke", "<p>Ukendt betaling.</p>", 404)
        try:
            sim.move_payment(payment, target, {"CREATED"})
        except Problem:
            return _page(
                "Betalingen kan ikke ændres", f"<p>Betalingen er allerede {html.escape(payment.state)}.</p>", 409
            )
        return RedirectResponse(with_query(payment.return_url, paymentId=payment.id), status_code=303)

    return handler


async def confirm_agreement_page(request: Request) -> Response:
    agreement = sim_of(request).agreements.get(request.path_params["id"])
    if agreement is None or agreement.kind != "MOBILEPAY_SUBSCRIPTION":
        return _page("Aftalen findes ikke", "<p>Ukendt aftale.</p>", 404)
    details = f'<p>Aftale: <span id="description">{html.escape(agreement.description)}</span></p>'
    if agreement.state != "PENDING":
        return _page(
            "MobilePay-aftale", details + f'<p>Status: <span id="state">{html.escape(agreement.state)}</span></p>'
        )
    accounts = [agreement.mobilepay_account_ref] if agreement.mobilepay_account_ref else []
    accounts += [a for a in _DEMO_ACCOUNTS if a not in accounts]
    options = "".join(f'<option value="{html.escape(a)}">{html.escape(a)}</option>' for a in accounts)
    select = f'<p><label>Konto <select name="account">{options}</select></label></p>'
    forms = _button_form(f"/agreements/{agreement.id}/confirm/approve", "Godkend", select) + _button_form(
        f"/agreements/{agreement.id}/confirm/decline", "Afvis"
    )
    return _page("MobilePay-aftale", details + forms)


def _confirm_action(target: str) -> Handler:
    async def handler(request: Request) -> Response:
        sim = sim_of(request)
        agreement = sim.agreements.get(request.path_params["id"])
        if agreement is None or agreement.kind != "MOBILEPAY_SUBSCRIPTION" or agreement.return_url is None:
            return _page("Aftalen findes ikke", "<p>Ukendt aftale.</p>", 404)
        form = await request.form()
        # The account the citizen picked (the page's select is "account"; "mobilePayAccountRef" is accepted too).
        account = form.get("mobilePayAccountRef", form.get("account"))
        if account is not None and (
            not isinstance(account, str) or not OPAQUE_REF_RE.match(account) or looks_like_cpr(account)
        ):
            return _page("Ugyldig konto", "<p>Ugyldig konto.</p>", 400)
        try:
            if target == "ACTIVE":
                sim.activate_agreement(agreement, account)
            else:
                sim.move_agreement(agreement, target, {"PENDING"})
        except Problem:
            return _page("Aftalen kan ikke ændres", f"<p>Aftalen er allerede {html.escape(agreement.state)}.</p>", 409)
        return RedirectResponse(with_query(agreement.return_url, agreementId=agreement.id), status_code=303)

    return handler


ROUTES: Final[list[tuple[str, str, Handler]]] = [
    ("GET", "/checkout/{id}", checkout_page),
    ("POST", "/checkout/{id}/approve", _checkout_action("AUTHORIZED")),
    ("POST", "/checkout/{id}/decline", _checkout_action("ABORTED")),
    ("GET", "/agreements/{id}/confirm", confirm_agreement_page),
    ("POST", "/agreements/{id}/confirm/approve", _confirm_action("ACTIVE")),
    ("POST", "/agreements/{id}/confirm/decline", _confirm_action("REJECTED")),
]
