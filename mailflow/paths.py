"""Where the bundled data (templates, form definitions, blank forms, demo mails) lives.

One resolver for every caller, so an installed wheel and a checkout behave alike: inside the
installed package first (``mailflow/templates``, ``mailflow/forms``, ``mailflow/demo_mails``),
then the repository root of a checkout (``templates/``, ``forms/``, ``demo/``). A config's
own directories override these defaults (config.py).
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent

#: bundled resource -> (its place inside the package, its place in a checkout)
_BUNDLED: dict[str, tuple[str, str]] = {
    "templates": ("templates", "templates"),
    "forms": ("forms", "forms"),
    "demo": ("demo_mails", "demo"),
}


def bundled_dir(name: str) -> Path:
    """The directory of bundled resource *name* ("templates", "forms", "demo")."""
    inside, checkout = _BUNDLED[name]
    for candidate in (PACKAGE_DIR / inside, PROJECT_DIR / checkout):
        if candidate.is_dir():
            return candidate
    return PACKAGE_DIR / inside  # neither exists: name the installed place in errors


DEFAULT_TEMPLATES_DIR = bundled_dir("templates")
DEFAULT_FORMS_DIR = bundled_dir("forms")
DEMO_DIR = bundled_dir("demo")
