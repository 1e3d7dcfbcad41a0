"""Documents printed from a statement: the statement of account a statement email carries as a
PDF, and the legal package of an account referred to lawyers (statement, instalments and
payments, the contact history with each contact's evidence hash).

Both are HTML laid out by WeasyPrint with the letters' A4 style and local Noto CJK fonts; they
take plain dictionaries (a statement as :func:`arrears.domain.codec.statement_to_dict` gives
it), so the service layer decides what goes in and this module only how it looks.
"""

from __future__ import annotations

import html
from typing import Any

from arrears.channels.letter import STYLE, _no_fetch
from arrears.domain.complaint_categories import CATEGORIES

TABLE_STYLE = """
table { border-collapse: collapse; width: 100%; margin: 2mm 0 5mm 0; font-size: 9pt; }
th, td { border: 0.4pt solid #999; padding: 1mm 1.5mm; text-align: left; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
h2 { font-size: 11.5pt; margin: 5mm 0 1mm 0; }
.small { font-size: 8pt; color: #555; word-break: break-all; }
"""

WORDS = {
    "zh-CN": {
        "statement": "账户对账单",
        "legal": "诉讼材料包",
        "borrower": "借款人",
        "loan": "借款编号",
        "creditor": "债权人",
        "as_of": "截至日期",
        "dpd": "逾期天数",
        "total_due": "应还合计",
        "part": "项目",
        "amount": "金额",
        "principal": "本金",
        "o_principal": "逾期本金",
        "o_interest": "逾期利息",
        "interest": "利息",
        "fee": "费用",
        "penalty": "罚息",
        "instalments": "分期计划",
        "seq": "期次",
        "due_date": "到期日",
        "paid": "已还",
        "unpaid": "未还",
        "payments": "还款记录",
        "paid_on": "还款日",
        "contacts": "联系记录",
        "at": "时间",
        "channel": "渠道",
        "result": "结果",
        "evidence": "证据哈希",
        "formula": "罚息计算",
        "none": "无",
        "penalty_lines": "罚息明细",
        "period": "期间",
        "days": "天数",
        "base": "计息基数",
        "rate": "日罚息率",
        "per_day": "每日",
        "cut": "受上限限制",
        "waived": "已减免",
        "what": "内容",
        "collector": "工号",
        "said": "记录或发送内容",
        "promises": "还款承诺",
        "made_at": "承诺时间",
        "due_on": "承诺还款日",
        "status": "状态",
        "by": "记录人",
        "holds": "暂停催收",
        "kind": "类型",
        "from": "开始",
        "to": "结束",
        "complaints": "投诉",
        "category": "类别",
        "received": "收到时间",
        "times": "时间均为 {zone} 时区当地时间",
        "purpose": "用途",
        "p_litigation": "诉讼材料包",
        "p_complaint": "投诉调查证据材料",
        "p_regulator": "监管报送证据材料",
        "p_audit": "内部审计证据材料",
        "p_borrower_request": "借款人查询证据材料",
    },
    "en": {
        "statement": "Statement of account",
        "legal": "Legal referral package",
        "borrower": "Borrower",
        "loan": "Loan",
        "creditor": "Creditor",
        "as_of": "As of",
        "dpd": "Days past due",
        "total_due": "Total due",
        "part": "Part",
        "amount": "Amount",
        "principal": "Principal",
        "o_principal": "Principal overdue",
        "o_interest": "Interest overdue",
        "interest": "Interest",
        "fee": "Fees",
        "penalty": "Penalty",
        "instalments": "Instalments",
        "seq": "No.",
        "due_date": "Due date",
        "paid": "Paid",
        "unpaid": "Unpaid",
        "payments": "Payments",
        "paid_on": "Paid on",
        "contacts": "Contact history",
        "at": "When",
        "channel": "Channel",
        "result": "Result",
        "evidence": "Evidence hash",
        "formula": "Penalty formula",
        "none": "none",
        "penalty_lines": "Penalty, line by line",
        "period": "Period",
        "days": "Days",
        "base": "Base",
        "rate": "Daily rate",
        "per_day": "Per day",
        "cut": "cut by the cap",
        "waived": "Waived",
        "what": "What was sent",
        "collector": "Collector id",
        "said": "Noted or sent",
        "promises": "Promises to pay",
        "made_at": "Made",
        "due_on": "Due on",
        "status": "Status",
        "by": "Taken by",
        "holds": "Holds",
        "kind": "Kind",
        "from": "From",
        "to": "To",
        "complaints": "Complaints",
        "category": "Category",
        "received": "Received",
        "times": "All times are local time in {zone}",
        "purpose": "Purpose",
        "p_litigation": "Legal referral package",
        "p_complaint": "Evidence for a complaint investigation",
        "p_regulator": "Evidence for the regulator",
        "p_audit": "Evidence for an internal audit",
        "p_borrower_request": "Evidence requested by the borrower",
    },
}


#: the codes an evidence package shows, in words (zh-CN, en); a code not listed is shown as is
CODES: dict[str, tuple[str, str]] = {
    "sms": ("短信", "SMS"), "push": ("应用推送", "Push"), "email": ("电子邮件", "Email"),
    "letter": ("信函", "Letter"), "robocall": ("语音外呼", "Automated call"),
    "call": ("人工来电", "Agent call"), "visit": ("上门", "Visit"),
    "pending": ("待履行", "Pending"), "kept": ("已履行", "Kept"),
    "partly_kept": ("部分履行", "Partly kept"), "broken": ("未履行", "Broken"),
    "superseded": ("已由分期或展期取代", "Replaced by a plan or extension"),
    "posted": ("已入账", "Posted"), "reversed": ("已冲正", "Reversed"),
    "open": ("处理中", "Open"), "escalated": ("已升级处理", "Escalated"),
    "resolved": ("已办结", "Resolved"),
    "dispute": ("争议", "Dispute"), "complaint": ("投诉", "Complaint"),
    "cease_request": ("要求停止联系", "Request to stop contact"),
    "attorney_represented": ("已委托律师", "Represented by a lawyer"),
    "bankruptcy": ("破产", "Bankruptcy"), "deceased": ("已故", "Deceased"),
    "hardship": ("经济困难", "Hardship"), "legal": ("法律程序", "Legal action"),
    "busy": ("占线", "Busy"), "not_in_service": ("空号", "Not in service"),
    "no_answer": ("无人接听", "No answer"), "voicemail": ("语音信箱", "Voicemail"),
    "connected": ("已接通", "Connected"), "conversation": ("已通话", "Conversation"),
    "delivered": ("已送达", "Delivered"), "sent": ("已发送", "Sent"),
    "failed": ("发送失败", "Failed"),
    "right_party": ("本人接听", "Right party"), "promise": ("承诺还款", "Promise to pay"),
    "refused": ("拒绝还款", "Refused to pay"), "disputes": ("对债务有异议", "Disputes the debt"),
    "third_party": ("第三方接听", "Third party reached"), "wrong_party": ("非本人", "Wrong party"),
    "agent_call": ("人工来电", "Agent call"), "portal": ("自助服务", "Portal"),
    "api": ("系统接口", "API"), "collector": ("催收员", "Collector"),
}  # fmt: skip


def said(code: str | None, locale: str) -> str:
    """A code in words for ``locale`` (the code itself when it has none)."""
    if not code:
        return ""
    words = CODES.get(code) or CATEGORIES.get(code)
    return code if words is None else words[0 if locale.startswith("zh") else 1]


def _w(locale: str) -> dict[str, str]:
    return WORDS["zh-CN" if locale.startswith("zh") else "en"]


def money(minor: int | None, currency: str = "CNY") -> str:
    value = int(minor or 0)
    sign = "-" if value < 0 else ""
    value = abs(value)
    return f"{sign}{value // 100:,}.{value % 100:02d} {currency}"


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _table(head: list[tuple[str, bool]], rows: list[list[Any]], empty: str) -> str:
    if not rows:
        return f"<p>{_e(empty)}</p>"
    th = "".join(f'<th class="{"n" if num else ""}">{_e(h)}</th>' for h, num in head)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{"n" if num else ""}">{_e(v)}</td>'
            for v, (_, num) in zip(row, head, strict=True)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{th}</tr>{body}</table>"


def _statement_part(st: dict[str, Any], w: dict[str, str], currency: str) -> str:
    o = st["overdue"]
    parts = _table(
        [(w["part"], False), (w["amount"], True)],
        [
            [w["o_principal"], money(o["principal"], currency)],
            [w["o_interest"], money(o["interest"], currency)],
            [w["fee"], money(o["fee"], currency)],
            [w["penalty"], money(o["penalty"], currency)],
            [w["total_due"], money(st["total_due"], currency)],
        ],
        w["none"],
    )
    extra = ""
    if st.get("daily_penalty_rate"):
        cap = st.get("charges_cap")
        formula = f"{st['daily_penalty_rate']} × {w['unpaid']} × {w['dpd']}"
        if cap is not None:
            formula += f" ≤ {money(cap, currency)}"
        extra = f'<p class="small">{w["formula"]}: {_e(formula)}</p>'
    inst = _table(
        [
            (w["seq"], True),
            (w["due_date"], False),
            (w["principal"], True),
            (w["interest"], True),
            (w["fee"], True),
            (w["unpaid"], True),
        ],
        [
            [
                i["seq"],
                i["due_date"],
                money(i["principal"], currency),
                money(i["interest"], currency),
                money(i["fee"], currency),
                money(i["unpaid"], currency),
            ]
            for i in st.get("instalments", [])
        ],
        w["none"],
    )
    return f"{parts}{extra}<h2>{w['instalments']}</h2>{inst}"


def _page(title: str, head: str, body: str, locale: str) -> str:
    lang = "zh-CN" if locale.startswith("zh") else "en"
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        f"<style>{STYLE}{TABLE_STYLE}</style></head><body>"
        f"<h1>{_e(title)}</h1>{head}{body}</body></html>"
    )


def _facts(w: dict[str, str], st: dict[str, Any], name: str, loan_id: str, creditor: str) -> str:
    return (
        f"<p>{w['borrower']}: {_e(name)}<br>{w['loan']}: {_e(loan_id)}<br>"
        f"{w['creditor']}: {_e(creditor)}<br>{w['as_of']}: {_e(st['as_of'])}<br>"
        f"{w['dpd']}: {_e(st.get('dpd') or 0)}</p>"
    )


def statement_html(
    st: dict[str, Any], *, name: str, loan_id: str, creditor: str, currency: str, locale: str
) -> str:
    w = _w(locale)
    return _page(
        w["statement"],
        _facts(w, st, name, loan_id, creditor),
        _statement_part(st, w, currency),
        locale,
    )


def _penalty_lines(st: dict[str, Any], w: dict[str, str], currency: str) -> str:
    rows = [
        [
            i["seq"],
            f"{line['from']} – {line['to']}",
            line["days"],
            money(line["base"], currency),
            line["daily_rate"],
            money(line["per_day"], currency),
            money(line["amount"], currency) + (f" ({w['cut']})" if line["cut_by_cap"] else ""),
        ]
        for i in st.get("instalments", [])
        for line in i.get("penalty_lines", [])
    ]
    head = [
        (w["seq"], True),
        (w["period"], False),
        (w["days"], True),
        (w["base"], True),
        (w["rate"], True),
        (w["per_day"], True),
        (w["penalty"], True),
    ]
    waived = int((st.get("waived") or {}).get("penalty") or 0)
    paid = sum(int(i.get("penalty_paid") or 0) for i in st.get("instalments", []))
    sums = _table(
        [(w["part"], False), (w["amount"], True)],
        [
            [w["penalty"], money(st.get("penalty_accrued"), currency)],
            [w["paid"], money(-paid, currency)],
            [w["waived"], money(-waived, currency)],
            [w["unpaid"], money(st.get("penalty_unpaid"), currency)],
        ],
        w["none"],
    )
    return f"<h2>{w['penalty_lines']}</h2>{_table(head, rows, w['none'])}{sums}"


def borrower_statement_html(
    st: dict[str, Any],
    *,
    name: str,
    loan_id: str,
    creditor: str,
    currency: str,
    locale: str,
    payments: list[dict[str, Any]],
    contacts: list[dict[str, Any]],
) -> str:
    """The statement a borrower downloads from the portal: what is owed with every penalty
    line, the payments, and what was sent when. ``payments``: paid_on, amount, status;
    ``contacts``: at, channel, collector_id, content."""
    w = _w(locale)
    pays = _table(
        [(w["paid_on"], False), (w["amount"], True), (w["result"], False)],
        [[p["paid_on"], money(p["amount"], currency), said(p["status"], locale)] for p in payments],
        w["none"],
    )
    sent = _table(
        [(w["at"], False), (w["channel"], False), (w["collector"], False), (w["what"], False)],
        [
            [c["at"], c["channel"], c.get("collector_id") or "", c.get("content") or ""]
            for c in contacts
        ],
        w["none"],
    )
    body = (
        _statement_part(st, w, currency)
        + _penalty_lines(st, w, currency)
        + f"<h2>{w['payments']}</h2>{pays}<h2>{w['contacts']}</h2>{sent}"
    )
    return _page(w["statement"], _facts(w, st, name, loan_id, creditor), body, locale)


def evidence_html(
    st: dict[str, Any],
    *,
    purpose: str,
    name: str,
    loan_id: str,
    creditor: str,
    currency: str,
    locale: str,
    zone: str,
    payments: list[dict[str, Any]],
    promises: list[dict[str, Any]],
    contacts: list[dict[str, Any]],
    holds: list[dict[str, Any]],
    complaints: list[dict[str, Any]],
) -> str:
    """An account's evidence titled by its purpose; times already in ``zone``'s local time.
    ``contacts``: at, channel, result, collector, said, hash; ``promises``: made_at, due_on,
    amount, status, by; ``complaints``: at, category, status."""
    w = _w(locale)
    title = w[f"p_{purpose}"]
    pays = _table(
        [(w["paid_on"], False), (w["amount"], True), (w["result"], False)],
        [[p["paid_on"], money(p["amount"], currency), said(p["status"], locale)] for p in payments],
        w["none"],
    )
    promised = _table(
        [(w["made_at"], False), (w["due_on"], False), (w["amount"], True), (w["status"], False),
         (w["by"], False)],
        [[p["made_at"], p["due_on"], money(p["amount"], currency), said(p["status"], locale),
          said(p["by"], locale) if p["by"] in CODES else p["by"]]
         for p in promises],
        w["none"],
    )  # fmt: skip
    seen = _table(
        [(w["at"], False), (w["channel"], False), (w["collector"], False), (w["result"], False),
         (w["said"], False)],
        [[c["at"], said(c["channel"], locale), c["collector"], said(c.get("result"), locale),
          c["said"]]
         for c in contacts],
        w["none"],
    )  # fmt: skip
    hashes = "".join(
        f'<p class="small">{_e(c["at"])} {_e(c["channel"])}: {_e(c["hash"])}</p>' for c in contacts
    )
    held = _table(
        [(w["kind"], False), (w["from"], False), (w["to"], False)],
        [[said(h["kind"], locale), h["from"], h["to"]] for h in holds],
        w["none"],
    )
    complained = _table(
        [(w["received"], False), (w["category"], False), (w["status"], False)],
        [[c["at"], said(c["category"], locale), said(c["status"], locale)] for c in complaints],
        w["none"],
    )
    head = _facts(w, st, name, loan_id, creditor) + (
        f"<p>{_e(w['purpose'])}: {_e(title)}<br>{_e(w['times'].format(zone=zone))}</p>"
    )
    body = (
        _statement_part(st, w, currency)
        + f"<h2>{w['payments']}</h2>{pays}<h2>{w['promises']}</h2>{promised}"
        + f"<h2>{w['contacts']}</h2>{seen}<h2>{w['evidence']}</h2>{hashes or _e(w['none'])}"
        + f"<h2>{w['holds']}</h2>{held}<h2>{w['complaints']}</h2>{complained}"
    )
    return _page(title, head, body, locale)


def to_pdf(page: str) -> bytes:
    from weasyprint import HTML

    pdf: bytes = HTML(string=page, url_fetcher=_no_fetch).write_pdf()
    return pdf
