"""The borrower's pages: sign in with a code sent by SMS, what I owe (every fen, with the
penalty's lines), the PDF statement, contact preferences and complaints with evidence.

A borrower sees only their own loans: any other loan id answers 404, as an unknown one does.
Sign-in never says whether a reference is known. Sending codes is limited per address (5 in
10 minutes) and per borrower (3 an hour); guessing them per address (10 in 10 minutes) and per
code (5 tries).

No ``from __future__ import annotations`` here: FastAPI reads the annotations at run time.
"""

import hmac
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from arrears.bootstrap import App
from arrears.channels.base import Channel
from arrears.domain.complaint_categories import CATEGORIES
from arrears.exports import evidence_download
from arrears.service.books.statements import statement_for_loan
from arrears.service.borrower import portal, signin
from arrears.service.borrower.signin import Session
from arrears.service.cases import evidence
from arrears.service.cases.complaints import file_complaint
from arrears.service.errors import Invalid, ServiceError
from arrears.web.i18n import N_, gettext
from arrears.web.portal.context import (
    COOKIE,
    LANG,
    Portal,
    SignInFirst,
    borrower,
    fresh,
    lang_of,
    mine,
    to_sign_in,
)
from arrears.web.portal.limits import Limiter
from arrears.web.refusals import STALE_FORM, refusal

WINDOW = timedelta(minutes=10)
CODE_SENDS, GUESSES = 5, 10
#: the most an upload may be (every file at its largest, and the form's words)
MAX_UPLOAD = evidence.MAX_FILES * evidence.MAX_BYTES + 64 * 1024
#: what a page says when it refuses (translated when shown)
TOO_MANY = N_("Too many tries; please wait and try again.")
WRONG_CODE = N_("That code is wrong or has expired; ask for a new one.")
TOO_LARGE = N_("Evidence: the upload is too large.")


def said(request: Request, text: str) -> str:
    """``text`` (marked with N_) in the language of the page answering ``request``."""
    return gettext(lang_of(request))(text)


def mount_borrower(api: FastAPI, app: App, p: Portal, sms: Channel) -> None:
    r = APIRouter(include_in_schema=False)
    Who = Annotated[Session, Depends(borrower(app))]
    api.add_exception_handler(SignInFirst, to_sign_in)
    _sign_in(r, app, p, sms)
    _loans(r, app, p, Who)
    _prefs(r, app, p, Who)
    _complaints(r, app, p, Who)
    api.include_router(r)


def _welcome(app: App, p: Portal, request: Request, found: tuple[str, Session]) -> Response:
    out = p.signed_in(RedirectResponse("/portal/home", status_code=303), found[0])
    if LANG not in request.cookies:  # the borrower's own language from now on
        p.speak(out, portal.preferences(app, found[1].borrower_id).language)
    return out


def _sign_in(r: APIRouter, app: App, p: Portal, sms: Channel) -> None:
    sends = Limiter(app, "portal_code", CODE_SENDS, WINDOW)
    guesses = Limiter(app, "portal_signin", GUESSES, WINDOW)

    @r.get("/portal")
    def start(request: Request) -> Response:
        token = request.cookies.get(COOKIE)
        if token and signin.session_of(app, token) is not None:
            return RedirectResponse("/portal/home", status_code=303)
        return p.render(request, "signin.html")

    @r.post("/portal/code")
    def send(
        request: Request,
        ref: Annotated[str, Form(max_length=64)],
        csrf: Annotated[str, Form(max_length=100)] = "",
    ) -> HTMLResponse:
        if not fresh(request, csrf):
            return p.render(request, "signin.html", status=403, ref=ref)
        if sends.allow(request) is not None:
            return p.render(
                request, "signin.html", status=429, ref=ref, problem=said(request, TOO_MANY)
            )
        # answered before the work: a known reference (a code stored, logged and sent) and an
        # unknown one (nothing) take the same time to answer
        page = p.render(request, "signin.html", ref=ref, sent=True)
        page.background = BackgroundTask(signin.send_code, app, ref, sms)
        return page

    @r.post("/portal/signin")
    def enter(
        request: Request,
        ref: Annotated[str, Form(max_length=64)],
        code: Annotated[str, Form(max_length=12)],
        csrf: Annotated[str, Form(max_length=100)] = "",
    ) -> Response:
        if not fresh(request, csrf):
            return p.render(request, "signin.html", status=403, ref=ref, sent=True)
        if guesses.allow(request) is not None:
            return p.render(
                request,
                "signin.html",
                status=429,
                ref=ref,
                sent=True,
                problem=said(request, TOO_MANY),
            )
        found = signin.sign_in(app, ref, code)
        if found is None:
            return p.render(
                request,
                "signin.html",
                status=401,
                ref=ref,
                sent=True,
                problem=said(request, WRONG_CODE),
            )
        return _welcome(app, p, request, found)


def _loans(r: APIRouter, app: App, p: Portal, Who: Any) -> None:
    @r.post("/portal/signout")
    def leave(request: Request, who: Who) -> Response:
        signin.sign_out(app, request.cookies.get(COOKIE, ""))
        out = RedirectResponse("/portal", status_code=303)
        out.delete_cookie(COOKIE)
        return out

    @r.get("/portal/home")
    def home(request: Request, who: Who) -> HTMLResponse:
        today = app.today()
        loans = [
            {**ln, "st": statement_for_loan(app, ln["loan_id"], today)}
            for ln in portal.loans_of(app, who.borrower_id)
        ]
        return p.render(request, "home.html", session=who, loans=loans)

    @r.get("/portal/loan/{loan_id}")
    def loan(request: Request, loan_id: str, who: Who) -> HTMLResponse:
        mine(app, who, loan_id)
        st = statement_for_loan(app, loan_id, app.today())
        seen = portal.history(app, who.borrower_id, loan_id)
        for c in seen["contacts"]:
            c["when"] = portal.local_time(app, c["at"])
        return p.render(
            request,
            "loan.html",
            session=who,
            loan_id=loan_id,
            s=st,
            payments=seen["payments"],
            contacts=seen["contacts"],
        )

    @r.get("/portal/loan/{loan_id}/statement.pdf")
    def pdf(loan_id: str, who: Who) -> Response:
        mine(app, who, loan_id)
        data, name = portal.statement_pdf(app, who.borrower_id, loan_id)
        return Response(
            data,
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )


def _prefs(r: APIRouter, app: App, p: Portal, Who: Any) -> None:
    @r.get("/portal/prefs")
    def prefs(request: Request, who: Who) -> HTMLResponse:
        return p.render(
            request, "prefs.html", session=who, prefs=portal.preferences(app, who.borrower_id)
        )

    @r.post("/portal/prefs")
    def save_prefs(
        request: Request,
        who: Who,
        channels: Annotated[list[str] | None, Form()] = None,
        window_start: Annotated[str, Form(max_length=5)] = "",
        window_end: Annotated[str, Form(max_length=5)] = "",
        language: Annotated[str, Form(max_length=5)] = "zh-CN",
        preferred: Annotated[str, Form(max_length=16)] = "",
    ) -> Response:
        try:
            saved = portal.set_preferences(
                app,
                who.borrower_id,
                channels=channels or [],
                window_start=window_start,
                window_end=window_end,
                language=language,
                preferred=preferred,
            )
        except ServiceError as exc:
            return p.render(
                request,
                "prefs.html",
                status=422,
                session=who,
                problem=refusal(exc, lang_of(request)),
                prefs=portal.preferences(app, who.borrower_id),
            )
        page = p.render(
            request, "prefs.html", session=who, prefs=saved, saved=True, lang=saved.language
        )
        return p.speak(page, saved.language)


def _complaint_page(
    app: App, p: Portal, request: Request, who: Session, status: int = 200, **ctx: Any
) -> HTMLResponse:
    return p.render(
        request,
        "complaints.html",
        status=status,
        session=who,
        mine=portal.complaints_of(app, who.borrower_id),
        contacts=portal.recent_contacts(app, who.borrower_id),
        loans=portal.loans_of(app, who.borrower_id),
        categories=CATEGORIES,
        **ctx,
    )


async def _uploads(form: Any) -> list[evidence.Upload]:
    files = [f for f in form.getlist("files") if isinstance(f, UploadFile) and f.filename]
    return [evidence.Upload(f.filename or "file", await f.read()) for f in files]


def _file(app: App, who: Session, form: Any, uploads: list[evidence.Upload]) -> str:
    """Check the evidence, then take the complaint and keep its files: nothing half-written."""
    evidence.check(uploads)
    loan_id = str(form.get("loan_id") or "") or None
    if loan_id is not None and not portal.owns(app, who.borrower_id, loan_id):
        raise Invalid("loan_id: not a loan of yours", field="loan_id")
    complaint_id = file_complaint(
        app,
        borrower_id=who.borrower_id,
        category=str(form.get("category") or ""),
        description=str(form.get("description") or "")[:4000],
        source="portal",
        loan_id=loan_id,
        attempt_ids=[str(a) for a in form.getlist("attempts")][:20],
    )
    evidence.attach(app, complaint_id, uploads)
    return complaint_id


def _complaints(r: APIRouter, app: App, p: Portal, Who: Any) -> None:
    @r.get("/portal/complaints")
    def complaints(request: Request, who: Who) -> HTMLResponse:
        return _complaint_page(app, p, request, who)

    @r.post("/portal/complaints", max_body_size=MAX_UPLOAD)
    async def complain(request: Request, who: Who) -> HTMLResponse:
        if int(request.headers.get("Content-Length") or 0) > MAX_UPLOAD:
            return await run_in_threadpool(
                _complaint_page,
                app,
                p,
                request,
                who,
                413,
                problem=said(request, TOO_LARGE),
            )
        async with request.form(max_files=evidence.MAX_FILES + 1, max_fields=60) as form:
            if not hmac.compare_digest(str(form.get("csrf") or ""), who.csrf):
                raise HTTPException(403, STALE_FORM)
            uploads = await _uploads(form)
            try:
                filed = await run_in_threadpool(_file, app, who, form, uploads)
            except ServiceError as exc:
                return await run_in_threadpool(
                    _complaint_page,
                    app,
                    p,
                    request,
                    who,
                    422,
                    problem=refusal(exc, lang_of(request)),
                )
        return await run_in_threadpool(_complaint_page, app, p, request, who, filed=filed)

    @r.get("/portal/evidence/{evidence_id}")
    def evidence_file(evidence_id: str, who: Who) -> Response:
        found = evidence.evidence_file(app, evidence_id)
        if found is None or found[0]["borrower_id"] != who.borrower_id:
            raise HTTPException(404, "no such file")
        facts, data = found
        return Response(
            data,
            media_type=facts["content_type"],
            headers={
                "Content-Disposition": evidence_download(facts),
                "X-Content-Type-Options": "nosniff",
            },
        )
