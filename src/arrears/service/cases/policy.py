"""The collections policy of each portfolio: what a promise to pay may be (how far out, how
small, in how many parts, the grace before it is judged), from a YAML file
(``ARREARS_COLLECTIONS_POLICY_FILE``) with a ``default`` and per-portfolio overrides:

```yaml
default:
  promise: {max_days_out: 14, min_share: "0.1", max_parts: 3, grace_days: 1}
  complaint: {sla_days: 15, escalate_after_days: 10, hold_on: [threats, impersonation]}
  extension: {min_dpd: 1, max_days: 90, max_times: 1, fee_share: "0.01", rate: null}
  plan: {min_parts: 2, max_parts: 24, first_within_days: 30, breach_after: 2, grace_days: 3}
  settlement: {min_dpd: 31, max_days: 30, max_discount: "0.5"}
  approval: {alone: {collector: {extension_days: 30, plan_parts: 6}}}
  portal: {hardship_days: 30, min_payment: 100}
  conduct: {out_of_policy_contact: refuse}   # or record_as_breach
portfolios:
  P-CASH: {promise: {max_days_out: 7}}
```

``min_share`` is the least share of the amount due a promise must cover (the whole amount due
when that is less than ``min_amount``). Shares are decimal strings, never floats.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from arrears.parsing import ParseLimit, load_yaml
from arrears.service.errors import Invalid


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PromiseRules(_Strict):
    max_days_out: int = Field(14, ge=0, le=365)
    min_share: Decimal = Field(Decimal("0.1"), ge=0, le=1)
    min_amount: int = Field(10_000, ge=0)  # minor units
    max_parts: int = Field(3, ge=1, le=24)
    grace_days: int = Field(1, ge=0, le=30)


class ComplaintRules(_Strict):
    sla_days: int = Field(15, ge=1, le=90)  # a finding is due this many days after receipt
    escalate_after_days: int = Field(10, ge=0, le=90)  # unresolved by then: escalated
    # categories that put the debt on hold until the complaint is resolved
    hold_on: list[str] = Field(
        default_factory=lambda: [
            "threats",
            "insults",
            "impersonation",
            "privacy_leak",
            "wrong_amount",
            "contacting_relatives",
        ]
    )


class ExtensionRules(_Strict):
    """展期: what the portfolio allows at all."""

    min_dpd: int = Field(1, ge=0)  # the loan must be at least this late
    max_days: int = Field(90, ge=1, le=366)  # the new due date at most this far out
    max_times: int = Field(1, ge=0, le=12)  # extensions per loan, ever
    fee_share: Decimal = Field(Decimal("0.01"), ge=0, le=1)  # of the unpaid amount moved
    #: annual interest for the extension (null: the loan's own rate)
    rate: Decimal | None = Field(None, ge=0, le=1)


class PlanRules(_Strict):
    """分期还款计划: parts are monthly from the first date."""

    min_dpd: int = Field(1, ge=0)
    min_parts: int = Field(2, ge=1)
    max_parts: int = Field(24, ge=1, le=60)
    first_within_days: int = Field(30, ge=1, le=90)  # the first part at most this far out
    fee_share: Decimal = Field(Decimal(0), ge=0, le=1)  # of the amount restructured
    breach_after: int = Field(2, ge=1, le=12)  # missed parts that breach the plan
    grace_days: int = Field(3, ge=0, le=30)  # after a part's date before it is missed
    whole_balance: bool = True  # whether a plan may take the balance not yet due too


class SettlementRules(_Strict):
    """A discounted payoff."""

    min_dpd: int = Field(31, ge=0)
    max_days: int = Field(30, ge=0, le=180)  # pay by at most this far out
    max_discount: Decimal = Field(Decimal("0.5"), ge=0, le=1)  # of the payoff, forgiven


class AloneLimits(_Strict):
    """What a role may agree without a second person (besides waivers)."""

    extension_days: int = Field(0, ge=0)  # an extension of up to this many days
    plan_parts: int = Field(0, ge=0)  # a plan of up to this many parts
    settlement_discount: Decimal = Field(Decimal(0), ge=0, le=1)  # share of the payoff


def _alone(**limits: object) -> AloneLimits:
    return AloneLimits.model_validate(limits)


class WaiverLimits(_Strict):
    """The most a role may waive alone, as a share of what is unpaid of each component."""

    penalty: Decimal = Field(Decimal(0), ge=0, le=1)
    fee: Decimal = Field(Decimal(0), ge=0, le=1)
    interest: Decimal = Field(Decimal(0), ge=0, le=1)


def _limits(**shares: str) -> WaiverLimits:
    return WaiverLimits.model_validate(shares)


class ApprovalRules(_Strict):
    #: what each role may waive without a second person
    waiver: dict[str, WaiverLimits] = Field(
        default_factory=lambda: {
            "collector": _limits(penalty="0.30"),
            "api": _limits(penalty="0.30"),
            "supervisor": _limits(penalty="1", fee="1", interest="0.20"),
            "admin": _limits(penalty="1", fee="1", interest="1"),
        }
    )
    #: what each role may agree alone: extensions, plans and settlements
    alone: dict[str, AloneLimits] = Field(
        default_factory=lambda: {
            "collector": _alone(extension_days=30, plan_parts=6),
            "api": _alone(extension_days=30, plan_parts=6),  # integrations, the portal
            "supervisor": _alone(extension_days=90, plan_parts=12, settlement_discount="0.3"),
            "admin": _alone(extension_days=366, plan_parts=60, settlement_discount="1"),
        }
    )
    #: the roles that may approve what is above the proposer's limits (never the proposer)
    approvers: list[str] = Field(default_factory=lambda: ["supervisor", "admin"])


class PortalRules(_Strict):
    """What a borrower may do alone in the portal (arrangements use the ``api`` role's
    limits of ``approval.alone``)."""

    #: a hardship request holds collection (and, where the rulebook says, the penalty) this
    #: long while a person looks at it
    hardship_days: int = Field(30, ge=1, le=180)
    #: the smallest payment taken in the portal
    min_payment: int = Field(100, ge=1)  # minor units


class ConductRules(_Strict):
    """What a person's contact made outside what the rules allow becomes when its outcome is
    recorded: ``refuse`` (nothing is written; the collector is told why and when it becomes
    allowed) or ``record_as_breach`` (written as a fact, marked a breach, with a conduct alert
    for compliance: never silently accepted)."""

    out_of_policy_contact: Literal["refuse", "record_as_breach"] = "refuse"


class Policy(_Strict):
    conduct: ConductRules = Field(default_factory=lambda: ConductRules.model_validate({}))
    portal: PortalRules = Field(default_factory=lambda: PortalRules.model_validate({}))
    promise: PromiseRules = Field(default_factory=lambda: PromiseRules.model_validate({}))
    complaint: ComplaintRules = Field(default_factory=lambda: ComplaintRules.model_validate({}))
    approval: ApprovalRules = Field(default_factory=lambda: ApprovalRules.model_validate({}))
    extension: ExtensionRules = Field(default_factory=lambda: ExtensionRules.model_validate({}))
    plan: PlanRules = Field(default_factory=lambda: PlanRules.model_validate({}))
    settlement: SettlementRules = Field(default_factory=lambda: SettlementRules.model_validate({}))


class StrategyRules(_Strict):
    """Activating a strategy version: with ``second_person``, the strategy manager who asks
    for it cannot also approve it; another one must (four eyes)."""

    second_person: bool = False


class PolicyFile(_Strict):
    default: Policy = Field(default_factory=lambda: Policy.model_validate({}))
    strategy: StrategyRules = Field(default_factory=lambda: StrategyRules.model_validate({}))
    portfolios: dict[str, dict[str, Any]] = Field(default_factory=dict)

    def for_portfolio(self, portfolio_id: str) -> Policy:
        override = self.portfolios.get(portfolio_id)
        if not override:
            return self.default
        merged = self.default.model_dump()
        for section, values in override.items():
            merged.setdefault(section, {}).update(values or {})
        try:
            return Policy.model_validate(merged)
        except ValidationError as exc:
            raise Invalid(_where(exc, f"portfolios.{portfolio_id}")) from exc


def _where(exc: ValidationError, prefix: str = "") -> str:
    e = exc.errors()[0]
    path = ".".join(str(p) for p in e["loc"])
    return f"{prefix + '.' if prefix else ''}{path}: {e['msg']}"


def load_policy(path: Path | None) -> PolicyFile:
    if path is None:
        return PolicyFile()
    return _load(path, path.stat().st_mtime_ns if path.exists() else 0)


@lru_cache(maxsize=8)
def _load(path: Path, _mtime: int) -> PolicyFile:
    try:
        data = load_yaml(path.read_text(encoding="utf-8"), str(path)) or {}
        return PolicyFile.model_validate(data)
    except (OSError, yaml.YAMLError, ParseLimit) as exc:
        raise Invalid(f"{path}: {exc}") from exc
    except ValidationError as exc:
        raise Invalid(f"{path}: {_where(exc)}") from exc
