"""One FastAPI application: the integrations' API and the providers' webhooks under
``/api/v1`` (OpenAPI at ``/api/v1/openapi.json``), the staff console (``/``) and the borrower
portal (``/portal``, ``/verify``)."""

from __future__ import annotations

import threading
from typing import Any

from fastapi import FastAPI

from arrears.bootstrap import App
from arrears.channels.base import Channel
from arrears.web.api.deps import install_problems
from arrears.web.api.routes import router
from arrears.web.api.webhooks import add_webhooks
from arrears.web.console.views import mount_console
from arrears.web.errors import error_pages
from arrears.web.nul import Hardened, NoNul
from arrears.web.portal.public import mount_portal

DESCRIPTION = """\
arrears' HTTP API. Integrations authenticate with a bearer token (`arrears token create`):
`read` to look, `write` to change. Providers sign their webhooks (HMAC-SHA256 of
`<timestamp>.<body>`). Lists are paginated (`page`, `per_page`). Errors are
`application/problem+json` with the field at fault in `field`. Amounts are in minor units (fen).
"""


#: the most a request body may be, counted as it streams (chunked bodies included); routes
#: that take files or batches say more (POST /api/v1/ingest, the portal's complaint form)
MAX_BODY = 1024 * 1024


class _Api(FastAPI):
    """FastAPI with :class:`arrears.web.nul.Hardened` outside everything (the body limit's own
    413 and the server-error page included): nosniff on every answer, problem+json on the
    API's."""

    def build_middleware_stack(self) -> Any:
        return Hardened(super().build_middleware_stack())


def create_app(
    app: App,
    secret: str = "",
    sms_receipt: dict[str, str] | None = None,
    portal_sms: Channel | None = None,
    *,
    warm: bool = False,
) -> FastAPI:
    """The application; without a webhook secret the webhooks are not mounted (everything else
    works). The portal sends its sign-in codes through ``portal_sms`` (the SMS channel of the
    provider profiles when None). With ``warm``, the cycle's compiled kernels and the active
    strategy's queries are made ready on a background thread, so a manager's first dry run
    does not wait for them (a served process does this; tests need not)."""
    if warm:
        from arrears.service.daily.plans import warm_up

        threading.Thread(target=warm_up, args=(app,), name="warm-up", daemon=True).start()
    api = _Api(
        title="arrears",
        version="1",
        description=DESCRIPTION,
        openapi_url="/api/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
        max_body_size=MAX_BODY,
    )
    install_problems(api, error_pages())
    api.add_middleware(NoNul)  # no NUL reaches a handler (or PostgreSQL's text)
    api.include_router(router(app), prefix="/api/v1")
    if secret:
        add_webhooks(api, app, secret, sms_receipt)
    mount_console(api, app)
    mount_portal(api, app, portal_sms)
    return api


def from_env() -> FastAPI:
    """The application for the settings in the environment: ``uvicorn --factory
    arrears.web.app:from_env --workers N`` (each worker process builds its own)."""
    from arrears.bootstrap import bootstrap
    from arrears.channels.profiles import HttpSmsProfile, read
    from arrears.learn.models import ModelError, attach

    app = bootstrap()
    try:
        attach(app)  # the learned model (ARREARS_MODEL_FILE), for the dry runs' choices
    except ModelError as exc:  # said plainly, naming the setting and the file
        raise SystemExit(f"ARREARS_MODEL_FILE: {exc}") from exc
    sms = read(app.settings.providers_file).sms
    mapping = sms.receipt if isinstance(sms, HttpSmsProfile) else None
    return create_app(app, app.settings.webhook_secret, mapping, warm=True)
