"""Split a multi-HDU exposure mosaic into single-CCD files.

TPV distortion terms (PV keywords) are converted to SIP (see
:mod:`tpv_to_sip`), so that every FITS reader applies the distortion.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from astropy.io import fits
from astropy.utils.exceptions import AstropyUserWarning
from astropy.wcs import WCS, FITSFixedWarning

from shapepipe import cfis
from shapepipe.errors import InputError
from shapepipe.io.atomic import atomic_path
from shapepipe.io.exposure_headers import write_headers_file
from shapepipe.modules.split_exp_package.tpv_to_sip import tpv_to_sip

import warnings

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import DTypeLike

    from shapepipe.io.atomic import AtomicGroup


_UNREADABLE = (OSError, ValueError, TypeError, AstropyUserWarning)


def _truncated(path, index, error):
    return InputError(f'{path}: HDU {index} cannot be read ({error}); the file is corrupt or '
                      f'truncated: re-download or regenerate it', path=path, hdu=index)


def ccd_hdus(hdul: fits.HDUList, path: str) -> list[fits.hdu.base.ExtensionHDU]:
    """The image HDUs of a mosaic (primary excluded when it holds no data).

    Every HDU's header is read here, so a truncated file fails before any CCD
    is written.

    Raises
    ------
    InputError
        Naming the file and the first HDU (0 = primary) that cannot be read.
    """
    hdus = []
    index = 1
    while True:
        try:
            with warnings.catch_warnings():
                # astropy only warns when an HDU runs past the end of the file.
                warnings.simplefilter('error', AstropyUserWarning)
                hdu = hdul[index]
        except IndexError:
            return hdus
        except _UNREADABLE as error:
            raise _truncated(path, index, error) from None
        if hdu.is_image:
            hdus.append(hdu)
        index += 1


def ccd_number(hdu: fits.hdu.base.ExtensionHDU, index: int) -> int:
    """The CCD number: the CCDNUM keyword, a ``ccdNN`` EXTNAME, or the HDU order
    (:func:`shapepipe.cfis.ccd_number`, shared with create_star_cat)."""
    return cfis.ccd_number(hdu.header, index)


def split_mosaic(path: str, output_dir: str, suffix: str, number: str, n_hdu: int,
                 dtype: DTypeLike | None = None, header_list: list[dict] | None = None,
                 group: AtomicGroup | None = None) -> list[str]:
    """Write ``{suffix}{number}-{ccd}.fits`` for every CCD of a mosaic.

    Parameters
    ----------
    path : str
        Mosaic (``.fitsfz`` or ``.fits``).
    n_hdu : int
        Expected number of CCD HDUs; a mosaic with fewer is an error.
    dtype : numpy dtype, optional
        Output pixel type (int16 for flags).
    header_list : list, optional
        When given, receives ``{'ccd', 'WCS', 'header'}`` per CCD (SIP WCS).
    group : shapepipe.io.atomic.AtomicGroup, optional
        When given, the CCD files are written under its temporary names and
        appear only when the whole group succeeds (no partial exposure);
        otherwise each CCD file is written atomically on its own.

    Raises
    ------
    InputError
        Unreadable/corrupt file or too few HDUs.
    """
    try:
        hdul = fits.open(path, memmap=True)
    except (OSError, ValueError) as error:
        raise InputError(f'{path}: not a readable FITS file ({error}); re-download or '
                         f'regenerate it', path=path) from None
    written = []
    with hdul:
        hdus = ccd_hdus(hdul, path)
        if len(hdus) < n_hdu:
            raise InputError(f'{path} has {len(hdus)} CCD HDUs but N_HDU = {n_hdu}: set N_HDU '
                             f'to the number of CCDs in the mosaic or replace the file', path=path)
        for index, hdu in enumerate(hdus[:n_hdu]):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter('error', AstropyUserWarning)
                    data = hdu.data
            except _UNREADABLE as error:
                raise _truncated(path, hdul.index_of(hdu), error) from None
            if data is None:
                raise InputError(f'{path}: HDU {index + 1} holds no image', path=path)
            ccd = ccd_number(hdu, index)
            header = tpv_to_sip(hdu.header, data.shape)
            for key in ('ZIMAGE', 'ZBITPIX', 'ZNAXIS', 'ZNAXIS1', 'ZNAXIS2', 'ZCMPTYPE'):
                header.remove(key, ignore_missing=True)
            if dtype is not None:
                data = data.astype(dtype)
            out = os.path.join(output_dir, f'{suffix}{number}-{ccd}.fits')
            if group is not None:
                fits.PrimaryHDU(data, header=header).writeto(group.temporary(out))
            else:
                with atomic_path(out) as tmp:
                    fits.PrimaryHDU(data, header=header).writeto(tmp)
            written.append(out)
            del data
            del hdu.data          # drop the decompressed CCD: memory stays at one CCD
            if header_list is not None:
                with warnings.catch_warnings():
                    warnings.simplefilter('ignore', FITSFixedWarning)
                    wcs = WCS(header)
                header_list.append({'ccd': ccd, 'WCS': wcs, 'header': header.tostring()})
    return written


def save_headers(path: str, header_list: Sequence[dict]) -> None:
    """``headers{num}.npy``: per-CCD WCS and header, no pickle
    (:func:`shapepipe.io.exposure_headers.write_headers_file`)."""
    write_headers_file(path, header_list)
