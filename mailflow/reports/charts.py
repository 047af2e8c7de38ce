"""The report's charts as PNG images (matplotlib, Agg: no display, no GUI toolkit).

Why lazily imported: matplotlib takes about a second to import, and only a report needs it.
Chinese labels need a CJK font: the Noto CJK fonts of ``fonts-noto-cjk`` are looked for by
path (docs/deployment.md); without one the charts are still drawn and a warning says the
labels' Chinese characters will show as boxes, and which package to install.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger(__name__)

#: where fonts-noto-cjk (Debian/Ubuntu) and google-noto-sans-cjk (RHEL) put the fonts
FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
)
FONT_DIR = Path("/usr/share/fonts")
FONT_PATTERNS = ("NotoSansCJK*.tt[cf]", "*CJK*.tt[cf]", "wqy-*.tt[cf]")
MET, MISSED, THIS, LAST = "#4c9a2a", "#c0392b", "#2e86c1", "#aab7b8"


def cjk_font_path() -> str | None:
    """The first CJK font found by path, or None."""
    for path in FONT_CANDIDATES:
        if Path(path).is_file():
            return path
    for pattern in FONT_PATTERNS:
        found = sorted(FONT_DIR.rglob(pattern)) if FONT_DIR.is_dir() else []
        if found:
            return str(found[0])
    return None


@lru_cache(maxsize=1)
def _font_family() -> tuple[str, ...]:
    """The font families charts use, the CJK font first (registered once per process)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import font_manager

    path = cjk_font_path()
    if path is None:
        log.warning("no CJK font for the report charts: Chinese labels show as boxes; "
                    "install fonts-noto-cjk", looked_in=list(FONT_CANDIDATES))
        return ("DejaVu Sans",)
    font_manager.fontManager.addfont(path)
    name = font_manager.FontProperties(fname=path).get_name()
    return (name, "DejaVu Sans")


def _png(draw: Any, title: str, width: float = 6.0, height: float = 3.2) -> bytes:
    import matplotlib

    family = _font_family()
    from matplotlib.figure import Figure

    with matplotlib.rc_context({"font.family": list(family), "font.size": 9,
                                "axes.spines.top": False, "axes.spines.right": False}):
        figure = Figure(figsize=(width, height), dpi=100)
        axes = figure.subplots()
        draw(axes)
        axes.set_title(title)
        figure.tight_layout()
        out = io.BytesIO()
        with warnings.catch_warnings():  # missing glyphs were warned about once, above
            warnings.simplefilter("ignore", UserWarning)
            figure.savefig(out, format="png")
    return out.getvalue()


def bars(title: str, labels: Sequence[str], values: Sequence[int], empty: str) -> bytes:
    """One bar per label (requests by kind)."""
    def draw(axes: Any) -> None:
        if not labels:
            axes.text(0.5, 0.5, empty, ha="center", va="center", transform=axes.transAxes)
            axes.set_xticks([])
            axes.set_yticks([])
            return
        axes.bar(range(len(labels)), values, color=THIS)
        axes.set_xticks(range(len(labels)), labels, rotation=20, ha="right")
        axes.yaxis.get_major_locator().set_params(integer=True)
        for x, v in enumerate(values):
            axes.annotate(str(v), (x, v), ha="center", va="bottom")
    return _png(draw, title)


def paired(title: str, labels: Sequence[str], first: Sequence[float],
           second: Sequence[float], names: tuple[str, str], colours: tuple[str, str],
           percent: bool = False) -> bytes:
    """Two bars per label: met against missed, or this month against last month."""
    def draw(axes: Any) -> None:
        xs = list(range(len(labels)))
        width = 0.38
        axes.bar([x - width / 2 for x in xs], first, width, label=names[0], color=colours[0])
        axes.bar([x + width / 2 for x in xs], second, width, label=names[1], color=colours[1])
        axes.set_xticks(xs, labels, rotation=15, ha="right")
        if percent:
            axes.set_ylim(0, 105)
            axes.set_ylabel("%")
        else:
            axes.yaxis.get_major_locator().set_params(integer=True)
        axes.legend(frameon=False)
    return _png(draw, title)


def met_missed(title: str, labels: Sequence[str], met: Sequence[int], missed: Sequence[int],
               names: tuple[str, str]) -> bytes:
    return paired(title, labels, met, missed, names, (MET, MISSED))


def trend(title: str, labels: Sequence[str], this: Sequence[float], last: Sequence[float],
          names: tuple[str, str]) -> bytes:
    return paired(title, labels, this, last, names, (THIS, LAST), percent=True)
