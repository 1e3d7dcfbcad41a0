"""Masking inside free text: the person's known values wherever they appear, and anything
shaped like a phone number, national id, bank card or email, whoever's it is; amounts, dates
and ordinary words untouched."""

from __future__ import annotations

import pytest

from arrears.service.staff.masking import Known, mask_text


@pytest.fixture
def known() -> Known:
    k = Known()
    k.add("name", "张三丰")
    k.add("phone", "13812345678")
    k.add("address", "上海市浦东新区世纪大道100号")
    k.add("email", "zsf@example.com")
    return k


def test_known_values_are_masked_wherever_they_appear(known: Known) -> None:
    text = (
        "【示例金融】张三丰您好。客户张三丰称住在上海市浦东新区世纪大道100号，邮箱zsf@example.com"
    )
    out = mask_text(text, known)
    assert "张三丰" not in out and "世纪大道100号" not in out and "zsf@" not in out
    assert out.count("张**") == 2 and "上海市浦东新…" in out and "z***@example.com" in out


@pytest.mark.parametrize(
    ("text", "hidden", "kept"),
    [
        ("电话138 1234 5678，请回电", "1234 5678", "138****5678"),
        ("call +86 139-1234-5678 today", "1234-5678", "139****5678"),
        ("身份证110101199003071234", "19900307", "110***********1234"),
        ("卡号6222021234567890123已扣款失败", "622202123456789", "0123"),
        ("US number (212) 555-0199", "555-0199", "0199"),
        ("write to a.b+c@mail.co.uk", "a.b+c@", "a***@mail.co.uk"),
    ],
)
def test_shapes_of_personal_data_are_masked_whoever_they_belong_to(
    text: str, hidden: str, kept: str
) -> None:
    out = mask_text(text)
    assert hidden not in out and kept in out, out


def test_amounts_dates_and_words_are_left_alone() -> None:
    text = "应还1,234.56元，2026-11-23前还款；合同编号 L-000123；利率0.05%"
    assert mask_text(text) == text
    assert mask_text("") == ""
