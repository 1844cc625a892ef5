"""Several neighbouring CFIS tiles from the same exposures: the ``tiles2x2``
preset of ``shapepipe_simulate``.

The four tiles that meet at a corner of the CFIS tiling are simulated as partial
tiles around that corner. Each partial tile keeps its real tile's WCS (TAN at the
true tile centre, 0.1857"/pixel) and reaches the real tile's outer edge, which
lies 0.008 deg (154 pixels) beyond the nominal 0.5 deg boundary, as in CFIS: objects
near a border appear in two tiles (four near the corner). The same dithered
exposures cover all four tiles, so they are shared. ``truth.fits`` gives each
object's owning tile (``tile_owner``: the tile whose centre is nearest, as
``shapepipe.cfis.tile_id_from_coord``) and its pixel position on every tile.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS
from joblib import Parallel, delayed

from shapepipe import cfis
from shapepipe.errors import ConfigError
from shapepipe.io.atomic import atomic_path
from shapepipe.io.star_catalog import write_star_catalog
from shapepipe.simulation import simulate as single

if TYPE_CHECKING:
    from collections.abc import Callable

# The corner shared by tiles 277.282, 278.282 (row dec = 51.0) and 274.283, 275.283
# (row dec = 51.5): the boundary between 277 and 278, on the boundary between rows.
CORNER = (277.5 / 2 / np.cos(np.radians(51.0)), 51.25)
CORNER_OFFSET_DEG = 0.02


def corner_tiles(ra: float, dec: float, offset: float = CORNER_OFFSET_DEG) -> list[str]:
    """The tile IDs around (ra, dec), sorted."""
    ids = {cfis.tile_id_from_coord(ra + dx / np.cos(np.radians(dec)), dec + dy)
           for dx in (-offset, offset) for dy in (-offset, offset)}
    return sorted(ids)


def partial_tile_header(tile_id: str, npix: int, ra: float, dec: float) -> fits.Header:
    """TAN header of the ``npix`` x ``npix`` corner of tile ``tile_id`` nearest (ra, dec),
    reaching the real tile's outer edge."""
    ra_c, dec_c = cfis.tile_coord_from_id(tile_id)
    full = single.tile_wcs(replace(single.PRESETS['demo'], tile_npix=cfis.TILE_NPIX), ra_c, dec_c)
    x, y = WCS(full).all_world2pix(ra, dec, 1)
    x0 = cfis.TILE_NPIX - npix if x > (cfis.TILE_NPIX + 1) / 2 else 0
    y0 = cfis.TILE_NPIX - npix if y > (cfis.TILE_NPIX + 1) / 2 else 0
    header = full.copy()
    header['CRPIX1'] = full['CRPIX1'] - x0
    header['CRPIX2'] = full['CRPIX2'] - y0
    return header


def simulate_corner(
    out_dir: str, settings: single.Settings, overwrite: bool = False,
    log: Callable[[str], object] = print,
) -> dict[str, Any]:
    """Write the exposures, the partial tiles around :data:`CORNER`, star catalogues
    and ``truth.fits`` into ``out_dir``; return a summary dict."""
    settings.check()
    ra_p, dec_p = CORNER
    tiles = corner_tiles(ra_p, dec_p)
    if len(tiles) != 4:
        raise ConfigError(f'corner {CORNER} touches tiles {tiles}, not 4')
    npix = settings.tile_npix
    exposures = single.make_exposures(settings, ra_p, dec_p)
    # Galaxies over the union of the partial tiles (each reaches npix from its corner)
    truth = single.make_truth(replace(settings, tile_npix=2 * npix), exposures, ra_p, dec_p)
    epochs = single.epoch_positions(settings, exposures, truth)
    headers = {tile: partial_tile_header(tile, npix, ra_p, dec_p) for tile in tiles}
    single.prepare_output(out_dir, overwrite)
    log(f'{len(truth["ra"])} objects ({int(truth["is_star"].sum())} stars), '
        f'{len(exposures)} exposures x {len(settings.ccds)} CCDs, tiles {", ".join(tiles)} '
        f'({npix}^2 corners)')
    with tempfile.TemporaryDirectory(dir=out_dir, prefix='.simulate_') as workdir:
        tile_dirs = {tile: os.path.join(workdir, tile) for tile in tiles}
        for path in tile_dirs.values():
            os.makedirs(path)
        tasks = [delayed(single.render_ccd)(settings, e, c, truth, workdir)
                 for e in exposures for c in settings.ccds]
        tasks += [delayed(single.render_tile)(settings, exposures, truth, epochs, headers[t],
                                              tile_dirs[t]) for t in tiles]
        results = Parallel(n_jobs=settings.n_jobs, backend='loky')(tasks)
        ccd_parts, tile_parts = results[:-len(tiles)], results[-len(tiles):]
        single.write_mosaics(out_dir, exposures, ccd_parts)
        for tile, (image, weight) in zip(tiles, tile_parts):
            shutil.move(image, os.path.join(out_dir, 'input_tiles', cfis.tile_raw_name(tile)))
            shutil.move(weight, os.path.join(out_dir, 'input_tiles',
                                             cfis.tile_raw_name(tile, 'weight')))
    positions = {}
    for tile in tiles:
        positions[tile] = WCS(headers[tile]).all_world2pix(truth['ra'], truth['dec'], 1)
    # Star catalogues: exposures as the single-tile simulator, then every tile
    first = tiles[0]
    single.write_star_catalogs(out_dir, truth, exposures, epochs, settings, *positions[first])
    cat_dir = os.path.join(out_dir, 'output_star_cat')
    bright = truth['is_star'] & (truth['mag'] < single.BRIGHT_STAR_MAG)
    for tile in tiles:
        sel = bright & single._select(*positions[tile], npix, npix, 200)
        write_star_catalog(os.path.join(cat_dir, f'star_cat-{cfis.pipeline_id(tile)}.cat'),
                           truth['ra'][sel], truth['dec'][sel], truth['mag'][sel])
    truth_path = os.path.join(out_dir, 'truth.fits')
    single.write_truth(truth_path, truth, exposures, epochs, headers[first],
                       replace(settings, tile_id=first))
    _add_tile_columns(truth_path, tiles, positions, npix)
    with open(os.path.join(out_dir, 'tile_numbers.txt'), 'w') as handle:
        handle.write(''.join(f'{tile}\n' for tile in tiles))
    return {'n_objects': len(truth['ra']), 'n_stars': int(truth['is_star'].sum()),
            'exposures': [e.odometer for e in exposures], 'tiles': tiles}


def _add_tile_columns(path, tiles, positions, npix):
    """``tile_owner`` and, per tile, ``x_<XXX_YYY>``, ``y_<XXX_YYY>``, ``on_<XXX_YYY>``."""
    with fits.open(path) as hdul:
        truth = Table(hdul['TRUTH'].data)
        meta = hdul['EXPOSURES'].copy()
        primary = hdul[0].header.copy()
    truth['tile_owner'] = [cfis.tile_id_from_coord(r, d) for r, d in zip(truth['ra'],
                                                                          truth['dec'])]
    for tile in tiles:
        key = tile.replace('.', '_')
        x, y = positions[tile]
        truth[f'x_{key}'], truth[f'y_{key}'] = x, y
        truth[f'on_{key}'] = single._select(x, y, npix, npix, 0)
    primary['TILES'] = ','.join(tiles)
    with atomic_path(path) as tmp:
        fits.HDUList([fits.PrimaryHDU(header=primary), fits.BinTableHDU(truth, name='TRUTH'),
                      meta]).writeto(tmp)
