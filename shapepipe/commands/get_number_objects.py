"""``get_number_objects``: the number of objects in the last run's Source
Extractor tile catalogues, as ShapePipe's ``get_number_objects.py`` prints it
(``job_sp`` divides it into the shape-measurement ID ranges).

The catalogues are ``<last run of MODULE>/output/PATTERN*.fits`` found through
the run log; the printed number is the mean object count per catalogue.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
from typing import TYPE_CHECKING

from astropy.io import fits

from shapepipe.errors import InputError, ShapePipeError
from shapepipe.pipeline.run_log import resolve_dir_or_module

if TYPE_CHECKING:
    from collections.abc import Sequence


def count_objects(path: str) -> int:
    """Rows of a catalogue's object table (``LDAC_OBJECTS``, else its last table)."""
    try:
        with fits.open(path) as hdul:
            names = [hdu.name for hdu in hdul]
            hdu = hdul['LDAC_OBJECTS'] if 'LDAC_OBJECTS' in names else hdul[-1]
            return int(hdu.header.get('NAXIS2', 0))
    except (OSError, KeyError) as error:
        raise InputError(f'{path}: cannot read the catalogue ({error})', path=path) from None


def number_of_objects(
    run_log: str, module: str = 'sextractor_runner_run_1', pattern: str = 'sexcat',
) -> int:
    """Mean number of objects of the catalogues of ``module``'s last run.

    Raises
    ------
    InputError
        No run of the module in the run log, or no catalogue in its output.
    """
    if not os.path.isfile(run_log):
        raise InputError(f'run log {run_log} not found: run the tile detection first (job_sp '
                         f'-j 8) or give --run_log', path=run_log)
    directory = resolve_dir_or_module(module, run_log)[0]
    paths = sorted(glob.glob(os.path.join(directory, f'{pattern}*.fits')))
    if not paths:
        raise InputError(f'no {pattern}*.fits in {directory}', path=directory)
    return int(sum(count_objects(p) for p in paths) / len(paths))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: print the number; exit 2 with one line on error."""
    parser = argparse.ArgumentParser(prog='get_number_objects', description=__doc__.split('\n')[0])
    parser.add_argument('--run_log', default=os.path.join('output', 'log_run_sp.txt'),
                        help='run log (default: output/log_run_sp.txt)')
    parser.add_argument('--module', default='sextractor_runner_run_1',
                        help='module whose last run holds the catalogues')
    parser.add_argument('--pattern', default='sexcat', help='catalogue name pattern')
    args = parser.parse_args(argv)
    try:
        print(number_of_objects(args.run_log, args.module, args.pattern))
    except ShapePipeError as error:
        print(f'get_number_objects: error: {error}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
