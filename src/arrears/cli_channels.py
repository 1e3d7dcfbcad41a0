"""``arrears template`` and ``arrears verify``: contact templates (load, list, preview) and the
answer to "is this contact real?". Registered on the main app by :mod:`arrears.cli`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from arrears.cli import _app, _as_of, _errors, app, out

template_app = typer.Typer(help="Contact templates: load and lint, list, preview for a loan.")
app.add_typer(template_app, name="template")


@template_app.command("load")
def template_load(
    folder: Annotated[
        Path | None,
        typer.Argument(help="a folder of <locale>.yaml files; the shipped templates if omitted"),
    ] = None,
) -> None:
    """Lint every template and keep a new version of each one that changed (all or nothing)."""
    from arrears.service.templates import load_templates

    with _errors():
        report = load_templates(_app(), folder)
    for line in report.new:
        out.print(f"new      {escape(line)}")
    for line in report.changed:
        out.print(f"changed  {escape(line)}")
    out.print(f"{len(report.new)} new, {len(report.changed)} changed, {report.unchanged} unchanged")


@template_app.command("list")
def template_list() -> None:
    """The templates in force: name, locale, channel, audience, version."""
    from sqlalchemy import func, select

    from arrears.service.templates import ensure_loaded
    from arrears.store import tables as t

    a = _app()
    with _errors():
        ensure_loaded(a)
        with a.engine.connect() as conn:
            rows = conn.execute(
                select(
                    t.template.c.name,
                    t.template.c.locale,
                    t.template.c.channel,
                    t.template.c.audience,
                    func.max(t.template.c.version),
                )
                .group_by(
                    t.template.c.name,
                    t.template.c.locale,
                    t.template.c.channel,
                    t.template.c.audience,
                )
                .order_by(t.template.c.name, t.template.c.locale)
            ).all()
    table = Table(title="contact templates", title_justify="left")
    for col in ("name", "locale", "channel", "audience", "version"):
        table.add_column(col, justify="right" if col == "version" else "left")
    for r in rows:
        table.add_row(r[0], r[1], r[2], r[3], str(r[4]))
    out.print(table)


@template_app.command("render")
def template_render(
    name: Annotated[str, typer.Argument(help="template name, e.g. early_sms")],
    loan_id: Annotated[str, typer.Option("--loan-id", help="the loan to render it for")],
    locale: Annotated[
        str | None, typer.Option(help="zh-CN or en; the borrower's if omitted")
    ] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="date of the amounts")] = None,
    to: Annotated[
        Path | None,
        typer.Option("--out", help="also write it as received: a letter's PDF, a robocall's WAV"),
    ] = None,
) -> None:
    """Preview a template for one loan (a placeholder code; nothing is stored or sent)."""
    from arrears.service.templates import preview

    a = _app()
    with _errors():
        tpl, rendered = preview(a, name, loan_id, _as_of(as_of, a), locale)
    title = f"{tpl.name} [{tpl.locale}] v{tpl.version} · {tpl.channel}"
    if rendered.subject:
        title += f" · {rendered.subject}"
    out.print(Panel(escape(rendered.text), title=escape(title), title_align="left"))
    if to is not None:
        with _errors():
            _write_as_received(a, tpl, rendered, loan_id, to)
        out.print(f"written: {to}")


def _write_as_received(a: Any, tpl: Any, rendered: Any, loan_id: str, to: Path) -> None:
    from arrears.channels import letter, voice
    from arrears.service.errors import ServiceError
    from arrears.service.templates import context_for, postal_address

    to.parent.mkdir(parents=True, exist_ok=True)
    if tpl.channel == "letter":
        ctx = context_for(a, loan_id, a.clock().date(), locale=tpl.locale, code="PREV-IEW0")
        org = ctx["org"]
        doc = letter.Letter(
            key=f"preview|{loan_id}|{tpl.name}",
            recipient=ctx["borrower"]["name"],
            address=postal_address(a, loan_id) or "",
            sender=f"{org['name']} · {org['address']}",
            body_html=rendered.body,
            locale=tpl.locale,
        )
        to.write_bytes(letter.to_pdf(doc))
    elif tpl.channel == "robocall":
        try:
            voice.speak(rendered.text, tpl.locale, to)
        except voice.VoiceError as exc:
            raise ServiceError(str(exc)) from exc
    else:
        to.write_text(rendered.text + "\n", encoding="utf-8")


@app.command()
def verify(
    code: Annotated[str, typer.Argument(help="the verification code the message carried")],
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable answer")] = False,
) -> None:
    """Is this contact real? Exit 0 when the code belongs to a contact of ours, 4 when not."""
    from arrears.service.verify import verify as check_code

    a = _app()
    with _errors():
        verdict = check_code(a, code)
    if as_json:
        out.print_json(json.dumps({"genuine": verdict.genuine, "reason": verdict.reason,
                                   "details": verdict.details}))  # fmt: skip
    elif verdict.genuine and verdict.details:
        d = verdict.details
        out.print(
            f"[green]genuine[/green]: {d['organisation'] or '-'} contacted you by {d['channel']} "
            f"at {d['at']} (collector {d['collector_id'] or '-'}).\n"
            f"真实有效：{d['organisation'] or '-'} 于 {d['at']} 通过 {d['channel']} 联系您"
            f"（催收员 {d['collector_id'] or '-'}）。"
        )
        if d.get("subject"):
            out.print(f"subject / 主题: {escape(d['subject'])}")
        said = escape(d.get("content") or "-")
        out.print(Panel(said, title="what was said / 内容", title_align="left"))
    else:
        why = {
            "expired": "this code has expired / 此验证码已过期",
            "malformed": "this is not a code of ours / 这不是本机构的验证码格式",
            "unknown": "no contact of ours carries this code / 本机构没有发出过此验证码",
        }[verdict.reason]
        out.print(
            f"[red]not verified[/red]: {why}. The contact did not come from this lender: do not "
            f"pay or give personal details; report it to us on {a.settings.org_phone} or to the "
            "police (110 / 96110 in China).\n该联系并非来自本机构：请勿付款或提供个人信息，"
            f"可致电 {a.settings.org_phone} 向我们举报，或拨打 110 / 96110 报警。"
        )
    if not verdict.genuine:
        raise typer.Exit(4)
