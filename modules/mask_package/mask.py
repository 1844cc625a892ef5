"""Build the flag map of one image: border, halos, spikes, Messier/NGC
objects, missing data, merged with an external flag file.

Flags are bits combined with a bitwise or (ShapePipe added the maps, which
corrupts overlapping bits). Default values: halo 2, border 4, Messier 16,
NGC 32, spike 128, missing data 1024; ``BORDER_FLAG_VALUE`` is honoured
(ShapePipe ignored it and always wrote 4).

:func:`build_mask` runs one function per role: the FITS files are read and
written by :mod:`.images`, stars come from :func:`bright_stars` (catalogue or
online query), halos and spikes are rasterised by :func:`flag_star_masks`
(polygons of :mod:`.polygons`), deep-sky objects by :mod:`.deep_sky`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
import logging
from dataclasses import dataclass, field

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord

from shapepipe.errors import JobSkipped
from shapepipe.io.star_catalog import query_gsc, read_star_catalog
from shapepipe.modules.mask_package.deep_sky import mask_dso, read_dso_catalog
from shapepipe.modules.mask_package.images import (  # noqa: F401 (write_flag_file: runner)
    flag_header, flag_missing_from_weight, hdu_shape, open_image_hdu, read_celestial_wcs,
    read_external_flags, write_flag_file,
)
from shapepipe.modules.mask_package.polygons import (
    magnitude_scale, mask_stars, read_polygon_template,
)
from shapepipe.modules.mask_package.stars import select_bright_stars

if TYPE_CHECKING:
    import os

    from astropy.io import fits
    from astropy.table import Table
    from astropy.wcs import WCS

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

    def lines(self) -> list[str]:
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


def _count(summary, flag, name, value):
    """Pixels carrying this type's bit(s) (no copy of the map: tiles are large)."""
    summary.pixels[name] = int(np.count_nonzero(flag & np.int16(value)))


def flag_missing_data(flag: np.ndarray, image_path: str | os.PathLike,
                      image_hdu: fits.PrimaryHDU | fits.ImageHDU | fits.CompImageHDU,
                      weight_path: str | os.PathLike, md: Mapping[str, Any],
                      summary: MaskSummary) -> None:
    """Flag missing pixels (``MD_*``); JobSkipped when ``MD_REMOVE`` and too many."""
    n_missing = flag_missing_from_weight(flag, image_hdu, weight_path, md['MD_FLAG_VALUE'])
    summary.missing_fraction = n_missing / flag.size
    summary.missing_flagged = summary.missing_fraction >= md['MD_THRESH_FLAG']
    summary.pixels['missing'] = n_missing
    if md['MD_REMOVE'] and summary.missing_fraction >= md['MD_THRESH_REMOVE']:
        raise JobSkipped(
            f'{image_path}: {summary.missing_fraction:.1%} of the pixels are missing '
            f'(>= MD_THRESH_REMOVE = {md["MD_THRESH_REMOVE"]}): image removed, no '
            f'flag file written', path=image_path)


def flag_border(flag: np.ndarray, border: Mapping[str, Any], summary: MaskSummary) -> None:
    """Flag a frame of ``BORDER_WIDTH`` pixels (``BORDER_*``)."""
    if not border['BORDER_MAKE'] or border['BORDER_WIDTH'] <= 0:
        return
    width = border['BORDER_WIDTH']
    value = np.int16(border['BORDER_FLAG_VALUE'])
    flag[:width, :] |= value
    flag[-width:, :] |= value
    flag[:, :width] |= value
    flag[:, -width:] |= value
    summary.border_width = width
    _count(summary, flag, 'border', value)


def star_templates(halo: Mapping[str, Any], spike: Mapping[str, Any],
                   ) -> tuple[dict[str, list[np.ndarray]], float]:
    """``({'HALO'|'SPIKE': polygons}, extent in pixels)`` of the enabled masks."""
    templates = {}
    extent = 0.0
    for name, section in (('HALO', halo), ('SPIKE', spike)):
        if section[f'{name}_MAKE']:
            templates[name] = read_polygon_template(section[f'{name}_MASKMODEL_PATH'])
            extent = max(extent, max(np.abs(p).max() for p in templates[name]))
    return templates, extent


def bright_stars(star_cat_path: str | os.PathLike | None, client: str, centre: SkyCoord,
                 radius_arcmin: float, log: logging.Logger) -> Table:
    """Stars from the ``star_cat`` file, or from the CDS client around ``centre``."""
    if star_cat_path is not None:
        log.info('stars from catalogue %s', star_cat_path)
        return read_star_catalog(star_cat_path)
    log.info('querying %s around %.5f %+.5f, radius %.2f arcmin', client,
             centre.ra.deg, centre.dec.deg, radius_arcmin)
    return query_gsc(client, centre.ra.deg, centre.dec.deg, radius_arcmin)


def flag_star_masks(flag: np.ndarray, wcs: WCS, stars: Table, centre: SkyCoord,
                    templates: Mapping[str, Sequence[np.ndarray]],
                    sections: Mapping[str, Mapping[str, Any]], summary: MaskSummary,
                    log: logging.Logger, source: str) -> None:
    """Rasterise the halo and spike polygons of the bright ``stars``.

    ``sections``: ``{'HALO': HALO_PARAMETERS, 'SPIKE': SPIKE_PARAMETERS}``;
    ``source`` names where the stars came from, for the warning about stars
    without a magnitude.
    """
    summary.n_stars_read = len(stars)
    x, y = _star_pixels(wcs, stars, centre)
    no_mag_any = np.zeros(len(stars), bool)
    for name in ('HALO', 'SPIKE'):
        if name not in templates:
            continue
        section = sections[name]
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
        _count(summary, flag, name.lower(), section[f'{name}_FLAG_VALUE'])
    summary.n_stars_no_mag = int(no_mag_any.sum())
    if summary.n_stars_no_mag:
        ny, nx = flag.shape
        on_image = no_mag_any & (x > -0.5) & (x < nx - 0.5) & (y > -0.5) & (y < ny - 0.5)
        log.warning('%d star(s) in %s have no magnitude and get no halo/spike mask '
                    '(%d of them on the image)', summary.n_stars_no_mag, source,
                    int(on_image.sum()))


def flag_deep_sky(flag: np.ndarray, wcs: WCS, config: Mapping[str, Mapping[str, Any]],
                  summary: MaskSummary) -> None:
    """Flag Messier and NGC objects (``MESSIER_*``, ``NGC_*``)."""
    for name, key in (('MESSIER', 'messier'), ('NGC', 'ngc')):
        section = config[f'{name}_PARAMETERS']
        if section[f'{name}_MAKE']:
            catalog = read_dso_catalog(section[f'{name}_CAT_PATH'])
            hit = mask_dso(flag, wcs, catalog, section[f'{name}_SIZE_PLUS'],
                           section[f'{name}_FLAG_VALUE'])
            setattr(summary, key, hit)
            _count(summary, flag, key, section[f'{name}_FLAG_VALUE'])


def merge_external_flags(flag: np.ndarray, flag_path: str | os.PathLike, flag_hdu: int | str,
                         summary: MaskSummary) -> None:
    """Or the external flag file into the map."""
    external = read_external_flags(flag_path, flag_hdu, flag.shape)
    flag |= external
    summary.external_merged = True
    summary.pixels['external'] = int(np.count_nonzero(external))


def build_mask(image_path: str | os.PathLike, weight_path: str | os.PathLike,
               config: Mapping[str, Mapping[str, Any]],
               flag_path: str | os.PathLike | None = None, flag_hdu: int | str = 0,
               star_cat_path: str | os.PathLike | None = None,
               log: logging.Logger | None = None,
               ) -> tuple[np.ndarray, fits.Header, MaskSummary]:
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
    hdul, hdu = open_image_hdu(image_path, 'image')
    with hdul:
        header = hdu.header.copy()
        shape = hdu_shape(hdu)
        wcs = read_celestial_wcs(header, image_path)
        summary = MaskSummary(shape=shape)
        flag = np.zeros(shape, dtype=np.int16)
        md = config['MD_PARAMETERS']
        if md['MD_MAKE']:
            flag_missing_data(flag, image_path, hdu, weight_path, md, summary)

    centre, half_diag, pix_scale = _image_geometry(wcs, shape)
    flag_border(flag, config['BORDER_PARAMETERS'], summary)

    sections = {'HALO': config['HALO_PARAMETERS'], 'SPIKE': config['SPIKE_PARAMETERS']}
    if sections['HALO']['HALO_MAKE'] or sections['SPIKE']['SPIKE_MAKE']:
        templates, extent = star_templates(sections['HALO'], sections['SPIKE'])
        # Stars off the image can cast halos/spikes onto it: widen the query.
        radius = half_diag + 2.0 * extent * pix_scale / 60.0
        stars = bright_stars(star_cat_path, config['PROGRAM_PATH']['CDSCLIENT_PATH'], centre,
                             radius, log)
        flag_star_masks(flag, wcs, stars, centre, templates, sections, summary, log,
                        star_cat_path or 'the online query')

    flag_deep_sky(flag, wcs, config, summary)
    if flag_path is not None and config['EXTERNAL_FLAG']['EF_MAKE']:
        merge_external_flags(flag, flag_path, flag_hdu, summary)
    return flag, flag_header(header, summary, md['MD_THRESH_FLAG']), summary
