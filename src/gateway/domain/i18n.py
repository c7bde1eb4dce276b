"""Messages for errors and notices: Danish by default, English with ``Accept-Language: en`` (api.md).

A catalogue keyed by a stable code; every message a client sees comes from here. Messages never
contain a CPR number or other personal data.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from babel.dates import format_date as _babel_format_date

Language = Literal["da", "en"]
DEFAULT_LANGUAGE: Language = "da"

MESSAGES: dict[str, tuple[str, str]] = {
    # Top-level errors
    "UNAUTHENTICATED": ("Du skal være logget ind.", "You must be signed in."),
    "TOKEN_INVALID": (
        "Adgangstokenet er ugyldigt eller udløbet.",
        "The access token is invalid or has expired.",
    ),
    "FORBIDDEN": ("Du har ikke adgang til dette.", "You do not have access to this."),
    "CASEWORKERS_ONLY": ("Kun sagsbehandlere har adgang til dette.", "Only caseworkers have access to this."),
    "CASEWORKER_ACT_REQUIRED": (
        "Din rolle giver kun læseadgang; den kan ikke handle på borgerens vegne.",
        "Your role may only read; it cannot act on a citizen's behalf.",
    ),
    "CITIZENS_OR_ACTING_CASEWORKERS_ONLY": (
        "Kun borgeren selv eller en sagsbehandler med ret til at handle har adgang til dette.",
        "Only the citizen or a caseworker allowed to act has access to this.",
    ),
    "NOT_FOUND": ("Det efterspurgte findes ikke.", "The requested object does not exist."),
    "INVALID_ID": ("ID'et er ugyldigt.", "The ID is not valid."),
    "INVALID_CURSOR": ("Cursoren er ugyldig.", "The cursor is not valid."),
    "CURSOR_FROM_ANOTHER_QUERY": (
        "Cursoren hører til en anden forespørgsel (et andet felt, en anden kø eller andre filtre).",
        "The cursor belongs to another query (another field, queue or filter).",
    ),
    "INVALID_PERIOD": (
        "Perioden er ugyldig: 'from' skal ligge før eller på 'to', og højst {max_days} dage i alt.",
        "The period is not valid: 'from' must be on or before 'to', and at most {max_days} days in all.",
    ),
    "INVALID_DATE_RANGE": (
        "'from' skal ligge før eller på 'to', begge mellem {first} og {last}.",
        "'from' must be on or before 'to', both from {first} to {last}.",
    ),
    "INVALID_SEARCH_TEXT": (
        "Søgeteksten er ugyldig: {min}–{max} tegn.",
        "The search text is not valid: {min}–{max} characters.",
    ),
    "INVALID_FIRST": (
        "'first' skal være mellem 0 og {max}.",
        "'first' must be between 0 and {max}.",
    ),
    "TOO_MANY_IDS": ("Højst {max} ID'er ad gangen.", "At most {max} IDs at a time."),
    "TOO_MANY_SUBSCRIPTIONS": (
        "Højst {limit} abonnementer pr. forbindelse.",
        "At most {limit} subscriptions on one connection.",
    ),
    "SUBSCRIPTIONS_ONLY": (
        "Over WebSocket kan kun abonnementer (subscription) køres; send forespørgsler og ændringer med POST /graphql.",
        "Only subscriptions run over WebSocket; send queries and mutations with POST /graphql.",
    ),
    "SUBSCRIPTIONS_OVER_WEBSOCKET": (
        "Abonnementer (subscription) køres over WebSocket (graphql-transport-ws) på /graphql.",
        "Subscriptions run over WebSocket (graphql-transport-ws) on /graphql.",
    ),
    "INVALID_CPR": ("CPR-nummeret er ugyldigt.", "The CPR number is not valid."),
    "BAD_REQUEST": ("Forespørgslen er ugyldig: {detail}", "The request is not valid: {detail}"),
    "QUERY_TOO_COMPLEX": ("Forespørgslen er for kompleks.", "The query is too complex."),
    "REQUEST_TOO_LARGE": (
        "Forespørgslen er for stor (højst {limit} bytes).",
        "The request is too large (at most {limit} bytes).",
    ),
    "RATE_LIMITED": (
        "For mange forespørgsler. Vent {seconds} sek., og prøv igen.",
        "Too many requests. Wait {seconds} s and try again.",
    ),
    "UPSTREAM_UNAVAILABLE": (
        "Gældsstyrelsen kunne ikke kontaktes; oplysninger om inddrivelse mangler midlertidigt.",
        "Gældsstyrelsen could not be reached; collection details are temporarily unavailable.",
    ),
    "PAYMENTS_UNAVAILABLE": (
        "Betalingsudbyderen kunne ikke kontaktes. Prøv igen senere.",
        "The payment provider could not be reached. Please try again later.",
    ),
    "INTERNAL": ("Der opstod en intern fejl.", "An internal error occurred."),
    "PERSISTED_QUERY_NOT_FOUND": (
        "Dokument-ID'et kendes ikke; send forespørgslens tekst.",
        "The document id is not known; send the query text.",
    ),
    "TRUSTED_DOCUMENT_REQUIRED": (
        "Kun godkendte forespørgsler (trusted documents) modtages.",
        "Only trusted documents are accepted.",
    ),
    # User errors
    "MONTHLY_AMOUNT_BELOW_MINIMUM": (
        "Det månedlige afdrag skal være mindst 350,00 kr.",
        "The monthly installment must be at least 350.00 DKK.",
    ),
    "PLAN_TOO_LONG": (
        "Afdragsordningen må højst vare 18 måneder. Hæv afdraget, eller bed om en individuel vurdering.",
        "The plan may last at most 18 months. Raise the installment, or ask for an individual assessment.",
    ),
    "CLAIM_AT_COLLECTION": (
        "Kravet er sendt til inddrivelse hos Gældsstyrelsen; kontakt Gældsstyrelsen om en ordning.",
        "The claim has been sent to Gældsstyrelsen for collection; contact Gældsstyrelsen about a plan.",
    ),
    "COLLECTION_STATUS_UNAVAILABLE": (
        "Vi kan ikke se, om kravet er sendt til inddrivelse, fordi Gældsstyrelsen ikke svarer. Prøv igen senere.",
        "We cannot tell whether the claim is at collection because Gældsstyrelsen is not answering. Try again later.",
    ),
    "TERMS_NOT_ACCEPTED": ("Du skal acceptere betingelserne.", "You must accept the terms."),
    "CLAIM_NOT_FOUND": ("Kravet findes ikke.", "The claim does not exist."),
    "CLAIM_NOT_OPEN": ("Kravet er allerede betalt.", "The claim has already been paid."),
    "CLAIM_ALREADY_IN_PLAN": (
        "Kravet indgår allerede i en afdragsordning.",
        "The claim is already part of an installment plan.",
    ),
    "NOTHING_TO_PAY": ("Der er intet at betale.", "There is nothing to pay."),
    "INVALID_AMOUNT": (
        'Beløbet er ugyldigt. Angiv kroner med højst to decimaler, f.eks. "350,00".',
        'The amount is not valid. Give kroner with at most two decimals, e.g. "350.00".',
    ),
    "AMOUNT_EXCEEDS_OUTSTANDING": (
        "Beløbet er større end restgælden på de valgte krav.",
        "The amount is larger than what is outstanding on the chosen claims.",
    ),
    "AMOUNT_BELOW_MINIMUM": (
        "Beløbet skal være mindst 1,00 kr., medmindre du betaler hele restgælden på de valgte krav.",
        "The amount must be at least 1.00 DKK, unless you pay everything outstanding on the chosen claims.",
    ),
    "INVALID_DATE": ("Dagen i måneden skal være mellem 1 og 31.", "The day of the month must be 1 to 31."),
    "IDEMPOTENCY_KEY_REUSED": (
        "Idempotensnøglen er allerede brugt til en anden forespørgsel.",
        "The idempotency key was already used for a different request.",
    ),
    "INVALID_IDEMPOTENCY_KEY": (
        "Idempotensnøglen skal være 1–64 tegn uden kontroltegn.",
        "The idempotency key must be 1–64 characters, none of them a control character.",
    ),
    "ENROLMENT_ALREADY_ACTIVE": (
        "Der er allerede en aktiv tilmelding til automatisk betaling.",
        "There is already a live automatic-payment enrolment.",
    ),
    "MOBILEPAY_ACCOUNT_NOT_FOUND": (
        "MobilePay-kontoen findes ikke.",
        "The MobilePay account does not exist.",
    ),
    "NOT_ALLOWED": ("Handlingen er ikke tilladt.", "The action is not allowed."),
    "NO_CLAIMS_SELECTED": ("Vælg mindst ét krav.", "Choose at least one claim."),
    "DUPLICATE_CLAIMS": ("Det samme krav er valgt flere gange.", "The same claim was chosen more than once."),
    "TOTAL_BELOW_MINIMUM_INSTALLMENT": (
        "Gælden er mindre end ét afdrag på 350,00 kr. Betal den i stedet.",
        "The debt is less than one installment of 350.00 DKK. Pay it instead.",
    ),
    "PLAN_NOT_FOUND": ("Afdragsordningen findes ikke.", "The installment plan does not exist."),
    "PLAN_NOT_PENDING": (
        "Afdragsordningen afventer ikke godkendelse.",
        "The installment plan is not waiting for approval.",
    ),
    "PLAN_NOT_CANCELLABLE": (
        "Afdragsordningen kan ikke annulleres.",
        "The installment plan cannot be cancelled.",
    ),
    "INVALID_RETURN_URL": ("Retur-URL'en er ugyldig.", "The return URL is not valid."),
    "PAYMENT_METHOD_NOT_FOUND": ("Tilmeldingen findes ikke.", "The enrolment does not exist."),
    "INVALID_INPUT": ("Input er ugyldigt.", "The input is not valid."),
    "TERMS_VERSION_OUTDATED": (
        "Betingelserne er ændret. Læs de nye betingelser, og accepter dem igen.",
        "The terms have changed. Read the new terms and accept them again.",
    ),
    "PLAN_NOT_COUNTER_OFFERED": (
        "Der er intet modtilbud at svare på for denne afdragsordning.",
        "There is no counter-offer to answer for this installment plan.",
    ),
    "MESSAGE_TO_CITIZEN_REQUIRED": (
        "Skriv en begrundelse til borgeren.",
        "Write the reason for the citizen.",
    ),
    "PURPOSE_REQUIRED": (
        "Angiv formålet med handlingen; det skrives i borgerens logbog.",
        "Give the purpose of the action; it is written to the citizen's access log.",
    ),
    "PURPOSE_TOO_LONG": (
        "Formålet må højst være 500 tegn.",
        "The purpose may be at most 500 characters.",
    ),
    "CITIZEN_NOT_FOUND": ("Borgeren findes ikke.", "The citizen does not exist."),
    "WORK_QUEUE_ITEM_NOT_FOUND": (
        "Sagen er ikke (længere) i arbejdskøen.",
        "The item is not (or no longer) in the work queue.",
    ),
    "WORK_QUEUE_ITEM_ALREADY_RESOLVED": (
        "Sagen er allerede markeret som afsluttet.",
        "The item has already been marked resolved.",
    ),
    "WORK_QUEUE_ITEM_DECIDED_ELSEWHERE": (
        "En afdragsordning, der venter på en individuel vurdering, afsluttes ved at godkende, afvise eller give et "
        "modtilbud.",
        "A plan waiting for an individual assessment is closed by approving, rejecting or counter-offering.",
    ),
    # The terms of an installment plan (gateway.domain.terms): one entry per published version, never edited.
    "PLAN_TERMS_2026_12": (
        "Vilkår for afdragsordning hos Randers Kommune\n"
        "1. Afdragsordningen omfatter de krav, du har valgt, med den restgæld de har, når ordningen oprettes.\n"
        "2. Du betaler mindst 350,00 kr. om måneden. Ordningen varer normalt højst 18 måneder; en længere ordning "
        "kræver en individuel vurdering hos Betalingskontoret, som kan godkende, afvise eller tilbyde andre vilkår.\n"
        "3. Afdragene forfalder på den valgte dag hver måned. Er du tilmeldt Betalingsservice eller MobilePay, "
        "trækkes de automatisk; ellers får du en opkrævning i din digitale postkasse. Tjek hver måned, at "
        "betalingen er gennemført.\n"
        "4. Renter, der påløber et beboerindskudslån efter aftalens indgåelse, indgår ikke i ordningen.\n"
        "5. Betales et afdrag ikke senest 14 dage efter forfald, bortfalder ordningen, og hele restgælden "
        "forfalder. Kravene kan derefter sendes til inddrivelse hos Gældsstyrelsen.\n"
        "6. Krav, der er sendt til inddrivelse hos Gældsstyrelsen, kan ikke indgå i ordningen.\n"
        "7. Du kan til enhver tid betale mere eller indfri gælden, og du kan opsige ordningen.\n"
        "Spørgsmål: Betalingskontoret, tlf. 8915 1188, Betalingskontoret@randers.dk.",
        "Terms of an installment plan with Randers Kommune\n"
        "1. The plan covers the claims you chose, with what they owe when the plan is made.\n"
        "2. You pay at least 350.00 DKK a month. A plan normally lasts at most 18 months; a longer plan needs an "
        "individual assessment by Betalingskontoret, which may approve it, refuse it or offer other terms.\n"
        "3. Installments fall due on the chosen day each month. If you are enrolled in Betalingsservice or "
        "MobilePay they are drawn automatically; otherwise you get an invoice in your Digital Post. Check every "
        "month that the payment went through.\n"
        "4. Interest that accrues on a resident deposit loan after the plan is made is not part of the plan.\n"
        "5. If an installment is not paid within 14 days of its due date, the plan lapses and the whole remaining "
        "debt falls due. The claims may then be sent to Gældsstyrelsen for collection.\n"
        "6. Claims sent to Gældsstyrelsen for collection cannot be part of the plan.\n"
        "7. You may pay more or pay off the debt at any time, and you may end the plan.\n"
        "Questions: Betalingskontoret, phone 8915 1188, Betalingskontoret@randers.dk.",
    ),
    # The access log, for people (gateway.domain.acting.describe_access); {who} is a name, or "A caseworker".
    "ACCESS_CASEWORKER": ("En sagsbehandler", "A caseworker"),
    "ACCESS_CASEWORKER_IN_UNIT": ("En sagsbehandler i {unit}", "A caseworker in {unit}"),
    "ACCESS_PURPOSE": ("Formål: {purpose}", "Purpose: {purpose}"),
    "ACCESS_OTHER": ("{who} så eller ændrede dine oplysninger.", "{who} looked at or changed your data."),
    "ACCESS_citizen": ("{who} slog dig op.", "{who} looked you up."),
    "ACCESS_node": ("{who} så dine oplysninger.", "{who} looked at your data."),
    "ACCESS_nodes": ("{who} så dine oplysninger.", "{who} looked at your data."),
    "ACCESS_searchCitizens": (
        "{who} fandt dig ved en søgning blandt borgerne.",
        "{who} found you in a search among the citizens.",
    ),
    "ACCESS_workQueue": (
        "{who} så en sag om dig i en af Betalingskontorets arbejdskøer.",
        "{who} saw an item about you in one of Betalingskontoret's work queues.",
    ),
    "ACCESS_paymentUpdated": (
        "{who} fulgte status på en af dine betalinger.",
        "{who} followed the status of one of your payments.",
    ),
    "ACCESS_paymentMethodUpdated": (
        "{who} fulgte status på din tilmelding til automatisk betaling.",
        "{who} followed the status of your automatic payment enrolment.",
    ),
    "ACCESS_installmentPlanUpdated": (
        "{who} fulgte status på din afdragsordning.",
        "{who} followed the status of your installment plan.",
    ),
    "ACCESS_installmentPlansAwaitingApproval": (
        "{who} så din afdragsordning blandt dem, der venter på en individuel vurdering.",
        "{who} saw your installment plan among those waiting for an individual assessment.",
    ),
    "ACCESS_caseworkerItems": (
        "{who} så en sag om dig i Betalingskontorets arbejdskø.",
        "{who} saw an item about you in Betalingskontoret's work queue.",
    ),
    "ACCESS_resolveWorkQueueItem": (
        "{who} markerede en sag om dig i en af Betalingskontorets arbejdskøer som afsluttet.",
        "{who} marked an item about you in one of Betalingskontoret's work queues as resolved.",
    ),
    "ACCESS_approveInstallmentPlan": (
        "{who} godkendte din afdragsordning efter en individuel vurdering.",
        "{who} approved your installment plan after an individual assessment.",
    ),
    "ACCESS_rejectInstallmentPlan": (
        "{who} afviste din anmodning om en længere afdragsordning.",
        "{who} refused your request for a longer installment plan.",
    ),
    "ACCESS_counterOfferInstallmentPlan": (
        "{who} gav dig et modtilbud på din afdragsordning.",
        "{who} made you a counter-offer on your installment plan.",
    ),
    "ACCESS_cancelInstallmentPlan": ("{who} annullerede din afdragsordning.", "{who} cancelled your installment plan."),
    "ACCESS_previewInstallmentPlanOnBehalf": (
        "{who} beregnede en afdragsordning for dig i telefonen.",
        "{who} worked out an installment plan for you on the phone.",
    ),
    "ACCESS_createInstallmentPlanOnBehalf": (
        "{who} oprettede en afdragsordning for dig i telefonen, efter at du havde accepteret betingelserne.",
        "{who} created an installment plan for you on the phone, after you had accepted the terms.",
    ),
    "ACCESS_cancelInstallmentPlanOnBehalf": (
        "{who} annullerede din afdragsordning for dig i telefonen.",
        "{who} cancelled your installment plan for you on the phone.",
    ),
    "ACCESS_enrolAutomaticPaymentOnBehalf": (
        "{who} tilmeldte automatisk betaling for dig i telefonen.",
        "{who} enrolled you in automatic payment on the phone.",
    ),
    "ACCESS_stopAutomaticPaymentOnBehalf": (
        "{who} stoppede din automatiske betaling for dig i telefonen.",
        "{who} stopped your automatic payment for you on the phone.",
    ),
    "ACCESS_sendPaymentLink": (
        "{who} sendte dig et link til at betale.",
        "{who} sent you a link to pay.",
    ),
    # Notices
    "NOTICE_CHECK_PAYMENTS": (
        "Husk at tjekke, at betalingen bliver trukket fra din konto hver måned.",
        "Remember to check that the payment is drawn from your account every month.",
    ),
    "NOTICE_ENROLMENT_PENDING": (
        "Din tilmelding til automatisk betaling er ikke trådt i kraft endnu. Indtil da får du en opkrævning "
        "i din digitale postkasse, så hold øje med den.",
        "Your automatic-payment enrolment is not active yet. Until then you will receive an invoice in your "
        "Digital Post, so keep an eye on it.",
    ),
    "NOTICE_FUTURE_INTEREST": (
        "Renter, der påløber dit beboerindskudslån efter aftalen er indgået, indgår ikke i afdragsordningen.",
        "Interest that accrues on your resident deposit loan after the plan is made is not part of the plan.",
    ),
    "NOTICE_AT_COLLECTION": (
        "Krav markeret med * er sendt til inddrivelse hos Gældsstyrelsen. Du kan stadig betale på dem her, men "
        "der kan ikke laves en afdragsordning med kommunen. Gældsstyrelsens inddrivelsesomkostninger vises "
        "ikke her; kontakt Gældsstyrelsen på 7015 7304 eller gaeldst.dk/borger.",
        "Claims marked * have been sent to Gældsstyrelsen for collection. You can still pay them here, but the "
        "municipality cannot make an installment plan for them. Gældsstyrelsen's collection costs are not "
        "shown here; contact Gældsstyrelsen on 7015 7304 or gaeldst.dk/borger.",
    ),
    "NOTICE_DRAW_MISSED": (
        "Et afdrag på {amount} med forfald {due_on} er ikke betalt (trækket slog fejl, eller opkrævningen er ikke "
        "betalt). Betal beløbet senest {lapse_on}; ellers bortfalder afdragsordningen, og hele restgælden "
        "forfalder. Kontakt Betalingskontoret, hvis du har brug for hjælp.",
        "An installment of {amount} due {due_on} is unpaid (the draw failed, or the invoice was not paid). Pay "
        "it by {lapse_on}; otherwise the installment plan lapses and the whole remaining debt falls due. Contact "
        "Betalingskontoret if you need help.",
    ),
    "NOTICE_CHECK_DIGITAL_POST": (
        "Du har fået en opkrævning på {amount} med forfald {due_on} i din digitale postkasse, fordi din "
        "automatiske betaling ikke er trådt i kraft. Husk at betale den.",
        "An invoice of {amount} due {due_on} has been sent to your Digital Post, because your automatic payment "
        "is not active yet. Remember to pay it.",
    ),
    "NOTICE_CHECK_DRAW": (
        "Dit afdrag på {amount} trækkes den {due_on}. Tjek, at beløbet bliver trukket fra din konto.",
        "Your installment of {amount} is drawn on {due_on}. Check that it is taken from your account.",
    ),
    "NOTICE_PLAN_COMPLETED": (
        "Din afdragsordning er betalt. Tak.",
        "Your installment plan is paid off. Thank you.",
    ),
    "NOTICE_PLAN_DEFAULTED": (
        "Din afdragsordning er bortfaldet, fordi et afdrag ikke blev betalt. Hele restgælden forfalder nu, og "
        "kravene kan blive sendt til inddrivelse hos Gældsstyrelsen. Kontakt Betalingskontoret.",
        "Your installment plan has lapsed because an installment was not paid. The whole remaining debt falls "
        "due now, and the claims may be sent to Gældsstyrelsen for collection. Contact Betalingskontoret.",
    ),
    "NOTICE_CLAIM_LEFT_PLAN": (
        "Et krav i din afdragsordning er sendt til inddrivelse hos Gældsstyrelsen og er taget ud af ordningen. "
        "Dine afdrag er beregnet på ny for resten. Spørgsmål om kravet: kontakt Gældsstyrelsen.",
        "A claim in your installment plan has been sent to Gældsstyrelsen for collection and has left the plan. "
        "Your installments have been recalculated for the rest. Questions about that claim: contact "
        "Gældsstyrelsen.",
    ),
    "NOTICE_PAYMENT_FAILED": (
        "En betaling, du startede, kunne ikke gennemføres hos betalingsudbyderen, og den er ikke registreret på "
        "dine krav. Er beløbet reserveret på din konto, frigives det. Betalingskontoret er orienteret; prøv at "
        "betale igen, eller kontakt Betalingskontoret.",
        "A payment you started could not be completed at the payment provider, and it has not been registered on "
        "your claims. If the amount was reserved on your account, it is released. Betalingskontoret has been told; "
        "try paying again, or contact Betalingskontoret.",
    ),
    "NOTICE_PLAN_APPROVED": (
        "Betalingskontoret har godkendt din afdragsordning efter en individuel vurdering.",
        "Betalingskontoret has approved your installment plan after an individual assessment.",
    ),
    "NOTICE_PLAN_REJECTED": (
        "Betalingskontoret har efter en individuel vurdering afvist din anmodning om en længere afdragsordning. "
        "Kravene er frie igen: du kan lave en afdragsordning på højst 18 måneder eller betale dem. Kontakt "
        "Betalingskontoret, hvis du har spørgsmål.",
        "After an individual assessment, Betalingskontoret has refused your request for a longer installment plan. "
        "The claims are free again: you can make a plan of at most 18 months or pay them. Contact "
        "Betalingskontoret if you have questions.",
    ),
    "NOTICE_PLAN_COUNTER_OFFERED": (
        "Betalingskontoret tilbyder dig i stedet en afdragsordning på {amount} om måneden i {months}. "
        "Accepter eller afvis tilbuddet under din afdragsordning.",
        "Betalingskontoret offers you an installment plan of {amount} a month for {months} instead. Accept "
        "or decline the offer under your installment plan.",
    ),
    "NOTICE_PAYMENT_REQUESTED": (
        "Betalingskontoret har sendt dig et link til at betale {count} krav på i alt {amount}; du betaler selv med "
        "kort eller MobilePay.",
        "Betalingskontoret has sent you a link to pay {count} claim(s) totalling {amount}; you pay yourself by card "
        "or MobilePay.",
    ),
    "NOTICE_MESSAGE_FROM_OFFICE": (
        "Besked fra Betalingskontoret: {message}",
        "Message from Betalingskontoret: {message}",
    ),
    "NOTICE_WAGE_GARNISHMENT": (
        "Gældsstyrelsen kan foretage lønindeholdelse, også hvis du har en lav A-indkomst, f.eks. SU, "
        "sociale ydelser eller social pension.",
        "Gældsstyrelsen may garnish your wages, even on a low A-income such as SU, social benefits or a "
        "social pension.",
    ),
}


def negotiate(accept_language: str | None) -> Language:
    """Pick "en" when the client prefers English over Danish, else Danish."""
    if not accept_language:
        return DEFAULT_LANGUAGE
    best: tuple[float, Language] = (0.0, DEFAULT_LANGUAGE)
    for part in accept_language.split(","):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])  # a quality weight, not money
            except ValueError:
                q = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in ("da", "en") and q > best[0]:
            best = (q, "da" if primary == "da" else "en")
    return best[1]


def format_day(day: date, language: Language) -> str:
    """A date in a message, as the citizen's language writes it: "1. marts 2027", "1 March 2027" (Babel's long
    form, as the web page writes dates; never "01-03-2027", which an English reader takes for 3 January)."""
    return _babel_format_date(day, format="long", locale="en_GB" if language == "en" else "da_DK")


def format_months(months: int, language: Language) -> str:
    """A number of months in a message: "1 måned", "18 måneder"; "1 month", "18 months"."""
    if language == "en":
        return f"{months} month" if months == 1 else f"{months} months"
    return f"{months} måned" if months == 1 else f"{months} måneder"


def translate(key: str, language: Language, **params: object) -> str:
    da, en = MESSAGES.get(key, MESSAGES["INTERNAL"])
    text = en if language == "en" else da
    return text.format(**params) if params else text
