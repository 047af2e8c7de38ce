"""mailflow: an IT department's request forms, approvals and archive, run by e-mail."""

__version__ = "0.1.0"


def installed_version() -> str:
    """The installed distribution's version (the package's own when run from a checkout)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mailflow")
    except PackageNotFoundError:
        return __version__
