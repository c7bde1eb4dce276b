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
    # the API's messages about its own machinery, in the page's words (pages.field_errors)
    "Formularen var allerede sendt med andre valg. Tjek dine valg, og send den igen.": (
        "The form had already been sent with other choices. Check your choices and send it again."
    ),
    "Formularen er ugyldig. Send den igen.": "The form is not valid. Send it again.",
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
    "Login mislykkedes": "Sign-in failed",
    "Login blev afbrudt hos MitID. Du er ikke logget ind.": "Sign-in was cancelled at MitID. You are not signed in.",
    "Login kunne ikke gennemføres. Du er ikke logget ind.": "Sign-in could not be completed. You are not signed in.",
    "Login-tjenesten kan ikke kontaktes lige nu. Prøv igen om lidt.": (
        "The sign-in service cannot be reached just now. Please try again in a moment."
    ),
    "Besked fra MitID:": "Message from MitID:",
    "Prøv at logge ind igen": "Try to sign in again",
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
    # payments
    "Hvilke krav vil du betale?": "Which claims do you want to pay?",
    "Du kan også betale krav, der er sendt til inddrivelse hos Gældsstyrelsen. Gældsstyrelsens inddrivelsesomkostninger betales til Gældsstyrelsen.": (
        "You can also pay claims sent for collection to the Danish Debt Collection Agency. The agency's collection "
        "costs are paid to the agency."
    ),
    "I alt for de valgte krav": "Total for the chosen claims",
    "Hvordan vil du betale?": "How do you want to pay?",
    "Betalingskort": "Payment card",
    "Du bliver sendt videre til betalingsudbyderen og kommer tilbage hertil bagefter.": (
        "You will be sent to the payment provider and brought back here afterwards."
    ),
    "Gå til betaling": "Go to payment",
    "Tilbage til overblikket": "Back to the overview",
    "Vælg mindst ét krav, du vil betale.": "Choose at least one claim to pay.",
    "Vælg, hvordan du vil betale.": "Choose how you want to pay.",
    "Din betaling": "Your payment",
    "Betalingen er gennemført": "The payment is complete",
    "Se hvordan pengene er fordelt": "See how the money was allocated",
    "Betalingen er godkendt og bliver nu gennemført.": "The payment is approved and is being completed.",
    "Betalingen er ikke gennemført endnu.": "The payment is not complete yet.",
    "Opdater status": "Refresh the status",
    "Betalingen blev ikke gennemført": "The payment was not completed",
    "Der er ikke trukket penge.": "No money has been taken.",
    "Prøv igen fra dit overblik": "Try again from your overview",
    "Betalingsmåde": "Payment method",
    "Startet": "Started",
    "Gennemført": "Completed",
    "Krav": "Claims",
    "Sådan er pengene fordelt": "How the money was allocated",
    "Del": "Part",
    "Alle betalinger": "All payments",
    "Du har ikke betalt noget her endnu.": "You have not paid anything here yet.",
    # installment plans
    "Du betaler mindst 350,00 kr. om måneden. Gælden skal som udgangspunkt være betalt inden for 18 måneder; en længere afdragsordning kræver en individuel vurdering fra Betalingskontoret.": (
        "You pay at least DKK 350.00 a month. The debt should normally be paid within 18 months; a longer plan "
        "needs an individual assessment by the Payments Office."
    ),
    "Vælg krav til afdragsordningen": "Choose the claims for the plan",
    "Sæt flueben ved de krav, der skal med, og tryk Fortsæt.": "Tick the claims to include and press Continue.",
    "Du har ingen krav, der kan komme i en afdragsordning.": "You have no claims that can go into a plan.",
    "Krav, der ikke kan komme i en afdragsordning": "Claims that cannot go into a plan",
    "sendt til inddrivelse hos Gældsstyrelsen; kontakt Gældsstyrelsen.": (
        "sent for collection to the Danish Debt Collection Agency; contact the agency."
    ),
    "er allerede i en afdragsordning.": "is already in a plan.",
    "kan ikke komme i en afdragsordning lige nu.": "cannot go into a plan right now.",
    "Hvor meget vil du betale om måneden?": "How much do you want to pay each month?",
    "Gæld i afdragsordningen": "Debt in the plan",
    "Mindste beløb om måneden": "Smallest monthly amount",
    "Betalt inden for 18 måneder fra": "Paid within 18 months from",
    "om måneden": "a month",
    "Antal måneder ved mindste beløb": "Months at the smallest amount",
    "Eksempler på beløb og varighed": "Examples of amounts and durations",
    "Om måneden": "Monthly",
    "Måneder": "Months",
    "Beløb om måneden (kr.)": "Amount each month (DKK)",
    "Mindst 350,00 kr., f.eks. 500 eller 750,50.": "At least DKK 350.00, for example 500 or 750.50.",
    "Betalingsdag i måneden": "Day of the month to pay",
    "Vælg en dag i måneden mellem 1 og 28.": "Choose a day of the month from 1 to 28.",
    "Vælg mindst ét krav til afdragsordningen.": "Choose at least one claim for the plan.",
    "Fortsæt": "Continue",
    "Beregn igen": "Calculate again",
    "Din afdragsordning": "Your installment plan",
    "Antal måneder": "Number of months",
    "I alt": "Total",
    "Fremtidige renter på beboerindskudslån, der påløber efter afdragsordningen er oprettet, indgår ikke i afdragsordningen.": (
        "Future interest on a resident deposit loan that accrues after the plan is created is not part of the plan."
    ),
    "Se betalingsplanen": "See the payment schedule",
    "Betalingsplan": "Payment schedule",
    "Rate": "Instalment",
    "Individuel vurdering": "Individual assessment",
    "Afdragsordningen varer mere end 18 måneder. Du kan bede Betalingskontoret om en individuel vurdering; indtil den er lavet, venter afdragsordningen på godkendelse.": (
        "The plan lasts more than 18 months. You can ask the Payments Office for an individual assessment; until it "
        "is made, the plan waits for approval."
    ),
    "Hvorfor har du brug for en længere afdragsordning?": "Why do you need a longer plan?",
    "Skriv, hvorfor du har brug for en længere afdragsordning.": "Write why you need a longer plan.",
    "Betingelser": "Terms",
    "Betingelser for afdragsordning med Randers Kommune: Du betaler det aftalte beløb hver måned på den valgte dag, til gælden er betalt. Betaler du ikke en rate senest 14 dage efter forfaldsdatoen, ophører afdragsordningen (misligholdelse), og hele restgælden forfalder til betaling; den kan sendes til inddrivelse hos Gældsstyrelsen. Har du ikke tilmeldt automatisk betaling, får du en opkrævning i Digital Post. Du kan til enhver tid betale mere eller hele restgælden.": (
        "Terms of an installment plan with Randers Municipality: you pay the agreed amount every month on the chosen "
        "day until the debt is paid. If an instalment is not paid within 14 days of its due date, the plan ends "
        "(default) and the whole remaining debt falls due; it may be sent for collection to the Danish Debt "
        "Collection Agency. Without automatic payment you receive a payment slip in Digital Post. You can always pay "
        "more, or the whole remaining debt."
    ),
    "Version": "Version",
    "Jeg accepterer betingelserne": "I accept the terms",
    "Du skal acceptere betingelserne for at oprette afdragsordningen.": "You must accept the terms to create the plan.",
    "Send anmodning om individuel vurdering": "Ask for an individual assessment",
    "Du har ingen afdragsordninger.": "You have no installment plans.",
    "i": "for",
    "måneder": "months",
    "Næste betaling": "Next payment",
    "Afdragsordning": "Installment plan",
    "Din anmodning om en individuel vurdering er sendt til Betalingskontoret.": (
        "Your request for an individual assessment has been sent to the Payments Office."
    ),
    "Din afdragsordning er oprettet.": "Your installment plan has been created.",
    "Betingelser accepteret": "Terms accepted",
    "Ikke tilmeldt: du får en opkrævning i Digital Post.": "Not enrolled: you receive a payment slip in Digital Post.",
    "Tilmeld afdragsordningen automatisk betaling": "Enrol the plan in automatic payment",
    "Betales via": "Paid by",
    "Annuller afdragsordningen": "Cancel the plan",
    "Annullerer du, er kravene igen fri, og hele restgælden skal betales.": (
        "If you cancel, the claims are free again and the whole remaining debt must be paid."
    ),
    "Alle afdragsordninger": "All installment plans",
    # automatic payment
    "Din tilmelding er modtaget.": "Your enrolment has been received.",
    "Husk at der kan gå lidt tid med Betalingsservice, inden det træder i kraft. Indtil da får du en opkrævning; tjek din digitale postkasse.": (
        "Betalingsservice can take a while to take effect. Until then you receive a payment slip; check your Digital "
        "Post."
    ),
    "Når du har tilmeldt dine regninger eller din afdragsordning, sker betalingerne automatisk fra den konto, du har valgt, med Betalingsservice eller et MobilePay-abonnement.": (
        "Once your bills or your plan are enrolled, payments are made automatically from the account you chose, by "
        "Betalingsservice or a MobilePay subscription."
    ),
    "Dine tilmeldinger": "Your enrolments",
    "Du har ingen tilmeldinger.": "You have no enrolments.",
    "Indtil tilmeldingen er aktiv, får du en opkrævning i Digital Post.": (
        "Until the enrolment is active, you receive a payment slip in Digital Post."
    ),
    "Godkend aftalen i MobilePay": "Approve the agreement in MobilePay",
    "Stop automatisk betaling": "Stop automatic payment",
    "Du har ingen afdragsordninger eller regninger, der kan tilmeldes.": "You have no plans or bills that can be enrolled.",
    "Regninger (vælg herunder)": "Bills (choose below)",
    "Hvad skal betales automatisk?": "What should be paid automatically?",
    "Regninger": "Bills",
    "Kun hvis du har valgt regninger ovenfor. Krav, der er sendt til inddrivelse, kan ikke tilmeldes.": (
        "Only if you chose bills above. Claims sent for collection cannot be enrolled."
    ),
    "Hvordan skal der betales?": "How should it be paid?",
    "MobilePay-abonnement": "MobilePay subscription",
    "Betalingsservice kan tage lidt tid om at træde i kraft; indtil da får du en opkrævning i Digital Post.": (
        "Betalingsservice can take a while to take effect; until then you receive a payment slip in Digital Post."
    ),
    "Hvilken MobilePay-konto skal pengene trækkes fra?": "Which MobilePay account should the money come from?",
    "Kun for MobilePay-abonnement. Du bekræfter aftalen i MobilePay bagefter.": (
        "Only for a MobilePay subscription. You confirm the agreement in MobilePay afterwards."
    ),
    "Tilmeld": "Enrol",
    "Annuller": "Cancel",
    "Vælg Betalingsservice eller MobilePay-abonnement.": "Choose Betalingsservice or a MobilePay subscription.",
    "Vælg, hvad der skal betales automatisk.": "Choose what should be paid automatically.",
    "Vælg mindst én regning.": "Choose at least one bill.",
    # contacts, access log
    "Har du spørgsmål til en regning, skal du kontakte den afdeling, der står som afsender. Har du brug for hjælp til Mit betalingsoverblik, så kontakt Betalingskontoret.": (
        "Questions about a bill go to the department named as its sender. For help with My payment overview, "
        "contact the Payments Office."
    ),
    "Krav, der er sendt til inddrivelse (markeret med *), og Gældsstyrelsens inddrivelsesomkostninger: kontakt Gældsstyrelsen.": (
        "Claims sent for collection (marked *) and the agency's collection costs: contact the Danish Debt "
        "Collection Agency."
    ),
    "Afdelinger, der sender regninger": "Departments that send bills",
    "Her kan du se, hvornår Betalingskontorets sagsbehandlere har set dine oplysninger, og hvad de har gjort på dine vegne. Det, du selv gør her på siden, står under dine betalinger, afdragsordninger og tilmeldinger.": (
        "Here you can see when the Payments Office's caseworkers looked at your data and what they did on your "
        "behalf. What you do yourself on this site is listed under your payments, installment plans and enrolments."
    ),
    "Ingen har set dine data endnu.": "Nobody has looked at your data yet.",
    "registreringer, nyeste først": "entries, newest first",
    "registrering, nyeste først": "entry, newest first",
    "Aftalen er aktiv, så snart MobilePay har bekræftet den over for os. Det tager normalt kun et øjeblik; opdater siden for at se status.": (
        "The agreement is active as soon as MobilePay has confirmed it to us. That normally takes only a moment; "
        "refresh the page to see its status."
    ),
    "Det kunne ikke lade sig gøre": "That could not be done",
    "Siden kunne ikke behandle det, du sendte. Gå tilbage, og prøv igen.": (
        "The page could not handle what you sent. Go back and try again."
    ),
    "For mange forespørgsler": "Too many requests",
    "Du har hentet mange sider på kort tid. Vent et øjeblik, og prøv igen.": (
        "You have opened many pages in a short time. Wait a moment and try again."
    ),
    "Begrundelsen må højst være 2.000 tegn.": "The reason can be at most 2,000 characters.",
    "Tidspunkt": "Time",
    "Hvem": "Who",
    "Hvad": "What",
    "Ældre registreringer": "Older entries",
    "Nyeste registreringer": "Newest entries",
    # labels of the API's values
    "Afventer godkendelse": "Awaiting approval",
    "Godkendt, behandles": "Approved, being processed",
    "Mislykkedes": "Failed",
    "Annulleret": "Cancelled",
    "Udløbet": "Expired",
    "Afventer": "Pending",
    "Aktiv": "Active",
    "Afvist": "Rejected",
    "Stoppet": "Stopped",
    "Afventer individuel vurdering": "Awaiting an individual assessment",
    "Afsluttet": "Completed",
    "Misligholdt": "Defaulted",
    "Modtilbud fra Betalingskontoret": "Counter-offer from the Payments Office",
    "Planlagt": "Scheduled",
    "Opkrævet": "Invoiced",
    "Ikke betalt": "Not paid",
    "Opkrævning i Digital Post": "Payment slip in Digital Post",
    "Hos betalingsudbyderen": "At the payment provider",
    "Trukket": "Collected",
    "Sagsbehandler": "Caseworker",
    "Dig selv": "You",
    "Systemet": "The system",
    "Gebyrer": "Fees",
    "Renter": "Interest",
    "Hovedstol": "Principal",
    "Godkendt": "Approved",
    "Modtilbud": "Counter-offer",
    "Individuel vurdering af afdragsordningen": "Individual assessment of the plan",
    "Din begrundelse": "Your reason",
    "Afgørelse": "Decision",
    "Besked fra Betalingskontoret": "Message from the Payments Office",
    "Betalingskontorets modtilbud": "The Payments Office's counter-offer",
    "Accepter modtilbuddet": "Accept the counter-offer",
    "Afvis modtilbuddet": "Decline the counter-offer",
    "Afviser du modtilbuddet, ophører afdragsordningen, og kravene er igen fri.": (
        "If you decline the counter-offer, the plan ends and the claims are free again."
    ),
    "Betalingsservice": "Betalingsservice",
    "MobilePay": "MobilePay",
}


# Enum values of the API, as the page names them (Danish; English through ENGLISH like every other text).
LABELS: Final[dict[str, dict[str, str]]] = {
    "PaymentStatus": {
        "CREATED": "Afventer godkendelse",
        "AUTHORIZED": "Godkendt, behandles",
        "CAPTURED": "Gennemført",
        "FAILED": "Mislykkedes",
        "CANCELLED": "Annulleret",
        "EXPIRED": "Udløbet",
    },
    "PaymentKind": {"CARD": "Betalingskort", "MOBILEPAY": "MobilePay"},
    "PaymentMethodKind": {"BETALINGSSERVICE": "Betalingsservice", "MOBILEPAY_SUBSCRIPTION": "MobilePay-abonnement"},
    "PaymentMethodStatus": {
        "PENDING": "Afventer",
        "ACTIVE": "Aktiv",
        "REJECTED": "Afvist",
        "STOPPED": "Stoppet",
        "EXPIRED": "Udløbet",
    },
    "InstallmentPlanStatus": {
        "PENDING_APPROVAL": "Afventer individuel vurdering",
        "ACTIVE": "Aktiv",
        "COMPLETED": "Afsluttet",
        "DEFAULTED": "Misligholdt",
        "CANCELLED": "Annulleret",
        "COUNTER_OFFERED": "Modtilbud fra Betalingskontoret",
        "REJECTED": "Afvist",
    },
    "InstallmentStatus": {
        "SCHEDULED": "Planlagt",
        "INVOICED": "Opkrævet",
        "PAID": "Betalt",
        "MISSED": "Ikke betalt",
        "CANCELLED": "Annulleret",
    },
    "InstallmentChannel": {"AUTOMATIC": "Automatisk betaling", "INVOICE": "Opkrævning i Digital Post"},
    "DrawChannel": {
        "MOBILEPAY_SUBSCRIPTION": "MobilePay-abonnement",
        "BETALINGSSERVICE": "Betalingsservice",
        "INVOICE": "Opkrævning i Digital Post",
    },
    "DrawStatus": {
        "SCHEDULED": "Planlagt",
        "PENDING": "Hos betalingsudbyderen",
        "CHARGED": "Trukket",
        "FAILED": "Mislykkedes",
        "CANCELLED": "Annulleret",
        "INVOICED": "Opkrævet",
    },
    "AssessmentOutcome": {"APPROVED": "Godkendt", "REJECTED": "Afvist", "COUNTER_OFFERED": "Modtilbud"},
    "ActorKind": {"CASEWORKER": "Sagsbehandler", "CITIZEN": "Dig selv", "SYSTEM": "Systemet"},
    "AllocationComponent": {"FEE": "Gebyrer", "INTEREST": "Renter", "PRINCIPAL": "Hovedstol"},
}


def label(kind: str, value: str | None, language: str) -> str:
    """The page's name for an API enum value, in the visitor's language (the value itself if unknown)."""
    if value is None:
        return ""
    text = LABELS.get(kind, {}).get(value, value)
    return translator(language)(text)


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


def fmt_oere(oere: int, language: str) -> str:
    """An amount in integer øre, in the visitor's locale."""
    return format_currency(Decimal(oere).scaleb(-2), "DKK", locale=_locale(language))


_WEEKDAYS: Final = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")


def fmt_weekday(value: str, language: str) -> str:
    names = get_day_names("wide", locale=_locale(language))
    name = str(names[_WEEKDAYS.index(value)])
    return name[:1].upper() + name[1:]


def fmt_cpr(cpr: str) -> str:
    """DDMMYY-SSSS, as Danish self-service pages show it."""
    return f"{cpr[:6]}-{cpr[6:]}" if len(cpr) == 10 else cpr
