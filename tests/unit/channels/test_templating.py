"""Contact templates: the shipped ones pass every rulebook; a template that breaks a rule, uses
an unknown variable, tells a third party about the debt or escapes the sandbox is refused, and
the refusal names the file, the line, the template and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from arrears.channels import templating
from arrears.channels.templating import Template, TemplateError, lint, money, render
from arrears.service.outreach.templates import rulebooks
from arrears.strategy.model import load

BOOKS = rulebooks()


def _template(body: str, channel: str = "sms", **kw: str) -> Template:
    return Template(
        name="t", locale=kw.pop("locale", "en"), channel=channel, body=body, source="x.yaml:3", **kw
    )  # type: ignore[arg-type]


GOOD_EN = (
    "{{ org.name }} finance: Hi {{ borrower.name }}, {{ debt.total_due | money }} is due. "
    "This is agent {{ collector.id }}. Check at {{ org.verify_url }}, code {{ code }}. "
    "Reply STOP to opt out."
)


def test_every_shipped_template_passes_every_rulebook() -> None:
    shipped = templating.read_folder(templating.HERE)
    assert {t.locale for t in shipped} == {"zh-CN", "en"}
    problems = [p for t in shipped for p in lint(t, BOOKS)]
    assert problems == []
    assert set(BOOKS) >= {"cn", "us-regf"}


def test_every_template_the_default_strategy_names_exists_in_both_locales() -> None:
    shipped = {(t.name, t.locale): t for t in templating.read_folder(templating.HERE)}
    strategy = load("default")
    for step in strategy.steps:
        if step.template is None:
            continue
        for locale in ("zh-CN", "en"):
            tpl = shipped[(step.template, locale)]
            assert tpl.channel == step.channel, (step.template, locale)


def test_a_good_template_lints_clean_and_renders_the_amount() -> None:
    t = _template(GOOD_EN)
    assert lint(t, BOOKS) == []
    out = render(t, templating.sample_context("en"))
    assert "2,227.27 is due" in out.text and "K7Q2M9XD" in out.text


@pytest.mark.parametrize(
    ("minor", "shown"),
    [
        (222727, "2,227.27"),
        (5, "0.05"),
        (0, "0.00"),
        (-150, "-1.50"),
        (123456789, "1,234,567.89"),
    ],
)
def test_money_shows_minor_units_as_major_units(minor: int, shown: str) -> None:
    assert money(minor) == shown


def test_prohibited_language_is_refused_with_its_rule() -> None:
    t = _template(GOOD_EN.replace("is due.", "is due or we will kill you."))
    found = [str(p) for p in lint(t, BOOKS)]
    assert any("x.yaml:3: template 't', body: [cn.content.threat]" in p for p in found), found
    assert any("[us-regf.content.threat]" in p for p in found), found


def test_a_chinese_threat_in_traditional_characters_is_refused() -> None:
    zh = templating.read_folder(templating.HERE)
    sms = next(t for t in zh if t.name == "early_sms" and t.locale == "zh-CN")
    bad = Template(sms.name, sms.locale, sms.channel, sms.body + "否則弄死你", source="z:1")
    assert any("content.threat" in p.message for p in lint(bad, BOOKS))


def test_a_typo_in_a_variable_is_named() -> None:
    t = _template(GOOD_EN.replace("debt.total_due", "debt.totl_due"))
    [p] = lint(t, BOOKS)
    assert "unknown variable 'debt.totl_due'" in p.message and p.field == "body"
    [p] = lint(_template(GOOD_EN + " {{ amount }}"), BOOKS)
    assert "unknown variable 'amount'" in p.message


def test_the_us_opt_out_notice_and_the_code_are_required() -> None:
    no_stop = _template(GOOD_EN.replace(" Reply STOP to opt out.", ""))
    assert [p.message for p in lint(no_stop, BOOKS)] == [
        "[us-regf.disclosure.opt_out_notice] the sms carries no opt-out notice: opt_out"
    ]
    no_code = _template(GOOD_EN.replace(", code {{ code }}", ""))
    assert any("carries no verification code" in p.message for p in lint(no_code, BOOKS))


def test_a_chinese_letter_needs_the_letter_fields() -> None:
    body = (
        "<p>{{ org.name }}：{{ borrower.name }}，请还{{ debt.total_due | money }}元。"
        "专员{{ collector.id }}号。验证码{{ code }}</p>"
    )
    t = _template(body, channel="letter", subject="函", locale="zh-CN")
    [p] = [p for p in lint(t, BOOKS) if "letter_fields" in p.message]
    assert "reason_and_legal_basis" in p.message and "rights_and_duties" in p.message


def test_a_third_party_template_may_not_tell_the_debt() -> None:
    uses_debt = _template(GOOD_EN, audience="third_party")
    assert any("must not use 'debt'" in p.message for p in lint(uses_debt, BOOKS))
    says_debt = _template(
        "{{ org.name }} finance, agent {{ collector.id }}: please tell {{ borrower.name }} to "
        "repay the overdue loan. Code {{ code }}. Reply STOP to opt out.",
        audience="third_party",
    )
    found = [p.message for p in lint(says_debt, BOOKS)]
    assert any("reveals the debt to a third party" in m for m in found), found


def test_the_sandbox_refuses_reaching_into_python() -> None:
    t = _template(GOOD_EN + " {{ code.__class__.__mro__ }}")
    found = [p.message for p in lint(t, BOOKS)]
    assert any("does not render" in m for m in found), found


def test_a_syntax_error_names_its_line() -> None:
    [p] = lint(_template("line one\n{{ code }\n"), BOOKS)
    assert p.message.startswith("template syntax, line 2:")


def test_letters_escape_what_they_are_given() -> None:
    zh = templating.read_folder(templating.HERE)
    letter = next(t for t in zh if t.name == "collection_letter" and t.locale == "zh-CN")
    ctx = templating.sample_context("zh-CN")
    ctx["borrower"]["name"] = "<script>alert(1)</script>"
    out = render(letter, ctx)
    assert "<script>" not in out.body and "&lt;script&gt;" in out.body
    assert out.html and "<p>" in out.body and "<p>" not in out.text


def test_a_file_with_structural_problems_reports_them_all(tmp_path: Path) -> None:
    (tmp_path / "en.yaml").write_text(
        "a:\n  channel: fax\n  body: hi\nb:\n  channel: email\n  body: hi\n"
        "c:\n  channel: sms\n  body: hi\n  colour: red\n",
        encoding="utf-8",
    )
    (tmp_path / "fr.yaml").write_text("{}\n", encoding="utf-8")
    with pytest.raises(TemplateError) as info:
        templating.read_folder(tmp_path)
    found = {(p.where.rsplit("/", 1)[-1], p.name, p.field) for p in info.value.problems}
    assert found == {
        ("en.yaml:1", "a", "channel"),
        ("en.yaml:4", "b", "subject"),
        ("en.yaml:7", "c", "colour"),
        ("fr.yaml", "-", "file"),
    }


def test_a_folded_chinese_message_has_no_stray_spaces() -> None:
    [t] = templating.parse(
        "x:\n  channel: sms\n  body: >-\n    您好，您的借款已逾期，\n    请还款。ID {{ code }}\n",
        "zh-CN.yaml",
        "zh-CN",
    )
    assert t.body == "您好，您的借款已逾期，请还款。ID {{ code }}"
    folded = "x:\n  channel: sms\n  body: >-\n    Hello,\n    pay.\n"
    [e] = templating.parse(folded, "en.yaml", "en")
    assert e.body == "Hello, pay."
