"""Build the flag map of one image: border, halos, spikes, Messier/NGC
objects, missing data, merged with an external flag file.

Flags are bits combined with a bitwise or (ShapePipe added the maps, which
corrupts overlapping bits). Default values: halo 2, border 4, Messier 16,
NGC 32, spike 128, missing data 1024; ``BORDER_FLAG_VALUE`` is honoured
(ShapePipe ignored it and always wrote 4).
"""

import logging
import warnings
from dataclasses import dataclass, field

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning

from shapepipe.errors import InputError, JobSkipped
from shapepipe.io.atomic import atomic_path
from shapepipe.io.star_catalog import query_gsc, read_star_catalog
from shapepipe.modules.mask_package.deep_sky import mask_dso, read_dso_catalog
from shapepipe.modules.mask_package.polygons import (
    magnitude_scale, mask_stars, read_polygon_template,
)
from shapepipe.modules.mask_package.stars import select_bright_stars

#: Header keywords not copied from the image to the flag file.
_STRUCTURAL = {'SIMPLE', 'BITPIX', 'NAXIS', 'NAXIS1', 'NAXIS2', 'EXTEND', 'BZERO', 'BSCALE',
               'BLANK', 'CHECKSUM', 'DATASUM', 'XTENSION', 'PCOUNT', 'GCOUNT', 'ZIMAGE',
               'ZBITPIX', 'ZNAXIS', 'ZNAXIS1', 'ZNAXIS2', 'ZTILE1', 'ZTILE2', 'ZCMPTYPE',
               'ZQUANTIZ', 'ZDITHER0', 'EXTNAME', 'EXTVER', 'INHERIT'}

#: Stars farther than this from the image centre are not projected.
_MAX_STAR_SEPARATION_DEG = 60.0


@dataclass
class MaskSummary:
    """What was flagged, for the log and the output header."""

    shape: tuple = ()
    border_width: int = 0
    n_stars_read: int = 0
    n_halo_stars: int = 0
    n_spike_stars: int = 0
    n_stars_no_mag: int = 0
    messier: list = field(default_factory=list)
    ngc: list = field(default_factory=list)
    missing_fraction: float = float('nan')
    missing_flagged: bool = False
    external_merged: bool = False
    pixels: dict = field(default_factory=dict)

    def lines(self):
        """Human-readable lines for the process log."""
        out = [f'image shape (ny, nx) = {self.shape}']
        if self.border_width:
            out.append(f'border: {self.border_width} pixels')
        out.append(f'stars read: {self.n_stars_read}; halos: {self.n_halo_stars}; '
                   f'spikes: {self.n_spike_stars}; stars without magnitude (not masked): '
                   f'{self.n_stars_no_mag}')
        if self.messier or self.ngc:
            out.append(f'deep-sky objects masked: {", ".join(self.messier + self.ngc)}')
        if np.isfinite(self.missing_fraction):
            out.append(f'missing-data fraction: {self.missing_fraction:.4f}'
                       f'{" (image flagged)" if self.missing_flagged else ""}')
        if self.external_merged:
            out.append('external flags merged')
        out.append('flagged pixels per type: ' + ', '.join(
            f'{key} {value}' for key, value in self.pixels.items()))
        return out


def _image_hdu(path, kind):
    try:
        hdul = fits.open(path, memmap=True)
    except (OSError, ValueError) as error:
        raise InputError(f'{path}: cannot read {kind} FITS file ({error})', path=path) from None
    for hdu in hdul:
        if hdu.is_image and hdu.header.get('NAXIS', 0) == 2:
            return hdul, hdu
    hdul.close()
    raise InputError(f'{path}: no 2-d image HDU in the {kind} file', path=path)


def _read_wcs(header, path):
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


def _image_geometry(wcs, shape):
    """Centre (SkyCoord), half-diagonal (arcmin) and pixel scale (arcsec)."""
    ny, nx = shape
    centre = wcs.pixel_to_world((nx - 1) / 2.0, (ny - 1) / 2.0)
    corner = wcs.pixel_to_world(-0.5, -0.5)
    half_diag = SkyCoord(centre.ra, centre.dec).separation(
        SkyCoord(corner.ra, corner.dec)).arcmin
    scale = np.sqrt(np.abs(np.linalg.det(wcs.pixel_scale_matrix))) * 3600.0
    return SkyCoord(centre.ra, centre.dec), half_diag, scale


def _star_pixels(wcs, table, centre):
    coords = SkyCoord(ra=np.asarray(table['ra']) * u.deg, dec=np.asarray(table['dec']) * u.deg)
    near = coords.separation(centre).deg < _MAX_STAR_SEPARATION_DEG
    x = np.full(len(table), np.nan)
    y = np.full(len(table), np.nan)
    if near.any():
        xs, ys = wcs.world_to_pixel(coords[near])
        x[near], y[near] = xs, ys
    return x, y


def _flag_missing(flag, image_hdu, weight_hdu, value, rows=512):
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


def build_mask(image_path, weight_path, config, flag_path=None, flag_hdu=0,
               star_cat_path=None, log=None):
    """Compute the flag map of an image.

    Parameters
    ----------
    image_path, weight_path : str
        Image and weight FITS files (the first 2-d HDU is used).
    config : dict
        From :func:`read_mask_config`.
    flag_path : str, optional
        External flag file merged with a bitwise or (when ``EF_MAKE``).
    flag_hdu : int
        HDU of the external flag file.
    star_cat_path : str, optional
        ``findgsc2.2`` star catalogue; without it the CDS client is queried.
    log : logging.Logger, optional

    Returns
    -------
    flag : numpy.ndarray of int16
    header : astropy.io.fits.Header
        The image header (WCS and all non-structural cards) plus summary cards.
    summary : MaskSummary

    Raises
    ------
    InputError
        Unreadable or inconsistent inputs.
    ExecutableError
        The online star query failed (offline).
    JobSkipped
        ``MD_REMOVE`` and the missing-data fraction is above ``MD_THRESH_REMOVE``.
    """
    log = log or logging.getLogger(__name__)
    hdul, hdu = _image_hdu(image_path, 'image')
    with hdul:
        header = hdu.header.copy()
        shape = (int(header['NAXIS2']), int(header['NAXIS1']))
        wcs = _read_wcs(header, image_path)
        summary = MaskSummary(shape=shape)
        flag = np.zeros(shape, dtype=np.int16)

        md = config['MD_PARAMETERS']
        if md['MD_MAKE']:
            whdul, whdu = _image_hdu(weight_path, 'weight')
            with whdul:
                if (int(whdu.header['NAXIS2']), int(whdu.header['NAXIS1'])) != shape:
                    raise InputError(f'{weight_path}: weight shape differs from image shape '
                                     f'{shape}', path=weight_path)
                n_missing = _flag_missing(flag, hdu, whdu, md['MD_FLAG_VALUE'])
            summary.missing_fraction = n_missing / flag.size
            summary.missing_flagged = summary.missing_fraction >= md['MD_THRESH_FLAG']
            summary.pixels['missing'] = n_missing
            if md['MD_REMOVE'] and summary.missing_fraction >= md['MD_THRESH_REMOVE']:
                raise JobSkipped(
                    f'{image_path}: {summary.missing_fraction:.1%} of the pixels are missing '
                    f'(>= MD_THRESH_REMOVE = {md["MD_THRESH_REMOVE"]}): image removed, no '
                    f'flag file written', path=image_path)

    def count(name, value):
        # pixels carrying this type's bit(s) (no copy of the map: tiles are large)
        summary.pixels[name] = int(np.count_nonzero(flag & np.int16(value)))

    centre, half_diag, pix_scale = _image_geometry(wcs, shape)

    # Border
    border = config['BORDER_PARAMETERS']
    if border['BORDER_MAKE'] and border['BORDER_WIDTH'] > 0:
        width = border['BORDER_WIDTH']
        value = np.int16(border['BORDER_FLAG_VALUE'])
        flag[:width, :] |= value
        flag[-width:, :] |= value
        flag[:, :width] |= value
        flag[:, -width:] |= value
        summary.border_width = width
        count('border', value)

    # Halos and spikes
    halo, spike = config['HALO_PARAMETERS'], config['SPIKE_PARAMETERS']
    if halo['HALO_MAKE'] or spike['SPIKE_MAKE']:
        templates = {}
        extent = 0.0
        for name, section in (('HALO', halo), ('SPIKE', spike)):
            if section[f'{name}_MAKE']:
                templates[name] = read_polygon_template(section[f'{name}_MASKMODEL_PATH'])
                extent = max(extent, max(np.abs(p).max() for p in templates[name]))
        if star_cat_path is not None:
            stars = read_star_catalog(star_cat_path)
            log.info('stars from catalogue %s', star_cat_path)
        else:
            # Stars off the image can cast halos/spikes onto it: widen the query.
            radius = half_diag + 2.0 * extent * pix_scale / 60.0
            client = config['PROGRAM_PATH']['CDSCLIENT_PATH']
            log.info('querying %s around %.5f %+.5f, radius %.2f arcmin', client,
                     centre.ra.deg, centre.dec.deg, radius)
            stars = query_gsc(client, centre.ra.deg, centre.dec.deg, radius)
        summary.n_stars_read = len(stars)
        x, y = _star_pixels(wcs, stars, centre)
        no_mag_any = np.zeros(len(stars), bool)
        for name, section in (('HALO', halo), ('SPIKE', spike)):
            if name not in templates:
                continue
            keep, no_mag = select_bright_stars(stars, section[f'{name}_MAG_LIM'])
            no_mag_any |= no_mag
            scale = magnitude_scale(np.asarray(stars['mag'])[keep],
                                    section[f'{name}_SCALE_FACTOR'], section[f'{name}_MAG_PIVOT'])
            n_masked = mask_stars(flag, templates[name], x[keep], y[keep], scale,
                                  section[f'{name}_FLAG_VALUE'])
            if name == 'HALO':
                summary.n_halo_stars = n_masked
            else:
                summary.n_spike_stars = n_masked
            count(name.lower(), section[f'{name}_FLAG_VALUE'])
        summary.n_stars_no_mag = int(no_mag_any.sum())
        if summary.n_stars_no_mag:
            on_image = no_mag_any & (x > -0.5) & (x < shape[1] - 0.5) & (y > -0.5) & (
                y < shape[0] - 0.5)
            log.warning('%d star(s) in %s have no magnitude and get no halo/spike mask '
                        '(%d of them on the image)', summary.n_stars_no_mag,
                        star_cat_path or 'the online query', int(on_image.sum()))

    # Deep-sky objects
    for name, key in (('MESSIER', 'messier'), ('NGC', 'ngc')):
        section = config[f'{name}_PARAMETERS']
        if section[f'{name}_MAKE']:
            catalog = read_dso_catalog(section[f'{name}_CAT_PATH'])
            hit = mask_dso(flag, wcs, catalog, section[f'{name}_SIZE_PLUS'],
                           section[f'{name}_FLAG_VALUE'])
            setattr(summary, key, hit)
            count(key, section[f'{name}_FLAG_VALUE'])

    # External flags
    if flag_path is not None and config['EXTERNAL_FLAG']['EF_MAKE']:
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
            flag |= external.astype(np.int16)
            summary.external_merged = True
            summary.pixels['external'] = int(np.count_nonzero(external))

    out_header = fits.Header()
    for card in header.cards:
        if card.keyword in _STRUCTURAL or card.keyword == '':
            continue
        out_header.append(card, end=True)
    out_header['NSTREAD'] = (summary.n_stars_read, 'stars read for halo/spike masks')
    out_header['NSTHALO'] = (summary.n_halo_stars, 'stars with a halo mask')
    out_header['NSTSPIKE'] = (summary.n_spike_stars, 'stars with a spike mask')
    out_header['NSTNOMAG'] = (summary.n_stars_no_mag, 'stars without magnitude, not masked')
    if np.isfinite(summary.missing_fraction):
        out_header['MRATIO'] = (summary.missing_fraction, 'ratio missing_pixels/all_pixels')
        out_header['MFLAG'] = (summary.missing_flagged,
                               f'threshold value {md["MD_THRESH_FLAG"]:.3}')
    return flag, out_header, summary


def write_flag_file(path, flag, header):
    """Write the int16 flag map with its header atomically."""
    hdu = fits.PrimaryHDU(data=flag.astype(np.int16, copy=False), header=header)
    with atomic_path(path) as tmp:
        hdu.writeto(tmp)
