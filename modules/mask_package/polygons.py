"""Polygon mask templates: read, scale with magnitude, rasterise.

A template file is plain text: one vertex per line, ``x y`` offsets in pixels
from the star's position for a star at the pivot magnitude; ``#`` starts a
comment; a blank line (not a comment line) separates polygons (e.g. the horizontal and vertical
spikes). ShapePipe's ``.reg`` model files (two columns, one polygon) read the
same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING
import numpy as np
from matplotlib.path import Path

from shapepipe.errors import ConfigError

if TYPE_CHECKING:
    import os

    from numpy.typing import ArrayLike


def read_polygon_template(path: str | os.PathLike) -> list[np.ndarray]:
    """Read a polygon template.

    Parameters
    ----------
    path : str
        Template file.

    Returns
    -------
    list of numpy.ndarray
        One ``(n_vertex, 2)`` array of ``(dx, dy)`` pixel offsets per polygon.

    Raises
    ------
    ConfigError
        If a line is not two numbers or a polygon has fewer than 3 vertices.
    """
    polygons, current = [], []
    try:
        with open(path) as handle:
            lines = handle.read().splitlines()
    except OSError as error:
        raise ConfigError(f'{path}: cannot read polygon template ({error.strerror})',
                          path=path) from None
    for lineno, line in enumerate(lines + [''], start=1):
        text = line.split('#', 1)[0].strip()
        if not text and line.strip():
            continue  # a comment line
        if not text:
            if current:
                polygons.append(np.array(current, dtype=float))
                current = []
            continue
        parts = text.replace(',', ' ').split()
        try:
            if len(parts) != 2:
                raise ValueError
            current.append((float(parts[0]), float(parts[1])))
        except ValueError:
            raise ConfigError(f'{path}:{lineno}: expected "dx dy" (two numbers), got '
                              f'{line.strip()!r}', path=path) from None
    for poly in polygons:
        if len(poly) < 3:
            raise ConfigError(f'{path}: a polygon has {len(poly)} vertices; at least 3 are '
                              f'needed', path=path)
    if not polygons:
        raise ConfigError(f'{path}: no polygon vertices found', path=path)
    return polygons


def magnitude_scale(mag: ArrayLike, scale_factor: float, mag_pivot: float) -> np.ndarray:
    """Template scale ``1 - scale_factor * (mag - mag_pivot)`` (ShapePipe's law).

    Brighter stars get larger masks; a scale <= 0 means no mask.
    """
    return 1.0 - scale_factor * (np.asarray(mag, dtype=float) - mag_pivot)


def rasterize_polygon(flag: np.ndarray, vertices: np.ndarray, value: int) -> int:
    """Set ``value`` (bitwise or) on the pixels of ``flag`` whose centre is inside.

    Pixel ``flag[j, i]`` has its centre at ``(x, y) = (i, j)`` (0-based, the
    convention of ``astropy.wcs`` with origin 0).

    Parameters
    ----------
    flag : numpy.ndarray
        2-d integer array, modified in place.
    vertices : numpy.ndarray
        ``(n, 2)`` polygon vertices in pixel coordinates.
    value : int
        Flag bit(s) to set.

    Returns
    -------
    int
        Number of pixels inside the polygon (within the image).
    """
    ny, nx = flag.shape
    x_min = max(int(np.floor(vertices[:, 0].min())), 0)
    x_max = min(int(np.ceil(vertices[:, 0].max())), nx - 1)
    y_min = max(int(np.floor(vertices[:, 1].min())), 0)
    y_max = min(int(np.ceil(vertices[:, 1].max())), ny - 1)
    if x_min > x_max or y_min > y_max:
        return 0
    yy, xx = np.mgrid[y_min:y_max + 1, x_min:x_max + 1]
    points = np.column_stack([xx.ravel(), yy.ravel()]).astype(float)
    inside = Path(vertices).contains_points(points).reshape(xx.shape)
    flag[y_min:y_max + 1, x_min:x_max + 1][inside] |= flag.dtype.type(value)
    return int(inside.sum())


def mask_stars(flag: np.ndarray, template: Sequence[np.ndarray], x: ArrayLike, y: ArrayLike,
               scale: ArrayLike, value: int) -> int:
    """Rasterise a scaled template around each star.

    Parameters
    ----------
    flag : numpy.ndarray
        2-d integer array, modified in place.
    template : list of numpy.ndarray
        Polygons from :func:`read_polygon_template`.
    x, y : array_like
        Star positions in 0-based pixel coordinates.
    scale : array_like
        Template scale per star (stars with scale <= 0 are skipped).
    value : int
        Flag bit(s) to set.

    Returns
    -------
    int
        Number of stars whose scaled template touched the image.
    """
    n_touched = 0
    for x0, y0, factor in zip(np.atleast_1d(x), np.atleast_1d(y), np.atleast_1d(scale)):
        if not (np.isfinite(x0) and np.isfinite(y0) and factor > 0):
            continue
        touched = 0
        for poly in template:
            vertices = poly * factor + np.array([x0, y0])
            touched += rasterize_polygon(flag, vertices, value)
        n_touched += touched > 0
    return n_touched
