"""Write one HDU of a (tile-compressed) FITS file as a plain FITS image."""

from __future__ import annotations

from typing import TYPE_CHECKING
from astropy.io import fits

from shapepipe.errors import InputError
from shapepipe.io.atomic import atomic_path

if TYPE_CHECKING:
    import os


def uncompress(path: str | os.PathLike, output: str | os.PathLike, hdu_index: int) -> None:
    """Copy HDU ``hdu_index`` of ``path`` (data and header) to ``output``."""
    try:
        with fits.open(path) as hdul:
            if hdu_index >= len(hdul):
                raise InputError(f'{path} has {len(hdul)} HDUs: HDU_DATA = {hdu_index} does not '
                                 f'exist', path=path)
            hdu = hdul[hdu_index]
            data, header = hdu.data, hdu.header.copy()
            if data is None:
                raise InputError(f'{path}: HDU {hdu_index} holds no image: fix HDU_DATA',
                                 path=path)
    except OSError as error:
        raise InputError(f'{path}: cannot read ({error})', path=path) from None
    for key in ('ZIMAGE', 'ZBITPIX', 'ZNAXIS', 'ZNAXIS1', 'ZNAXIS2', 'ZCMPTYPE', 'XTENSION',
                'PCOUNT', 'GCOUNT'):
        header.remove(key, ignore_missing=True)
    with atomic_path(output) as tmp:
        fits.PrimaryHDU(data, header=header).writeto(tmp)
