"""A private, throwaway Dovecot (IMAP + LMTP) for tests, the demo and the benchmark.

Follows the recipe in ../shared/MAILSTACK.md: a short root under /tmp (0755, socket paths
stay under 108 bytes), mail owned by ``nobody`` (uid 0 is refused), Maildir with LAYOUT=fs,
its own base_dir and state_dir (never the system instance), started in its own session so
stopping it is one signal to the process group.
"""

from __future__ import annotations

import atexit
import contextlib
import grp
import math
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from mailflow_testing.mailbuild import to_crlf

DOVECOT_BIN = Path("/usr/sbin/dovecot")
DOVEADM_BIN = Path("/usr/bin/doveadm")
LIBEXEC = Path("/usr/lib/dovecot")
INSTALL_HINT = "apt-get install -y dovecot-imapd dovecot-lmtpd"
MAIL_UID = 65534  # nobody: Dovecot refuses uid 0 for mail processes (pitfall 1)
FETCH_BATCH = 100  # batches of ~100 are faster than one huge FETCH (pitfall 13)


class DovecotError(RuntimeError):
    """The test Dovecot could not be started or driven; the message says what to do."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (the kernel's pick for a bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _greets(host: str, port: int, want: bytes) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5) as sock:
            return sock.recv(200).startswith(want)
    except OSError:
        return False


_LIVE: set[Dovecot] = set()  # started and not yet stopped (strong refs: see atexit below)


@atexit.register
def _stop_leftovers() -> None:
    """Safety net: no Dovecot of ours outlives the Python process, even after a crash."""
    for server in list(_LIVE):
        with contextlib.suppress(Exception):
            server.close()


class Dovecot:
    """One private Dovecot instance; keeps its ports and mail across stop/start."""

    host = "127.0.0.1"

    def __init__(
        self,
        users: Mapping[str, str] | None = None,
        *,
        startup_timeout: float = 10.0,
        binary: Path = DOVECOT_BIN,
        doveadm: Path = DOVEADM_BIN,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        """*tls*: (certificate, key) PEM files — then the IMAP port offers STARTTLS and
        ``imaps_port`` speaks implicit TLS (what real mailboxes require)."""
        self._users: dict[str, str] = {}
        self._stamps: dict[str, int] = {}  # users.d file mtimes we set
        for email, password in (users or {}).items():
            self._users[self._check_user(email, password)] = password
        self.startup_timeout = startup_timeout
        self.binary = binary
        self.doveadm = doveadm
        self.imap_port = 0
        self.lmtp_port = 0
        self.tls = tls
        self.imaps_port = 0
        self._root: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def root(self) -> Path:
        """``/tmp/dv-XXXXXXXX``: config, users, logs and mail; made by the first start()."""
        if self._root is None:
            raise DovecotError("Dovecot.root is made by start(); call start() first")
        return self._root

    @property
    def config_path(self) -> Path:
        return self.root / "dovecot.conf"

    @property
    def log_path(self) -> Path:
        return self.root / "log" / "dovecot.log"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start (no-op when running) and return once IMAP and LMTP both greet."""
        if self.running:
            return
        self._check_installed()
        first = self._root is None
        if first:
            self._make_root()
            self.imap_port, self.lmtp_port = self._two_free_ports()
            if self.tls is not None:
                self.imaps_port = self._another_free_port()
        for email in self._users:
            self._write_user(email)
        # another process may grab a freshly picked port before Dovecot binds it: pick again
        for attempt in range(3):
            self._write_config()
            try:
                self._spawn_and_wait()
                return
            except DovecotError:
                if not (first and attempt < 2 and "Address already in use" in self._log_tail()):
                    raise
                self.imap_port, self.lmtp_port = self._two_free_ports()
                if self.tls is not None:
                    self.imaps_port = self._another_free_port()

    def stop(self) -> None:
        """Stop the whole process group and wait until it is gone (ports free again).

        Signalling only the master leaves ``master.pid`` for about a second and a start in
        that window fails with "already running" (pitfall 4); the group goes in 5-120 ms.
        """
        proc, self._proc = self._proc, None
        _LIVE.discard(self)
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if self._group_gone(proc.pid):
                return
            time.sleep(0.01)
        raise DovecotError(
            f"Dovecot's master stopped but processes of its group {proc.pid} live on "
            f"(`ps -g {proc.pid}`); see {self.log_path}"
        )

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop and delete the root with all mail (a later start() begins afresh, new ports)."""
        self.stop()
        root, self._root = self._root, None
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)

    def __enter__(self) -> Dovecot:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- users -----------------------------------------------------------------------------
    # One passwd-file per user (users.d/<address>): Dovecot re-reads a passwd-file at most
    # once per wall-clock second, so a single shared file would hide a user added in the
    # same second as the last login; a new file is read at once. Removing a user or
    # changing a password must wait for the next second (see _await_auth_resync).

    @property
    def users(self) -> dict[str, str]:
        """address (lower case) -> password, a copy."""
        return dict(self._users)

    def password(self, user: str) -> str:
        try:
            return self._users[user.lower()]
        except KeyError:
            raise DovecotError(f"{user!r} is not a user of this Dovecot; add_user() it") from None

    def add_user(self, email: str, password: str) -> None:
        """Add a user (usable at once) or change a password (usable within a second)."""
        email = self._check_user(email, password)
        changed = email in self._users and self._users[email] != password
        self._users[email] = password
        if self._root is not None:
            self._write_user(email)
            if changed and self.running:
                self._await_auth_resync()

    def remove_user(self, email: str) -> None:
        """Forget a user and delete their mail; LMTP refuses the address when this returns."""
        if self._forget(email) and self.running:
            self._await_auth_resync()

    def _forget(self, email: str) -> bool:
        email = email.lower()
        if self._users.pop(email, None) is None or self._root is None:
            return False
        (self.root / "users.d" / email).unlink(missing_ok=True)
        shutil.rmtree(self.root / "mail" / email, ignore_errors=True)
        return True

    def set_users(self, users: Mapping[str, str]) -> None:
        """Make the user list exactly *users* (removed users lose their mail)."""
        wanted = {email.lower(): password for email, password in users.items()}
        removed = [email for email in set(self._users) - set(wanted) if self._forget(email)]
        if removed and self.running:
            self._await_auth_resync()  # one wait for all of them
        for email, password in wanted.items():
            if self._users.get(email) != password:
                self.add_user(email, password)

    # -- IMAP helpers ----------------------------------------------------------------------

    def connect(self, user: str, *, timeout: float = 10.0) -> IMAPClient:
        """A logged-in IMAPClient for *user*; the caller logs out."""
        password = self.password(user)
        client = IMAPClient(self.host, port=self.imap_port, ssl=False, timeout=timeout)
        try:
            client.login(user, password)
        except Exception:
            with contextlib.suppress(Exception):
                client.shutdown()
            raise
        return client

    @contextlib.contextmanager
    def imap(self, user: str) -> Iterator[IMAPClient]:
        """``with dovecot.imap(user) as client:`` a logged-in client, logged out after."""
        client = self.connect(user)
        try:
            yield client
        finally:
            with contextlib.suppress(IMAPClientError, OSError):
                client.logout()

    def append(self, user: str, raw: bytes, folder: str = "INBOX") -> int:
        """APPEND one mail (made CRLF first, pitfall 11) and return its UID."""
        return self.append_many(user, [raw], folder)[0]

    def append_many(self, user: str, raws: Sequence[bytes], folder: str = "INBOX") -> list[int]:
        """APPEND several mails in one MULTIAPPEND (~4x faster than one by one); their UIDs."""
        if not raws:
            return []
        with self.imap(user) as client:
            self._ensure_folder(client, folder)
            if len(raws) == 1:
                response = client.append(folder, to_crlf(raws[0]))
            else:
                response = client.multiappend(folder, [to_crlf(raw) for raw in raws])
        uids = _appenduids(response)
        if len(uids) != len(raws):
            raise DovecotError(f"APPEND answered {response!r}; expected {len(raws)} UIDs")
        return uids

    def fetch_all(self, user: str, folder: str = "INBOX") -> list[bytes]:
        """Every mail in *folder*, oldest UID first, with BODY.PEEK[] (flags stay as they are)."""
        with self.imap(user) as client:
            client.select_folder(folder, readonly=True)
            uids = sorted(client.search(["ALL"]))
            raws: list[bytes] = []
            for start in range(0, len(uids), FETCH_BATCH):
                chunk = uids[start : start + FETCH_BATCH]
                data = client.fetch(chunk, ["BODY.PEEK[]"])
                raws.extend(data[uid][b"BODY[]"] for uid in chunk)
        return raws

    def count(self, user: str, folder: str = "INBOX") -> int:
        with self.imap(user) as client:
            status = client.folder_status(folder, [b"MESSAGES"])
        return int(status[b"MESSAGES"])

    def folders(self, user: str) -> list[str]:
        """Folder names (decoded from modified UTF-7), '/' as separator, sorted."""
        with self.imap(user) as client:
            return sorted(str(name) for _flags, _sep, name in client.list_folders())

    # -- reset -----------------------------------------------------------------------------

    def reset(self) -> None:
        """Empty every user's mailboxes: delete all folders but INBOX, expunge INBOX.

        doveadm works on users who never logged in and needs no password; three processes
        for all users together (list, delete, expunge) keep this around 50 ms.
        """
        if not self._users:
            return
        users_file = self.root / "usernames"
        users_file.write_text("".join(f"{user}\n" for user in self._users), encoding="utf-8")
        listing = self._doveadm("-f", "tab", "mailbox", "list", "-F", str(users_file))
        doomed: dict[str, list[str]] = {}
        for line in listing.splitlines()[1:]:  # first line is the "username\tmailbox" header
            user, _, name = line.partition("\t")
            if name and name != "INBOX":
                doomed.setdefault(user, []).append(name)
        for user, names in doomed.items():
            # -r on the outermost names only: a child is gone once its parent is
            tops = [n for n in names if not any(n.startswith(f"{p}/") for p in names)]
            self._doveadm("mailbox", "delete", "-r", "-s", "-u", user, *tops)
        self._doveadm("expunge", "-F", str(users_file), "mailbox", "INBOX", "all")

    # -- internals -------------------------------------------------------------------------

    @staticmethod
    def _check_user(email: str, password: str) -> str:
        """The address in lower case (Dovecot lower-cases login names, auth_username_format)."""
        bad = ":\r\n\t/"
        if (
            not email
            or not password
            or any(c in email + password for c in bad)
            or (email.startswith(".") or "@" not in email)
        ):
            raise DovecotError(
                f"user {email!r}: address and password must be non-empty, the address with an "
                "'@', neither with ':', '/', tabs or line breaks (they make a passwd-file name)"
            )
        return email.lower()

    def _check_installed(self) -> None:
        needed = {
            self.binary: "dovecot-core",
            self.doveadm: "dovecot-core",
            LIBEXEC / "imap": "dovecot-imapd",
            LIBEXEC / "lmtp": "dovecot-lmtpd",
        }
        missing = [f"{path} (package {pkg})" for path, pkg in needed.items() if not path.exists()]
        if missing:
            raise DovecotError(
                "Dovecot for the test mail stack is not installed: missing "
                + ", ".join(missing)
                + f". Install it with `{INSTALL_HINT}` (or run `bash scripts/test-services`)."
            )

    def _make_root(self) -> None:
        # a short root: Dovecot's unix sockets live under it (108-byte limit, pitfall 3);
        # 0755 so the auth (dovecot) and mail (nobody) processes can traverse it (pitfall 2)
        root = Path(tempfile.mkdtemp(prefix="dv-", dir="/tmp"))
        root.chmod(0o755)
        for sub in ("run", "state", "log", "mail"):
            (root / sub).mkdir()
        if os.geteuid() == 0:
            os.chown(root / "mail", MAIL_UID, MAIL_UID)
        self._root = root

    def _another_free_port(self) -> int:
        port = free_port(self.host)
        while port in (self.imap_port, self.lmtp_port):
            port = free_port(self.host)
        return port

    def _two_free_ports(self) -> tuple[int, int]:
        imap = free_port(self.host)
        lmtp = free_port(self.host)
        while lmtp == imap:
            lmtp = free_port(self.host)
        return imap, lmtp

    def _write_user(self, email: str) -> None:
        directory = self.root / "users.d"
        directory.mkdir(mode=0o755, exist_ok=True)
        tmp = directory / f".{email}.tmp"
        tmp.write_text(f"{email}:{{PLAIN}}{self._users[email]}\n", encoding="utf-8")
        tmp.chmod(0o644)  # read by the auth process as user dovecot
        # Dovecot notices a change by mtime (seconds) or size: a new password of the same
        # length written in the same second needs an mtime of its own
        stamp = max(int(time.time()), self._stamps.get(email, 0) + 1)
        self._stamps[email] = stamp
        os.utime(tmp, (stamp, stamp))
        tmp.replace(directory / email)

    @staticmethod
    def _await_auth_resync() -> None:
        """Sleep into the next wall-clock second, after which Dovecot re-stats passwd-files.

        Its passwd-file sync runs at most once per ioloop second and notices a change by
        mtime (1 s resolution) or size, so waiting past the second boundary is enough.
        """
        now = time.time()
        time.sleep(math.floor(now) + 1.02 - now)

    def _write_config(self) -> None:
        root = self.root
        if os.geteuid() == 0:
            identity = f"first_valid_uid = {MAIL_UID}\nlast_valid_uid = {MAIL_UID}\n"
            userdb_args = f"uid={MAIL_UID} gid={MAIL_UID} home={root}/mail/%u"
            chroots = ""
        else:  # MAILSTACK.md "Without root": everything runs as the calling user
            me = pwd.getpwuid(os.getuid()).pw_name
            group = grp.getgrgid(os.getgid()).gr_name
            identity = (
                f"default_login_user = {me}\ndefault_internal_user = {me}\n"
                f"default_internal_group = {group}\nfirst_valid_uid = {os.getuid()}\n"
            )
            userdb_args = f"home={root}/mail/%u"
            chroots = "service anvil {\n  chroot =\n}\n"
        config = CONFIG_TEMPLATE.format(
            root=root,
            name=root.name,
            imap_port=self.imap_port,
            lmtp_port=self.lmtp_port,
            identity=identity,
            userdb_args=userdb_args,
            login_chroot="" if os.geteuid() == 0 else "  chroot =\n",
            chroots=chroots,
            ssl=(f"ssl = yes\nssl_cert = <{self.tls[0]}\nssl_key = <{self.tls[1]}\n"
                 if self.tls else "ssl = no\n"),
            imaps_port=self.imaps_port,
            imaps_address="127.0.0.1" if self.tls else "",
        )
        path = root / "dovecot.conf"
        path.write_text(config, encoding="utf-8")
        path.chmod(0o644)

    def _spawn_and_wait(self) -> None:
        stderr_path = self.root / "log" / "stderr.log"
        with stderr_path.open("ab") as stderr:
            proc = subprocess.Popen(
                [str(self.binary), "-F", "-c", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: stop() signals all of it
                cwd=self.root,
            )
        self._proc = proc
        _LIVE.add(self)
        deadline = time.monotonic() + self.startup_timeout
        pending = {self.imap_port: b"* OK", self.lmtp_port: b"220"}
        while pending:
            if proc.poll() is not None:
                self._proc = None
                _LIVE.discard(self)
                tail = self._log_tail()
                hint = (
                    f"\nAnother process holds port {self.imap_port} or {self.lmtp_port} "
                    "(`ss -ltnp`); stop it, or close() this Dovecot and start a new one."
                    if "Address already in use" in tail
                    else ""
                )
                raise DovecotError(
                    f"Dovecot exited with code {proc.returncode} while starting "
                    f"({self.config_path}).\n{tail}{hint}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise DovecotError(
                    f"Dovecot did not greet on IMAP {self.imap_port} / LMTP {self.lmtp_port} "
                    f"within {self.startup_timeout:.0f} s ({self.config_path}).\n{self._log_tail()}"
                )
            for port, want in list(pending.items()):
                if _greets(self.host, port, want):
                    del pending[port]
            if pending:
                time.sleep(0.01)

    def _log_tail(self, lines: int = 25) -> str:
        parts = []
        for path in (self.root / "log" / "stderr.log", self.log_path):
            with contextlib.suppress(OSError):
                text = path.read_text(encoding="utf-8", errors="replace").splitlines()
                if text:
                    parts.append(f"--- last lines of {path}:\n" + "\n".join(text[-lines:]))
        return "\n".join(parts) or f"(no log output in {self.root / 'log'})"

    @staticmethod
    def _group_gone(pgid: int) -> bool:
        """True once no live (non-zombie) process is left in the group."""
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        # zombies still count for kill(); they hold no sockets, so ignore them
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError):
                fields = stat.read_text().rpartition(")")[2].split()
                if int(fields[2]) == pgid and fields[0] != "Z":
                    return False
        return True

    def _doveadm(self, *args: str) -> str:
        # always -c: without it doveadm talks to the system instance (pitfall 5)
        result = subprocess.run(
            [str(self.doveadm), "-c", str(self.config_path), *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        if result.returncode != 0:
            raise DovecotError(
                f"doveadm {' '.join(args)} failed ({result.returncode}): "
                f"{result.stderr.strip() or result.stdout.strip()}\n{self._log_tail(10)}"
            )
        return result.stdout

    @staticmethod
    def _ensure_folder(client: IMAPClient, folder: str) -> None:
        if folder.upper() != "INBOX" and not client.folder_exists(folder):
            client.create_folder(folder)


def _appenduids(response: object) -> list[int]:
    """UIDs from ``[APPENDUID <validity> <uid-set>]`` (UIDPLUS); a set may be ``4:6,9``.

    append() answers the bytes of the tagged line, multiappend() ``(typ, [line])``.
    """
    if isinstance(response, tuple):
        response = b" ".join(x for x in response[1] if isinstance(x, bytes))
    text = response.decode("ascii", "replace") if isinstance(response, bytes) else str(response)
    match = re.search(r"\[APPENDUID \d+ ([0-9:,]+)\]", text)
    if match is None:
        raise DovecotError(f"APPEND answered without APPENDUID: {text!r}")
    uids: list[int] = []
    for item in match.group(1).split(","):
        low, _, high = item.partition(":")
        first, last = int(low), int(high or low)
        step = 1 if last >= first else -1
        uids.extend(range(first, last + step, step))
    return uids


CONFIG_TEMPLATE = """\
# Throwaway Dovecot 2.3 for mailflow tests (mailflow_testing/dovecot.py).
# Started with: dovecot -F -c {root}/dovecot.conf. Nothing from /etc/dovecot is included.
protocols = imap lmtp
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
instance_name = {name}
log_path = {root}/log/dovecot.log
info_log_path = {root}/log/dovecot.log
{identity}
{ssl}disable_plaintext_auth = no
auth_mechanisms = plain login

# every login and LMTP address is lower-cased first: Approver@Example.test is approver@...
auth_username_format = %Lu
# one file per user, so a user added while Dovecot runs is seen at once (see add_user)
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users.d/%u
}}
# static userdb without allow_all_users: LMTP checks the passdb, unknown recipients get 550
userdb {{
  driver = static
  args = {userdb_args}
}}

# LAYOUT=fs: folder names may contain '.'; '/' separates levels (pitfall 10)
mail_location = maildir:~/Maildir:LAYOUT=fs
namespace inbox {{
  inbox = yes
  separator = /
}}
mail_fsync = optimized
# IDLE watcher + worker + test assertions share one user and 127.0.0.1 (pitfall 8)
mail_max_userip_connections = 200
mailbox_idle_check_interval = 1 secs

service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = {imaps_address}
    port = {imaps_port}
  }}
  # one long-lived login process: faster logins for test suites
  service_count = 0
{login_chroot}}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp_port}
  }}
}}
{chroots}protocol lmtp {{
  lmtp_save_to_detail_mailbox = no
}}
"""
