"""``post_proc_sp``: after ``job_sp`` on several tiles, print which step is done,
failed or missing for each tile, and merge the tiles' final catalogues into one,
each object kept only in the tile that owns it.

    post_proc_sp [-d OUTPUT_DIR] [-o merged.fits] [--no_tile_cut] [TILE_ID ...]

Tiles default to ``tile_numbers.txt``. A step is ``done`` for a tile when some run
of its module (found through the run log) holds the tile's output, ``failed``
when the module ran a job for the tile (its process log exists) without that
output, ``missing`` otherwise. Tiles of CFIS overlap: an object near a border is
detected on two tiles; it is kept in the tile whose centre is nearest
(``shapepipe.cfis.tile_id_from_coord``), as ShapePipe's tile cuts do.
Exit status: 0 every tile done up to its final catalogue, 1 otherwise, 2 usage error.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
from typing import TYPE_CHECKING

import numpy as np
from astropy.io import fits
from astropy.table import Table, vstack

from shapepipe import cfis
from shapepipe.errors import InputError, ShapePipeError
from shapepipe.io.atomic import atomic_path
from shapepipe.pipeline.run_log import RunLog, module_output_dir

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

# Step bit -> (name, module run, output file pattern with {t} = XXX-YYY)
STEP_OUTPUTS = (
    (1, 'retrieve', 'get_images_runner_run_1', 'CFIS_image-{t}.fits'),
    (2, 'prepare', 'uncompress_fits_runner', 'CFIS_weight-{t}.fits'),
    (4, 'mask', 'mask_runner_run_1', 'pipeline_flag-{t}.fits'),
    (8, 'detect', 'sextractor_runner_run_1', 'sexcat-{t}.fits'),
    (16, 'galaxy selection', 'vignetmaker_runner_run_2', 'image_vignet-{t}.sqlite'),
    (32, 'shapes', 'ngmix_runner', 'ngmix-{t}.fits'),
    (64, 'paste', 'make_cat_runner', 'final_cat-{t}.fits'),
)
DONE, FAILED, MISSING = 'done', 'failed', 'missing'


def module_runs(run_log: str, module: str) -> list[tuple[str, str]]:
    """``[(run_dir, output_dir)]`` of every run of ``module``, newest first."""
    return RunLog(run_log).candidates(module)


def step_status(run_log: str, tile: str, module: str, pattern: str) -> str:
    """done / failed / missing for one tile and step (see the module docstring)."""
    number = cfis.pipeline_id(tile)
    runs = module_runs(run_log, module)
    name = pattern.format(t=number)
    if any(os.path.isfile(os.path.join(out, name)) for _, out in runs):
        return DONE
    for _, out in runs:
        if glob.glob(os.path.join(os.path.dirname(out), 'logs', f'process*-{number}.log')):
            return FAILED
    return MISSING


def status_table(
    output_dir: str, tiles: Iterable[str], run_log_name: str = 'log_run_sp.txt',
) -> dict[str, dict[int, str]]:
    """``{tile: {step bit: status}}``."""
    run_log = os.path.join(output_dir, run_log_name)
    return {tile: {bit: step_status(run_log, tile, module, pattern)
                   for bit, _, module, pattern in STEP_OUTPUTS} for tile in tiles}


def format_table(table: Mapping[str, Mapping[int, str]]) -> str:
    """The tiles x steps table as text."""
    header = f'{"tile":<9}' + ''.join(f'{f"{bit} {name}":>20}' for bit, name, _, _ in STEP_OUTPUTS)
    lines = [header]
    for tile, steps in table.items():
        lines.append(f'{tile:<9}' + ''.join(f'{steps[bit]:>20}' for bit, _, _, _ in STEP_OUTPUTS))
    counts = {s: sum(v == s for steps in table.values() for v in steps.values())
              for s in (DONE, FAILED, MISSING)}
    lines.append(f'{counts[DONE]} done, {counts[FAILED]} failed, {counts[MISSING]} missing')
    return '\n'.join(lines)


def final_catalogs(
    output_dir: str, tiles: Iterable[str], run_log_name: str = 'log_run_sp.txt',
) -> dict[str, str]:
    """The newest final catalogue of each tile: ``{tile: path}`` (tiles without one left out)."""
    runs = module_runs(os.path.join(output_dir, run_log_name), 'make_cat_runner')
    found = {}
    for tile in tiles:
        name = f'final_cat-{cfis.pipeline_id(tile)}.fits'
        for _, out in runs:
            if os.path.isfile(os.path.join(out, name)):
                found[tile] = os.path.join(out, name)
                break
    return found


def owned(table: Table, tile: str, ra: str = 'XWIN_WORLD', dec: str = 'YWIN_WORLD') -> np.ndarray:
    """Rows of a tile's catalogue that lie in the tile's own area."""
    owners = np.array([cfis.tile_id_from_coord(r, d) for r, d in zip(table[ra], table[dec])])
    return owners == tile


def merge_tiles(
    paths: Mapping[str, str], output: str, tile_cut: bool = True,
) -> dict[str, tuple[int, int]]:
    """Write the merged catalogue (HDU RESULTS); return {tile: (rows in, rows kept)}."""
    pieces, counts = [], {}
    for tile, path in paths.items():
        try:
            table = Table.read(path, hdu='RESULTS')
        except (OSError, KeyError, ValueError) as error:
            raise InputError(f'{path}: cannot read HDU RESULTS ({error})', path=path) from None
        keep = owned(table, tile) if tile_cut else np.ones(len(table), bool)
        counts[tile] = (len(table), int(keep.sum()))
        pieces.append(table[keep])
    if not pieces:
        raise InputError('no final catalogue to merge: run job_sp up to step 64')
    merged = vstack(pieces, metadata_conflicts='silent')
    hdu = fits.table_to_hdu(merged)
    hdu.name = 'RESULTS'
    with atomic_path(output) as tmp:
        fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(tmp)
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='post_proc_sp', description=__doc__.split('\n')[0])
    parser.add_argument('tiles', nargs='*', metavar='TILE_ID')
    parser.add_argument('-d', '--output_dir', default='output', help='job_sp output directory')
    parser.add_argument('-i', '--tile_list', default='tile_numbers.txt',
                        help='tile IDs, one a line, when none is given (default tile_numbers.txt)')
    parser.add_argument('-o', '--output', default='final_cat_merged.fits',
                        help='merged catalogue (default final_cat_merged.fits)')
    parser.add_argument('--no_tile_cut', action='store_true',
                        help='keep objects of tile overlaps in every tile')
    args = parser.parse_args(argv)
    tiles = [t.replace('-', '.') for t in args.tiles]
    if not tiles:
        if not os.path.isfile(args.tile_list):
            print(f'post_proc_sp: error: no tile given and no {args.tile_list}', file=sys.stderr)
            return 2
        with open(args.tile_list) as handle:
            tiles = [line.split()[0] for line in handle if line.strip()]
    table = status_table(args.output_dir, tiles)
    print(format_table(table))
    try:
        counts = merge_tiles(final_catalogs(args.output_dir, tiles), args.output,
                             not args.no_tile_cut)
    except ShapePipeError as error:
        print(f'post_proc_sp: error: {error}', file=sys.stderr)
        return 1
    kept = sum(k for _, k in counts.values())
    print(f'{kept} objects from {len(counts)} tiles -> {args.output} '
          f'({sum(n for n, _ in counts.values()) - kept} in other tiles\' areas left out)')
    complete = all(steps[64] == DONE for steps in table.values())
    return 0 if complete else 1


if __name__ == '__main__':
    sys.exit(main())
