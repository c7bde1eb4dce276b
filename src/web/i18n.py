"""Danish (the default) and English for the web page.

Templates say ``{{ _("Betal nu") }}``: the Danish text is the key, as with gettext, and ``ENGLISH`` holds its
translation (a test checks that every text the templates use has one). A dictionary rather than gettext
catalogues: two languages and a few hundred short texts need no compile step. Dates, amounts and weekdays are
formatted by Babel in the chosen locale. The API is asked in the same language (``Accept-Language``), so its
messages (userErrors, notices) come translated too.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Final

from babel.dates import format_date, format_datetime, get_day_names, get_timezone
from babel.numbers import format_currency
from starlette.requests import HTTPConnection

LANGUAGES: Final = ("da", "en")
COOKIE: Final = "mbo_lang"

ENGLISH: Final[dict[str, str]] = {
    # layout
    "Gå til hovedindholdet": "Skip to main content",
    "Randers Kommune": "Randers Municipality",
    "Mit betalingsoverblik": "My payment overview",
    "Hovedmenu": "Main menu",
    "Overblik": "Overview",
    "Afdragsordninger": "Installment plans",
    "Automatisk betaling": "Automatic payment",
    "Betalinger": "Payments",
    "Beskeder": "Notices",
    "Kontakt": "Contact",
    "Hvem har set mine data": "Who has looked at my data",
    "Log ud": "Sign out",
    "Log ind": "Sign in",
    "Logget ind som": "Signed in as",
    "Sprog": "Language",
    "Dansk": "Dansk",
    "English": "English",
    "Mit betalingsoverblik virker i Google Chrome, Microsoft Edge og Firefox.": (
        "My payment overview works in Google Chrome, Microsoft Edge and Firefox."
    ),
    "Betalingskontoret, Laksetorvet 1, 8900 Randers C": "The Payments Office, Laksetorvet 1, 8900 Randers C",
    # errors
    "Der er et problem": "There is a problem",
    "Fejl:": "Error:",
    "Siden findes ikke": "Page not found",
    "Kontrollér adressen, eller gå til dit overblik.": "Check the address, or go to your overview.",
    "Gå til dit overblik": "Go to your overview",
    "Formularen er udløbet": "The form has expired",
    "Af sikkerhedshensyn kunne vi ikke tage imod formularen. Gå tilbage, genindlæs siden og prøv igen.": (
        "For your security we could not accept the form. Go back, reload the page and try again."
    ),
    "Der opstod en fejl": "Something went wrong",
    "Vi kunne ikke hente dine oplysninger lige nu. Prøv igen om lidt.": (
        "We could not fetch your information just now. Please try again in a moment."
    ),
    "Prøv igen": "Try again",
    "Din session er udløbet. Log ind igen.": "Your session has expired. Please sign in again.",
    "Du er logget ud.": "You have signed out.",
    "Gældsstyrelsen kunne ikke spørges lige nu, så det er usikkert, hvilke krav der er sendt til inddrivelse.": (
        "The Danish Debt Collection Agency could not be asked just now, so it is uncertain which claims have "
        "been sent for collection."
    ),
    # sign-in
    "Log ind på Mit betalingsoverblik": "Sign in to My payment overview",
    "Log ind med MitID": "Sign in with MitID",
    "Udvikling: log ind som en demoborger": "Development: sign in as a demo citizen",
    "Kun i udviklingsmiljøet. Vælg en af borgerne fra demodata.": (
        "Development environment only. Choose one of the citizens from the demo data."
    ),
    "Demoborger": "Demo citizen",
    "Vælg en demoborger": "Choose a demo citizen",
    "Log ind som den valgte borger": "Sign in as the chosen citizen",
    "Der er ingen måde at logge ind på i dette miljø.": "There is no way to sign in in this environment.",
    # overview
    "Dit overblik": "Your overview",
    "Navn": "Name",
    "CPR-nummer": "CPR number",
    "Samlet gæld": "Total debt",
    "Dine krav": "Your claims",
    "Du har ingen ubetalte krav.": "You have no unpaid claims.",
    "Vælg krav": "Choose claims",
    "Sæt flueben ved de krav, du vil betale eller lave en afdragsordning for.": (
        "Tick the claims you want to pay or make an installment plan for."
    ),
    "Afsender": "Sender",
    "Beløb": "Amount",
    "Restgæld": "Outstanding",
    "Forfaldsdato": "Due date",
    "Status": "Status",
    "Åben": "Open",
    "Betalt": "Paid",
    "I afdragsordning": "In an installment plan",
    "Tilmeldt automatisk betaling": "Enrolled in automatic payment",
    "Sendt til inddrivelse hos Gældsstyrelsen": "Sent for collection to the Danish Debt Collection Agency",
    "Krav markeret med * er sendt til inddrivelse hos Gældsstyrelsen.": (
        "Claims marked * have been sent for collection to the Danish Debt Collection Agency."
    ),
    "Der kan ikke laves afdragsordning med kommunen på disse krav; kontakt Gældsstyrelsen.": (
        "An installment plan with the municipality cannot be made for these claims; contact the Danish Debt "
        "Collection Agency."
    ),
    "Sendt tilbage fra Gældsstyrelsen": "Returned by the Danish Debt Collection Agency",
    "Ukendt (Gældsstyrelsen svarer ikke)": "Unknown (the Danish Debt Collection Agency does not answer)",
    "Vis detaljer og kontoudtog": "Show details and statement",
    "Kontoudtog": "Statement",
    "Dato": "Date",
    "Tekst": "Text",
    "Saldo": "Balance",
    "Oprindeligt beløb": "Original amount",
    "Reference": "Reference",
    "Spørgsmål til regningen? Kontakt afsenderen:": "Questions about the bill? Contact the sender:",
    "Telefon": "Phone",
    "E-mail": "Email",
    "Adresse": "Address",
    "Hjemmeside": "Website",
    "Telefontider": "Phone hours",
    "Betal nu": "Pay now",
    "Opret afdragsordning": "Create an installment plan",
    "Tilmeld automatisk betaling": "Enrol in automatic payment",
    "Husk at tjekke, at beløbet bliver trukket på din konto hver måned.": (
        "Remember to check that the amount is taken from your account every month."
    ),
    # notices
    "Ingen beskeder.": "No notices.",
    "Læs mere": "Read more",
    "Vigtigt": "Important",
}


def language_of(conn: HTTPConnection) -> str:
    """The visitor's language: the switch's cookie, else Danish (the page's language, whatever the browser)."""
    chosen = conn.cookies.get(COOKIE)
    return chosen if chosen in LANGUAGES else "da"


def translator(language: str) -> Callable[[str], str]:
    if language == "en":
        return lambda text: ENGLISH.get(text, text)
    return lambda text: text


def _locale(language: str) -> str:
    return "en_GB" if language == "en" else "da_DK"


def fmt_date(value: str | date | None, language: str) -> str:
    if not value:
        return ""
    day = date.fromisoformat(value) if isinstance(value, str) else value
    return format_date(day, format="long", locale=_locale(language))


def fmt_datetime(value: str | None, language: str) -> str:
    if not value:
        return ""
    moment = datetime.fromisoformat(value)
    return format_datetime(moment, format="medium", tzinfo=get_timezone("Europe/Copenhagen"), locale=_locale(language))


def fmt_money(amount: str | None, language: str) -> str:
    """A ``Money.amount`` decimal string (never a float) in the visitor's locale, e.g. "1.234,50 kr."."""
    if amount is None:
        return ""
    return format_currency(Decimal(amount), "DKK", locale=_locale(language))


_WEEKDAYS: Final = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")


def fmt_weekday(value: str, language: str) -> str:
    names = get_day_names("wide", locale=_locale(language))
    name = str(names[_WEEKDAYS.index(value)])
    return name[:1].upper() + name[1:]


def fmt_cpr(cpr: str) -> str:
    """DDMMYY-SSSS, as Danish self-service pages show it."""
    return f"{cpr[:6]}-{cpr[6:]}" if len(cpr) == 10 else cpr
