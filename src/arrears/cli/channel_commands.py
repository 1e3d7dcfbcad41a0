"""``arrears template`` and ``arrears verify``: contact templates (load, list, preview) and the
answer to "is this contact real?". Registered on the main app by :mod:`arrears.cli`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from arrears.cli.common import _app, _as_of, _errors, _fail, _progress, app, out
from arrears.service.errors import Invalid

if TYPE_CHECKING:
    from arrears.bootstrap import App

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
    from arrears.service.outreach.templates import load_templates

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
    from arrears.service.outreach.templates import ensure_loaded
    from arrears.service.queries.templates_listed import templates_in_force

    a = _app()
    with _errors():
        ensure_loaded(a)
        rows = templates_in_force(a)
    table = Table(title="contact templates", title_justify="left")
    for col in ("name", "locale", "channel", "audience", "version"):
        table.add_column(col, justify="right" if col == "version" else "left")
    for r in rows:
        table.add_row(r.name, r.locale, r.channel, r.audience, str(r.version))
    out.print(table)


@template_app.command("render")
def template_render(
    name: Annotated[str, typer.Argument(help="template name, e.g. early_sms")],
    loan_id: Annotated[str, typer.Option("--loan-id", help="the loan to render it for")],
    locale: Annotated[
        str | None, typer.Option(help="zh-CN or en; the borrower's if omitted")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="date of the amounts, YYYY-MM-DD")
    ] = None,
    to: Annotated[
        Path | None,
        typer.Option("--out", help="also write it as received: a letter's PDF, a robocall's WAV"),
    ] = None,
) -> None:
    """Preview a template for one loan (a placeholder code; nothing is stored or sent)."""
    from arrears.service.outreach.templates import preview

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
    from arrears.service.outreach.templates import context_for, postal_address

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
            raise Invalid(str(exc)) from exc
    else:
        to.write_text(rendered.text + "\n", encoding="utf-8")


@app.command()
def verify(
    code: Annotated[str, typer.Argument(help="the verification code the message carried")],
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable answer")] = False,
) -> None:
    """Is this contact real? Exit 0 when the code belongs to a contact of ours, 4 when not."""
    from arrears.service.outreach.verify import verify as check_code

    a = _app()
    with _errors():
        verdict = check_code(a, code)
    if as_json:
        out.print_json(
            json.dumps(
                {"genuine": verdict.genuine, "reason": verdict.reason, "details": verdict.details}
            )
        )
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


@app.command()
def dispatch(
    batch: Annotated[int, typer.Option(help="actions leased per round")] = 200,
    senders: Annotated[int, typer.Option(help="threads handing messages to providers")] = 8,
    channel: Annotated[
        list[str] | None, typer.Option("--channel", help="only these channels (repeatable)")
    ] = None,
    day: Annotated[str | None, typer.Option("--day", help="only this business date")] = None,
    at: Annotated[
        str | None,
        typer.Option("--at", help="act as if now were this instant (ISO 8601 with offset)"),
    ] = None,
    follow: Annotated[bool, typer.Option(help="keep polling for ready actions")] = False,
    lease_seconds: Annotated[float, typer.Option(help="how long a leased action is ours")] = 120.0,
    max_tries: Annotated[int, typer.Option(help="tries before a message is parked")] = 5,
    backoff_seconds: Annotated[float, typer.Option(help="the first retry's wait")] = 30.0,
    worker: Annotated[str | None, typer.Option(help="this dispatcher's name")] = None,
) -> None:
    """Send the plan's messages whose window is open now, each once (see docs/CHANNELS.md)."""
    from datetime import date as Date

    from arrears.bootstrap import bootstrap
    from arrears.channels.profiles import PROVIDER_CHANNELS
    from arrears.service.outreach.dispatch import dispatch as run
    from arrears.service.outreach.state import Options
    from arrears.settings import get_settings

    settings = get_settings()
    clock = _clock_at(at)
    a = bootstrap(settings, clock) if clock else bootstrap(settings)
    chans = tuple(channel) if channel else PROVIDER_CHANNELS
    bad = [c for c in chans if c not in PROVIDER_CHANNELS]
    if bad:
        raise typer.BadParameter(f"--channel: {', '.join(bad)}; expected {PROVIDER_CHANNELS}")
    named: dict[str, Any] = {"worker": worker} if worker else {}
    opts = Options(
        batch=batch,
        senders=senders,
        channels=chans,
        day=Date.fromisoformat(day) if day else None,
        follow=follow,
        lease_seconds=lease_seconds,
        max_tries=max_tries,
        backoff_seconds=backoff_seconds,
        **named,
    )
    with _errors():
        adapters = _adapters(settings)
        try:
            with _progress() as bar:
                task = bar.add_task("dispatch", total=None)

                def tick(r: Any) -> None:
                    bar.update(task, completed=r.handled, description=f"dispatch: {r.sent} sent")

                report = run(a, adapters, opts, tick)
        finally:
            for adapter in {id(x): x for x in adapters.values()}.values():
                adapter.close()
    table = Table(title="dispatched", title_justify="left")
    table.add_column("outcome")
    table.add_column("count", justify="right")
    for name in ("sent", "cancelled", "moved", "retried", "parked", "fenced"):
        table.add_row(name, f"{getattr(report, name):,}")
    out.print(table)
    if report.by_channel:
        out.print(
            "sent by channel: "
            + ", ".join(f"{k} {v:,}" for k, v in sorted(report.by_channel.items()))
        )
    if report.by_rule:
        out.print(
            "not sent, by rule: " + ", ".join(f"{k} {v:,}" for k, v in report.by_rule.most_common())
        )


def _clock_at(at: str | None) -> Any:
    """A clock reading ``at`` now (``--at``), or None for the system's."""
    from datetime import datetime

    from arrears.bootstrap import offset_clock

    if at is None:
        return None
    try:
        when = datetime.fromisoformat(at)
    except ValueError as exc:
        raise typer.BadParameter(f"--at: expected an ISO 8601 instant, got {at!r}") from exc
    if when.tzinfo is None:
        raise typer.BadParameter("--at: give the offset, e.g. 2026-11-30T10:00+08:00")
    return offset_clock(when)


def _profiles(settings: Any) -> Any:
    from arrears.channels.profiles import ProfileError, read

    try:
        return read(settings.providers_file)
    except ProfileError as exc:
        raise Invalid(str(exc)) from exc


def _adapters(settings: Any) -> Any:
    from arrears.channels.profiles import ProfileError, build, read

    try:
        return build(read(settings.providers_file), settings.outbox_dir, settings.outbox_files)
    except ProfileError as exc:
        raise Invalid(str(exc)) from exc


payment_app = typer.Typer(help="Payments as events: post one and see what it cancelled.")
app.add_typer(payment_app, name="payment")


@payment_app.command("post")
def payment_post(
    loan_id: Annotated[str, typer.Option("--loan-id", help="the loan paid")],
    amount: Annotated[int, typer.Option(help="amount in minor units (fen)")],
    paid_on: Annotated[str | None, typer.Option("--paid-on", help="YYYY-MM-DD; today")] = None,
    payment_id: Annotated[str | None, typer.Option("--payment-id", help="your reference")] = None,
    overpayment: Annotated[
        bool, typer.Option("--overpayment", help="post more than the payoff (kept as a credit)")
    ] = False,
) -> None:
    """Post a payment; the loan's pending reminders it makes pointless are cancelled at once."""
    from arrears.service.cases.payments import post_payment

    a = _app()
    with _errors():
        p = post_payment(
            a,
            loan_id,
            amount,
            _as_of(paid_on, a) if paid_on else None,
            payment_id=payment_id,
            overpayment=overpayment,
        )
    out.print(f"posted {p.payment_id}: {p.amount:,} fen to {p.loan_id} on {p.paid_on}")
    out.print(
        f"{p.pending} pending action(s); {len(p.cancelled)} cancelled, {p.moved} moved, "
        f"in {p.seconds * 1000:.0f} ms"
    )
    for action_id, rule in sorted(p.cancelled.items()):
        out.print(f"  cancelled {escape(action_id)} ({rule})")


@app.command()
def outbox(
    day: Annotated[str | None, typer.Option("--day", help="business date")] = None,
    limit: Annotated[int, typer.Option(help="how many messages")] = 10,
) -> None:
    """What went out: the latest messages of the outbox table."""
    from arrears.service.outreach.dispatch import outbox_rows

    a = _app()
    with _errors():
        rows = outbox_rows(a, _as_of(day, a) if day else None, limit)
    table = Table(title="outbox (latest first)", title_justify="left")
    for col in ("channel", "loan", "status", "provider", "sent", "words"):
        table.add_column(col)
    for r in rows:
        words = (r["subject"] + " · " if r["subject"] else "") + r["body"]
        table.add_row(
            r["channel"],
            r["loan_id"],
            r["status"],
            r["provider"] or "",
            r["sent_at"].strftime("%H:%M:%S") if r["sent_at"] else "",
            escape(words[:90] + ("…" if len(words) > 90 else "")),
        )
    out.print(table)


@app.command()
def letters(
    day: Annotated[str | None, typer.Option("--day", help="business date; today")] = None,
    to: Annotated[Path, typer.Option("--out", help="folder for the PDF and the manifest")] = Path(
        "var/letters"
    ),
) -> None:
    """The day's letters that went out, as one PDF plus a CSV manifest for the print vendor."""
    from arrears.service.outreach.dispatch import letter_batch

    a = _app()
    with _errors():
        batch = letter_batch(a, _as_of(day, a), to)
    out.print(f"{batch.letters} letters, {batch.pages} pages: {batch.pdf} and {batch.manifest}")


agency_app = typer.Typer(help="Agency placements: place the day's accounts, recall them.")
app.add_typer(agency_app, name="agency")
legal_app = typer.Typer(help="Legal referral: the package of an account, the day's referrals.")
app.add_typer(legal_app, name="legal")


@agency_app.command("place")
def agency_place(
    day: Annotated[str | None, typer.Option("--day", help="business date; today")] = None,
    to: Annotated[Path | None, typer.Option("--out", help="folder for the files")] = None,
) -> None:
    """The day's planned placements, judged again, as one data-minimised CSV per agency."""
    from arrears.service.outreach.agency import place

    a = _app()
    with _errors():
        run = place(a, _as_of(day, a), to)
    out.print(
        f"{run.placed} placed, {run.already} already with an agency, "
        f"{run.stopped.cancelled} stopped since the plan"
    )
    for agency, path in sorted(run.files.items()):
        out.print(f"  {agency}: {path}")


@agency_app.command("recall")
def agency_recall(
    loan_id: Annotated[
        list[str] | None, typer.Option("--loan-id", help="recall these (repeatable)")
    ] = None,
    reason: Annotated[str, typer.Option(help="why: paid, dispute, complaint ...")] = "requested",
    day: Annotated[str | None, typer.Option("--day", help="business date; today")] = None,
    to: Annotated[Path | None, typer.Option("--out", help="folder for the files")] = None,
) -> None:
    """Recall placements: the loans given, or every one whose term has ended."""
    from arrears.service.outreach.agency import recall

    a = _app()
    with _errors():
        run = recall(a, _as_of(day, a), loan_ids=loan_id, reason=reason, folder=to)
    out.print(f"{run.recalled} recalled")
    for agency, path in sorted(run.files.items()):
        out.print(f"  {agency}: {path}")


@legal_app.command("package")
def legal_package_cmd(
    loan_id: Annotated[str, typer.Option("--loan-id", help="the loan")],
    to: Annotated[Path, typer.Option("--out", help="the PDF to write")],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="date of the statement, YYYY-MM-DD")
    ] = None,
) -> None:
    """One account's legal package: statement, instalments, payments, contacts with hashes."""
    import hashlib

    from arrears.service.outreach.legal import legal_package

    a = _app()
    with _errors():
        pdf, index = legal_package(a, loan_id, _as_of(as_of, a))
    to.parent.mkdir(parents=True, exist_ok=True)
    to.write_bytes(pdf)
    out.print(
        f"written: {to} ({len(index['contacts'])} contacts, {index['payments']} payments; "
        f"sha256 {hashlib.sha256(pdf).hexdigest()})"
    )


@legal_app.command("refer")
def legal_refer(
    day: Annotated[str | None, typer.Option("--day", help="business date; today")] = None,
    to: Annotated[Path | None, typer.Option("--out", help="folder for the packages")] = None,
) -> None:
    """The day's planned legal referrals, judged again, each as its package."""
    from arrears.service.outreach.legal import refer

    a = _app()
    with _errors():
        done = refer(a, _as_of(day, a), to)
    out.print(f"{len(done)} referred")
    for loan_id, path in sorted(done.items())[:10]:
        out.print(f"  {loan_id}: {path}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8000,
    workers: Annotated[int, typer.Option(help="server processes (PostgreSQL stores)")] = 1,
    standin_phone: Annotated[
        bool, typer.Option(help="dial through the loopback stand-in dialer (demo)")
    ] = False,
    at: Annotated[
        str | None,
        typer.Option(help="run the clock from this instant (ISO 8601 with offset; one process)"),
    ] = None,
) -> None:
    """The staff console (/), the HTTP API (/api/v1, bearer tokens) and the providers' signed
    webhooks (when ARREARS_WEBHOOK_SECRET is set)."""
    import uvicorn

    from arrears.channels.profiles import HttpSmsProfile
    from arrears.web.app import create_app

    if at is not None and workers > 1:
        raise typer.BadParameter("--at: the clock can be set for one server process only")
    a = _app()
    clock = _clock_at(at)
    if clock is not None:
        a.clock = clock
    if standin_phone:
        _standin(a, host, port)
    with _errors():
        sms = _profiles(a.settings).sms
    mapping = sms.receipt if isinstance(sms, HttpSmsProfile) else None
    if not a.settings.webhook_secret:
        out.print("ARREARS_WEBHOOK_SECRET is not set: the webhooks are not served")
    api = create_app(a, a.settings.webhook_secret, mapping, warm=workers <= 1)
    out.print(f"arrears on http://{host}:{port}/ (API: /api/v1/openapi.json)")
    if workers > 1:  # each process builds its own application from the environment
        from arrears.web.serve import serve_workers

        serve_workers(host, port, workers)
        return
    # proxy headers are judged by the app against ARREARS_TRUSTED_PROXIES, never by uvicorn
    uvicorn.run(api, host=host, port=port, log_level="warning", proxy_headers=False)


def _standin(a: App, host: str, port: int) -> None:
    """The stand-in dialer and recogniser on a loopback port, in this process, named as the
    agent_dialer and asr providers (the rest of the providers file as it is)."""
    import tempfile

    from arrears.generate.call_demo import providers_yaml
    from arrears.generate.standin import StandIn, persona_of

    if not a.settings.webhook_secret:
        _fail("--standin-phone needs ARREARS_WEBHOOK_SECRET (the stand-in signs its callbacks)")
    phone = StandIn(a.settings.webhook_secret or "", persona=persona_of(a), pace=0.5).start()
    base = a.settings.providers_file
    path = Path(tempfile.mkdtemp(prefix="arrears-standin-")) / "providers.yaml"
    text = providers_yaml(
        phone.url, f"http://{host}:{port}", base.read_text("utf-8") if base else ""
    )
    path.write_text(text, encoding="utf-8")
    a.settings = a.settings.model_copy(update={"providers_file": path})
    out.print(f"the stand-in dialer and speech recogniser on {phone.url} (nothing real is dialled)")
