"""What the archive commands and pages work with, opened once from the settings."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from mailflow.clock import Clock
from mailflow.config import Settings
from mailflow.store.archive import Archive
from mailflow.store.db import make_engine, session_factory, upgrade
from mailflow.templates import Templates

from .chain import SealReport, seal
from .index import reindex
from .words import FormLabels, Words, form_labels, load_words


@dataclass(frozen=True)
class ArchiveContext:
    settings: Settings
    engine: Engine
    factory: sessionmaker[Session]
    archive: Archive
    zone: ZoneInfo
    words: Words
    clock: Clock
    labels: FormLabels

    @classmethod
    def open(cls, settings: Settings, clock: Clock) -> ArchiveContext:
        engine = make_engine(settings.storage.resolved_database_url())
        upgrade(engine)
        templates = Templates(settings.service.templates_dir, settings.service.language)
        return cls(settings, engine, session_factory(engine),
                   Archive(settings.storage.resolved_archive_dir()),
                   ZoneInfo(settings.service.timezone), load_words(templates), clock,
                   form_labels(settings.forms.definitions_dir, settings.service.language))

    def seal(self) -> SealReport:
        """Seal what was committed (and index the records it names) before reading: the
        chain head is locked, so this is safe beside a running service."""
        return seal(self.factory, self.clock.now(), reindex)

    def close(self) -> None:
        self.engine.dispose()
