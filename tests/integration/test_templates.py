"""Templates in the store (versions kept, all or nothing), previews from the ledger, and the
verification of codes, on SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from arrears.bootstrap import App, bootstrap
from arrears.channels import templating
from arrears.channels.codes import new_code, shown
from arrears.service.books.statements import statement_for_loan
from arrears.service.errors import ServiceError
from arrears.service.outreach.templates import context_for, current, load_templates, preview
from arrears.service.outreach.verify import Contact, record_contact, verify
from arrears.store import tables as t
from arrears.store.ingest.loader import ingest
from tests.conftest import FIXED_NOW
from tests.support.files import readme_loan_files

AS_OF = date(2026, 2, 19)  # the README loan, 35 days late


@pytest.fixture
def loan(app: App, tmp_path: Path) -> App:
    ingest(app.engine, app.cipher, [readme_loan_files(tmp_path / "in")], clock=lambda: FIXED_NOW)
    return app


def _count(app: App) -> int:
    with app.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(t.template)).scalar_one())


def test_loading_keeps_a_version_of_what_changed_and_nothing_else(app: App, tmp_path: Path) -> None:
    shipped = len(templating.read_folder(templating.HERE))
    first = load_templates(app)
    assert len(first.new) == shipped and not first.changed and _count(app) == shipped
    again = load_templates(app)
    assert (again.new, again.changed, again.unchanged) == ([], [], shipped)
    folder = tmp_path / "tpl"
    shutil.copytree(templating.HERE, folder)
    en = folder / "en.yaml"
    en.write_text(
        en.read_text(encoding="utf-8").replace("Pay: {{", "You can pay {{", 1), encoding="utf-8"
    )
    changed = load_templates(app, folder)
    assert changed.changed == ["reminder_sms [en] v2"] and _count(app) == shipped + 1
    assert current(app, "reminder_sms", "en").version == 2
    assert current(app, "reminder_sms", "zh-CN").version == 1


def test_one_bad_template_loads_none(app: App, tmp_path: Path) -> None:
    folder = tmp_path / "tpl"
    shutil.copytree(templating.HERE, folder)
    zh = folder / "zh-CN.yaml"
    text = zh.read_text(encoding="utf-8").replace("请联系我们商定还款计划", "不还钱就弄死你", 1)
    zh.write_text(text.replace("debt.dpd", "debt.days", 1), encoding="utf-8")
    with pytest.raises(ServiceError) as info:
        load_templates(app, folder)
    message = str(info.value)
    assert "zh-CN.yaml:" in message and "unknown variable 'debt.days'" in message
    assert "[cn.content.threat]" in message
    assert _count(app) == 0


def test_a_preview_says_what_the_ledger_says(loan: App) -> None:
    st = statement_for_loan(loan, "L1", AS_OF)
    assert st["total_due"] == 222727
    tpl, out = preview(loan, "early_sms", "L1", AS_OF)
    assert tpl.locale == "zh-CN" and tpl.version == 1
    assert "张三" in out.text and "已逾期35天" in out.text and "应还2,227.27元" in out.text
    assert f"罚息{templating.money(st['overdue']['penalty'])}元" in out.text
    assert "Demo Finance" in out.text
    _, en = preview(loan, "early_sms", "L1", AS_OF, locale="en")
    assert "35 days past due" in en.text and "2,227.27" in en.text
    with pytest.raises(ServiceError, match="template 'nope'"):
        preview(loan, "nope", "L1", AS_OF)


def test_a_code_answers_with_the_contact_it_proves(loan: App) -> None:
    code = new_code()
    ctx = context_for(loan, "L1", AS_OF, locale="zh-CN", code=shown(code))
    text = templating.render(current(loan, "early_sms", "zh-CN"), ctx).text
    with loan.engine.begin() as conn:
        record_contact(
            loan,
            conn,
            Contact(
                "B1",
                "L1",
                "sms",
                FIXED_NOW,
                template="early_sms",
                template_version=1,
                collector_id="SYS-001",
                content=text,
            ),
            code=code,
        )
    v = verify(loan, shown(code).lower())
    assert v.genuine and v.details is not None
    assert v.details["organisation"] == "Demo Finance" and v.details["channel"] == "sms"
    assert v.details["collector_id"] == "SYS-001" and v.details["content"] == text
    assert shown(code) in text
    other = new_code()
    assert verify(loan, other).reason == "unknown" and not verify(loan, other).genuine
    assert verify(loan, "not a real code").reason == "malformed"
    later = bootstrap(loan.settings, clock=lambda: FIXED_NOW + timedelta(days=181))
    assert verify(later, code).reason == "expired"
    later.engine.dispose()
    with loan.engine.connect() as conn:
        stored = conn.execute(select(t.verification_code.c.code_hash)).scalar_one()
    assert code not in stored and len(stored) == 64
