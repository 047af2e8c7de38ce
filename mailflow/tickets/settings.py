"""The customers of maintenance contracts (``[[customers]]``) and their service levels.

Why per contract: the seed (R-PM-2…4) names two levels and no times, so every time is the
contract's; the defaults below are what an IT service desk commonly promises and are meant
to be overridden per customer:

* urgent: first response 0.5 h, resolution 4 h, a progress mail to the customer every 1 h;
* normal: first response 4 h, resolution 72 h, a progress mail every 24 h.

Times are clock hours (a customer's system is down at night too). 回访 (R-PM-14) goes
``follow_up_days`` after a ticket is closed.
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Sla(_Section):
    """One severity's times, in clock hours."""

    response_hours: float = Field(default=4.0, gt=0)
    resolution_hours: float = Field(default=72.0, gt=0)
    progress_hours: float = Field(default=24.0, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _other_units(cls, data: Any) -> Any:
        """``response_minutes = 30`` or ``resolution_days = 3`` mean the same hours."""
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for name in ("response", "resolution", "progress"):
            for unit, hours in (("minutes", 1 / 60), ("days", 24.0)):
                value = out.pop(f"{name}_{unit}", None)
                if value is not None:
                    if f"{name}_hours" in out:
                        raise ValueError(f"{name}_hours and {name}_{unit} both given")
                    out[f"{name}_hours"] = float(value) * hours
        return out


URGENT_DEFAULT = Sla(response_hours=0.5, resolution_hours=4.0, progress_hours=1.0)
NORMAL_DEFAULT = Sla()


class SlaSet(_Section):
    urgent: Sla = URGENT_DEFAULT
    normal: Sla = NORMAL_DEFAULT

    def of(self, severity: str) -> Sla:
        return self.urgent if severity == "urgent" else self.normal


class Customer(_Section):
    """A maintenance contract: who the customer is, who serves it, and its times."""

    key: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    name: str = Field(min_length=1)  # 客户名称
    #: mail domains of the customer: any address there may open a ticket
    domains: tuple[str, ...] = ()
    #: single addresses (a contact using a public mailbox such as 163.com)
    contacts: tuple[str, ...] = Field(default=(), validation_alias=AliasChoices(
        "contacts", "contact_addresses", "addresses"))
    #: the contract's project manager and engineers: directory addresses, names or employee
    #: ids
    project_manager: str = Field(default="", validation_alias=AliasChoices(
        "project_manager", "pm"))
    engineers: tuple[str, ...] = ()
    sla: SlaSet = SlaSet()
    #: 回访 this many days after a ticket is closed (R-PM-14); 0: no 回访
    follow_up_days: int = Field(default=7, ge=0)
