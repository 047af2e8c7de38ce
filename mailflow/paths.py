"""Where the bundled data (templates, form definitions, demo mails) lives in a checkout."""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent
DEFAULT_TEMPLATES_DIR = PROJECT_DIR / "templates"
DEFAULT_FORMS_DIR = PROJECT_DIR / "forms"
DEMO_DIR = PROJECT_DIR / "demo"
