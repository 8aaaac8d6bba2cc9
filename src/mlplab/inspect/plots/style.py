"""One look for every figure: a colour-blind-safe palette (Okabe & Ito), markers for train
and test, the colour maps of the boundary heatmaps, a font for Chinese (and other CJK) names,
and PNG output.

Figures are built on :class:`matplotlib.figure.Figure` directly (no pyplot, no global state),
rendered by the Agg backend. matplotlib's default font has no CJK glyphs, so every text that
needs them gets Noto Sans CJK (shipped by the ``noto-cjk`` package) as its fallback font; the
font is registered with matplotlib the first time a label needs it.

Example
-------
>>> class_colors(3)[:2]
['#0072B2', '#E69F00']
>>> binary_rgb(np.array([0.0, 0.5, 1.0])).round(2).tolist()[1]
[1.0, 1.0, 1.0]
>>> needs_cjk("特征一"), needs_cjk("feature 1")
(True, False)
"""

from __future__ import annotations

import contextlib
import functools
import io
import re
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LinearSegmentedColormap, to_rgb
from matplotlib.figure import Figure
from matplotlib.text import Text

F = TypeVar("F", bound=Callable[..., Any])

DPI = 110
# Okabe & Ito (2008): distinguishable under the common colour-vision deficiencies.
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
             "#000000"]
INK = "#222222"
GRID = "#DDDDDD"
MISCLASSIFIED = "#000000"
SPLIT_MARKERS = {"train": "o", "val": "s", "test": "^", "data": "D"}
SPLIT_STYLES = {"train": "-", "val": "--", "test": ":", "data": "-."}
SPLIT_COLORS = {"train": "#0072B2", "val": "#009E73", "test": "#D55E00", "data": "#CC79A7"}

RC: dict[str, Any] = {
    "font.size": 9, "axes.titlesize": 10, "axes.titleweight": "bold", "axes.labelsize": 9,
    "axes.edgecolor": "#888888", "axes.labelcolor": INK, "xtick.color": INK,
    "ytick.color": INK, "legend.fontsize": 8, "legend.frameon": False,
    "axes.spines.top": False, "axes.spines.right": False, "figure.dpi": DPI,
}


def class_colors(k: int) -> list[str]:
    """k distinct class colours (colour-blind safe up to 8, then tab20)."""
    if k <= len(OKABE_ITO):
        return OKABE_ITO[:k]
    from matplotlib import colormaps

    cmap = colormaps["tab20"]
    return [cmap(i % 20) for i in range(k)]  # type: ignore[misc]


SURFACE_STRENGTH = 0.55  # surfaces are paler than the points drawn on them


def pale(color: str, strength: float = SURFACE_STRENGTH) -> tuple[float, float, float]:
    """``color`` mixed with white: ``strength`` 1 is the colour itself, 0 is white."""
    r, g, b = to_rgb(color)
    return (1 - strength * (1 - r), 1 - strength * (1 - g), 1 - strength * (1 - b))


def _binary_cmap() -> LinearSegmentedColormap:
    # class 0 (pale) blue -> white at p = 0.5 -> class 1 (pale) orange
    stops: list[Any] = [pale(OKABE_ITO[0]), "#FFFFFF", pale(OKABE_ITO[1])]
    return LinearSegmentedColormap.from_list("mlplab_binary", stops)


BINARY_CMAP = _binary_cmap()
VALUE_CMAP = "viridis"  # regression heatmaps: perceptually uniform, colour-blind safe
UNIT_CMAP = "PuOr_r"  # hidden-unit activations: diverging around 0, colour-blind safe


def binary_rgb(p: np.ndarray) -> np.ndarray:
    """P(class 1) -> RGB in [0, 1] with the binary map; shape (..., 3)."""
    return np.asarray(BINARY_CMAP(np.clip(p, 0.0, 1.0)))[..., :3]


def region_rgb(proba: np.ndarray, colors: list[str] | None = None) -> np.ndarray:
    """Class probabilities (..., k) -> RGB: the argmax class colour, faded to white as the
    confidence falls to chance (1/k)."""
    k = proba.shape[-1]
    cols = np.array([to_rgb(c) for c in (colors or class_colors(k))])  # (k, 3)
    top = proba.argmax(axis=-1)
    conf = (proba.max(axis=-1) - 1.0 / k) / (1.0 - 1.0 / k)  # 0 at chance, 1 when certain
    alpha = SURFACE_STRENGTH * (0.15 + 0.85 * np.clip(conf, 0.0, 1.0))
    return 1.0 - alpha[..., None] * (1.0 - cols[top])


# The Simplified Chinese face of the Noto Sans CJK collection (the file holds JP, KR, SC, TC,
# HK faces; all of them have the common Han characters, SC draws them as Chinese readers expect).
CJK_FAMILY = "Noto Sans CJK SC"
# Han, kana, Hangul, CJK symbols and punctuation, full-width forms: none are in DejaVu Sans.
_CJK = re.compile("[\u2e80-\u30ff\u3100-\u9fff\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff"
                  "\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0003134f]")


def needs_cjk(text: str) -> bool:
    """True when ``text`` has characters that only a CJK font draws."""
    return _CJK.search(text) is not None


@functools.cache
def cjk_family() -> str:
    """Register the packaged Noto Sans CJK fonts with matplotlib (once); the family to use."""
    import noto_cjk
    from matplotlib import font_manager

    font_manager.fontManager.addfont(str(noto_cjk.otc_path("sans")))
    return CJK_FAMILY


def cjk_text(fig: Figure) -> Figure:
    """Give every text of ``fig`` that holds CJK characters the CJK font as a fallback (Latin
    letters keep the house font); figures without such text are left alone."""
    for text in fig.findobj(Text):
        families = list(text.get_fontfamily())
        if CJK_FAMILY not in families and needs_cjk(text.get_text()):
            text.set_fontfamily([*families, cjk_family()])
    return fig


def house_style(fn: F) -> F:
    """Decorator: draw inside the house rc settings (rcParams are read as artists are made),
    with the CJK font on the texts that need it."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import matplotlib

        with matplotlib.rc_context(RC):  # type: ignore[arg-type]
            out = fn(*args, **kwargs)
        return cjk_text(out) if isinstance(out, Figure) else out

    return wrapper  # type: ignore[return-value]


def new_figure(width: float, height: float, layout: Any = "constrained") -> Figure:
    """A Figure with constrained layout (tight, no overlaps) on an Agg canvas."""
    fig = Figure(figsize=(width, height), dpi=DPI, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def styled(fig: Figure) -> Figure:
    """Apply the grid style to every axes of ``fig``."""
    for ax in fig.axes:
        ax.grid(True, color=GRID, linewidth=0.6, alpha=0.7)
        ax.set_axisbelow(True)
    return fig


_KEPT: ContextVar[list[Figure] | None] = ContextVar("mlplab_kept_figures", default=None)


@contextlib.contextmanager
def keep_figures() -> Iterator[list[Figure]]:
    """Inside the block, every Figure turned into PNG bytes is also kept in the yielded list,
    so code that draws figures as PNGs (the run's figure table) can hand out the Figures.

    Example
    -------
    >>> with keep_figures() as kept:
    ...     _ = png_bytes(new_figure(1, 1))
    >>> len(kept)
    1
    """
    kept: list[Figure] = []
    token = _KEPT.set(kept)
    try:
        yield kept
    finally:
        _KEPT.reset(token)


def png_bytes(fig: Figure, dpi: int = DPI) -> bytes:
    """The figure as PNG bytes."""
    kept = _KEPT.get()
    if kept is not None:
        kept.append(fig)
    buf = io.BytesIO()
    cjk_text(fig)
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    return buf.getvalue()


def save_png(fig: Figure, path: str | Path, dpi: int = DPI) -> Path:
    """Write the figure atomically as a PNG; returns the path."""
    from mlplab.runs.store import atomic_write_bytes

    path = Path(path)
    atomic_write_bytes(path, png_bytes(fig, dpi))
    return path


def render_rgb(fig: Figure) -> np.ndarray:
    """Draw the figure and return its pixels (H, W, 3) uint8 (row 0 at the top)."""
    canvas = cjk_text(fig).canvas
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()  # type: ignore[attr-defined]
