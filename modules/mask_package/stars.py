"""Bright stars for the halo and spike masks.

Stars come from a ``findgsc2.2`` text catalogue per image (``USE_EXT_STAR =
True``, made beforehand by ``create_star_cat``) or from running the CDS client
``findgsc2.2`` around the image centre (needs network access).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
import numpy as np

from shapepipe.io.star_catalog import QUERY_TIMEOUT, query_gsc  # noqa: F401 (shared query)

if TYPE_CHECKING:
    from astropy.table import Table

def select_bright_stars(table: Table, mag_lim: float) -> tuple[np.ndarray, np.ndarray]:
    """Split a star catalogue into stars to mask and stars without magnitude.

    Parameters
    ----------
    table : astropy.table.Table
        From :func:`read_star_catalog`.
    mag_lim : float
        Faint limit: stars with ``mag < mag_lim`` are kept.

    Returns
    -------
    keep : numpy.ndarray of bool
        Stars (``is_star``) with a magnitude brighter than ``mag_lim``.
    no_mag : numpy.ndarray of bool
        Stars with no magnitude at all: they cannot be scaled and get no mask
        (ShapePipe dropped them silently, BUG #662: the caller warns and
        counts them).
    """
    is_star = np.asarray(table['is_star'], dtype=bool)
    mag = np.asarray(table['mag'], dtype=float)
    no_mag = is_star & ~np.isfinite(mag)
    with np.errstate(invalid='ignore'):
        keep = is_star & np.isfinite(mag) & (mag < mag_lim)
    return keep, no_mag
