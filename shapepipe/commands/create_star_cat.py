"""``create_star_cat``: bright-star catalogues for the mask module, one per image.

    create_star_cat INPUT_DIR OUTPUT_DIR [exp|tile] [--from CATALOGUE] [--mag-max 18]

For every single-exposure CCD (mode ``exp``: the raw mosaics ``<exp>p.fits.fz``
of ``input_exposures``, get_images' ``image-<exp>.fits.fz`` links, or split
``image-<exp>-<ccd>.fits``) or tile (mode ``tile``: ``CFIS.XXX.YYY.r.fits`` or
``CFIS_image-XXX-YYY.fits``) in INPUT_DIR, the stars within the image footprint
are written to ``OUTPUT_DIR/star_cat-<exp>-<ccd>.cat`` or ``star_cat-XXX-YYY.cat``
in the GSC 2.2 text format the mask module reads (``USE_EXT_STAR = True``).
Stars come from a local catalogue (``--from``: a FITS or text table with ra,
dec and mag columns, e.g. a simulator's truth.fits) or, where the network
allows, from CDS's ``findgsc2.2`` client.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import sys
from typing import TYPE_CHECKING

import numpy as np
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS

from shapepipe.errors import ExecutableError, InputError, ShapePipeError
from shapepipe.io.star_catalog import write_star_catalog
from shapepipe.pipeline.execute import find_executable

if TYPE_CHECKING:
    from collections.abc import Sequence

# Exposures: split CCD files, get_images' mosaic links, raw CFIS mosaics.
_EXP_CCD = re.compile(r'(?:^|/)image(-\d+-\d+)\.fits$')
_EXP_MOSAIC = re.compile(r'(?:^|/)(?:image-(\d+)|(\d{6,8})p)\.fits\.?(?:fz)?$')
# Tiles: get_images' links and raw CFIS tiles.
_TILE = re.compile(r'(?:^|/)(?:CFIS_image-(\d+)-(\d+)|CFIS\.(\d+)\.(\d+)\.r)\.fits$')


def find_images(input_dir: str, mode: str | None = None) -> list[tuple[str, str, int | None]]:
    """The images to make star catalogues for, as ``(number, path, hdu)``.

    Exposures (``mode='exp'``): split CCD images ``image-<exp>-<ccd>.fits``, and the
    CCD HDUs of mosaics, get_images' ``image-<exp>.fits[.fz]`` or raw
    ``<exp>p.fits[.fz]``; a mosaic CCD's number is the one split_exp gives its file
    (``-<exp>-<ccd>``). Tiles (``mode='tile'``): ``CFIS_image-XXX-YYY.fits`` or raw
    ``CFIS.XXX.YYY.r.fits`` (``-XXX-YYY``). ``mode=None``: tiles if there are any,
    else exposures.
    """
    from shapepipe.cfis import ccd_number

    paths = sorted(glob.glob(os.path.join(input_dir, '**', '*.fits*'), recursive=True))
    tiles = []
    for path in paths:
        match = _TILE.search(path)
        if match:
            x, y = (match.group(1), match.group(2)) if match.group(1) else match.group(3, 4)
            tiles.append((f'-{x}-{y}', path, None))
    if mode == 'tile' or (mode is None and tiles):
        return tiles
    images = []
    for path in paths:
        match = _EXP_CCD.search(path)
        if match:
            images.append((match.group(1), path, None))
            continue
        match = _EXP_MOSAIC.search(path)
        if not match:
            continue
        exposure = match.group(1) or match.group(2)
        try:
            with fits.open(path) as hdul:
                ccds = [hdu for hdu in hdul[1:] if hdu.is_image]   # as split_exp
                for index, hdu in enumerate(ccds):
                    images.append((f'-{exposure}-{ccd_number(hdu.header, index)}', path,
                                   hdul.index_of(hdu)))
        except OSError as error:
            raise InputError(f'{path}: cannot read the mosaic ({error})', path=path) from None
    return images


def read_local_catalog(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ra, dec, mag (and is_star when present) from a FITS or text table."""
    try:
        try:
            table = Table.read(path, hdu=1) if path.endswith(('.fits', '.fit')) else Table.read(
                path, format='ascii')
        except ValueError:
            table = Table.read(path)
    except (OSError, ValueError) as error:
        raise InputError(f'{path}: cannot read the star catalogue ({error})', path=path) from None
    names = {name.lower(): name for name in table.colnames}
    missing = [c for c in ('ra', 'dec', 'mag') if c not in names]
    if missing:
        raise InputError(f'{path} has no {missing[0]} column (needs ra, dec, mag)', path=path)
    keep = np.ones(len(table), bool)
    if 'is_star' in names:
        keep &= np.asarray(table[names['is_star']], bool)
    return (np.asarray(table[names['ra']], float)[keep], np.asarray(table[names['dec']],
                                                                   float)[keep],
            np.asarray(table[names['mag']], float)[keep])


def image_footprint(path: str, hdu: int | None = None) -> tuple[SkyCoord, float]:
    """Centre (SkyCoord) and radius [deg] of an image (HDU ``hdu`` of a mosaic)."""
    if hdu is not None:
        header = fits.getheader(path, hdu)
    else:
        header = fits.getheader(path)
        if header.get('NAXIS', 0) < 2:
            header = fits.getheader(path, 1)
    wcs = WCS(header)
    nx, ny = header['NAXIS1'], header['NAXIS2']
    ra, dec = wcs.all_pix2world([1, nx, 1, nx, (nx + 1) / 2], [1, 1, ny, ny, (ny + 1) / 2], 1)
    centre = SkyCoord(ra[-1], dec[-1], unit='deg')
    return centre, SkyCoord(ra[:4], dec[:4], unit='deg').separation(centre).deg.max()


def create_star_cats(
    input_dir: str, output_dir: str, mode: str | None = None,
    catalog: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None, mag_max: float = 18.0,
    margin_deg: float = 0.02,
) -> list[str]:
    """Write one star catalogue per image (per CCD of a mosaic); return the paths."""
    images = find_images(input_dir, mode)
    if not images:
        what = {'exp': 'exposure', 'tile': 'tile'}.get(mode, 'tile or exposure')
        raise InputError(f'no {what} image in {input_dir} (exposures: <exp>p.fits.fz, '
                         f'image-<exp>.fits.fz or image-<exp>-<ccd>.fits; tiles: '
                         f'CFIS.XXX.YYY.r.fits or CFIS_image-XXX-YYY.fits)', path=input_dir)
    client = find_executable('findgsc2.2') if catalog is None else None
    if catalog is None and client is None:
        raise ExecutableError('no star catalogue service is reachable from here (findgsc2.2 is '
                              'not installed): give a local catalogue with --from FILE (ra, dec, '
                              'mag columns)')
    os.makedirs(output_dir, exist_ok=True)
    written = []
    for number, path, hdu in images:
        centre, radius = image_footprint(path, hdu)
        if client is not None:
            from shapepipe.io.star_catalog import query_gsc

            table = query_gsc(client, centre.ra.deg, centre.dec.deg, (radius + margin_deg) * 60)
            ra, dec, mag = (np.asarray(table[c], float) for c in ('ra', 'dec', 'mag'))
            keep = np.asarray(table['is_star'], bool)
            ra, dec, mag = ra[keep], dec[keep], mag[keep]
        else:
            ra, dec, mag = catalog
        stars = SkyCoord(ra, dec, unit='deg')
        sel = (mag < mag_max) & (stars.separation(centre).deg < radius + margin_deg)
        out = os.path.join(output_dir, f'star_cat{number}.cat')
        write_star_catalog(out, ra[sel], dec[sel], mag[sel],
                           center=(centre.ra.deg, centre.dec.deg),
                           radius_arcmin=(radius + margin_deg) * 60)
        written.append(out)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog='create_star_cat', description=__doc__.split('\n')[0])
    parser.add_argument('input_dir')
    parser.add_argument('output_dir')
    parser.add_argument('mode', nargs='?', default=None, choices=('exp', 'tile'),
                        help='exp or tile; default: tiles if INPUT_DIR has any, else exposures')
    parser.add_argument('--from', dest='catalog', default=os.environ.get('SP_STAR_CAT') or None,
                        help='local catalogue (FITS or text); default $SP_STAR_CAT if set '
                             '(offline runs of scripts that call create_star_cat without '
                             '--from, as ShapePipe\'s job_sp.bash), else the GSC 2.2 online')
    parser.add_argument('--mag-max', type=float, default=18.0,
                        help='faintest star magnitude written (default 18)')
    args = parser.parse_args(argv)
    try:
        catalog = read_local_catalog(args.catalog) if args.catalog else None
        written = create_star_cats(args.input_dir, args.output_dir, args.mode, catalog,
                                   args.mag_max)
    except ShapePipeError as error:
        print(f'create_star_cat: error: {error}', file=sys.stderr)
        return 2
    print(f'{len(written)} star catalogues written to {args.output_dir}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
