"""``cfis_field_select``: select CFIS tiles or exposures by position, number or area.

Examples::

    cfis_field_select -i tiles.txt --coord 255.66deg_34.05deg -t tile --out_name_only \\
        --out_number_only -s -o tile_numbers
    cfis_field_select -i input_tiles --area 219.9_50.9_220.3_51.1 -t tile -s -o tiles
    cfis_field_select -i input_tiles --tile -t exposure_flag.fz -s -o exp_flags

``-i`` is a text file listing image names (one per line; the last word of a line
is used, so ``ls -l`` output works) or a directory. Results are printed and,
with ``-s``, written to ``<output>.txt``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
import argparse
import glob
import os
import re
import sys

from shapepipe import cfis
from shapepipe.errors import InputError, ShapePipeError
from shapepipe.io.atomic import write_text

TILE_RE = re.compile(r'CFIS[._-](\d{3})[._-](\d{3})')
EXPOSURE_RE = re.compile(r'(?<!\d)(\d{7})p')
SUFFIX = {
    'tile': '.r.fits', 'weight': '.r.weight.fits', 'weight.fz': '.r.weight.fits.fz',
    'cat': '.r.cat',
    'exposure': 'p.fits.fz', 'exposure_weight': 'p.weight.fits', 'exposure_weight.fz':
        'p.weight.fits.fz', 'exposure_flag': 'p.flag.fits', 'exposure_flag.fz': 'p.flag.fits.fz',
}


def read_names(source: str) -> list[str]:
    """Image names from a list file or a directory."""
    if os.path.isdir(source):
        return sorted(os.path.basename(p) for p in glob.glob(os.path.join(source, '*')))
    if not os.path.isfile(source):
        raise InputError(f'{source}: no such list file or directory', path=source)
    with open(source) as handle:
        return [line.split()[-1] for line in handle if line.split()]


def name_of(identifier: str, kind: str) -> str:
    """File name of a tile ID (``277.282``) or exposure number for a type."""
    if kind.startswith('exposure'):
        return f'{identifier}{SUFFIX[kind]}'
    return f'CFIS.{identifier}{SUFFIX[kind]}'


def tile_ids(names: Iterable[str]) -> list[str]:
    """Tile IDs ``XXX.YYY`` found in names, in order, without repeats."""
    ids = []
    for name in names:
        match = TILE_RE.search(name)
        if match and f'{match.group(1)}.{match.group(2)}' not in ids:
            ids.append(f'{match.group(1)}.{match.group(2)}')
    return ids


def parse_coord(text: str) -> tuple[float, float]:
    """``255.66deg_34.05deg`` -> (255.66, 34.05)."""
    parts = text.replace('deg', '').split('_')
    if len(parts) != 2:
        raise InputError(f'--coord {text!r}: expected RA_DEC, e.g. 255.66deg_34.05deg')
    return float(parts[0]), float(parts[1])


def select(args: argparse.Namespace) -> list[str]:
    """Identifiers selected by the mode."""
    if args.tile:
        from shapepipe.cfis import exposures_from_header

        source = args.input if os.path.isdir(args.input) else os.path.dirname(args.input)
        exposures = []
        for path in sorted(glob.glob(os.path.join(source, '*'))):
            if TILE_RE.search(os.path.basename(path)) and 'weight' not in path and path.endswith(
                    ('.fits', '.fits.fz')):
                for name in exposures_from_header(path):
                    if name.rstrip('p') not in exposures:
                        exposures.append(name.rstrip('p'))
        return exposures
    available = tile_ids(read_names(args.input))
    if args.coord:
        ra, dec = parse_coord(args.coord)
        wanted = [cfis.tile_id_from_coord(ra, dec)]
    elif args.number:
        wanted = [n.strip() for n in args.number.split(',') if n.strip()]
    else:
        ra0, dec0, ra1, dec1 = (float(v) for v in args.area.replace('deg', '').split('_'))
        wanted = []
        for tile in available:
            ra, dec = cfis.tile_coord_from_id(tile)
            if min(ra0, ra1) <= ra <= max(ra0, ra1) and min(dec0, dec1) <= dec <= max(dec0, dec1):
                wanted.append(tile)
    return [t for t in wanted if t in available]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog='cfis_field_select', description=__doc__.split('\n')[0])
    parser.add_argument('-i', '--input', required=True, help='list file of images, or directory')
    parser.add_argument('-t', '--type', default='tile', choices=sorted(SUFFIX),
                        help='image type of the output names (default tile)')
    parser.add_argument('-o', '--output', default='field', help='output base name (.txt added)')
    parser.add_argument('-s', '--save', action='store_true', help='write <output>.txt')
    parser.add_argument('--out_name_only', action='store_true', help='names without paths')
    parser.add_argument('--out_number_only', '--out_ID_only', action='store_true',
                        help='numbers/IDs only, not file names')
    parser.add_argument('-v', '--verbose', action='store_true')
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument('--coord', help='the tile containing RA_DEC, e.g. 255.66deg_34.05deg')
    mode.add_argument('--number', help='comma list of tile IDs XXX.YYY')
    mode.add_argument('--area', help='tiles with centres in ra0_dec0_ra1_dec1 (deg)')
    mode.add_argument('--tile', action='store_true', help='exposures named in the tiles\' headers')
    args = parser.parse_args(argv)
    try:
        selected = select(args)
    except (ShapePipeError, ValueError) as error:
        print(f'cfis_field_select: error: {error}', file=sys.stderr)
        return 2
    kind = args.type
    if args.tile and not kind.startswith('exposure'):
        kind = 'exposure'
    lines = selected if args.out_number_only else [name_of(s, kind) for s in selected]
    if not args.out_name_only and not args.out_number_only and os.path.isdir(args.input):
        lines = [os.path.join(args.input, line) for line in lines]
    if args.verbose:
        print(f'{len(lines)} selected', file=sys.stderr)
    print('\n'.join(lines))
    if args.save:
        write_text(f'{args.output}.txt', ''.join(f'{line}\n' for line in lines))
    return 0 if lines else 1


if __name__ == '__main__':
    sys.exit(main())
