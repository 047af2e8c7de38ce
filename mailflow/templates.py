"""Every word a user reads comes from templates/<lang>/*.j2 (Chinese by default).

One template file per message; its ``subject``, ``text`` and ``html`` blocks are rendered
separately so subject, plain text and HTML never drift apart. The HTML block is rendered with
autoescaping (user input such as a subject can hold markup); the text blocks without.

An organisation may override any single template: files in the override directory
(``[service] templates_override_dir``, same layout) are found first, everything else comes
from the bundled set (a Jinja ``ChoiceLoader``). Because a broken override would otherwise
surface only when its first mail is due (a change notice at 16:00 the day before a change),
``check`` compiles every template and renders each with the sample data of
``templates/samples.toml`` at start-up and in ``mailflow config check``, naming the file and
line of what is broken.
"""

from __future__ import annotations

import tomllib
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateSyntaxError,
)
from markupsafe import Markup, escape

#: message templates have these blocks; partials (names starting with "_") are macros only
BLOCKS = ("subject", "text", "html")
SAMPLES_FILE = "samples.toml"


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class TemplateProblem:
    """A template that does not compile or does not render with its sample data."""

    file: str
    line: int | None
    message: str
    #: False for a template that compiles but has no sample data yet: reported, not a
    #: reason to refuse to start (a new template from another stage must not stop the
    #: service; its author adds the sample)
    fatal: bool = True

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


def nl2br(value: object) -> Markup:
    """Escape, then keep the writer's line breaks (multi-line form values in HTML)."""
    return Markup("<br>\n").join(escape(str(value)).split("\n"))


class Templates:
    def __init__(self, root: Path, language: str = "zh", override_dir: Path | None = None
                 ) -> None:
        self.language = language
        self.root = root
        self.override_dir = override_dir
        self._text_env, self._html_env = _environments(root, language, override_dir)

    def render(self, name: str, context: Mapping[str, Any]) -> RenderedMessage:
        """Render template *name* (e.g. ``requester_ack``) into subject, text and HTML."""
        return RenderedMessage(
            subject=" ".join(self._block(self._text_env, name, "subject", context).split()),
            text=self._block(self._text_env, name, "text", context).strip() + "\n",
            html=self._block(self._html_env, name, "html", context).strip() + "\n",
        )

    def labels(self, name: str, block: str) -> dict[str, str]:
        """A block of ``key: words`` lines (column headings, status names) as a mapping, so
        even the words of a spreadsheet's header row live in templates."""
        out: dict[str, str] = {}
        for line in self._block(self._text_env, name, block, {}).splitlines():
            key, sep, words = line.partition(":")
            if sep and key.strip():
                out[key.strip()] = words.strip()
        return out

    def words(self, name: str, block: str, context: Mapping[str, Any] | None = None) -> str:
        """One block rendered as plain text (a file name, a label), stripped."""
        return self._block(self._text_env, name, block, context or {}).strip()

    def exists(self, name: str) -> bool:
        return f"{name}.j2" in self.names()

    def names(self) -> list[str]:
        """Every template file this language sees (overrides and bundled), as loader names."""
        found: set[str] = set()
        for base in (self.override_dir, self.root):
            if base is None or not (base / self.language).is_dir():
                continue
            lang_dir = base / self.language
            found.update(p.relative_to(lang_dir).as_posix() for p in lang_dir.rglob("*.j2"))
        return sorted(found)

    def samples(self) -> dict[str, dict[str, Any]]:
        """Sample contexts per template name: the bundled file, then the override's file
        (an organisation's new template brings its own samples). A sample with
        ``_base = "NAME"`` starts from sample NAME's context (the mails of one process share
        most of theirs) and adds or replaces its own keys."""
        out: dict[str, dict[str, Any]] = {}
        for base in (self.root, self.override_dir):
            if base is None:
                continue
            for path in (base / SAMPLES_FILE, base / self.language / SAMPLES_FILE):
                if path.is_file():
                    data = tomllib.loads(path.read_text(encoding="utf-8"))
                    for name, context in data.items():
                        if isinstance(context, dict):
                            out[name] = context
        return {name: _with_base(out, name) for name in out}

    def check(self) -> list[TemplateProblem]:
        """Compile every template and render each message template with its sample data;
        the problems, by file and line (empty when all is well). Remembered per process
        until a template or sample file changes (every service start checks)."""
        key = (str(self.root), self.language, str(self.override_dir), self._fingerprint())
        known = _CHECKED.get(key)
        if known is None:
            known = _CHECKED[key] = tuple(self._check())
        return list(known)

    def _fingerprint(self) -> tuple[tuple[str, int, int], ...]:
        files: list[tuple[str, int, int]] = []
        for base in (self.override_dir, self.root):
            if base is None:
                continue
            for path in (*(base / self.language).rglob("*"), base / SAMPLES_FILE):
                if path.is_file():
                    stat = path.stat()
                    files.append((str(path), stat.st_mtime_ns, stat.st_size))
        return tuple(sorted(files))

    def _check(self) -> list[TemplateProblem]:
        problems: list[TemplateProblem] = []
        try:
            samples = self.samples()
        except (OSError, tomllib.TOMLDecodeError, ValueError) as exc:
            return [TemplateProblem(SAMPLES_FILE, None, f"sample data unreadable: {exc}")]
        for filename in self.names():
            try:
                template = self._html_env.get_template(filename)
                self._text_env.get_template(filename)
            except TemplateSyntaxError as exc:
                problems.append(TemplateProblem(exc.filename or filename, exc.lineno,
                                                exc.message or str(exc)))
                continue
            name = filename.removesuffix(".j2")
            if name.rsplit("/", 1)[-1].startswith("_") or not set(BLOCKS) <= set(
                    template.blocks):
                continue  # macros, or a label sheet (requests_export): compiled is enough
            context = samples.get(name)
            if context is None:
                problems.append(TemplateProblem(template.filename or filename, None,
                                                f"no sample data for {name!r} in "
                                                f"{SAMPLES_FILE} (compiled only)",
                                                fatal=False))
                continue
            try:
                self.render(name, context)
            except Exception as exc:  # any failure is the report
                problems.append(_runtime_problem(exc, template.filename or filename))
        return problems

    @staticmethod
    def _block(env: Environment, name: str, block: str, context: Mapping[str, Any]) -> str:
        template = env.get_template(f"{name}.j2")
        try:
            return "".join(template.blocks[block](template.new_context(dict(context))))
        except Exception:
            env.handle_exception()  # re-raised with the template's file and line in the stack


def _with_base(samples: Mapping[str, dict[str, Any]], name: str) -> dict[str, Any]:
    """Sample *name* with its ``_base`` chain merged in, nearest last (a loop or a missing
    base is a readable error, reported like any other sample problem)."""
    chain: list[dict[str, Any]] = []
    seen: set[str] = set()
    current: str | None = name
    while current is not None:
        if current in seen:
            raise ValueError(f"sample {name!r}: _base loops through {current!r}")
        seen.add(current)
        context = samples.get(current)
        if context is None:
            raise ValueError(f"sample {name!r}: _base {current!r} is no sample")
        chain.append(context)
        base = context.get("_base")
        current = str(base) if base is not None else None
    merged: dict[str, Any] = {}
    for context in reversed(chain):
        merged.update(context)
    merged.pop("_base", None)
    return merged


_CHECKED: dict[tuple[str, str, str, tuple[tuple[str, int, int], ...]],
               tuple[TemplateProblem, ...]] = {}


@lru_cache(maxsize=16)
def _environments(root: Path, language: str, override_dir: Path | None
                  ) -> tuple[Environment, Environment]:
    """The text and HTML environments of one template set, shared by every Templates of the
    process (compiling each template once; Jinja reloads a file that changed)."""
    dirs = [root] if override_dir is None else [override_dir, root]
    loaders: list[BaseLoader] = [FileSystemLoader([str(d / language), str(d)]) for d in dirs]
    options: dict[str, Any] = {
        "loader": ChoiceLoader(loaders),
        "undefined": StrictUndefined,
        "trim_blocks": True,
        "lstrip_blocks": True,
        "keep_trailing_newline": True,
    }
    text_env = Environment(autoescape=False, **options)  # noqa: S701 - plain text
    html_env = Environment(autoescape=True, **options)
    for env in (text_env, html_env):
        env.filters["nl2br"] = nl2br
    return text_env, html_env


def _runtime_problem(exc: Exception, fallback: str) -> TemplateProblem:
    """Jinja maps a rendering error's traceback onto template lines: the innermost frame in
    a template file is where it broke (a macro in a partial, or the message itself)."""
    if isinstance(exc, TemplateSyntaxError):
        return TemplateProblem(exc.filename or fallback, exc.lineno, exc.message or str(exc))
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.endswith(".j2")]
    if frames:
        return TemplateProblem(frames[-1].filename, frames[-1].lineno,
                               f"{type(exc).__name__}: {exc}")
    return TemplateProblem(fallback, None, f"{type(exc).__name__}: {exc}")
