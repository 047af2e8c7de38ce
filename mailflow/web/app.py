"""The archivists' pages: sign in, search, a record's timeline, its mails shown safely, its
files, its export; the retention list. Starlette + Jinja2 (templates/records/).

Safety, in one place:
* every page but the sign-in form needs a signed-in session; a session ends after
  ``session_minutes`` without a request (the cookie is signed, SameSite=Strict, HttpOnly);
* every form carries the session's CSRF token and a request without it is refused (403);
* records at a guarded classification level (R-DX-3) are left out of results and refused by
  URL for users without an allowed role;
* mails are shown from the archived original, HTML through nh3 (mail/htmlbody.py) with
  remote content removed, under a Content-Security-Policy that loads nothing but our own
  style sheet; files are always downloads (never rendered by the browser);
* every view, download and export is an audit event naming the record (access.py).
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from email.utils import quote as header_quote
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from mailflow.clock import Clock
from mailflow.config import Settings
from mailflow.errors import MailflowError
from mailflow.mail.htmlbody import sanitise
from mailflow.mail.parse import parse_mail
from mailflow.records.access import note
from mailflow.records.context import ArchiveContext
from mailflow.records.export import Exporter, safe_name
from mailflow.records.retention import (
    RetentionError,
    delete_record,
    expired,
    remove_files,
)
from mailflow.records.search import Query, search
from mailflow.records.timeline import Record, load_record
from mailflow.records.words import html_environment, page_context
from mailflow.store.db import transaction

from .auth import Authenticator, SignedIn, new_token, same_token

CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
Handler = Callable[[Request], Awaitable[Response]]


#: a page of one record as written, and as Starlette calls it
RecordPage = Callable[["Pages", Request, SignedIn, Record], Awaitable[Response]]
PageMethod = Callable[["Pages", Request], Awaitable[Response]]


def _of_record(*, form: bool = False) -> Callable[[RecordPage], PageMethod]:
    """A page of one record: called with the signed-in user and the record only once
    ``Pages._open`` let them through (CSRF checked first for a *form* POST)."""
    def wrap(page: RecordPage) -> PageMethod:
        @functools.wraps(page)
        async def handler(self: Pages, request: Request) -> Response:
            opened = await self._open(request, form=form)
            if isinstance(opened, Response):
                return opened
            return await page(self, request, *opened)
        return handler
    return wrap


class Pages:
    def __init__(self, settings: Settings, ctx: ArchiveContext) -> None:
        self.settings = settings
        self.ctx = ctx
        self.auth = Authenticator(settings.web)
        self.env = html_environment(settings.service.templates_dir, ctx.zone, ctx.labels)
        self.css = (settings.service.templates_dir / "records" / "style.css").read_text("utf-8")

    # -- plumbing ----------------------------------------------------------------------
    def now(self) -> datetime:
        return self.ctx.clock.now()

    def token(self, request: Request) -> str:
        token = request.session.get("csrf")
        if not token:
            token = request.session["csrf"] = new_token()
        return str(token)

    def page(self, request: Request, name: str, status: int = 200, **values: Any) -> Response:
        values.setdefault("message", "")
        html = self.env.get_template(name).render(page_context(
            self.ctx.words, self.settings.service.language, csrf=self.token(request),
            user=self.user(request), **values))
        return HTMLResponse(html, status_code=status)

    def user(self, request: Request) -> SignedIn | None:
        """The signed-in user of a live session; an idle session ends here."""
        name = request.session.get("user")
        seen = request.session.get("seen")
        if not name or not seen:
            return None
        limit = timedelta(minutes=self.settings.web.session_minutes)
        configured = self.auth.user(str(name))
        if self.now() - datetime.fromisoformat(str(seen)) > limit or configured is None:
            request.session.clear()
            return None
        request.session["seen"] = self.now().isoformat()
        # roles as configured now: taking a role away takes effect at the next request
        return SignedIn(configured.name, tuple(configured.roles))

    def error(self, request: Request, status: int, word: str) -> Response:
        return self.page(request, "error.html", status=status, message=word)

    def checked_form(self, request: Request, form: Any) -> bool:
        return same_token(form.get("csrf"), request.session.get("csrf"))

    def actor(self, user: SignedIn) -> str:
        return f"web:{user.name}"

    # -- sign in / out -----------------------------------------------------------------
    async def login(self, request: Request) -> Response:
        if request.method == "GET":
            return self.page(request, "login.html")
        form = await request.form()
        if not self.checked_form(request, form):
            return self.error(request, 403, self.ctx.words.forbidden)
        name = str(form.get("username", ""))[:200]
        now = self.now()
        if self.auth.locked(name, now):
            note(self.ctx, "web_sign_in_refused", actor=f"web:{name}", request_ids=[],
                 reason="locked")
            return self.page(request, "login.html", status=429, message=self.ctx.words.locked)
        user = self.auth.sign_in(name, str(form.get("password", "")), now)
        if user is None:
            note(self.ctx, "web_sign_in_failed", actor=f"web:{name}", request_ids=[])
            locked = self.auth.locked(name, now)
            return self.page(request, "login.html", status=429 if locked else 401,
                             message=self.ctx.words.locked if locked else self.ctx.words.bad_login)
        request.session.clear()  # a fresh session (and token) on sign-in: no fixation
        request.session.update({"user": user.name, "roles": list(user.roles),
                                "seen": now.isoformat(), "csrf": new_token()})
        note(self.ctx, "web_signed_in", actor=self.actor(user), request_ids=[])
        return RedirectResponse("/", status_code=303)

    async def logout(self, request: Request) -> Response:
        form = await request.form()
        if not self.checked_form(request, form):
            return self.error(request, 403, self.ctx.words.forbidden)
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    # -- search ------------------------------------------------------------------------
    async def home(self, request: Request) -> Response:
        user = self.user(request)
        if user is None:
            return RedirectResponse("/login", status_code=303)
        params = request.query_params
        asked = any(params.get(k) for k in ("text", "reference", "kind", "status", "requester",
                                            "department", "system", "from", "to"))
        hits = None
        if asked:
            if not same_token(params.get("csrf"), request.session.get("csrf")):
                return self.error(request, 403, self.ctx.words.forbidden)
            query = Query(
                text=params.get("text", "")[:200], reference=params.get("reference", ""),
                kind=params.get("kind", ""), status=params.get("status", ""),
                requester=params.get("requester", ""),
                department=params.get("department", ""), system=params.get("system", ""),
                first=_day(params.get("from")), last=_day(params.get("to")),
                hidden=self.auth.hidden_levels(user.roles))
            self.ctx.seal()
            with self.ctx.factory() as session:
                hits = search(session, query, self.ctx.zone)
        return self.page(request, "search.html", hits=hits, params=params,
                         kinds=self.ctx.labels.kinds)

    # -- one record --------------------------------------------------------------------
    def _record(self, request: Request, user: SignedIn) -> Record | Response:
        reference = request.path_params["reference"]
        self.ctx.seal()
        with self.ctx.factory() as session:
            record = load_record(session, reference)
        if record is None:
            return self.error(request, 404, self.ctx.words.not_found)
        if not self.auth.may_see(user.roles, record.classification):
            note(self.ctx, "record_view_refused", actor=self.actor(user),
                 request_ids=[record.request_id], path=request.url.path)
            return self.error(request, 403, self.ctx.words.forbidden)
        return record

    async def _open(self, request: Request, *, form: bool = False
                    ) -> tuple[SignedIn, Record] | Response:
        """The signed-in user and the record the URL names, or the response that refuses:
        the sign-in page, a missing CSRF token (*form*: a POST), 404 or 403. Every page of
        one record starts here, so none can forget a check."""
        user = self.user(request)
        if user is None:
            return RedirectResponse("/login", status_code=303)
        if form and not self.checked_form(request, await request.form()):
            return self.error(request, 403, self.ctx.words.forbidden)
        record = self._record(request, user)
        if isinstance(record, Response):
            return record
        return user, record

    def _hand_over(self, user: SignedIn, record: Record, action: str, data: bytes,
                   filename: str, media_type: str, /, **audited: Any) -> Response:
        """A download of the record (a file, or its export): audited, then always an
        attachment, never rendered by the browser."""
        note(self.ctx, action, actor=self.actor(user), request_ids=[record.request_id],
             **audited)
        return _attachment(data, filename, media_type)

    @_of_record()
    async def record(self, request: Request, user: SignedIn, record: Record) -> Response:
        note(self.ctx, "record_viewed", actor=self.actor(user), request_ids=[record.request_id])
        return self.page(request, "record.html", r=record)

    @_of_record()
    async def mail(self, request: Request, user: SignedIn, record: Record) -> Response:
        direction = request.path_params["direction"]
        mail = record.mail(direction, int(request.path_params["mail_id"]))
        if mail is None or direction not in ("in", "out"):
            return self.error(request, 404, self.ctx.words.not_found)
        try:
            raw = self._raw(direction, mail.id, mail.sha256)
        except MailflowError:  # removed by a confirmed retention deletion
            return self.error(request, 404, self.ctx.words.deleted)
        parsed = parse_mail(raw)
        body = sanitise(parsed.html).html if parsed.html else None
        note(self.ctx, "record_viewed", actor=self.actor(user), request_ids=[record.request_id],
             mail=f"{direction}-{mail.id}")
        return self.page(request, "mail.html", r=record, m=mail, parsed=parsed, body=body)

    def _raw(self, direction: str, mail_id: int, digest: str) -> bytes:
        if digest:
            return self.ctx.archive.get(digest)
        from mailflow.store.models import OutboxMessage

        with self.ctx.factory() as session:
            row = session.get(OutboxMessage, mail_id)
            return bytes(row.raw) if row is not None else b""

    @_of_record()
    async def download(self, request: Request, user: SignedIn, record: Record) -> Response:
        digest = request.path_params["sha256"]
        found = record.file(digest)
        mail = next((m for m in (*record.mails_in, *record.mails_out)
                     if m.sha256 == digest and m.sha256), None)
        if found is not None:
            name = found.filename
        elif mail is not None:
            name = f"{record.reference}-{mail.direction}-{mail.id}.eml"
        else:
            return self.error(request, 404, self.ctx.words.not_found)
        try:
            data = self.ctx.archive.get(digest)
        except MailflowError:  # removed by a confirmed retention deletion
            return self.error(request, 404, self.ctx.words.deleted)
        return self._hand_over(user, record, "file_downloaded", data, name,
                               "application/octet-stream", sha256=digest, filename=name)

    @_of_record(form=True)
    async def export(self, request: Request, user: SignedIn, record: Record) -> Response:
        import tempfile

        s = self.settings
        with tempfile.TemporaryDirectory() as tmp, self.ctx.factory() as session:
            target = Path(tmp) / f"{record.reference}.zip"
            Exporter(self.ctx.archive, self.ctx.words, s.service.templates_dir, self.ctx.zone,
                     s.service.language, self.now(), self.ctx.labels
                     ).write(session, [record], target)
            data = target.read_bytes()
        return self._hand_over(user, record, "record_exported", data,
                               f"{record.reference}.zip", "application/zip",
                               references=[record.reference])

    # -- retention ---------------------------------------------------------------------
    async def retention(self, request: Request) -> Response:
        user = self.user(request)
        if user is None:
            return RedirectResponse("/login", status_code=303)
        if not {"archivist", "admin"} & set(user.roles):
            return self.error(request, 403, self.ctx.words.forbidden)
        periods = self.settings.records.retention_days
        if request.method == "POST":
            form = await request.form()
            if not self.checked_form(request, form):
                return self.error(request, 403, self.ctx.words.forbidden)
            self.ctx.seal()
            try:
                with transaction(self.ctx.factory) as session:
                    removed = delete_record(session, self.ctx.archive,
                                            str(form.get("reference")), actor=self.actor(user),
                                            periods=periods, now=self.now())
            except RetentionError as exc:  # not expired, unknown, already deleted
                return self.error(request, 409, str(exc))
            remove_files(self.ctx.archive, removed)
            self.ctx.seal()
            return RedirectResponse("/retention", status_code=303)
        with self.ctx.factory() as session:
            rows = expired(session, periods, self.now())
        return self.page(request, "retention.html", rows=rows)

    async def style(self, request: Request) -> Response:
        return Response(self.css, media_type="text/css")


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _attachment(data: bytes, filename: str, media_type: str) -> Response:
    safe = safe_name(filename, "download")
    ascii_name = safe.encode("ascii", "replace").decode().replace("?", "_")
    disposition = (f'attachment; filename="{header_quote(ascii_name)}"; '
                   f"filename*=UTF-8''{quote(safe)}")
    return Response(data, media_type=media_type, headers={"Content-Disposition": disposition})


class _Headers:
    """Security headers on every response (pure ASGI: no body buffering)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(b"content-security-policy", CSP.encode()),
                            (b"x-content-type-options", b"nosniff"),
                            (b"x-frame-options", b"DENY"),
                            (b"referrer-policy", b"no-referrer"),
                            (b"cache-control", b"no-store")]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, sending)


def create_app(settings: Settings, clock: Clock, ctx: ArchiveContext | None = None
               ) -> Starlette:
    ctx = ctx or ArchiveContext.open(settings, clock)
    pages = Pages(settings, ctx)
    web = settings.web
    routes = [
        Route("/login", pages.login, methods=["GET", "POST"]),
        Route("/logout", pages.logout, methods=["POST"]),
        Route("/", pages.home),
        Route("/style.css", pages.style),
        Route("/retention", pages.retention, methods=["GET", "POST"]),
        Route("/records/{reference}", pages.record),
        Route("/records/{reference}/mails/{direction}/{mail_id:int}", pages.mail),
        Route("/records/{reference}/files/{sha256}", pages.download),
        Route("/records/{reference}/export", pages.export, methods=["POST"]),
    ]
    middleware = [
        Middleware(_Headers),
        Middleware(SessionMiddleware, secret_key=web.secret_key or secrets.token_urlsafe(32),
                   session_cookie="mailflow_session", max_age=int(web.session_minutes * 60),
                   same_site="strict", https_only=web.secure_cookies),
    ]
    app = Starlette(routes=routes, middleware=middleware)
    app.state.pages = pages
    return app

