"""``merge_final_cat``: concatenate the per-tile final catalogues into one FITS file.

Examples::

    merge_final_cat -i output/run_sp_Mc/make_cat_runner/output
    merge_final_cat -i cats -l tiles.txt -p columns.txt -o shapes.fits -v
    merge_final_cat -i cats -n 10 -o first10.fits

The inputs are the ``final_cat*.fits`` files of ``-i`` (sorted by name), or the
files named in ``-l`` (one per line; relative names are taken in ``-i``). Every
input's HDU ``RESULTS`` is read; the rows of all readable inputs are written to
one HDU ``RESULTS`` of the output (default ``<input>/merged_final_cat.fits``, a
name the ``final_cat*.fits`` scan never picks up). ``-p`` names the columns to
keep, one per line; without it, the columns of the first readable input are
kept. An input that is missing, corrupt or lacks a wanted column is reported on
one line and skipped. Exit status: 0 all merged, 1 some or all inputs skipped,
2 usage error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
import argparse
import glob
import os
import sys
import warnings

import numpy as np
from astropy.io import fits

from shapepipe.errors import ConfigError, InputError
from shapepipe.io.atomic import atomic_path
from shapepipe.io.final_catalog import FINAL_HDU

PATTERN = 'final_cat*.fits'
HDU_NAME = FINAL_HDU           # the final catalogue's format: shapepipe.io.final_catalog
DEFAULT_OUTPUT = 'merged_final_cat.fits'


def read_name_list(path: str | os.PathLike, what: str) -> list[str]:
    """Non-empty, non-comment lines of a text file (first word of each)."""
    if not os.path.isfile(path):
        raise ConfigError(f'{path}: no such {what} file; give an existing text file, '
                          f'one entry per line', path=path)
    with open(path) as handle:
        names = [line.split()[0] for line in handle
                 if line.strip() and not line.lstrip().startswith('#')]
    if not names:
        raise ConfigError(f'{path}: the {what} file lists nothing', path=path)
    return names


def input_files(input_path: str, list_path: str | None = None, n_max: int | None = None,
                exclude: str | None = None) -> list[str]:
    """Paths of the catalogues to merge, in order, at most ``n_max``."""
    if list_path:
        paths = [name if os.path.isabs(name) else os.path.join(input_path, name)
                 for name in read_name_list(list_path, 'input list')]
    else:
        if not os.path.isdir(input_path):
            raise ConfigError(f'{input_path}: no such input directory; give the directory of '
                              f'the final_cat*.fits files with -i', path=input_path)
        paths = sorted(glob.glob(os.path.join(input_path, PATTERN)))
    if exclude:
        paths = [p for p in paths if os.path.realpath(p) != os.path.realpath(exclude)]
    return paths[:n_max] if n_max else paths


def read_columns(path: str | os.PathLike, names: Sequence[str] | None = None,
                 ) -> dict[str, tuple[np.ndarray, fits.Column]]:
    """``{name: (array, fits.Column)}`` of the HDU RESULTS of ``path``.

    ``names`` None reads every column. Raises :class:`InputError` (one line) when
    the file is missing, unreadable, truncated, has no HDU RESULTS or lacks a column.
    """
    if not os.path.isfile(path):
        raise InputError(f'{path}: no such file', path=path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        try:
            columns = _read_results(path, names)
            problem = None
        except InputError as error:
            columns, problem = None, error.message
        except (OSError, ValueError, TypeError, IndexError, KeyError, EOFError) as error:
            columns, problem = None, f'{path}: cannot read ({_first_line(error)})'
    notes = [_first_line(w.message) for w in caught]
    truncated = [note for note in notes if 'truncated' in note]
    if truncated:
        problem = f'{path}: corrupt ({truncated[0]})'
    if problem is not None:
        if notes and not truncated and 'cannot read' not in problem:
            problem += f' ({notes[0]})'
        raise InputError(problem, path=path)
    return columns


def _first_line(message):
    text = str(message).strip()
    return text.splitlines()[0].strip() if text else type(message).__name__


def _read_results(path, names):
    with fits.open(path, memmap=False) as hdul:
        if HDU_NAME not in hdul:
            raise InputError(f'{path}: no HDU {HDU_NAME}', path=path)
        hdu = hdul[HDU_NAME]
        if not isinstance(hdu, fits.BinTableHDU):
            raise InputError(f'{path}: HDU {HDU_NAME} is not a binary table', path=path)
        available = hdu.columns.names
        wanted = available if names is None else names
        missing = [n for n in wanted if n not in available]
        if missing:
            raise InputError(f'{path}: lacks column(s) {", ".join(missing)}', path=path)
        data = hdu.data
        columns = {}
        for name in wanted:
            array = np.array(data[name]) if data is not None else np.zeros(0)
            columns[name] = (array, hdu.columns[name])
        return columns


def check_compatible(path: str | os.PathLike,
                     columns: Mapping[str, tuple[np.ndarray, fits.Column]],
                     reference: Mapping[str, tuple[np.ndarray, fits.Column]]) -> None:
    """Raise InputError when a column's shape per row differs from the reference."""
    for name, (array, _) in columns.items():
        ref_array = reference[name][0]
        if array.shape[1:] != ref_array.shape[1:]:
            raise InputError(f'{path}: column {name} has shape {array.shape[1:]} per row, '
                             f'not {ref_array.shape[1:]} as in the first catalogue', path=path)
        if array.dtype.kind != ref_array.dtype.kind and not (
                array.dtype.kind in 'iuf' and ref_array.dtype.kind in 'iuf'):
            raise InputError(f'{path}: column {name} is of type {array.dtype}, not '
                             f'{ref_array.dtype} as in the first catalogue', path=path)


def output_column(name: str, arrays: Sequence[np.ndarray], template: fits.Column) -> fits.Column:
    """A fits.Column holding the concatenation, with the template's format and unit."""
    array = np.concatenate(arrays)
    form = template.format
    if array.dtype.kind in 'SU':
        width = max(1, array.dtype.itemsize // (4 if array.dtype.kind == 'U' else 1))
        form = f'{width}A'
        return fits.Column(name, form, unit=template.unit, array=array)
    return fits.Column(name, form, unit=template.unit, dim=template.dim, array=array,
                       bzero=template.bzero, bscale=template.bscale)


def merge(paths: Sequence[str], output: str | os.PathLike, names: Sequence[str] | None = None,
          report: Callable[[str], object] | None = None) -> tuple[int, list[str], list[str]]:
    """Merge the catalogues ``paths`` into ``output``.

    Parameters
    ----------
    paths : list of str
        Input final catalogues.
    output : str
        Output FITS file, written atomically.
    names : list of str, optional
        Columns to keep; default those of the first readable input.
    report : callable, optional
        Called with one line per skipped input (default: print to stderr).

    Returns
    -------
    tuple
        (number of rows written, list of merged paths, list of skipped paths).
    """
    report = report or (lambda line: print(line, file=sys.stderr))
    reference = None
    pieces = []
    merged, skipped = [], []
    for path in paths:
        try:
            columns = read_columns(path, names)
            if reference is None:
                reference = columns
            else:
                missing = [n for n in reference if n not in columns]
                if missing:
                    raise InputError(f'{path}: lacks column(s) {", ".join(missing)}',
                                     path=path)
                columns = {n: columns[n] for n in reference}
                check_compatible(path, columns, reference)
        except InputError as error:
            report(f'merge_final_cat: skipped {error}')
            skipped.append(path)
            continue
        pieces.append(columns)
        merged.append(path)
    if not pieces:
        raise InputError(f'no catalogue could be merged (of {len(paths)}); nothing written '
                         f'to {output}', path=output)
    hdu_columns = [output_column(name, [p[name][0] for p in pieces], reference[name][1])
                   for name in reference]
    hdu = fits.BinTableHDU.from_columns(hdu_columns, name=HDU_NAME)
    hdu.header['NMERGED'] = (len(merged), 'number of catalogues merged')
    n_rows = sum(len(p[next(iter(reference))][0]) for p in pieces)
    directory = os.path.dirname(os.path.abspath(output))
    os.makedirs(directory, exist_ok=True)
    with atomic_path(output) as tmp:
        if output.endswith('.npy'):
            # ShapePipe's other output: a numpy structured array
            table = np.asarray(hdu.data).view(np.ndarray)
            with open(tmp, 'wb') as handle:
                np.save(handle, np.array(table, dtype=table.dtype.newbyteorder('=')))
        else:
            fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(tmp)
    return n_rows, merged, skipped


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog='merge_final_cat', description=__doc__.split('\n')[0])
    parser.add_argument('-i', '--input_path', default='.',
                        help='directory of the final_cat*.fits files (default .)')
    parser.add_argument('-n', '--n_max', type=int, help='merge at most this many files')
    parser.add_argument('-l', '--list_path',
                        help='text file listing the inputs, one per line, instead of scanning')
    parser.add_argument('-p', '--param_path',
                        help='text file listing the columns to keep, one per line (default all)')
    parser.add_argument('-o', '--output_path',
                        help=f'output file: FITS, or a numpy structured array when it ends '
                             f'in .npy (default <input_path>/{DEFAULT_OUTPUT})')
    parser.add_argument('-v', '--verbose', action='store_true')
    args = parser.parse_args(argv)
    if args.n_max is not None and args.n_max < 1:
        parser.error('-n/--n_max must be at least 1')
    output = args.output_path or os.path.join(args.input_path, DEFAULT_OUTPUT)
    try:
        names = read_name_list(args.param_path, 'column') if args.param_path else None
        paths = input_files(args.input_path, args.list_path, args.n_max, exclude=output)
    except ConfigError as error:
        print(f'merge_final_cat: error: {error}', file=sys.stderr)
        return 2
    if not paths:
        print(f'merge_final_cat: error: {args.input_path}: no {PATTERN} file; give the '
              f'directory of the final catalogues with -i or a list with -l', file=sys.stderr)
        return 1
    if names is not None and len(set(names)) != len(names):
        names = list(dict.fromkeys(names))
    try:
        n_rows, merged, skipped = merge(paths, output, names)
    except InputError as error:
        print(f'merge_final_cat: error: {error}', file=sys.stderr)
        return 1
    except OSError as error:
        print(f'merge_final_cat: error: cannot write {output} ({error.strerror or error}); '
              f'check the directory exists and is writable', file=sys.stderr)
        return 1
    if args.verbose:
        for path in merged:
            print(f'merged {path}')
    print(f'merge_final_cat: {n_rows} rows from {len(merged)} catalogue(s) written to {output}'
          + (f'; {len(skipped)} skipped' if skipped else ''))
    return 1 if skipped else 0


if __name__ == '__main__':
    sys.exit(main())
