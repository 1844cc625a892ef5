"""Match a catalogue to an external one by position (ShapePipe's match_external).

Each object is paired with its nearest external object; pairs closer than the
tolerance are matches. The output keeps every column of the input table, adds
the copied external columns (and the distance), and in MULTI-EPOCH mode the
matched rows of the input's EPOCH_i HDUs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from astropy.coordinates import SkyCoord, match_coordinates_sky
from astropy.io import fits
from astropy.table import Table

from shapepipe.errors import InputError
from shapepipe.io.atomic import atomic_path

if TYPE_CHECKING:
    from collections.abc import Sequence


def read_table(path: str, hdu_no: int) -> tuple[Table, list[str]]:
    """(Table, names of all HDUs) of a catalogue."""
    try:
        with fits.open(path) as hdul:
            names = [hdu.name for hdu in hdul]
            if hdu_no >= len(hdul) or hdul[hdu_no].data is None:
                raise InputError(f'{path}: HDU {hdu_no} holds no table ({len(hdul)} HDUs)',
                                 path=path)
            return Table(hdul[hdu_no].data), names
    except OSError as error:
        raise InputError(f'{path}: cannot read the catalogue ({error})', path=path) from None


def _columns(table, names, path, key):
    missing = [c for c in names if c not in table.colnames]
    if missing:
        raise InputError(f'{path} has no column {missing[0]}: fix {key}', path=path)
    return [np.asarray(table[c], float) for c in names[:2]]


def match_external(path: str, output: str, tolerance_arcsec: float, col_match: Sequence[str],
                   hdu_no: int, mode: str, external_path: str,
                   external_col_match: Sequence[str], external_col_copy: Sequence[str],
                   external_hdu_no: int = 1, mark_non_matched: float | str | None = None,
                   output_distance: bool = False) -> tuple[int, int] | None:
    """Write the matched catalogue; return (matched, total) or None when nothing
    matched (no file written, as ShapePipe).

    With ``mark_non_matched`` every object is written and the copied external
    columns hold that value where there is no match.
    """
    external, _ = read_table(external_path, external_hdu_no)
    ext_ra, ext_dec = _columns(external, external_col_match, external_path,
                               'EXTERNAL_COL_MATCH')
    _columns(external, external_col_copy, external_path, 'EXTERNAL_COL_COPY')
    data, hdu_names = read_table(path, hdu_no)
    ra, dec = _columns(data, col_match, path, 'COL_MATCH')
    if len(data) == 0 or len(external) == 0:
        return None
    index, sep, _ = match_coordinates_sky(SkyCoord(ra, dec, unit='deg'),
                                          SkyCoord(ext_ra, ext_dec, unit='deg'))
    distance = sep.arcsec
    close = distance < tolerance_arcsec
    if not close.any():
        return None
    rows = np.arange(len(data)) if mark_non_matched is not None else np.flatnonzero(close)
    matched = data[rows]
    for column in external_col_copy:
        values = np.array(external[column][index[rows]])
        if mark_non_matched is not None:
            if values.dtype.kind in 'iu' and float(mark_non_matched).is_integer():
                values[~close] = int(mark_non_matched)
            else:
                values = values.astype(float) if values.dtype.kind in 'iuf' else values.astype(
                    object)
                values[~close] = mark_non_matched
        matched[column] = values
    if output_distance:
        matched['distance'] = distance[rows]
    hdus = [fits.PrimaryHDU(), fits.table_to_hdu(matched)]
    hdus[1].name = 'MATCHED'
    if mode == 'MULTI-EPOCH':
        with fits.open(path) as hdul:
            for number, name in enumerate(hdu_names):
                if 'EPOCH' in name:
                    epoch = Table(hdul[number].data)[rows]
                    hdu = fits.table_to_hdu(epoch)
                    hdu.name = name
                    hdus.append(hdu)
    with atomic_path(output) as tmp:
        fits.HDUList(hdus).writeto(tmp)
    return int(close.sum()), len(data)
