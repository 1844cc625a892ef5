"""FITS side of the mask: reading the image, weight and external flag files,
flagging missing data, and the flag file's header and writing."""

from __future__ import annotations

from typing import TYPE_CHECKING
import warnings

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning

from shapepipe.errors import InputError
from shapepipe.io.atomic import atomic_path

if TYPE_CHECKING:
    import os

    from shapepipe.modules.mask_package.mask import MaskSummary

#: Header keywords not copied from the image to the flag file.
STRUCTURAL = {'SIMPLE', 'BITPIX', 'NAXIS', 'NAXIS1', 'NAXIS2', 'EXTEND', 'BZERO', 'BSCALE',
              'BLANK', 'CHECKSUM', 'DATASUM', 'XTENSION', 'PCOUNT', 'GCOUNT', 'ZIMAGE',
              'ZBITPIX', 'ZNAXIS', 'ZNAXIS1', 'ZNAXIS2', 'ZTILE1', 'ZTILE2', 'ZCMPTYPE',
              'ZQUANTIZ', 'ZDITHER0', 'EXTNAME', 'EXTVER', 'INHERIT'}


def open_image_hdu(path: str | os.PathLike, kind: str,
                   ) -> tuple[fits.HDUList, fits.PrimaryHDU | fits.ImageHDU | fits.CompImageHDU]:
    """``(hdul, hdu)``: the file opened (memory-mapped) and its first 2-d image HDU."""
    try:
        hdul = fits.open(path, memmap=True)
    except (OSError, ValueError) as error:
        raise InputError(f'{path}: cannot read {kind} FITS file ({error})', path=path) from None
    for hdu in hdul:
        if hdu.is_image and hdu.header.get('NAXIS', 0) == 2:
            return hdul, hdu
    hdul.close()
    raise InputError(f'{path}: no 2-d image HDU in the {kind} file', path=path)


def hdu_shape(hdu: fits.PrimaryHDU | fits.ImageHDU | fits.CompImageHDU) -> tuple[int, int]:
    """(ny, nx) from the header, without reading the data."""
    return int(hdu.header['NAXIS2']), int(hdu.header['NAXIS1'])


def read_celestial_wcs(header: fits.Header, path: str | os.PathLike) -> WCS:
    """The celestial WCS of an image header; InputError when there is none."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', FITSFixedWarning)
        try:
            wcs = WCS(header)
        except Exception as error:  # astropy raises many types for bad WCS
            raise InputError(f'{path}: invalid WCS in the image header ({error})',
                             path=path) from None
    if not wcs.has_celestial:
        raise InputError(f'{path}: the image header has no celestial WCS', path=path)
    return wcs.celestial


def flag_missing(flag: np.ndarray, image_hdu: fits.PrimaryHDU | fits.ImageHDU | fits.CompImageHDU,
                 weight_hdu: fits.PrimaryHDU | fits.ImageHDU | fits.CompImageHDU,
                 value: int, rows: int = 512) -> int:
    """Flag pixels of image value 0 (or non-finite) or weight 0, in row chunks.

    Reading by chunks of a memory-mapped file keeps a 10000x10000 tile's
    missing-data pass to a few MB instead of holding image and weight.

    Returns
    -------
    int
        Number of missing pixels.
    """
    n_missing = 0
    value = np.int16(value)
    for start in range(0, flag.shape[0], rows):
        stop = min(start + rows, flag.shape[0])
        image = np.asarray(image_hdu.data[start:stop])
        missing = (image == 0) | ~np.isfinite(image)
        missing |= np.asarray(weight_hdu.data[start:stop]) == 0
        flag[start:stop][missing] |= value
        n_missing += int(np.count_nonzero(missing))
    return n_missing


def flag_missing_from_weight(flag: np.ndarray,
                             image_hdu: fits.PrimaryHDU | fits.ImageHDU | fits.CompImageHDU,
                             weight_path: str | os.PathLike, value: int) -> int:
    """:func:`flag_missing` with the weight file's first 2-d HDU (shape checked)."""
    whdul, whdu = open_image_hdu(weight_path, 'weight')
    with whdul:
        if hdu_shape(whdu) != flag.shape:
            raise InputError(f'{weight_path}: weight shape differs from image shape '
                             f'{flag.shape}', path=weight_path)
        return flag_missing(flag, image_hdu, whdu, value)


def read_external_flags(flag_path: str | os.PathLike, flag_hdu: int | str,
                        shape: tuple[int, int]) -> np.ndarray:
    """HDU ``flag_hdu`` of an external flag file as int16 of the image ``shape``.

    InputError naming the file when the HDU is missing, of another shape, or
    holds values outside 0..32767.
    """
    try:
        ehdul = fits.open(flag_path, memmap=True)
        external = ehdul[flag_hdu].data
    except (OSError, ValueError, IndexError) as error:
        raise InputError(f'{flag_path}: cannot read HDU {flag_hdu} of the external flag '
                         f'file ({error})', path=flag_path) from None
    with ehdul:
        if external is None or external.shape != shape:
            got = None if external is None else external.shape
            raise InputError(f'{flag_path}: external flag HDU {flag_hdu} has shape {got}, '
                             f'the image {shape}; check the HDU option', path=flag_path)
        external = np.asarray(external)
        if not np.issubdtype(external.dtype, np.integer):
            external = np.nan_to_num(external).astype(np.int64)
        if external.size and (external.min() < 0 or external.max() >= 2 ** 15):
            raise InputError(f'{flag_path}: external flag values outside 0..32767 do not '
                             f'fit the int16 output', path=flag_path)
        return external.astype(np.int16)


def flag_header(image_header: fits.Header, summary: MaskSummary,
                thresh_flag: float) -> fits.Header:
    """The flag file's header: the image's non-structural cards plus summary cards."""
    out = fits.Header()
    for card in image_header.cards:
        if card.keyword in STRUCTURAL or card.keyword == '':
            continue
        out.append(card, end=True)
    out['NSTREAD'] = (summary.n_stars_read, 'stars read for halo/spike masks')
    out['NSTHALO'] = (summary.n_halo_stars, 'stars with a halo mask')
    out['NSTSPIKE'] = (summary.n_spike_stars, 'stars with a spike mask')
    out['NSTNOMAG'] = (summary.n_stars_no_mag, 'stars without magnitude, not masked')
    if np.isfinite(summary.missing_fraction):
        out['MRATIO'] = (summary.missing_fraction, 'ratio missing_pixels/all_pixels')
        out['MFLAG'] = (summary.missing_flagged, f'threshold value {thresh_flag:.3}')
    return out


def write_flag_file(path: str | os.PathLike, flag: np.ndarray, header: fits.Header) -> None:
    """Write the int16 flag map with its header atomically."""
    hdu = fits.PrimaryHDU(data=flag.astype(np.int16, copy=False), header=header)
    with atomic_path(path) as tmp:
        hdu.writeto(tmp)
