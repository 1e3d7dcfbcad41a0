"""The words pages show for the codes the service hands them (a stage, a channel, a call's
result, a complaint's status...): English labels marked for the catalogue with :func:`N_` and
translated when a page is drawn (``label(family, code)`` in a template). A code without a label
(one a configuration made up) is shown as it is.

>>> LABELS["stage"]["early"]
'Early'
"""

from __future__ import annotations

from collections.abc import Callable

from arrears.web.i18n import N_, translations

LABELS: dict[str, dict[str, str]] = {
    "role": {
        "admin": N_("Administrator"),
        "strategy_manager": N_("Strategy manager"),
        "supervisor": N_("Supervisor"),
        "collector": N_("Collector"),
        "field_agent": N_("Field agent"),
        "compliance": N_("Compliance officer"),
        "agency": N_("Agency"),
    },
    "stage": {
        "current": N_("Current"),
        "pre_due": N_("Before due"),
        "early": N_("Early"),
        "mid": N_("Mid-stage"),
        "late": N_("Late"),
        "legal": N_("Legal"),
        "settled": N_("Settled"),
    },
    "channel": {
        "sms": N_("SMS"),
        "push": N_("App push"),
        "email": N_("Email"),
        "letter": N_("Letter"),
        "robocall": N_("Automated call"),
        "agent_call": N_("Call from an agent"),
        "call": N_("Call from an agent"),
        "visit": N_("Home visit"),
        "agency": N_("Agency placement"),
    },
    "result": {
        "busy": N_("Busy"),
        "not_in_service": N_("Not in service"),
        "no_answer": N_("No answer"),
        "voicemail": N_("Voicemail"),
        "connected": N_("Connected"),
        "conversation": N_("Spoke with the borrower"),
    },
    "measure": {  # a team-table figure whose accounts a supervisor opens
        "attempts": N_("Calls and visits"),
        "reached": N_("Right-party contacts"),
        "promises": N_("Promises taken"),
        "kept": N_("Promises kept"),
        "cash": N_("Cash collected"),
        "complaints": N_("Complaints"),
        "qa_score": N_("Scored calls"),
    },
    "found_by": {  # what an account search matched
        "loan_id": N_("Loan reference"),
        "borrower_id": N_("Borrower id"),
        "phone": N_("Phone number"),
        "national_id": N_("National id"),
    },
    "queue": {  # the platform's own queues (a strategy's queues carry their own labels)
        "call_back": N_("Call-backs"),
    },
    "disposition": {  # what an answered call or visit came to
        "right_party": N_("Spoke with the borrower"),
        "promise": N_("Promise to pay"),
        "refused": N_("Refused to pay"),
        "dispute": N_("Disputes the debt"),
        "hardship": N_("Hardship"),
        "deceased": N_("Deceased"),
        "bankrupt": N_("Bankrupt"),
        "third_party": N_("Third party reached"),
        "wrong_party": N_("Wrong party (not the borrower's number)"),
    },
    "reason": {  # the borrower's reason for falling behind
        "job_loss": N_("Lost their job"),
        "income_drop": N_("Income fell"),
        "illness": N_("Illness or injury"),
        "business_failure": N_("Business failing"),
        "family": N_("Family emergency"),
        "over_indebted": N_("Too many debts"),
        "forgot": N_("Forgot"),
        "dispute": N_("Disputes the debt"),
        "fraud": N_("Says it is fraud or identity theft"),
        "other": N_("Other"),
    },
    "dial": {
        "dialing": N_("Ringing your phone"),
        "agent_answered": N_("You answered; calling the borrower"),
        "agent_missed": N_("Your phone was not answered"),
        "answered": N_("Borrower answered"),
        "no_answer": N_("Borrower did not answer"),
        "busy": N_("Borrower's line busy"),
        "failed": N_("Number not in service"),
        "voicemail": N_("Went to voicemail"),
        "completed": N_("Call ended"),
        "not_placed": N_("The call was not placed"),
    },
    "speaker": {
        "agent": N_("Collector"),
        "borrower": N_("Borrower"),
        "bot": N_("Robot"),
        "other": N_("Other"),
    },
    "transcript": {
        "none": N_("No transcript (no speech recognition configured)"),
        "submitted": N_("Being transcribed"),
        "failed": N_("Transcription failed"),
        "done": N_("No speech"),
    },
    "complaint_status": {
        "open": N_("Open"),
        "escalated": N_("Escalated"),
        "resolved": N_("Resolved"),
    },
    "complaint": {  # arrears.domain.complaint_categories.CATEGORIES
        "threats": N_("Threats"),
        "insults": N_("Insults"),
        "contacting_relatives": N_("Contacting relatives or colleagues"),
        "too_many_calls": N_("Too many calls"),
        "calls_at_night": N_("Calls at night"),
        "impersonation": N_("Impersonation"),
        "wrong_amount": N_("Wrong amount"),
        "privacy_leak": N_("Privacy leak"),
    },
    "finding": {
        "upheld": N_("Upheld"),
        "partly_upheld": N_("Partly upheld"),
        "not_upheld": N_("Not upheld"),
    },
    "alert_status": {
        "open": N_("Awaiting review"),
        "confirmed": N_("Confirmed"),
        "dismissed": N_("Dismissed"),
    },
    "alert": {
        "out_of_policy_contact": N_("Contact outside the rules"),
        "break_glass": N_("Break-glass"),
        "language": N_("Prohibited language"),
        "qa": N_("Call inspection"),
    },
    "category": {  # arrears.compliance.conduct.screen.NAMES, and the scorecard's own
        "threat": N_("threat of harm"),
        "third_party": N_("disclosure to or contact of a third party"),
        "exposure": N_("public exposure or shaming"),
        "impersonation": N_("impersonating authority or false criminal claims"),
        "false_consequence": N_("false consequences"),
        "insult": N_("insult or humiliation"),
        "new_borrowing": N_("pushing new borrowing"),
        "harassment": N_("harassment"),
        "debt_before_check": N_("Debt named before identity check"),
    },
    "disclosure": {  # arrears.compliance.conduct.scorecard.DISCLOSURES
        "identity": N_("the agent's name or staff number"),
        "organisation": N_("the organisation"),
        "recording_notice": N_("that the call is recorded"),
        "amount": N_("the amount owed"),
        "mini_miranda": N_("that this is a debt collector"),
    },
    "arrangement": {
        "waiver": N_("Waiver"),
        "extension": N_("Extension"),
        "plan": N_("Instalment plan"),
        "settlement": N_("Settlement"),
        "promise": N_("Promise to pay"),
        "hardship": N_("Hardship"),
    },
    "arrangement_status": {
        "active": N_("In force"),
        "pending_approval": N_("Waiting for a second person's approval"),
        "rejected": N_("Rejected"),
        "completed": N_("Completed"),
        "broken": N_("Broken"),
    },
    "promise_status": {
        "pending": N_("Pending"),
        "kept": N_("Kept"),
        "partly_kept": N_("Partly kept"),
        "broken": N_("Broken"),
        "superseded": N_("Replaced by a plan or extension"),
    },
    "payment_status": {
        "posted": N_("Posted"),
        "reversed": N_("Reversed"),
    },
    "hold": {  # arrears.compliance.rulebook.HOLD_KINDS
        "cease_request": N_("Request to stop contact"),
        "attorney_represented": N_("Represented by a lawyer"),
        "bankruptcy": N_("Bankruptcy"),
        "deceased": N_("Deceased"),
        "dispute": N_("Dispute"),
        "complaint": N_("Complaint"),
        "legal": N_("Legal proceedings"),
        "hardship": N_("Hardship"),
    },
    "event": {
        "contact": N_("Contact"),
        "payment": N_("Payment"),
        "promise": N_("Promise"),
        "hold": N_("Hold"),
        "complaint": N_("Complaint"),
        "arrangement": N_("Arrangement"),
    },
    "point": {
        "phone": N_("Phone"),
        "mobile": N_("Mobile"),
        "email": N_("Email"),
        "address": N_("Address"),
    },
    "party": {  # arrears.compliance.facts.ROLES and the contact points' owners
        "borrower": N_("Borrower"),
        "debtor": N_("Borrower"),
        "guarantor": N_("Guarantor"),
        "emergency_contact": N_("Emergency contact"),
        "third_party": N_("Third party"),
    },
    "action": {  # a planned action's status (the cycle's plan, the gate's decisions)
        "planned": N_("Planned"),
        "cut": N_("Over capacity"),
        "blocked": N_("Blocked by the rules"),
        "suppressed": N_("Suppressed by the strategy"),
        "cancelled": N_("Cancelled"),
        "done": N_("Done"),
        "sent": N_("Sent"),
        "expired": N_("Expired (not worked in time)"),
    },
    "frequency": {  # the contact-frequency report's columns
        "borrower_id": N_("Borrower"),
        "collector_id": N_("Collector id"),
        "contacts": N_("Contacts"),
        "calls": N_("Calls"),
        "connected": N_("Connected calls"),
        "most_connected_in_a_day": N_("Most connected calls in a day"),
        "most_dials_to_a_number_in_a_day": N_("Most dials to one number in a day"),
        "days_over_a_limit": N_("Days over a limit"),
        "talk_minutes": N_("Talk time (minutes)"),
        "borrowers_reached": N_("Borrowers reached"),
        "most_connected_to_a_borrower_in_a_day": N_(
            "Most connected calls to one borrower in a day"
        ),
        "breaches": N_("Contacts recorded as breaches"),
    },
    "purpose": {  # what an evidence package is for (arrears.service.outreach.legal.PURPOSES)
        "complaint": N_("A complaint investigation"),
        "regulator": N_("The regulator"),
        "audit": N_("An internal audit"),
        "litigation": N_("Litigation"),
        "borrower_request": N_("The borrower's request"),
    },
    "change": {  # how a dry run changes an account's day
        "added": N_("Acted on only by the candidate"),
        "removed": N_("No longer acted on"),
        "changed": N_("Other actions"),
    },
    "source": {  # where a payment, a promise or a complaint came from
        "bank_transfer": N_("Bank transfer"),
        "portal": N_("Borrower portal"),
        "api": N_("Integration (API)"),
        "collector": N_("Collector"),
        "agent_call": N_("Call from an agent"),
        "robocall": N_("Automated call"),
    },
    "by": {  # who complaints are counted against
        "collector": N_("Collector"),
        "template": N_("Template"),
        "agency": N_("Agency"),
    },
}


def labeller(lang: str) -> Callable[[str, str | None], str]:
    """``label(family, code)`` in ``lang``: the code's label translated, or the code itself when
    it has none (empty for None)."""
    gettext = translations(lang).gettext

    def label(family: str, code: str | None) -> str:
        if code is None:
            return ""
        text = LABELS[family].get(code)
        return gettext(text) if text else code

    return label
