"""A recognition provider may call back before the submission that got its job id has been
written (the stand-in does, from a thread): the callback waits a few seconds for the job and
is then taken; a job that never comes is still refused."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import insert, select

from arrears.bootstrap import App
from arrears.service.conduct import inspection
from arrears.service.outreach.callbacks import UnknownReference
from arrears.store import tables as t


def test_a_callback_that_outruns_its_submission_is_taken(app: App) -> None:
    def submitted_late() -> None:
        time.sleep(0.4)
        with app.engine.begin() as conn:
            conn.execute(
                insert(t.call_transcript).values(
                    attempt_id="ca-1", provider="standin", job_id="job-1", status="submitted",
                    requested_at=app.clock(),
                )
            )  # fmt: skip

    writer = threading.Thread(target=submitted_late)
    writer.start()
    out = inspection.asr_result(app, {"job_id": "job-1", "status": "failed", "detail": "noise"})
    writer.join()
    assert out == {"job_id": "job-1", "status": "failed"}
    with app.engine.connect() as conn:
        row = conn.execute(select(t.call_transcript)).one()
    assert (row.status, row.detail) == ("failed", "noise")


def test_a_job_that_never_comes_is_refused(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inspection, "UNKNOWN_JOB_WAIT", 0.2)
    with pytest.raises(UnknownReference, match="job_id: no transcript of ours is 'job-x'"):
        inspection.asr_result(app, {"job_id": "job-x", "status": "failed"})
