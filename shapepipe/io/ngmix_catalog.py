"""The ngmix catalogue ``ngmix<num>.fits`` (ngmix_runner), owned here.

One binary table per metacalibration type, HDUs in the order :data:`HDU_ORDER`
(``1M 1P 2M 2P NOSHEAR``), one row per object, columns :data:`COLUMNS` in
that order (ShapePipe's names). Integer columns are 64-bit for ``id`` (K),
32-bit for the others (J); every other column is float64 (D). A quantity that
could not be measured holds :data:`DEFAULT`.

How the columns appear in the final catalogue (``NGMIX_<name>_<type>``,
make_cat) is :data:`FINAL_BLOCK` and :data:`FINAL_OBJECT_COLUMNS`, here too.

To add a column: add one :class:`Column` line to :data:`COLUMNS`. The writer,
the reader, empty and concatenated tables, the measurement's default fill
(``ngmix_package.measure``) and merge_sep_cats follow; add a line to
:data:`FINAL_BLOCK` to carry it into the final catalogue.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from astropy.io import fits

from shapepipe.errors import InputError
from shapepipe.io.atomic import atomic_path
from shapepipe.io.fits_errors import reading, require_columns

#: Metacalibration types, in the HDU order of the file.
HDU_ORDER = ('1M', '1P', '2M', '2P', 'NOSHEAR')
MCAL_TYPES = HDU_ORDER
#: ShapePipe's value of a quantity that could not be measured.
DEFAULT = -10.0
#: Final-catalogue flag bit of an object absent from the ngmix catalogue
#: (``NGMIX_FLAGS_<type>``, ``NGMIX_MCAL_FLAGS``).
FLAG_NOT_MEASURED = 1 << 20

_NUMPY = {'K': np.int64, 'J': np.int32, 'D': np.float64}
#: ``{type: {column: array}}``, the catalogue in memory.
Tables = dict[str, dict[str, np.ndarray]]


@dataclass(frozen=True)
class Column:
    """One column of every HDU of the ngmix catalogue."""

    name: str
    format: str = 'D'       # FITS TFORM: K int64, J int32, D float64
    doc: str = ''

    @property
    def dtype(self) -> np.dtype:
        """The numpy type of the column."""
        return np.dtype(_NUMPY[self.format])


COLUMNS_SPEC = (
    Column('id', 'K', 'Object NUMBER in the tile catalogue'),
    Column('n_epoch_model', 'J', 'Epochs used in the fit'),
    Column('moments_fail', 'J', 'Epochs whose PSF moments failed'),
    Column('ntry_fit', 'J', 'Fit attempts'),
    Column('g1_psfo_ngmix', 'D', 'PSF g1, Gaussian fit of the original PSF (epoch mean)'),
    Column('g2_psfo_ngmix', 'D', 'PSF g2, Gaussian fit of the original PSF'),
    Column('T_psfo_ngmix', 'D', 'PSF size T (arcsec^2) of the original PSF'),
    Column('g1_err_psfo_ngmix', 'D', 'Error of g1_psfo_ngmix'),
    Column('g2_err_psfo_ngmix', 'D', 'Error of g2_psfo_ngmix'),
    Column('T_err_psfo_ngmix', 'D', 'Error of T_psfo_ngmix'),
    Column('g1', 'D', 'Galaxy reduced shear estimate g1'),
    Column('g1_err', 'D', 'Error of g1'),
    Column('g2', 'D', 'Galaxy reduced shear estimate g2'),
    Column('g2_err', 'D', 'Error of g2'),
    Column('T', 'D', 'Galaxy size T = 2 sigma^2 (arcsec^2)'),
    Column('T_err', 'D', 'Error of T'),
    Column('Tpsf', 'D', 'Size T of the metacal target PSF (arcsec^2)'),
    Column('g1_psf', 'D', 'g1 of the target PSF (0: round)'),
    Column('g2_psf', 'D', 'g2 of the target PSF (0: round)'),
    Column('flux', 'D', 'Flux (flux-scaled units)'),
    Column('flux_err', 'D', 'Error of flux'),
    Column('s2n', 'D', 'Signal-to-noise ratio'),
    Column('mag', 'D', 'Magnitude, MAG_ZP - 2.5 log10(flux)'),
    Column('mag_err', 'D', 'Error of mag'),
    Column('flags', 'J', 'Flag bits of this metacal type (ngmix_package.flags)'),
    Column('mcal_flags', 'J', 'Or of the flags of all types and the object flags'),
    Column('epoch_flags', 'J', 'Informative per-object bits (flags.INFO)'),
)
#: Column names in file order.
COLUMNS = tuple(c.name for c in COLUMNS_SPEC)
#: Integer columns (``id`` int64, the others int32).
INT_COLUMNS = tuple(c.name for c in COLUMNS_SPEC if c.format != 'D')
_SPEC = {c.name: c for c in COLUMNS_SPEC}

#: The per-type block of the final catalogue, in its column order:
#: (final name, ngmix column(s), FITS format, default); the final column is
#: ``<final name>_<type>``; two ngmix columns make a 2-vector.
FINAL_BLOCK = (
    ('NGMIX_ELL', ('g1', 'g2'), '2D', DEFAULT),
    ('NGMIX_ELL_ERR', ('g1_err', 'g2_err'), '2D', DEFAULT),
    ('NGMIX_ELL_PSFo', ('g1_psfo_ngmix', 'g2_psfo_ngmix'), '2D', DEFAULT),
    ('NGMIX_T', ('T',), 'D', DEFAULT),
    ('NGMIX_T_ERR', ('T_err',), 'D', DEFAULT),
    ('NGMIX_Tpsf', ('Tpsf',), 'D', DEFAULT),
    ('NGMIX_T_PSFo', ('T_psfo_ngmix',), 'D', DEFAULT),
    ('NGMIX_SNR', ('s2n',), 'D', DEFAULT),
    ('NGMIX_FLUX', ('flux',), 'D', DEFAULT),
    ('NGMIX_FLUX_ERR', ('flux_err',), 'D', DEFAULT),
    ('NGMIX_MAG', ('mag',), 'D', DEFAULT),
    ('NGMIX_MAG_ERR', ('mag_err',), 'D', DEFAULT),
    ('NGMIX_FLAGS', ('flags',), 'J', FLAG_NOT_MEASURED),
)
#: Per-object final columns taken from the NOSHEAR HDU, after the block:
#: (final name, ngmix column, default).
FINAL_OBJECT_COLUMNS = (
    ('NGMIX_MCAL_FLAGS', 'mcal_flags', FLAG_NOT_MEASURED),
    ('NGMIX_N_EPOCH', 'n_epoch_model', 0),
    ('NGMIX_MOM_FAIL', 'moments_fail', 0),
)

#: The ngmix columns the final catalogue reads.
FINAL_SOURCES = tuple(dict.fromkeys([s for b in FINAL_BLOCK for s in b[1]] + [
    source for _, source, _ in FINAL_OBJECT_COLUMNS] + ['id']))


def final_name(block_name: str, kind: str) -> str:
    """``NGMIX_ELL`` and ``1M`` -> ``NGMIX_ELL_1M`` (a final-catalogue column)."""
    return f'{block_name}_{kind}'


def _hdu(name, columns):
    cols = [fits.Column(name=c.name, format=c.format, array=np.asarray(columns[c.name]))
            for c in COLUMNS_SPEC]
    return fits.BinTableHDU.from_columns(cols, name=name)


def write_ngmix_catalog(path: str, tables: Tables) -> None:
    """Write ``{type: {column: array}}`` atomically (every type of :data:`HDU_ORDER`)."""
    hdus = [fits.PrimaryHDU()] + [_hdu(name, tables[name]) for name in HDU_ORDER]
    with atomic_path(path) as tmp:
        fits.HDUList(hdus).writeto(tmp)


def read_ngmix_catalog(path: str, required: Sequence[str] = COLUMNS) -> Tables:
    """``{type: {column: array}}`` of an ngmix catalogue.

    Raises
    ------
    InputError
        Missing or unreadable file, a missing HDU or a missing ``required`` column.
    """
    fix = 'give an ngmix_runner output catalogue'
    with reading(path, 'ngmix catalogue', fix), fits.open(path, memmap=False) as hdul:
        names = [hdu.name for hdu in hdul]
        lacking = [kind for kind in HDU_ORDER if kind not in names]
        if lacking:
            raise InputError(f'{path}: no HDU {", ".join(lacking)}; {fix}', path=path)
        tables = {}
        for kind in HDU_ORDER:
            data = hdul[kind].data
            present = data.columns.names if data is not None else []
            require_columns(path, f'HDU {kind}', present, required, fix)
            tables[kind] = {c: _native(data[c]) for c in present}
        return tables


def _native(values):
    """A column as a numpy array in native byte order (FITS is big-endian)."""
    values = np.asarray(values)
    return values.astype(values.dtype.newbyteorder('='))


def empty_tables() -> Tables:
    """Tables without rows (a job whose ID range holds no object)."""
    return {name: {c.name: np.zeros(0, c.dtype) for c in COLUMNS_SPEC} for name in HDU_ORDER}


def concatenate_tables(parts: Sequence[Tables]) -> Tables:
    """Join ``{type: {column: array}}`` dicts (batches of one job)."""
    if not parts:
        return empty_tables()
    return {name: {key: np.concatenate([np.asarray(p[name][key]) for p in parts])
                   for key in COLUMNS} for name in HDU_ORDER}


def _check_final_sources():
    """A renamed ngmix column must be renamed in the final blocks too (fails at import)."""
    sources = [(b[0], s) for b in FINAL_BLOCK for s in b[1]] + [
        (name, source) for name, source, _ in FINAL_OBJECT_COLUMNS]
    for name, source in sources:
        if source not in _SPEC:
            raise ImportError(f'shapepipe.io.ngmix_catalog: final column {name} refers to '
                              f'{source}, not an ngmix column')


_check_final_sources()
