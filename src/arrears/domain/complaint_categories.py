"""What a borrower can complain about: each category's code, with its label (zh-CN, en)."""

from __future__ import annotations

CATEGORIES = {
    "threats": ("威胁恐吓", "Threats"),
    "insults": ("侮辱谩骂", "Insults"),
    "contacting_relatives": ("骚扰亲友或同事", "Contacting relatives or colleagues"),
    "too_many_calls": ("频繁来电", "Too many calls"),
    "calls_at_night": ("夜间催收", "Calls at night"),
    "impersonation": ("冒充公检法或他人", "Impersonation"),
    "wrong_amount": ("金额有误", "Wrong amount"),
    "privacy_leak": ("泄露个人信息", "Privacy leak"),
}
