"""Boundary evolution: snapshot grids -> small images -> an animated GIF (Pillow).

Frames are painted straight from the probability grids with numpy and Pillow (no matplotlib
per frame), in the same colours as the static boundary, so 30 frames take milliseconds. The
same frames feed the report's slider and TensorBoard's images.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import to_rgb
from PIL import Image, ImageDraw, ImageFont

from mlplab.inspect.plots.style import VALUE_CMAP, binary_rgb, class_colors, region_rgb
from mlplab.inspect.plots.view import Plane, PlotData
from mlplab.tasks import TaskSpec

FRAME_PX = 300  # side of the heatmap in pixels
CAPTION_PX = 22


def surface_rgb(values: np.ndarray, task: TaskSpec) -> np.ndarray:
    """A grid from :func:`~mlplab.inspect.plots.view.grid_values` -> RGB floats (n, n, 3), row 0 at
    the bottom (plane orientation)."""
    if task.name == "binary":
        return binary_rgb(values)
    if task.name == "multilabel":
        return binary_rgb(values[..., 0])
    if task.name == "multiclass":
        return region_rgb(values)
    vals = values if values.ndim == 2 else values[..., 0]
    span = float(vals.max() - vals.min()) or 1.0
    return np.asarray(colormaps[VALUE_CMAP]((vals - vals.min()) / span))[..., :3]


def _threshold_mask(values: np.ndarray, task: TaskSpec, px: int) -> np.ndarray | None:
    """Pixels (px, px; row 0 at top) where the upsampled P(class 1) crosses the threshold."""
    if task.name not in ("binary", "multilabel"):
        return None
    v = values if values.ndim == 2 else values[..., 0]
    big = np.asarray(Image.fromarray(np.flipud(v).astype(np.float32), mode="F")
                     .resize((px, px), Image.Resampling.BILINEAR))
    side = big >= task.threshold
    edge = np.zeros_like(side)
    edge[:, 1:] |= side[:, 1:] != side[:, :-1]
    edge[1:, :] |= side[1:, :] != side[:-1, :]
    return edge


def render_frame(values: np.ndarray, plane: Plane, task: TaskSpec, *,
                 points: Sequence[tuple[np.ndarray, np.ndarray, str]] = (),
                 caption: str = "", px: int = FRAME_PX) -> Image.Image:
    """One boundary image: the surface, the threshold line, the points and a caption.

    ``points`` holds ``(uv (n, 2), rgb colours (n, 3) in 0..1, marker)`` with marker "o" or
    "^" per split.
    """
    rgb = (surface_rgb(values, task) * 255).astype(np.uint8)
    img = Image.fromarray(np.flipud(rgb)).resize((px, px), Image.Resampling.BILINEAR)
    edge = _threshold_mask(values, task, px)
    if edge is not None:
        arr = np.asarray(img).copy()
        arr[edge] = (34, 34, 34)
        img = Image.fromarray(arr)
    canvas = Image.new("RGB", (px, px + (CAPTION_PX if caption else 0)), "white")
    canvas.paste(img, (0, 0))
    draw = ImageDraw.Draw(canvas)
    (x0, x1), (y0, y1) = plane.xlim, plane.ylim
    for uv, colors, marker in points:
        xs = (uv[:, 0] - x0) / (x1 - x0) * (px - 1)
        ys = (1.0 - (uv[:, 1] - y0) / (y1 - y0)) * (px - 1)
        r = 3.2 if len(uv) < 400 else 2.4
        for x, y, c in zip(xs, ys, (colors * 255).astype(int), strict=True):
            fill = tuple(int(v) for v in c)
            if marker == "^":
                draw.polygon([(x, y - r - 1), (x - r - 0.5, y + r), (x + r + 0.5, y + r)],
                             fill=fill, outline=(51, 51, 51))
            else:
                draw.ellipse([x - r, y - r, x + r, y + r], fill=fill, outline=(51, 51, 51))
    if caption:
        draw.text((6, px + 4), caption, fill=(34, 34, 34), font=_font())
    return canvas


def _font() -> Any:
    try:
        return ImageFont.load_default(size=13)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def point_layers(data: PlotData, plane: Plane,
                 splits: Sequence[str] = ("train", "test")) -> list[tuple[np.ndarray,
                                                                          np.ndarray, str]]:
    """The ``points`` argument of :func:`render_frame` for some splits of ``data``."""
    task = data.task
    out = []
    k = max(task.n_classes, 2) if task.name != "multilabel" else 2
    palette = np.array([to_rgb(c) for c in class_colors(k)])
    for split in splits:
        if split not in data.splits:
            continue
        y = np.asarray(data.y[split])
        if task.is_classification:
            idx = (y[:, 0] if y.ndim == 2 else y).astype(int)
            colors = palette[idx]
        else:
            vals = y.reshape(len(y), -1)[:, 0].astype(np.float64)
            span = float(vals.max() - vals.min()) or 1.0
            colors = np.asarray(colormaps[VALUE_CMAP]((vals - vals.min()) / span))[:, :3]
        out.append((plane.project(data.X[split]), colors, "^" if split == "test" else "o"))
    return out


def snapshot_frames(snapshots: Any, data: PlotData | None, *,
                    px: int = FRAME_PX) -> list[Image.Image]:
    """One image per snapshot (epoch and train loss in the caption), train points on top."""
    task, plane = snapshots.task, snapshots.plane
    pts = point_layers(data, plane, ("train",)) if data is not None else []
    frames = []
    for i, (epoch, grid) in enumerate(zip(snapshots.epochs, snapshots.grids, strict=True)):
        loss = snapshots.train_loss[i] if i < len(snapshots.train_loss) else None
        caption = f"epoch {epoch}" + (f"   train loss {loss:.4f}" if loss is not None and
                                      loss == loss else "")
        frames.append(render_frame(grid, plane, task, points=pts, caption=caption, px=px))
    return frames


def gif_bytes(frames: Sequence[Image.Image], *, ms: int = 140, hold_ms: int = 1500) -> bytes:
    """An endlessly looping GIF of the frames; the last one is held for ``hold_ms``."""
    if not frames:
        raise ValueError("no frames to animate")
    buf = io.BytesIO()
    durations = [ms] * (len(frames) - 1) + [hold_ms]
    pal = [_palette(f) for f in frames]
    pal[0].save(buf, format="GIF", save_all=True, append_images=pal[1:], duration=durations,
                loop=0, optimize=False, disposal=1)
    return buf.getvalue()


def png_of(img: Image.Image) -> bytes:
    """A frame as a small palette PNG (128 colours are plenty for these flat images)."""
    buf = io.BytesIO()
    _palette(img).save(buf, format="PNG")
    return buf.getvalue()


def _palette(img: Image.Image) -> Image.Image:
    return img.convert("RGB").quantize(colors=128, method=Image.Quantize.FASTOCTREE)


__all__ = ["gif_bytes", "point_layers", "render_frame", "snapshot_frames", "surface_rgb"]
