"""The strategy manager's page: upload a strategy (its validation errors shown with line and
field), a dry-run diff of a version against today's plan, activation (versioned, who and when),
and the experiment arms' results.

No ``from __future__ import annotations`` here: FastAPI reads the dependencies' annotations at
run time.
"""

import logging
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from arrears.bootstrap import App
from arrears.exports import FORMATS, export
from arrears.service.errors import NotFound, ServiceError
from arrears.web.console.problems import problem_words
from arrears.web.console.session import Render
from arrears.web.i18n import gettext
from arrears.web.labels import labeller
from arrears.web.refusals import flash_to, refusal

MAX_UPLOAD = 200_000
log = logging.getLogger(__name__)
#: changed accounts shown on one page of a dry run
PAGE = 50


def strategy_pages(r: APIRouter, app: App, render: Render, managers: Any) -> None:
    from arrears.service.daily import strategies

    def page(request: Request, v: Any, status: int = 200, **extra: Any) -> HTMLResponse:
        end = app.today()
        arms = strategies.experiment_results(app, end - timedelta(days=30), end)
        return render(
            request,
            "strategy.html",
            v,
            status=status,
            versions=strategies.versions(app),
            arms=arms,
            arm_words=_arm_words(app, v.lang),
            **extra,
        )

    @r.get("/strategy")
    def strategy(request: Request, v: managers) -> HTMLResponse:
        return page(request, v)

    @r.post("/strategy/upload")
    async def upload(request: Request, v: managers) -> Response:
        text, name = await _uploaded(request)
        # parsing, checking and the store: in the threadpool, off the event loop
        return await run_in_threadpool(_keep, app, page, request, v, text, name)

    _diff_pages(r, app, page, managers)

    @r.post("/strategy/{version_id}/activate")
    async def activate(request: Request, v: managers, version_id: str) -> Response:
        form = await request.form()
        try:
            vid = _version(version_id)
            if form.get("confirm") != "yes":  # a second, deliberate click: what changes, then go
                await run_in_threadpool(strategies.version, app, vid)  # one that exists
                return page(request, v, confirm=vid)
            done = await run_in_threadpool(
                lambda: strategies.activate(app, vid, by=v.user.username)
            )
        except ServiceError as exc:
            return RedirectResponse(flash_to("/strategy", exc, v.lang, v.csrf), status_code=303)
        return RedirectResponse(f"/strategy?flash={done}", status_code=303)


def _version(text: str) -> int:
    """A version number from an address: a whole number the store can hold, else not found."""
    if not text.isdigit() or len(text) > 9:
        raise NotFound(f"version_id: {text[:20]} is not in the store", field="version_id")
    return int(text)


def _arm_words(app: App, lang: str) -> dict[str, str]:
    """The arms' labels in the strategy the cycle runs (an arm without one reads as its name)."""
    from arrears.service.daily.cycle import strategy_from

    try:
        return strategy_from(app, None).labels(lang).get("arm", {})
    except ServiceError:
        return {}


def _model_note(app: App) -> dict[str, Any] | None:
    """What the dry run scored the choices with: the model the process loaded
    (``ARREARS_MODEL_FILE``), or None when there is none."""
    model = app.scorer
    if model is None:
        return None
    file = app.settings.model_file
    return {
        "file": file.name if file is not None else "",
        "decisions": int(getattr(model, "trained_on", {}).get("decisions", 0)),
        "margin": float(getattr(model, "margin", 0.0)) / 100,
    }


def _status(exc: ServiceError) -> int:
    return 404 if isinstance(exc, NotFound) else 422


def _diff_pages(r: APIRouter, app: App, page: Callable[..., HTMLResponse], managers: Any) -> None:
    """A version's dry run: the plan's counts, then the accounts that change, paged and as
    files."""
    from arrears.service.daily import strategies
    from arrears.service.daily.plans import kept_diff  # the cycle's engines: loaded when used

    @r.get("/strategy/{version_id}/diff")
    def diff(request: Request, v: managers, version_id: str, page_no: str = "1") -> HTMLResponse:
        try:
            candidate = strategies.version(app, _version(version_id))
            d = kept_diff(app, app.today(), candidate)
        except ServiceError as exc:
            return page(request, v, status=_status(exc), problems=[refusal(exc, v.lang)])
        pages = max(1, -(-len(d.accounts) // PAGE))
        at = min(max(int(page_no) if page_no.isdigit() and len(page_no) < 9 else 1, 1), pages)
        return page(
            request,
            v,
            diff=d,
            diff_of=version_id,
            model=_model_note(app) if candidate.uses_models else None,
            chooses=candidate.uses_models,
            changes=d.accounts[(at - 1) * PAGE : at * PAGE],
            shown_rule=lambda rule: shown_rule(rule, rule_words(v.lang, candidate)),
            page_no=at,
            pages=pages,
        )

    @r.get("/strategy/{version_id}/diff.{fmt}")
    def diff_file(v: managers, version_id: str, fmt: str) -> Response:
        if fmt not in FORMATS:
            return Response(status_code=404)
        day = app.today()
        try:
            candidate = strategies.version(app, _version(version_id))
            d = kept_diff(app, day, candidate)
        except ServiceError as exc:
            return Response(refusal(exc, v.lang), status_code=_status(exc))
        words = rule_words(v.lang, candidate)
        data, kind = export(fmt, f"dry run v{version_id} {day}", *_changes_table(d, v.lang, words))
        name = f"dry-run-v{version_id}-{day.isoformat()}.{fmt}"
        return Response(
            data, media_type=kind, headers={"Content-Disposition": f'attachment; filename="{name}"'}
        )


def _keep(
    app: App, page: Callable[..., Response], request: Request, v: Any, text: str, name: str
) -> Response:
    """Check an uploaded strategy and keep it as a new version; the page says how it went."""
    from arrears.service.daily import strategies

    if not text.strip() or len(text) > MAX_UPLOAD:
        _ = gettext(v.lang)
        return page(
            request, v, status=422, problems=[_("Give the strategy's YAML (200 kB at most).")]
        )
    done = strategies.upload(app, text, by=v.user.username, source=name)
    if done.problems:
        said = [problem_words(p, v.lang) for p in done.problems]
        return page(request, v, status=422, problems=said, text=text)
    assert done.version_id is not None
    # compiled now, while the manager reads the page: the dry run then only plans the day
    from arrears.cycle.run import precompile
    from arrears.service.daily.plans import rulebooks_in_use

    try:
        precompile(strategies.version(app, done.version_id), app.today(), rulebooks_in_use(app))
    except Exception:
        log.warning("compiling version %s ahead failed", done.version_id, exc_info=True)
    return RedirectResponse(f"/strategy?flash=saved&uploaded={done.version_id}", 303)


async def _uploaded(request: Request) -> tuple[str, str]:
    """The strategy's text and what its problems call it: the file given (by its name), else
    the text pasted ("upload")."""
    async with request.form() as form:  # closes the uploaded file's spool
        file = form.get("file")
        if isinstance(file, UploadFile) and file.filename:
            name = Path(file.filename).name[:100] or "upload"
            return (await file.read(MAX_UPLOAD + 1)).decode("utf-8", "replace"), name
        return str(form.get("text") or ""), "upload"


def shown_rule(rule: str, words: dict[str, dict[str, str]] | None = None) -> str:
    """A rule as a strategy manager may see it: which hold an account is under (a death, a
    bankruptcy, a lawyer) is need-to-know, so the holds' rules say only that there is one. A
    strategy's own suppression or lane reads as its label in ``words`` (``Strategy.labels``:
    承诺还款中, not ``suppression.promise_active``) when it has one."""
    book, dot, rest = rule.partition(".")
    if dot and rest.startswith("holds."):
        return f"{book}.holds"
    kinds = {"suppression": ("suppression",), "capacity": ("queue", "pool")}.get(book, ())
    for kind in kinds:
        said = (words or {}).get(kind, {}).get(rest)
        if said:
            return said
    return rule


def rule_words(lang: str, *strategies: Any) -> dict[str, dict[str, str]]:
    """The labels of ``strategies`` (the candidate's first) by kind and name, in ``lang``."""
    out: dict[str, dict[str, str]] = {}
    for st in reversed(strategies):
        for kind, named in st.labels(lang).items():
            out.setdefault(kind, {}).update(named)
    return out


def _changes_table(
    d: Any, lang: str, words: dict[str, dict[str, str]] | None = None
) -> tuple[list[str], list[list[Any]]]:
    """The dry run's changed accounts as a table a person reads: words, not codes."""
    _, label = gettext(lang), labeller(lang)

    def one(c: str, st: str, rule: str | None, p: float) -> str:
        text = f"{label('channel', c)} {label('action', st)}"
        if c in ("agent_call", "visit"):
            text += " " + _("priority %(p)s") % {"p": f"{p:,.0f}"}
        return text + (f" ({shown_rule(rule, words)})" if rule else "")

    def said(actions: Any) -> str:
        return "; ".join(one(*a) for a in actions)

    header = [_("Loan"), _("Stage"), _("Change"), _("Now"), _("Candidate")]
    rows = [
        [
            a.loan_id,
            label("stage", a.stage),
            label("change", a.kind),
            said(a.current),
            said(a.candidate),
        ]
        for a in d.accounts
    ]
    return header, rows
