"""Bright stars for the halo and spike masks.

Stars come from a ``findgsc2.2`` text catalogue per image (``USE_EXT_STAR =
True``, made beforehand by ``create_star_cat``) or from running the CDS client
``findgsc2.2`` around the image centre (needs network access).
"""

import os
import shutil
import subprocess
import tempfile

import numpy as np

from shapepipe.errors import ExecutableError
from shapepipe.io.star_catalog import read_star_catalog

#: Seconds allowed for one online star query.
QUERY_TIMEOUT = 120


def query_gsc(client, ra, dec, radius_arcmin, timeout=QUERY_TIMEOUT):
    """Run the CDS client ``findgsc2.2`` and read its output.

    Parameters
    ----------
    client : str
        Executable name or path (``[PROGRAM_PATH] CDSCLIENT_PATH``).
    ra, dec : float
        Query centre in degrees.
    radius_arcmin : float
        Query radius in arcmin.
    timeout : float
        Seconds before the query is abandoned.

    Returns
    -------
    astropy.table.Table
        As :func:`shapepipe.io.star_catalog.read_star_catalog`.

    Raises
    ------
    ExecutableError
        One line: the client is missing, failed or timed out (typically no
        network access); the fix is to make star catalogues beforehand with
        ``create_star_cat`` and set ``USE_EXT_STAR = True``.
    """
    fix = ('make star catalogues where the network is reachable with create_star_cat and '
           'set USE_EXT_STAR = True with star_cat files as input')
    exe = shutil.which(client)
    if exe is None:
        raise ExecutableError(f'star query: CDS client {client!r} not found on PATH '
                              f'(offline?); {fix}', executable=client)
    sign = '+' if dec >= 0 else ''
    cmd = [exe, f'{ra:.6f}', f'{sign}{dec:.6f}', '-r', f'{radius_arcmin:.4f}', '-n', '1000000']
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ExecutableError(f'star query: {client} timed out after {timeout} s (no network '
                              f'access?); {fix}', executable=client) from None
    err = (result.stderr or '').strip()
    if result.returncode != 0 or err:
        last = err.splitlines()[-1] if err else f'exit status {result.returncode}'
        raise ExecutableError(f'star query: {client} failed ({last}); {fix}',
                              executable=client)
    with tempfile.NamedTemporaryFile('w', suffix='.cat', delete=False) as handle:
        handle.write(result.stdout)
        tmp = handle.name
    try:
        return read_star_catalog(tmp)
    finally:
        os.unlink(tmp)


def select_bright_stars(table, mag_lim):
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
