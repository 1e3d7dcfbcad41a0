"""Strategy versions from the manager's side: a step naming a template that exists nowhere (or
one made for another channel) is refused with the step; with the policy's four eyes, the person
who asks for an activation cannot approve it, another strategy manager does."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from arrears.bootstrap import App
from arrears.service.daily import strategies
from arrears.service.daily.cycle import strategy_from
from arrears.service.errors import Forbidden

SHIPPED = (resources.files("arrears.strategy") / "strategies" / "default.yaml").read_text()


def test_a_step_naming_a_missing_template_is_refused(app: App) -> None:
    assert strategies.upload(app, SHIPPED, by="sun").problems == []
    typo = SHIPPED.replace("template: early_sms_firm", "template: early_sms_frim", 1)
    done = strategies.upload(app, typo, by="sun")
    assert done.version_id is None
    assert done.problems == [
        "upload: treatments (step early.standard.3): template: no template is named "
        "'early_sms_frim'"
    ], done.problems
    wrong = SHIPPED.replace(
        "channel: robocall, template: early_robocall", "channel: robocall, template: early_sms", 1
    )
    said = strategies.upload(app, wrong, by="sun").problems
    assert len(said) == 1 and "'early_sms' is a sms template, not robocall" in said[0]


def test_four_eyes_on_activation(app: App, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("strategy: {second_person: true}\n", encoding="utf-8")
    app.settings = app.settings.model_copy(update={"collections_policy_file": policy})
    candidate = SHIPPED.replace('version: "2026.11"', 'version: "2026.12"')
    vid = strategies.upload(app, candidate, by="sun").version_id
    assert vid is not None
    assert strategies.activate(app, vid, by="sun") == "requested"
    assert strategy_from(app, None).version != "2026.12"
    with pytest.raises(Forbidden, match="a second strategy manager must approve"):
        strategies.activate(app, vid, by="sun")
    assert strategies.activate(app, vid, by="zhou") == "active"
    assert strategy_from(app, None).version == "2026.12"
    (row,) = [v for v in strategies.versions(app) if v["version_id"] == vid]
    assert (row["requested_by"], row["activated_by"], row["active"]) == ("sun", "zhou", True)


def test_every_problem_is_shown_at_once(app: App) -> None:
    """A schema fault does not hide a broken condition, a missing template or an unknown queue:
    the manager sees all of them from one upload, each with its line."""
    bad = (
        SHIPPED.replace('when: "score < 0.3 or broken_promises >= 2"', 'when: "score <<< 0.3"', 1)
        .replace("template: early_sms_firm", "template: early_sms_frim", 1)
        .replace('priority: "total_due / 2"', 'priority: "total_due / 2", colour: red', 1)
    )
    said = strategies.upload(app, bad, by="sun").problems
    assert any("colour: unknown field" in p for p in said), said
    assert any("segments[0].when" in p and "score <<< 0.3" in p for p in said), said
    assert any("no template is named 'early_sms_frim'" in p for p in said), said
    # a queue named but not defined, on a schema-valid file, beside a second fault
    typo = SHIPPED.replace(
        'queue: early_callback, priority: "total_due / 2"',
        'queue: early_calback, priority: "total_due / 2"',
        1,
    ).replace('when: "score >= 0.7 and broken_promises == 0"', 'when: "score >= "', 1)
    said = strategies.upload(app, typo, by="sun").problems
    assert any("'early_calback'" in p or "needs a queue" in p for p in said), said
    assert any("segments[1].when" in p for p in said), said


def test_a_queue_named_but_not_defined_is_refused_on_upload_only(app: App) -> None:
    """An SMS step naming a queue nobody defined is a typo the upload refuses; a version kept
    before this check still loads (the cycle does not stop on it)."""
    from sqlalchemy import insert

    from arrears.store import tables as t

    typo = SHIPPED.replace(
        "{on_day: 2, channel: robocall, template: early_robocall}",
        "{on_day: 2, channel: robocall, template: early_robocall, queue: nowhere}",
        1,
    )
    assert typo != SHIPPED
    said = strategies.upload(app, typo, by="sun").problems
    assert said == [
        "upload: treatments (step early.high_risk.2): queue: no queue is named 'nowhere' under "
        "queues"
    ], said
    with app.engine.begin() as conn:  # as a version uploaded before the check was there
        vid = conn.execute(
            insert(t.strategy_version)
            .values(name="default", version="old", text=typo, sha256="x" * 64,
                    uploaded_by="sun", uploaded_at=app.clock(), active=False)
            .returning(t.strategy_version.c.version_id)
        ).scalar_one()  # fmt: skip
    assert strategies.version(app, vid).steps  # loads


def test_a_served_process_compiles_the_active_strategy_ahead(app: App) -> None:
    """``create_app(warm=True)`` (what ``arrears serve`` builds) warms up on a thread: the
    kernels loaded and the active strategy's queries compiled for today, so the first dry run
    does not wait for them; a warm-up that fails only logs."""
    from arrears.cycle import run
    from arrears.service.daily.plans import rulebooks_in_use, warm_up

    run._COMPILED.clear()
    warm_up(app)
    active = strategy_from(app, None)
    assert any(k[0] == active.digest for k in run._COMPILED), run._COMPILED
    assert rulebooks_in_use(app) == ["cn"]
    broken = App(
        settings=app.settings.model_copy(update={"strategy": "no-such-strategy"}),
        engine=app.engine,
        cipher=app.cipher,
        clock=app.clock,
    )
    warm_up(broken)  # logged, not raised


def test_the_same_text_uploaded_again_is_the_version_kept_before(app: App) -> None:
    first = strategies.upload(app, SHIPPED, by="sun").version_id
    again = strategies.upload(app, SHIPPED, by="mei").version_id
    other = strategies.upload(app, SHIPPED + "\n# a comment\n", by="sun").version_id
    assert first is not None and again == first and other not in (None, first)
    assert len(strategies.versions(app)) == 2
