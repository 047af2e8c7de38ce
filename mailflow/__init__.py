"""mailflow: an IT department's request forms, approvals and archive, run by e-mail."""

__version__ = "0.1.0"
