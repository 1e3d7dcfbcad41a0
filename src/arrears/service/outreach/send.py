"""Send: hand one prepared message (and its attachments) to its channel's provider, with the
action's id as the idempotency key."""

from __future__ import annotations

from dataclasses import replace

from arrears.bootstrap import App
from arrears.channels import documents
from arrears.channels.base import Attachment, Channel, SendFailed

#: the contact point each channel sends to (push goes to the borrower's app account)
from arrears.service.outreach.prepare import Outgoing
from arrears.service.outreach.templates import loan_facts


def attachments_of(app: App, o: Outgoing) -> tuple[Attachment, ...]:
    if o.attach != "statement":
        return ()
    from arrears.service.books.statements import statement_for_loan

    st = statement_for_loan(app, o.loan_id, o.business_date)
    with app.engine.connect() as conn:
        f = loan_facts(conn, [o.loan_id])[o.loan_id]
    zh = o.message.locale.startswith("zh")
    name = app.cipher.decrypt("borrower.name", f.name_enc) or ""
    page = documents.statement_html(
        st,
        name=name,
        loan_id=o.loan_id,
        creditor=f.creditor,
        currency=f.currency,
        locale=o.message.locale,
    )
    filename = f"{'对账单' if zh else 'statement'}-{o.loan_id}-{o.business_date}.pdf"
    return (Attachment(filename, "application/pdf", documents.to_pdf(page)),)


def send_one(app: App, channels: dict[str, Channel], o: Outgoing) -> Outgoing:
    try:
        m = o.message
        extra = attachments_of(app, o)
        if extra:
            m = replace(m, attachments=extra)
        o.receipt = channels[o.channel].send(m)
    except SendFailed as exc:
        o.failure = exc
    except Exception as exc:  # an adapter's own fault: worth another try, with the reason
        o.failure = SendFailed(f"{type(exc).__name__}: {exc}", retry=True)
    return o
