"""Read a SExtractor catalogue and write selections in the same layout.

FITS_LDAC (HDU 1 ``LDAC_IMHEAD``, HDU 2 ``LDAC_OBJECTS``) selections keep
both HDUs, so PSFEx can read them; a plain FITS table keeps its one table HDU.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING
import numpy as np
from astropy.io import fits

from shapepipe.errors import InputError
from shapepipe.io.atomic import atomic_path

if TYPE_CHECKING:
    import os

    from numpy.typing import ArrayLike

OBJECTS = 'LDAC_OBJECTS'
IMHEAD = 'LDAC_IMHEAD'


class Catalog:
    """A catalogue in memory.

    Attributes
    ----------
    path : str
    data : astropy.io.fits.FITS_rec
        The objects.
    header : astropy.io.fits.Header
        Header of the objects HDU.
    imhead : RawHDU or None
        The ``LDAC_IMHEAD`` HDU of a FITS_LDAC file (copied byte for byte).
    """

    def __init__(self, path, data, header, imhead=None):
        self.path = path
        self.data = data
        self.header = header
        self.imhead = imhead

    def __len__(self):
        return len(self.data)

    @classmethod
    def read(cls, path: str | os.PathLike) -> Catalog:
        """Read the objects HDU (``LDAC_OBJECTS``, else the first table)."""
        try:
            with fits.open(path, memmap=False) as hdul:
                names = [hdu.name for hdu in hdul]
                if OBJECTS in names:
                    objects = hdul[OBJECTS]
                else:
                    tables = [hdu for hdu in hdul if isinstance(hdu, fits.BinTableHDU)
                              and hdu.name != IMHEAD]
                    if not tables:
                        raise InputError(f'{path}: no table HDU (expected a SExtractor '
                                         f'FITS_LDAC catalogue)', path=path)
                    objects = tables[0]
                imhead = _raw_hdu(path, hdul[IMHEAD]) if IMHEAD in names else None
                data = objects.data
                if data is None:  # a table with no rows
                    data = fits.FITS_rec.from_columns(objects.columns, nrows=0)
                return cls(path, data.copy(), objects.header.copy(), imhead)
        except InputError:
            raise
        except (OSError, ValueError, TypeError) as error:
            raise InputError(f'{path}: cannot read catalogue ({error})', path=path) from None

    def write_selection(self, path: str | os.PathLike, rows: np.ndarray) -> int:
        """Write the rows selected by ``rows`` (bool mask or indices) atomically."""
        subset = self.data[rows]
        table = fits.BinTableHDU(data=subset, header=self.header.copy(),
                                 name=OBJECTS if self.imhead is not None else
                                 (self.header.get('EXTNAME') or OBJECTS))
        _write_ldac(path, table, self.imhead)
        return len(subset)


class RawHDU:
    """A table HDU kept as its header and raw data bytes.

    astropy strips the trailing blanks of string cells when reading and pads
    them with NUL bytes when writing: the 80-character cards of
    ``LDAC_IMHEAD`` would come back NUL-padded, and PSFEx crashes (segfault) on
    such a header. The HDU is therefore copied byte for byte.
    """

    def __init__(self, header, raw):
        self.header = header
        self.raw = raw

    def to_bytes(self) -> bytes:
        """The HDU as it is stored in a FITS file (header and padded data)."""
        data = self.raw + b'\0' * (-len(self.raw) % 2880)
        return self.header.tostring().encode('ascii') + data


def _raw_hdu(path, hdu):
    info = hdu.fileinfo()
    header = hdu.header.copy()
    size = header['NAXIS1'] * header['NAXIS2']
    with open(path, 'rb') as handle:
        handle.seek(info['datLoc'])
        raw = handle.read(size)
    return RawHDU(header, raw)


def _write_ldac(path, table, imhead):
    """Write [primary, imhead (byte copy), table] atomically."""
    with atomic_path(path) as tmp:
        fits.HDUList([fits.PrimaryHDU(), table]).writeto(tmp)
        if imhead is None:
            return
        with fits.open(tmp) as written:
            split = written[1].fileinfo()['hdrLoc']
        with open(tmp, 'rb') as handle:
            content = handle.read()
        with open(tmp, 'wb') as handle:
            handle.write(content[:split] + imhead.to_bytes() + content[split:])


def write_table(path: str | os.PathLike, columns: Mapping[str, ArrayLike],
                imhead: RawHDU | None = None) -> None:
    """Write ``{name: array}`` as a FITS table (``LDAC_OBJECTS``), optionally LDAC."""
    cols = []
    for name, values in columns.items():
        values = np.asarray(values)
        cols.append(fits.Column(name=name, array=values,
                                format=_fits_format(values)))
    table = fits.BinTableHDU.from_columns(cols, name=OBJECTS)
    _write_ldac(path, table, imhead)


def _fits_format(values):
    kind = values.dtype.kind
    if kind == 'b':
        return 'L'
    if kind in 'iu':
        return 'K'
    return 'D'
