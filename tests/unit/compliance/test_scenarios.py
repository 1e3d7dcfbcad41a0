"""Scenario tables for every rule family, allowed and denied, at the boundary minute, in both
rulebooks. Each row: a request (attempt + person + history), the rule ids expected to refuse it
(empty = allowed), and the expected earliest_allowed_at (None = never)."""

from __future__ import annotations

from typing import Any

import pytest

from arrears.compliance.gate import check
from arrears.compliance.rulebook import load
from arrears.compliance.wire import decision_to_dict, request_from_dict

SH = {"timezones": ["Asia/Shanghai"]}
NY = {"timezones": ["America/New_York"]}


def call(at: str, result: str = "no_answer", **kw: Any) -> dict[str, Any]:
    return {
        "kind": "call",
        "direction": "outbound",
        "result": result,
        "at": at,
        "person_id": "B1",
        "debt_ids": ["D1"],
        "destination": "13800000001",
        "role": "debtor",
        **kw,
    }


def attempt(at: str, channel: str = "call", **kw: Any) -> dict[str, Any]:
    return {
        "channel": channel,
        "at": at,
        "person_id": "B1",
        "debt_ids": ["D1"],
        "role": "debtor",
        "destination": "13800000001",
        **kw,
    }


def decide(
    book: str,
    att: dict[str, Any],
    person: dict[str, Any] | None = None,
    history: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    req = {"attempt": att, "person": person or {}, "history": history or [], **extra}
    return decision_to_dict(check(request_from_dict(req), load(book)))


def rules(out: dict[str, Any]) -> set[str]:
    return {v["rule"] for v in out["violations"]}


HOURS = [
    # cn: 08:00 <= local < 22:00
    ("cn", attempt("2026-11-23T08:00:00+08:00"), SH, set(), "2026-11-23T08:00:00+08:00"),
    (
        "cn",
        attempt("2026-11-23T07:59:00+08:00"),
        SH,
        {"cn.hours.window"},
        "2026-11-23T08:00:00+08:00",
    ),
    ("cn", attempt("2026-11-23T21:59:00+08:00"), SH, set(), "2026-11-23T21:59:00+08:00"),
    (
        "cn",
        attempt("2026-11-23T22:00:00+08:00"),
        SH,
        {"cn.hours.window"},
        "2026-11-24T08:00:00+08:00",
    ),
    # the same instant seen from UTC
    (
        "cn",
        attempt("2026-11-23T14:30:00+00:00"),
        SH,
        {"cn.hours.window"},
        "2026-11-24T08:00:00+08:00",
    ),
    # agreed window replaces the default
    (
        "cn",
        attempt("2026-11-23T21:00:00+08:00"),
        {**SH, "agreed_window": ["09:00", "20:00"]},
        {"cn.hours.window"},
        "2026-11-24T09:00:00+08:00",
    ),
    # us-regf: 08:00 <= local <= 21:00
    ("us-regf", attempt("2026-11-23T21:00:00-05:00"), NY, set(), "2026-11-23T21:00:00-05:00"),
    (
        "us-regf",
        attempt("2026-11-23T21:01:00-05:00"),
        NY,
        {"us-regf.hours.window"},
        "2026-11-24T08:00:00-05:00",
    ),
    (
        "us-regf",
        attempt("2026-11-23T07:59:00-05:00"),
        NY,
        {"us-regf.hours.window"},
        "2026-11-23T08:00:00-05:00",
    ),
    # several places: 08:00 in New York is 05:00 in Los Angeles
    (
        "us-regf",
        attempt("2026-11-23T08:30:00-05:00"),
        {"timezones": ["America/New_York", "America/Los_Angeles"]},
        {"us-regf.hours.window"},
        "2026-11-23T11:00:00-05:00",
    ),
    # unknown location: every US timezone, Honolulu opens last
    (
        "us-regf",
        attempt("2026-11-23T12:00:00-05:00"),
        {},
        {"us-regf.hours.window"},
        "2026-11-23T13:00:00-05:00",
    ),
    # consumer-designated inconvenient time
    (
        "us-regf",
        attempt("2026-11-23T12:30:00-05:00"),
        {**NY, "inconvenient_times": [["12:00", "13:00"]]},
        {"us-regf.hours.window"},
        "2026-11-23T13:00:00-05:00",
    ),
    # DST: New York springs forward on 2026-03-08; 08:00 EDT is 12:00 UTC
    (
        "us-regf",
        attempt("2026-03-08T11:30:00+00:00"),
        NY,
        {"us-regf.hours.window"},
        "2026-03-08T08:00:00-04:00",
    ),
    ("us-regf", attempt("2026-03-08T12:00:00+00:00"), NY, set(), "2026-03-08T12:00:00+00:00"),
    # DST ends 2026-11-01: 21:00 EST is 02:00 UTC next day
    ("us-regf", attempt("2026-11-02T01:30:00+00:00"), NY, set(), "2026-11-02T01:30:00+00:00"),
    # letters are not limited by hours
    (
        "cn",
        attempt(
            "2026-11-23T23:00:00+08:00",
            channel="letter",
            content="尊敬的客户您好：您在示例金融有限公司的借款合同欠款金额为1000元，依据合同，"
            "您享有权利并负有义务，如有异议请核实，联系电话95000。工号A1",
        ),
        SH,
        set(),
        "2026-11-23T23:00:00+08:00",
    ),
]


@pytest.mark.parametrize(("book", "att", "person", "denied", "earliest"), HOURS)
def test_hours(
    book: str, att: dict[str, Any], person: dict[str, Any], denied: set[str], earliest: str
) -> None:
    out = decide(book, att, person)
    assert rules(out) == denied
    assert out["allowed"] == (not denied)
    from datetime import datetime

    assert datetime.fromisoformat(out["earliest_allowed_at"]) == datetime.fromisoformat(earliest)


def test_cn_three_connected_calls_a_day_then_tomorrow() -> None:
    history = [
        call(f"2026-11-23T{h}:00:00+08:00", "connected", destination=f"1380000000{h[-1]}")
        for h in ("09", "10", "11")
    ]
    out = decide("cn", attempt("2026-11-23T15:00:00+08:00"), SH, history)
    assert rules(out) == {"cn.frequency.connected_calls_per_day"}
    assert out["earliest_allowed_at"] == "2026-11-24T08:00:00+08:00"
    ok = decide("cn", attempt("2026-11-23T15:00:00+08:00"), SH, history[:2])
    assert ok["allowed"]
    # yesterday's calls do not count
    ok = decide("cn", attempt("2026-11-24T09:00:00+08:00"), SH, history)
    assert ok["allowed"]


def test_cn_six_dials_per_number_a_day() -> None:
    history = [call(f"2026-11-23T{9 + k:02d}:00:00+08:00") for k in range(6)]
    out = decide("cn", attempt("2026-11-23T16:00:00+08:00"), SH, history)
    assert rules(out) == {"cn.frequency.dials_per_number_per_day"}
    other = decide(
        "cn", attempt("2026-11-23T16:00:00+08:00", destination="13900000000"), SH, history
    )
    assert other["allowed"]
    assert decide("cn", attempt("2026-11-23T16:00:00+08:00"), SH, history[:5])["allowed"]


def _week(n: int, result: str = "no_answer") -> list[dict[str, Any]]:
    return [call(f"2026-11-{10 + k:02d}T10:00:00-05:00", result) for k in range(n)]


def test_us_seven_in_seven_and_the_day_it_clears() -> None:
    history = _week(7)  # Nov 10..16
    out = decide("us-regf", attempt("2026-11-16T15:00:00-05:00"), NY, history)
    assert rules(out) == {"us-regf.frequency.seven_in_seven"}
    assert out["earliest_allowed_at"] == "2026-11-17T08:00:00-05:00"  # Nov 10 drops out
    assert decide("us-regf", attempt("2026-11-16T15:00:00-05:00"), NY, history[1:])["allowed"]


def test_us_calls_that_did_not_connect_are_not_counted_voicemail_is() -> None:
    busy = _week(6) + [call("2026-11-16T09:00:00-05:00", "busy")]
    assert decide("us-regf", attempt("2026-11-16T15:00:00-05:00"), NY, busy)["allowed"]
    voicemail = _week(6) + [call("2026-11-16T09:00:00-05:00", "voicemail")]
    assert not decide("us-regf", attempt("2026-11-16T15:00:00-05:00"), NY, voicemail)["allowed"]


def test_us_seven_in_seven_is_per_debt() -> None:
    history = _week(7)
    out = decide("us-regf", attempt("2026-11-16T15:00:00-05:00", debt_ids=["D2"]), NY, history)
    assert out["allowed"]


def test_us_consent_calls_are_excluded() -> None:
    consent = {
        "kind": "consent_to_call",
        "at": "2026-11-16T08:00:00-05:00",
        "until": "2026-11-16T20:00:00-05:00",
        "debt_ids": ["D1"],
    }
    out = decide("us-regf", attempt("2026-11-16T15:00:00-05:00"), NY, [*_week(7), consent])
    assert out["allowed"]


def test_us_no_call_within_seven_days_after_a_conversation() -> None:
    talk = call("2026-11-10T10:00:00-05:00", "conversation", direction="inbound")
    for day, allowed in (("16", False), ("17", True)):  # Nov 10 is day 1, Nov 16 day 7
        out = decide("us-regf", attempt(f"2026-11-{day}T10:00:00-05:00"), NY, [talk])
        assert out["allowed"] is allowed, day
    out = decide("us-regf", attempt("2026-11-12T10:00:00-05:00"), NY, [talk])
    assert rules(out) == {"us-regf.frequency.after_conversation"}
    assert out["earliest_allowed_at"] == "2026-11-17T08:00:00-05:00"


def test_a_conversation_about_several_debts_counts_for_each() -> None:
    talk = call("2026-11-10T10:00:00-05:00", "conversation", debt_ids=["D1", "D2"])
    out = decide("us-regf", attempt("2026-11-11T10:00:00-05:00", debt_ids=["D2"]), NY, [talk])
    assert rules(out) == {"us-regf.frequency.after_conversation"}


@pytest.mark.parametrize("book", ["cn", "us-regf"])
@pytest.mark.parametrize(
    ("kind", "rule"),
    [
        ("cease_request", "cease_request"),
        ("attorney_represented", "attorney_represented"),
        ("bankruptcy", "bankruptcy"),
        ("deceased", "deceased"),
    ],
)
def test_holds_stop_contact_for_good(book: str, kind: str, rule: str) -> None:
    history = [{"kind": kind, "at": "2026-11-01T10:00:00+00:00"}]
    out = decide(book, attempt("2026-11-23T10:00:00-05:00"), NY, history)
    assert rules(out) == {f"{book}.holds.{rule}"}
    assert out["earliest_allowed_at"] is None
    before = decide(book, attempt("2026-10-30T10:00:00-04:00"), NY, history)
    assert before["allowed"]


def test_us_cease_still_allows_the_closing_notices() -> None:
    history = [{"kind": "cease_request", "at": "2026-11-01T10:00:00+00:00"}]
    att = attempt("2026-11-23T10:00:00-05:00", channel="letter", purpose="collection_ended")
    assert decide("us-regf", att, NY, history)["allowed"]


def test_us_written_dispute_inside_the_validation_period_until_verification() -> None:
    notice = {
        "kind": "validation_notice_sent",
        "at": "2026-11-02T12:00:00-05:00",
        "debt_ids": ["D1"],
    }
    # received 5 business days after Mon 2 Nov (Veterans Day 11 Nov not in range): Mon 9 Nov;
    # the period ends 30 days later, 9 Dec
    dispute = {
        "kind": "dispute",
        "at": "2026-12-09T12:00:00-05:00",
        "written": True,
        "debt_ids": ["D1"],
    }
    att = attempt("2026-12-10T12:00:00-05:00")
    out = decide("us-regf", att, NY, [notice, dispute])
    assert rules(out) == {"us-regf.holds.dispute"} and out["earliest_allowed_at"] is None
    late = {**dispute, "at": "2026-12-10T09:00:00-05:00"}
    assert decide("us-regf", attempt("2026-12-10T12:00:00-05:00"), NY, [notice, late])["allowed"]
    oral = {**dispute, "written": False}
    assert decide("us-regf", att, NY, [notice, oral])["allowed"]
    verified = {"kind": "verification_sent", "at": "2026-12-09T18:00:00-05:00", "debt_ids": ["D1"]}
    assert decide("us-regf", att, NY, [notice, dispute, verified])["allowed"]


def test_opt_out_per_medium_and_destination() -> None:
    sms = {"kind": "opt_out", "at": "2026-11-01T00:00:00+00:00", "medium": "sms"}
    att = attempt("2026-11-23T10:00:00+08:00", channel="sms", content="x")
    assert rules(decide("cn", att, SH, [sms])) >= {"cn.consent.opt_out"}
    assert decide("cn", attempt("2026-11-23T10:00:00+08:00"), SH, [sms])["allowed"]
    one = {
        "kind": "opt_out",
        "at": "2026-11-01T00:00:00+00:00",
        "medium": "call",
        "destination": "13800000001",
    }
    assert not decide("cn", attempt("2026-11-23T10:00:00+08:00"), SH, [one])["allowed"]
    other = attempt("2026-11-23T10:00:00+08:00", destination="13900000000")
    assert decide("cn", other, SH, [one])["allowed"]
    robo = attempt("2026-11-23T10:00:00+08:00", channel="robocall")
    assert not decide("cn", robo, SH, [one])["allowed"]


def _failed_borrower_calls(n: int) -> list[dict[str, Any]]:
    return [call(f"2026-11-2{k}T10:00:00+08:00", "no_answer") for k in range(n)]


def test_cn_emergency_contact_only_when_borrower_unreachable() -> None:
    att = attempt(
        "2026-11-23T15:00:00+08:00",
        role="emergency_contact",
        person_id="E1",
        destination="13700000000",
        content="您好，请转告张三回电 95000",
    )
    out = decide("cn", att, SH, _failed_borrower_calls(2))
    assert rules(out) == {"cn.third_party.borrower_reachable"}
    assert decide("cn", att, SH, _failed_borrower_calls(3))["allowed"]
    invalid = [call("2026-11-22T10:00:00+08:00", "not_in_service")]
    assert decide("cn", att, SH, invalid)["allowed"]
    answered = [*_failed_borrower_calls(3)[:2], call("2026-11-22T10:00:00+08:00", "connected")]
    assert not decide("cn", att, SH, answered)["allowed"]


def test_cn_third_party_content_must_not_reveal_the_debt_and_refusal_is_final() -> None:
    history = _failed_borrower_calls(3)
    att = attempt(
        "2026-11-23T15:00:00+08:00",
        role="emergency_contact",
        person_id="E1",
        destination="13700000000",
        content="张三的贷款已经逾期，请他还款",
    )
    assert rules(decide("cn", att, SH, history)) == {"cn.third_party.reveals_debt"}
    refused = {"kind": "refused_contact", "at": "2026-11-22T10:00:00+08:00", "person_id": "E1"}
    polite = {**att, "content": "请转告张三回电"}
    out = decide("cn", polite, SH, [*history, refused])
    assert rules(out) == {"cn.third_party.refused"} and out["earliest_allowed_at"] is None


def test_content_lexicon_and_time_barred_suit() -> None:
    att = attempt(
        "2026-11-23T10:00:00+08:00", channel="sms", content="【示例金融】工号A1：再不还錢就弄 死 你"
    )
    assert "cn.content.threat" in rules(decide("cn", att, SH))
    threat = attempt(
        "2026-11-23T10:00:00-05:00",
        channel="email",
        content="Pay now or we will sue you. Reply STOP to opt out.",
    )
    debts = [{"id": "D1", "time_barred": True}]
    out = decide("us-regf", threat, NY, debts=debts)
    assert rules(out) == {"us-regf.content.time_barred_suit"}
    assert decide("us-regf", threat, NY, debts=[{"id": "D1"}])["allowed"]


def test_disclosure_rules() -> None:
    no_opt_out = attempt("2026-11-23T10:00:00-05:00", channel="sms", content="Payment due today")
    assert rules(decide("us-regf", no_opt_out, NY)) == {"us-regf.disclosure.opt_out_notice"}
    anonymous = attempt("2026-11-23T10:00:00+08:00", channel="sms", content="请尽快还款")
    assert rules(decide("cn", anonymous, SH)) == {"cn.disclosure.identify_self"}
    visit = attempt("2026-11-23T10:00:00+08:00", channel="visit", collectors=1)
    assert rules(decide("cn", visit, SH)) == {"cn.disclosure.visit_collectors"}
    assert decide("cn", {**visit, "collectors": 2}, SH)["allowed"]
    letter = attempt(
        "2026-11-23T10:00:00+08:00",
        channel="letter",
        content="示例金融有限公司 工号A1 通知：请还款",
    )
    assert rules(decide("cn", letter, SH)) == {"cn.disclosure.letter_fields"}


def test_reasons_come_in_both_languages() -> None:
    out = decide("cn", attempt("2026-11-23T23:00:00+08:00"), SH)
    v = out["violations"][0]
    assert "contact window" in v["reason_en"] and "联系时段" in v["reason_zh"]


@pytest.mark.parametrize("book", ["cn", "us-regf"])
@pytest.mark.parametrize("hold", ["complaint", "legal"])
def test_complaint_and_legal_holds_last_until_released_or_expired(book: str, hold: str) -> None:
    start = {
        "kind": "hold",
        "hold": hold,
        "at": "2026-11-20T00:00:00+00:00",
        "until": "2026-11-30T00:00:00+00:00",
        "debt_ids": ["D1"],
    }
    att = attempt("2026-11-23T15:00:00+00:00")
    person = {"timezones": ["Europe/London"]}
    out = decide(book, att, person, [start])
    assert rules(out) == {f"{book}.holds.{hold}"} and out["earliest_allowed_at"] is None
    expired = attempt("2026-11-30T10:00:00+00:00")
    assert decide(book, expired, person, [start])["allowed"]
    released = {"kind": "hold_released", "hold": hold, "at": "2026-11-22T00:00:00+00:00"}
    assert decide(book, att, person, [start, released])["allowed"]
    other_debt = attempt("2026-11-23T15:00:00+00:00", debt_ids=["D9"])
    assert decide(book, other_debt, person, [start])["allowed"]


def test_cn_any_dispute_holds_until_verification() -> None:
    dispute = {
        "kind": "dispute",
        "at": "2026-11-20T10:00:00+08:00",
        "written": False,
        "debt_ids": ["D1"],
    }
    out = decide("cn", attempt("2026-11-23T10:00:00+08:00"), SH, [dispute])
    assert rules(out) == {"cn.holds.dispute"}
    sent = {"kind": "verification_sent", "at": "2026-11-22T10:00:00+08:00", "debt_ids": ["D1"]}
    assert decide("cn", attempt("2026-11-23T10:00:00+08:00"), SH, [dispute, sent])["allowed"]


def test_us_third_party_needs_no_unreachability_but_no_debt_words() -> None:
    att = attempt(
        "2026-11-23T12:00:00-05:00",
        role="third_party",
        person_id="N1",
        destination="2125550100",
        content="Please ask John to call Anna at 555-0100",
    )
    assert decide("us-regf", att, NY)["allowed"]
    told = {**att, "content": "John owes us money on an overdue account"}
    assert rules(decide("us-regf", told, NY)) == {"us-regf.third_party.reveals_debt"}


def test_cn_third_party_is_still_bound_by_hours() -> None:
    att = attempt(
        "2026-11-23T22:30:00+08:00",
        role="emergency_contact",
        person_id="E1",
        destination="13700000000",
    )
    out = decide("cn", att, SH, _failed_borrower_calls(3))
    assert rules(out) == {"cn.hours.window"}
    assert out["earliest_allowed_at"] == "2026-11-24T08:00:00+08:00"


def test_hours_and_frequency_together_give_the_later_instant() -> None:
    history = [
        call(f"2026-11-23T{h}:00:00+08:00", "connected", destination=f"1380000000{h[-1]}")
        for h in ("09", "10", "11")
    ]
    out = decide("cn", attempt("2026-11-23T23:00:00+08:00"), SH, history)
    assert rules(out) == {"cn.hours.window", "cn.frequency.connected_calls_per_day"}
    assert out["earliest_allowed_at"] == "2026-11-24T08:00:00+08:00"


def test_us_conversation_then_weekend_hours() -> None:
    talk = call("2026-11-20T10:00:00-05:00", "conversation")
    out = decide("us-regf", attempt("2026-11-21T22:00:00-05:00"), NY, [talk])
    assert rules(out) == {"us-regf.hours.window", "us-regf.frequency.after_conversation"}
    assert out["earliest_allowed_at"] == "2026-11-27T08:00:00-05:00"
