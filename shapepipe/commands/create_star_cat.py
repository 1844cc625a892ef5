"""``create_star_cat``: bright-star catalogues for the mask module, one per image.

    create_star_cat INPUT_DIR OUTPUT_DIR [exp|tile] [--from CATALOGUE] [--mag-max 18]

For every single-exposure CCD image (``image-<exp>-<ccd>.fits``, mode ``exp``)
or tile (``CFIS_image-<tile>.fits``, mode ``tile``) in INPUT_DIR, the stars
within the image footprint are written to ``OUTPUT_DIR/star_cat<number>.cat``
in the GSC 2.2 text format the mask module reads (``USE_EXT_STAR = True``).
Stars come from a local catalogue (``--from``: a FITS or text table with ra,
dec and mag columns, e.g. a simulator's truth.fits) or, where the network
allows, from CDS's ``findgsc2.2`` client.
"""

import argparse
import glob
import os
import re
import sys

import numpy as np
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS

from shapepipe.errors import ExecutableError, InputError, ShapePipeError
from shapepipe.io.star_catalog import write_star_catalog
from shapepipe.pipeline.execute import find_executable

PATTERNS = {'exp': (r'image(-\d+-\d+)\.fits$', 'image-*.fits'),
            'tile': (r'CFIS_image(-\d+-\d+)\.fits$', 'CFIS_image-*.fits')}


def read_local_catalog(path):
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


def image_footprint(path):
    """Centre (SkyCoord) and radius [deg] of an image."""
    header = fits.getheader(path)
    if header.get('NAXIS', 0) < 2:
        header = fits.getheader(path, 1)
    wcs = WCS(header)
    nx, ny = header['NAXIS1'], header['NAXIS2']
    ra, dec = wcs.all_pix2world([1, nx, 1, nx, (nx + 1) / 2], [1, 1, ny, ny, (ny + 1) / 2], 1)
    centre = SkyCoord(ra[-1], dec[-1], unit='deg')
    return centre, SkyCoord(ra[:4], dec[:4], unit='deg').separation(centre).deg.max()


def create_star_cats(input_dir, output_dir, mode, catalog=None, mag_max=18.0, margin_deg=0.02):
    """Write one star catalogue per image; return the paths."""
    regex, glob_pattern = PATTERNS[mode]
    images = sorted(p for p in glob.glob(os.path.join(input_dir, '**', glob_pattern),
                                         recursive=True) if re.search(regex, p))
    if not images:
        raise InputError(f'no {glob_pattern} image in {input_dir}', path=input_dir)
    client = find_executable('findgsc2.2') if catalog is None else None
    if catalog is None and client is None:
        raise ExecutableError('no star catalogue service is reachable from here (findgsc2.2 is '
                              'not installed): give a local catalogue with --from FILE (ra, dec, '
                              'mag columns)')
    os.makedirs(output_dir, exist_ok=True)
    written = []
    for path in images:
        number = re.search(regex, path).group(1)
        centre, radius = image_footprint(path)
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


def main(argv=None):
    """Entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog='create_star_cat', description=__doc__.split('\n')[0])
    parser.add_argument('input_dir')
    parser.add_argument('output_dir')
    parser.add_argument('mode', nargs='?', default='exp', choices=('exp', 'tile'))
    parser.add_argument('--from', dest='catalog', help='local catalogue (FITS or text)')
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
