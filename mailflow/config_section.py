"""The base of every configuration section (``[smtp]``, ``[plans]``…).

Why a module of its own: ``config.py`` imports the feature packages' settings
(``mailflow/reports/settings.py``) to name them as fields of ``Settings``, so those cannot
import ``config.py`` back. Both import this instead, and ``config.env_sections`` — which
decides which sections take ``MAILFLOW_<SECTION>_<KEY>`` overrides — recognises every
section by this one class, wherever it is defined.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A TOML table: unknown keys are refused (a typo is named, not ignored), values frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)
