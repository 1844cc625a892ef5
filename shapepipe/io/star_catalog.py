"""Read and write star catalogues in the text format of CDS's ``findgsc2.2``.

The mask module gets its bright stars from such a file, one per image
(``star_cat{num}.cat``, made by ``create_star_cat`` or kept from earlier
ShapePipe runs). The format, as ShapePipe reads it:

* three lines of preamble;
* a column-name line (the 4th line) with, among others, ``RA(J2000)``,
  ``Dec(J2000)``, ``Fmag``, ``Jmag``, ``Vmag``, ``Nmag`` and ``Clas``; names
  may carry ``;``, ``,`` or ``#`` decorations (``#GSC2.2``, ``Clas;``), and a
  lone ``;`` is a separator, not a column;
* whitespace-separated data rows, decorated the same way, ``---`` for a
  missing value;
* five trailing summary lines.

A row is a star when ``Clas == 0``; its magnitude is the mean of the
available ``Fmag``, ``Jmag``, ``Vmag`` and ``Nmag`` (NaN when none is given).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING
import math
import os
import re
import shutil
import subprocess
import tempfile

import numpy as np
from astropy.table import Table

from shapepipe.errors import ExecutableError, InputError
from shapepipe.io.atomic import write_text

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

#: Magnitude columns averaged into ``mag``.
MAG_COLUMNS = ('Fmag', 'Jmag', 'Vmag', 'Nmag')
#: Number of preamble lines before the column-name line.
N_PREAMBLE = 3
#: Number of trailing summary lines after the data rows.
N_TRAILER = 5
#: Marker of a missing value.
MISSING = '---'

_DECORATION = re.compile(r'[,#;]')


def _clean_tokens(line):
    """Split a line on whitespace and strip ``,#;`` decorations.

    Each token keeps its last non-empty piece once split on the decoration
    characters (``'#GSC2.2'`` -> ``'GSC2.2'``); tokens made only of
    decorations (``';'``) are dropped.
    """
    tokens = []
    for raw in line.split():
        pieces = [piece for piece in _DECORATION.split(raw) if piece]
        if pieces:
            tokens.append(pieces[-1])
    return tokens


def _to_float(token):
    if token == MISSING:
        return math.nan
    try:
        return float(token)
    except ValueError:
        return None


def _header_index(lines, path):
    """Index of the column-name line: the 4th line, or the first naming RA(J2000)."""
    if len(lines) > N_PREAMBLE and 'RA(J2000)' in _clean_tokens(lines[N_PREAMBLE]):
        return N_PREAMBLE
    for index, line in enumerate(lines):
        if 'RA(J2000)' in _clean_tokens(line):
            return index
    raise InputError(
        f'{path}: no column-name line with RA(J2000) found; expected the text '
        f'output of findgsc2.2 (GSC 2.2) as written by create_star_cat',
        path=str(path),
    )


def read_star_catalog(path: str | os.PathLike) -> Table:
    """Read a ``findgsc2.2`` star catalogue.

    Parameters
    ----------
    path : str or os.PathLike
        The text file.

    Returns
    -------
    astropy.table.Table
        One row per catalogue entry with columns ``name`` (str), ``ra``,
        ``dec`` (deg), ``mag`` (mean of the available magnitudes, NaN when
        none), ``n_mag`` (how many magnitudes were averaged), ``is_star``
        (``Clas == 0``), ``clas`` (-1 when missing) and the individual
        ``Fmag``, ``Jmag``, ``Vmag``, ``Nmag`` (NaN when missing).

    Raises
    ------
    InputError
        If the file cannot be read, has no ``RA(J2000)``/``Dec(J2000)``
        columns, or a data row cannot be parsed (the message gives the line).
    """
    try:
        with open(path) as handle:
            lines = handle.read().splitlines()
    except OSError as error:
        raise InputError(f'{path}: cannot read star catalogue ({error.strerror})',
                         path=str(path)) from None
    head = _header_index(lines, path)
    columns = _clean_tokens(lines[head])
    for needed in ('RA(J2000)', 'Dec(J2000)'):
        if needed not in columns:
            raise InputError(f'{path}: column {needed} missing from the column-name line '
                             f'{head + 1}', path=str(path))
    index = {name: pos for pos, name in enumerate(columns)}

    body = lines[head + 1:]
    # Strip trailing blank lines, then the five summary lines of the format.
    while body and not body[-1].strip():
        body.pop()
    data_lines = body[:-N_TRAILER] if len(body) >= N_TRAILER else []

    names, ra, dec, clas = [], [], [], []
    mags = {name: [] for name in MAG_COLUMNS}
    for offset, line in enumerate(data_lines):
        lineno = head + 2 + offset
        if not line.strip() or line.lstrip().startswith('#'):
            continue
        tokens = _clean_tokens(line)
        if len(tokens) != len(columns):
            raise InputError(
                f'{path}:{lineno}: {len(tokens)} values for {len(columns)} columns '
                f'in row {line.strip()!r}', path=str(path),
            )
        row_ra = _to_float(tokens[index['RA(J2000)']])
        row_dec = _to_float(tokens[index['Dec(J2000)']])
        if row_ra is None or row_dec is None or math.isnan(row_ra) or math.isnan(row_dec):
            raise InputError(f'{path}:{lineno}: RA/Dec not numbers in row {line.strip()!r}',
                             path=str(path))
        ra.append(row_ra)
        dec.append(row_dec)
        names.append(tokens[0])
        for band in MAG_COLUMNS:
            value = _to_float(tokens[index[band]]) if band in index else math.nan
            mags[band].append(math.nan if value is None else value)
        value = _to_float(tokens[index['Clas']]) if 'Clas' in index else math.nan
        clas.append(-1 if value is None or math.isnan(value) else int(value))

    table = Table()
    table['name'] = np.array(names, dtype=str) if names else np.array([], dtype='U1')
    table['ra'] = np.array(ra, dtype=float)
    table['dec'] = np.array(dec, dtype=float)
    band_values = np.array([mags[band] for band in MAG_COLUMNS], dtype=float).reshape(
        len(MAG_COLUMNS), len(ra))
    n_mag = np.sum(np.isfinite(band_values), axis=0)
    with np.errstate(invalid='ignore'):
        mean_mag = np.where(n_mag > 0, np.nansum(band_values, axis=0) / np.maximum(n_mag, 1),
                            np.nan)
    table['mag'] = mean_mag
    table['n_mag'] = n_mag.astype(int)
    table['clas'] = np.array(clas, dtype=int)
    table['is_star'] = table['clas'] == 0
    for band, values in zip(MAG_COLUMNS, band_values):
        table[band] = values
    table.meta['path'] = str(path)
    return table


def _fmt(value, fmt):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    return format(value, fmt)


def format_star_catalog(ra: ArrayLike, dec: ArrayLike, mag: ArrayLike | None = None,
                        is_star: ArrayLike | None = None, names: Sequence[str] | None = None,
                        band_mags: Mapping[str, ArrayLike] | None = None,
                        center: tuple[float, float] | None = None,
                        radius_arcmin: float | None = None) -> str:
    """Return the text of a ``findgsc2.2``-style star catalogue.

    Parameters
    ----------
    ra, dec : array_like
        Positions in degrees.
    mag : array_like, optional
        One magnitude per entry, written as ``Fmag`` (NaN -> ``---``).
        Ignored for a band given in ``band_mags``.
    is_star : array_like of bool, optional
        ``Clas`` is 0 for stars and 3 (non-star) otherwise; default all stars.
    names : sequence of str, optional
        Entry names; default ``SPxxxxxxxx`` counters.
    band_mags : dict, optional
        ``{'Fmag': array, 'Jmag': array, ...}``: individual magnitudes.
    center : tuple of float, optional
        (ra, dec) of the query, written in the preamble.
    radius_arcmin : float, optional
        Query radius, written in the preamble.

    Returns
    -------
    str
    """
    ra = np.atleast_1d(np.asarray(ra, dtype=float))
    dec = np.atleast_1d(np.asarray(dec, dtype=float))
    n_obj = len(ra)
    if len(dec) != n_obj:
        raise ValueError('ra and dec must have the same length')
    bands = {band: np.full(n_obj, np.nan) for band in MAG_COLUMNS}
    if mag is not None:
        bands['Fmag'] = np.atleast_1d(np.asarray(mag, dtype=float))
    for band, values in (band_mags or {}).items():
        if band not in bands:
            raise ValueError(f'unknown magnitude column {band}; use one of {MAG_COLUMNS}')
        bands[band] = np.atleast_1d(np.asarray(values, dtype=float))
    for band, values in bands.items():
        if len(values) != n_obj:
            raise ValueError(f'{band} must have one value per position')
    stars = np.ones(n_obj, bool) if is_star is None else np.asarray(is_star, bool)
    if names is None:
        names = [f'SP{i:08d}' for i in range(n_obj)]

    if center is None:
        center = (float(np.mean(ra)), float(np.mean(dec))) if n_obj else (0.0, 0.0)
    radius = 'unknown' if radius_arcmin is None else f'{radius_arcmin:.4f} arcmin'
    lines = [
        '#GSC2.2 star catalogue (format of the CDS findgsc2.2 client), written by shapepipe',
        f'#Center: {center[0]:.6f} {center[1]:+.6f}',
        f'#Radius: {radius}',
        '#GSC2.2     ;  RA(J2000)   Dec(J2000)    Fmag    Jmag    Vmag    Nmag  Clas',
    ]
    for i in range(n_obj):
        row = [f'{names[i]:<12s}', f'{ra[i]:11.7f}', f'{dec[i]:+12.7f}']
        row += [f'{_fmt(float(bands[band][i]), ".2f"):>7s}' for band in MAG_COLUMNS]
        row.append(f'{0 if stars[i] else 3:5d}')
        lines.append(' '.join(row[:1]) + ' ; ' + ' '.join(row[1:]))
    lines += [
        '#',
        f'#Number of entries: {n_obj}',
        '#Magnitudes: Fmag, Jmag, Vmag, Nmag (--- when missing)',
        '#Clas: 0 = star, 3 = non-star',
        '#End of catalogue',
    ]
    return '\n'.join(lines) + '\n'


def write_star_catalog(path: str | os.PathLike, ra: ArrayLike, dec: ArrayLike,
                       mag: ArrayLike | None = None, is_star: ArrayLike | None = None,
                       names: Sequence[str] | None = None,
                       band_mags: Mapping[str, ArrayLike] | None = None,
                       center: tuple[float, float] | None = None,
                       radius_arcmin: float | None = None) -> None:
    """Write a ``findgsc2.2``-style star catalogue atomically.

    Parameters are those of :func:`format_star_catalog`; ``path`` is the
    output file (``star_cat{num}.cat`` for the mask module).
    """
    write_text(path, format_star_catalog(ra, dec, mag=mag, is_star=is_star, names=names,
                                         band_mags=band_mags, center=center,
                                         radius_arcmin=radius_arcmin))


#: Seconds allowed for one online star query.
QUERY_TIMEOUT = 120


def query_gsc(client: str, ra: float, dec: float, radius_arcmin: float,
              timeout: float = QUERY_TIMEOUT) -> Table:
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
