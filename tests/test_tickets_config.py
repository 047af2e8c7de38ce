"""The [[customers]] contracts (mailflow/tickets/settings.py, contracts.py): documented in
config.example.toml with their defaults, checked at start, and who counts as a customer
(R-PM-1) or as 客服 (R-PM-2)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from mailflow.config import Settings, load_settings
from mailflow.errors import ConfigError
from mailflow.tickets.contracts import Contracts
from mailflow.tickets.settings import Customer, Sla
from tests.approvals_desk import HE, LIN, SUN, ZHENG, directory

REPO = Path(__file__).resolve().parents[1]


def test_example_documents_every_customer_key() -> None:
    example = REPO / "config.example.toml"
    settings = load_settings(example, environ={})
    text = example.read_text(encoding="utf-8")
    for model in (Customer, Sla):
        for key in model.model_fields:
            assert f"\n{key} =" in text or f"\n# {key} =" in text or \
                f"[customers.{key}" in text, f"customers: {key} undocumented"
    (customer,) = settings.customers
    assert customer.sla.urgent.resolution_hours < customer.sla.normal.resolution_hours
    assert Contracts(settings).customer_service() == "he.ping@example.com"


def settings(**customer: object) -> Settings:
    raw = directory()
    raw["roles"] = {**raw["roles"], "customer_service": HE}
    raw["customers"] = [{"key": "east", "name": "华东电力", "domains": ["customer.test"],
                         "contacts": ["li@163.test"], **customer}]
    raw["delegations"] = [{"who": HE, "to": SUN, "from_date": "2026-12-01",
                           "to_date": "2026-12-03"}]
    return Settings.model_validate(raw)


def test_who_is_a_customer_r_pm_1() -> None:
    contracts = Contracts(settings(engineers=["林芳"], project_manager=ZHENG))
    assert contracts.of_sender("chen@customer.test") is not None
    assert contracts.of_sender("chen@branch.customer.test") is not None
    assert contracts.of_sender("LI@163.test") is not None
    assert contracts.of_sender("other@163.test") is None
    assert contracts.of_sender("x@notcustomer.test") is None
    assert contracts.of_sender(LIN) is None            # staff never open customer tickets
    assert contracts.engineers(contracts.get("east")) == [LIN]


def test_only_customer_service_or_their_delegate_triages_r_pm_2() -> None:
    contracts = Contracts(settings())
    assert contracts.is_customer_service(HE, date(2026, 12, 10))
    assert contracts.is_customer_service(SUN, date(2026, 12, 2))      # delegate that day
    assert not contracts.is_customer_service(SUN, date(2026, 12, 10))
    assert not contracts.is_customer_service(LIN, date(2026, 12, 2))


def test_an_unknown_engineer_is_refused_at_start() -> None:
    with pytest.raises(ConfigError, match="nobody"):
        Contracts(settings(engineers=["nobody"]))


def test_service_levels_in_other_units() -> None:
    sla = Sla.model_validate({"response_minutes": 30, "resolution_days": 3,
                              "progress_hours": 2})
    assert (sla.response_hours, sla.resolution_hours, sla.progress_hours) == (0.5, 72.0, 2.0)
    with pytest.raises(ValueError, match="both"):
        Sla.model_validate({"response_minutes": 30, "response_hours": 1})
