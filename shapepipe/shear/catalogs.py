"""Shear catalogues for calibration: our final catalogues or ngmix_runner
outputs read into one layout, with the selection cuts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
import dataclasses
import os

import numpy as np
from astropy.io import fits

from shapepipe.errors import InputError
from shapepipe.io.final_catalog import FINAL_HDU
from shapepipe.io.fits_errors import reading, require_columns
from shapepipe.io.ngmix_catalog import MCAL_TYPES, final_name

if TYPE_CHECKING:
    from astropy.table import Table
    from numpy.typing import ArrayLike

# (plus, minus) sheared measurements of component j = 0, 1.
SHEAR_PAIRS = (('1P', '1M'), ('2P', '2M'))
MEASUREMENT_KEYS = ('e', 'flags', 'snr', 'T', 'Tpsf')
FLAG_NOT_IN_HDU = 1 << 30      # object of NOSHEAR absent from a sheared HDU (ngmix file)
# Measurement key -> (final-catalogue block, ngmix column(s)): the formats are
# owned by shapepipe.io.ngmix_catalog (FINAL_BLOCK) and shapepipe.io.final_catalog.
_MEASUREMENTS = {'e': ('NGMIX_ELL', ('g1', 'g2')), 'flags': ('NGMIX_FLAGS', ('flags',)),
                 'snr': ('NGMIX_SNR', ('s2n',)), 'T': ('NGMIX_T', ('T',)),
                 'Tpsf': ('NGMIX_Tpsf', ('Tpsf',))}


@dataclasses.dataclass(frozen=True)
class Cuts:
    """Galaxy selection applied to each metacal measurement.

    An object is kept when ``flags == 0``, ``mcal_flags == 0``, the ellipticity is
    finite, ``snr > snr_min`` (and ``snr < snr_max`` if given) and
    ``T / Tpsf > size_min`` with ``Tpsf > 0``.
    """

    snr_min: float = 10.0
    snr_max: float = None
    size_min: float = 0.5

    def describe(self) -> str:
        """One-line text of the cuts, for messages and the table."""
        text = f'flags == 0, S/N > {self.snr_min:g}'
        if self.snr_max is not None:
            text += f', S/N < {self.snr_max:g}'
        return text + f', T/Tpsf > {self.size_min:g}'


def as_cuts(cuts: Cuts | Mapping[str, Any] | None) -> Cuts:
    """A :class:`Cuts` from None, a Cuts or a mapping of its fields."""
    if cuts is None:
        return Cuts()
    if isinstance(cuts, Cuts):
        return cuts
    return Cuts(**dict(cuts))


# ---------------------------------------------------------------------------
# Catalogues.
#
# A shear catalogue is a dict of N objects:
#   'id' (N,), 'mcal_flags' (N,), 'psf_e' (N, 2) or None, 'source' (str) and,
#   for each k in MCAL_TYPES, a dict {'e': (N, 2), 'flags', 'snr', 'T', 'Tpsf'}.
# ---------------------------------------------------------------------------

def _final_names(kind):
    return {key: final_name(block, kind) for key, (block, _) in _MEASUREMENTS.items()}


FINAL_REQUIRED = tuple(n for k in MCAL_TYPES for n in _final_names(k).values()) + (
    'NGMIX_MCAL_FLAGS', final_name('NGMIX_ELL_PSFo', 'NOSHEAR'))
NGMIX_REQUIRED = ('id',) + tuple(c for _, cols in _MEASUREMENTS.values() for c in cols)
NGMIX_NOSHEAR_REQUIRED = ('g1_psfo_ngmix', 'g2_psfo_ngmix', 'mcal_flags')


def _column_names(table):
    if hasattr(table, 'dtype') and table.dtype.names:
        return list(table.dtype.names)
    if hasattr(table, 'colnames'):
        return list(table.colnames)
    return list(table.keys())


def _check_columns(names, required, source, where, fix):
    require_columns(source, where, names, required, fix)


def catalog_from_final(table: fits.FITS_rec | Table | Mapping[str, ArrayLike],
                       source: str = 'catalogue') -> dict[str, Any]:
    """Shear catalogue from a table with the final-catalogue (``NGMIX_*``) columns."""
    _check_columns(_column_names(table), FINAL_REQUIRED, source, f'HDU {FINAL_HDU}',
                   'give a final catalogue made by make_cat from ngmix shapes')
    names = _column_names(table)
    n = len(np.asarray(table['NGMIX_MCAL_FLAGS']))
    catalog = {
        'id': np.asarray(table['NUMBER']) if 'NUMBER' in names else np.arange(n),
        'mcal_flags': np.asarray(table['NGMIX_MCAL_FLAGS']),
        'psf_e': _vector(table[FINAL_REQUIRED[-1]], source, FINAL_REQUIRED[-1]),
        'source': source,
    }
    for kind in MCAL_TYPES:
        cols = _final_names(kind)
        catalog[kind] = {key: (_vector(table[col], source, col) if key == 'e'
                               else np.asarray(table[col]))
                         for key, col in cols.items()}
    return catalog


def _vector(values, source, name):
    array = np.asarray(values, dtype=float)
    if array.ndim != 2 or array.shape[1] != 2:
        raise InputError(f'{source}: column {name} has shape {array.shape[1:]} per row, '
                         f'expected a 2-vector (e1, e2)', path=source)
    return array


def _ngmix_measurement(data, rows):
    n = len(rows)
    found = rows >= 0
    measurement = {'e': np.full((n, 2), np.nan), 'flags': np.full(n, FLAG_NOT_IN_HDU),
                   'snr': np.full(n, np.nan), 'T': np.full(n, np.nan),
                   'Tpsf': np.full(n, np.nan)}
    picked = rows[found]
    for key, (_, columns) in _MEASUREMENTS.items():
        for j, column in enumerate(columns):
            values = np.asarray(data[column], None if key == 'flags' else float)[picked]
            if key == 'e':
                measurement[key][found, j] = values
            else:
                measurement[key][found] = values
    return measurement


def catalog_from_ngmix(tables: Mapping[str, fits.FITS_rec | Table],
                       source: str = 'catalogue') -> dict[str, Any]:
    """Shear catalogue from the five ngmix_runner tables ``{kind: table}``.

    The NOSHEAR rows define the objects; the sheared tables are matched by ``id``
    (objects missing from one get the flag :data:`FLAG_NOT_IN_HDU` there).
    """
    for kind in MCAL_TYPES:
        required = NGMIX_REQUIRED + (NGMIX_NOSHEAR_REQUIRED if kind == 'NOSHEAR' else ())
        _check_columns(_column_names(tables[kind]), required, source, f'HDU {kind}',
                       'give an ngmix_runner output catalogue')
    noshear = tables['NOSHEAR']
    ids = np.asarray(noshear['id'])
    if len(np.unique(ids)) != len(ids):
        raise InputError(f'{source}: HDU NOSHEAR has repeated ids; the ngmix catalogue is '
                         f'corrupt, re-run ngmix_runner', path=source)
    index = {int(i): k for k, i in enumerate(ids)}
    catalog = {'id': ids, 'source': source,
               'psf_e': np.column_stack([np.asarray(noshear['g1_psfo_ngmix'], float),
                                         np.asarray(noshear['g2_psfo_ngmix'], float)]),
               'mcal_flags': np.asarray(noshear['mcal_flags'])}
    for kind in MCAL_TYPES:
        table_ids = np.asarray(tables[kind]['id'])
        if np.array_equal(table_ids, ids):
            rows = np.arange(len(ids))
        else:
            position = np.full(len(ids), -1)
            for row, object_id in enumerate(table_ids):
                k = index.get(int(object_id))
                if k is not None:
                    position[k] = row
            rows = position
        catalog[kind] = _ngmix_measurement(tables[kind], rows)
    return catalog


def read_catalog(path: str | os.PathLike) -> dict[str, Any]:
    """Shear catalogue of a final catalogue or ngmix_runner FITS file (detected by HDU names)."""
    path = os.fspath(path)
    formats = 'a final_cat*.fits (HDU RESULTS) or ngmix*.fits (HDUs 1M 1P 2M 2P NOSHEAR)'
    if not os.path.isfile(path):
        raise InputError(f'{path}: no such catalogue; give {formats} with -i', path=path)
    with reading(path, 'catalogue', f'give {formats}'), fits.open(path, memmap=False) as hdul:
        names = [hdu.name for hdu in hdul]
        if FINAL_HDU in names:
            return catalog_from_final(hdul[FINAL_HDU].data, path)
        if all(kind in names for kind in MCAL_TYPES):
            return catalog_from_ngmix({kind: hdul[kind].data for kind in MCAL_TYPES}, path)
    raise InputError(f'{path}: has HDUs {", ".join(names)} only; give {formats}', path=path)


def as_shear_catalog(source: str | os.PathLike | Mapping[str, Any] | fits.FITS_rec | Table,
                     ) -> dict[str, Any]:
    """Shear catalogue from a path, a shear-catalogue dict or a final-catalogue table."""
    if isinstance(source, (str, os.PathLike)):
        return read_catalog(source)
    if isinstance(source, dict) and 'NOSHEAR' in source:
        return _validated(source)
    return catalog_from_final(source, 'catalogue')


def _validated(catalog):
    """Check and normalise a shear-catalogue dict given from Python."""
    source = catalog.get('source', 'catalogue')
    missing = [k for k in MCAL_TYPES if k not in catalog]
    if missing:
        raise InputError(f'{source}: shear catalogue lacks {", ".join(missing)}', path=source)
    n = len(np.asarray(catalog['NOSHEAR']['e']))
    result = {'source': source,
              'id': np.asarray(catalog.get('id', np.arange(n))),
              'mcal_flags': np.asarray(catalog.get('mcal_flags', np.zeros(n, int))),
              'psf_e': (None if catalog.get('psf_e') is None
                        else np.asarray(catalog['psf_e'], float))}
    for kind in MCAL_TYPES:
        measurement = catalog[kind]
        lacking = [key for key in MEASUREMENT_KEYS if key not in measurement]
        if lacking:
            raise InputError(f'{source}: measurement {kind} lacks {", ".join(lacking)}',
                             path=source)
        result[kind] = {key: np.asarray(measurement[key], float if key != 'flags' else None)
                        for key in MEASUREMENT_KEYS}
        if result[kind]['e'].shape != (n, 2):
            raise InputError(f'{source}: {kind} e has shape {result[kind]["e"].shape}, expected '
                             f'({n}, 2)', path=source)
        for key in MEASUREMENT_KEYS[1:]:
            if result[kind][key].shape != (n,):
                raise InputError(f'{source}: {kind} {key} has shape {result[kind][key].shape}, '
                                 f'expected ({n},)', path=source)
    return result


def subset_catalog(catalog: Mapping[str, Any], rows: np.ndarray) -> dict[str, Any]:
    """The catalogue restricted to ``rows`` (index array or boolean mask)."""
    result = {'source': catalog.get('source', 'catalogue'), 'id': catalog['id'][rows],
              'mcal_flags': catalog['mcal_flags'][rows],
              'psf_e': None if catalog.get('psf_e') is None else catalog['psf_e'][rows]}
    for kind in MCAL_TYPES:
        result[kind] = {key: value[rows] for key, value in catalog[kind].items()}
    return result


def read_truth(path: str | os.PathLike, ids: ArrayLike) -> np.ndarray:
    """True shear (N, 2) of the objects ``ids`` from a FITS table; NaN rows where unmatched.

    The table (first table HDU) has an ``id`` or ``NUMBER`` column and ``g1``, ``g2``.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputError(f'{path}: no such truth catalogue; give a FITS table with id, g1, g2 '
                         f'to --truth', path=path)
    try:
        with fits.open(path, memmap=False) as hdul:
            tables = [h for h in hdul if isinstance(h, (fits.BinTableHDU, fits.TableHDU))]
            if not tables:
                raise InputError(f'{path}: no table HDU; give a FITS table with id, g1, g2',
                                 path=path)
            data = tables[0].data
            names = {n.lower(): n for n in data.columns.names}
            id_name = names.get('id') or names.get('number')
            lacking = [n for n, ok in (('id or NUMBER', id_name), ('g1', 'g1' in names),
                                       ('g2', 'g2' in names)) if not ok]
            if lacking:
                raise InputError(f'{path}: truth table lacks column(s) {", ".join(lacking)}',
                                 path=path)
            truth_ids = np.asarray(data[id_name])
            g = np.column_stack([np.asarray(data[names['g1']], float),
                                 np.asarray(data[names['g2']], float)])
    except InputError:
        raise
    except (OSError, ValueError, TypeError, KeyError) as error:
        raise InputError(f'{path}: cannot read the truth catalogue ({error})', path=path) from None
    ids = np.asarray(ids)
    if len(np.unique(ids)) != len(ids):
        raise InputError(f'{path}: the catalogue ids repeat (a merged catalogue?); '
                         f'a per-object truth needs unique ids, use --g-true instead', path=path)
    index = {int(i): k for k, i in enumerate(truth_ids)}
    rows = np.array([index.get(int(i), -1) for i in ids], dtype=int)
    result = np.full((len(ids), 2), np.nan)
    result[rows >= 0] = g[rows[rows >= 0]]
    return result
