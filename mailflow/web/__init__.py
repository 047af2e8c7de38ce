"""The archivists' web pages (``mailflow web``): Starlette + Jinja2, served on 127.0.0.1."""
