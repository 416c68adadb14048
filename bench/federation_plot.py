"""A tiny line-chart renderer to PNG (numpy + zlib; matplotlib is not installed in .venv).

Draws axes, a grid, numeric tick labels (a 3x5 digit font scaled up), one polyline per series
and colour swatches for a legend; series names are not rendered (the caption in the docs maps
colours to series), so :func:`line_chart` returns the colour of each series as hex.
"""

from __future__ import annotations

import itertools
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

PALETTE: tuple[tuple[int, int, int], ...] = (
    (0, 0, 0),  # black
    (31, 119, 180),  # blue
    (255, 127, 14),  # orange
    (44, 160, 44),  # green
    (214, 39, 40),  # red
    (148, 103, 189),  # purple
    (140, 86, 75),  # brown
    (227, 119, 194),  # pink
    (127, 127, 127),  # grey
    (188, 189, 34),  # olive
    (23, 190, 207),  # cyan
    (255, 215, 0),  # gold
)

_DIGITS = {
    "0": ("111", "101", "101", "101", "111"),
    "1": ("010", "110", "010", "010", "111"),
    "2": ("111", "001", "111", "100", "111"),
    "3": ("111", "001", "111", "001", "111"),
    "4": ("101", "101", "111", "001", "001"),
    "5": ("111", "100", "111", "001", "111"),
    "6": ("111", "100", "111", "101", "111"),
    "7": ("111", "001", "010", "010", "010"),
    "8": ("111", "101", "111", "101", "111"),
    "9": ("111", "101", "111", "001", "111"),
}


def write_png(path: Path, image: NDArray[np.uint8]) -> None:
    """Write an (H, W, 3) uint8 RGB image as a PNG file."""
    height, width, _ = image.shape
    raw = b"".join(b"\x00" + image[row].tobytes() for row in range(height))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + tag
            + data
            + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )
    path.write_bytes(png)


def _dot(img: NDArray[np.uint8], x: int, y: int, color: Sequence[int], r: int) -> None:
    h, w, _ = img.shape
    img[max(0, y - r) : min(h, y + r + 1), max(0, x - r) : min(w, x + r + 1)] = color


def _line(
    img: NDArray[np.uint8],
    p0: tuple[float, float],
    p1: tuple[float, float],
    color: Sequence[int],
    r: int = 1,
) -> None:
    steps = int(max(abs(p1[0] - p0[0]), abs(p1[1] - p0[1]))) + 1
    for t in np.linspace(0.0, 1.0, steps + 1):
        x = p0[0] + (p1[0] - p0[0]) * t
        y = p0[1] + (p1[1] - p0[1]) * t
        _dot(img, round(x), round(y), color, r)


def _text(img: NDArray[np.uint8], x: int, y: int, text: str, scale: int = 2) -> None:
    """Digits only, top-left at (x, y)."""
    for ch in text:
        glyph = _DIGITS.get(ch)
        if glyph is not None:
            for gy, row in enumerate(glyph):
                for gx, bit in enumerate(row):
                    if bit == "1":
                        img[
                            y + gy * scale : y + (gy + 1) * scale,
                            x + gx * scale : x + (gx + 1) * scale,
                        ] = 0
        x += 4 * scale


def line_chart(
    path: Path,
    series: Sequence[tuple[Sequence[float], Sequence[float]]],
    *,
    x_max: float,
    y_min: float = 0.0,
    y_max: float = 100.0,
    y_step: float = 10.0,
    x_step: float = 10.0,
    width: int = 900,
    height: int = 540,
) -> list[str]:
    """Plot ``series`` (x values, y values) and write the PNG; returns each series' colour."""
    img = np.full((height, width, 3), 255, dtype=np.uint8)
    left, right, top, bottom = 60, 200, 20, 40
    pw, ph = width - left - right, height - top - bottom

    def to_px(x: float, y: float) -> tuple[float, float]:
        return left + pw * x / x_max, top + ph * (1 - (y - y_min) / (y_max - y_min))

    y = y_min
    while y <= y_max + 1e-9:
        _, py = to_px(0, y)
        img[round(py), left : left + pw] = 220
        _text(img, 8, round(py) - 5, f"{y:.0f}")
        y += y_step
    x = 0.0
    while x <= x_max + 1e-9:
        px, _ = to_px(x, y_min)
        img[top : top + ph, round(px)] = 220
        _text(img, round(px) - 6, top + ph + 8, f"{x:.0f}")
        x += x_step
    img[top : top + ph + 1, left] = 0
    img[top + ph, left : left + pw + 1] = 0
    colours: list[str] = []
    for i, (xs, ys) in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        colours.append("#{:02x}{:02x}{:02x}".format(*colour))
        pts = [to_px(a, min(max(b, y_min), y_max)) for a, b in zip(xs, ys, strict=True)]
        for p0, p1 in itertools.pairwise(pts):
            _line(img, p0, p1, colour)
        # legend swatch: a short thick line in the right margin, in series order
        ly = top + 10 + 24 * i
        _line(img, (width - right + 20, ly), (width - right + 70, ly), colour, r=3)
        _text(img, width - right + 80, ly - 5, str(i + 1))
    write_png(path, img)
    return colours
