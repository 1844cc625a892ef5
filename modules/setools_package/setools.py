"""Apply a ``.setools`` file to one SExtractor catalogue.

Outputs, under the output directory (``num`` is the file number string)::

    mask/{name}{num}.fits              selected rows (input layout, FITS_LDAC kept)
    plot/{name}{num}.{format}
    stat/{name}{num}.txt               '# Statistics' then 'label = value' lines
    rand_split/{name}_ratio_{r}{num}.fits and {name}_ratio_{100-r}{num}.fits
    new_cat/{name}{num}.fits|.txt

Degenerate catalogues (no objects, one object, NaNs) give empty selections,
NaN or -1 statistics and warnings, never an exception.
"""

from __future__ import annotations

import logging
import math
import os

import numpy as np

from shapepipe.errors import ConfigError
from shapepipe.io.atomic import write_text
from shapepipe.modules.setools_package.catalog import Catalog, write_table
from shapepipe.modules.setools_package.expression import Context, ExpressionError, evaluate
from shapepipe.modules.setools_package.plots import make_plot
from shapepipe.modules.setools_package.setools_file import read_setools

OUTPUT_DIRS = {'MASK': 'mask', 'PLOT': 'plot', 'STAT': 'stat', 'RAND_SPLIT': 'rand_split',
               'NEW_CAT': 'new_cat'}


def format_stat(value: object) -> str:
    """Text of a statistic: ints as ints, floats in full precision."""
    if np.ndim(value) == 0:
        if isinstance(value, (bool, np.bool_)):
            return str(bool(value))
        if isinstance(value, (int, np.integer)):
            return str(int(value))
        return repr(float(value))
    return np.array2string(np.asarray(value), separator=', ', threshold=20)


class SETools:
    """Run a parsed ``.setools`` file on one catalogue.

    Parameters
    ----------
    catalog : Catalog or str
        The catalogue or its path.
    setools : SetoolsFile or str
        The parsed selection file or its path.
    output_dir : str
        Module output directory; sub-directories are created as needed.
    file_number_string : str
        Appended to every output name.
    rng : numpy.random.Generator, optional
        For RAND_SPLIT sections (required when there is one).
    log : logging.Logger, optional
    """

    def __init__(self, catalog, setools, output_dir, file_number_string='', rng=None,
                 log=None):
        self.catalog = catalog if isinstance(catalog, Catalog) else Catalog.read(catalog)
        self.setools = setools if not isinstance(setools, str) else read_setools(setools)
        self.output_dir = output_dir
        self.num = file_number_string
        self.rng = rng
        self.log = log or logging.getLogger(__name__)
        self.masks = {}
        self.stats = {}
        self.outputs = []
        self.warnings = []

    # -- helpers ---------------------------------------------------------------
    def _context(self, subset=None):
        return Context(self.catalog.data, self.masks, subset=subset, warnings=self.warnings)

    def _evaluate(self, line, tree, context):
        try:
            return evaluate(tree, context)
        except ExpressionError as error:
            raise ConfigError(f'{self.setools.path}:{line.number}: {error} (catalogue '
                              f'{self.catalog.path}): {line.raw.strip()!r}',
                              path=self.setools.path, line=line.number) from None

    def _warn(self, where):
        for text in self.warnings:
            self.log.warning('%s: %s', where, text)
        self.warnings.clear()

    def _path(self, kind, name, ext):
        directory = os.path.join(self.output_dir, OUTPUT_DIRS[kind])
        os.makedirs(directory, exist_ok=True)
        return os.path.join(directory, f'{name}{self.num}{ext}')

    # -- sections ----------------------------------------------------------------
    def make_masks(self) -> None:
        """Evaluate every MASK section in order; write those without NO_SAVE."""
        n_obj = len(self.catalog)
        for section in self.setools.of_kind('MASK'):
            selected = np.ones(n_obj, dtype=bool)
            for _, name in section.options['prefilter']:
                selected &= self.masks[name]
            context = self._context(subset=selected)
            n_sub = int(selected.sum())
            keep = np.ones(n_sub, dtype=bool)
            for line, tree in section.items:
                result = self._evaluate(line, tree, context)
                if np.ndim(result) == 0:
                    result = np.full(n_sub, bool(result))
                elif np.shape(result) != (n_sub,):
                    raise ConfigError(
                        f'{self.setools.path}:{line.number}: the condition gives '
                        f'{np.size(result)} values for {n_sub} rows; compare columns of the '
                        f'section\'s rows (no {{mask}} on the left): {line.raw.strip()!r}',
                        path=self.setools.path, line=line.number)
                keep &= np.asarray(result, dtype=bool)
            final = np.zeros(n_obj, dtype=bool)
            final[np.flatnonzero(selected)[keep]] = True
            self.masks[section.name] = final
            self._warn(f'MASK {section.name}')
            n_sel = int(final.sum())
            if n_sel == 0:
                self.log.warning('MASK %s: no object selected out of %d', section.name, n_obj)
            else:
                self.log.info('MASK %s: %d of %d objects selected', section.name, n_sel, n_obj)
            if section.options['save']:
                path = self._path('MASK', section.name, '.fits')
                self.catalog.write_selection(path, final)
                self.outputs.append(path)

    def make_plots(self) -> None:
        """Draw every PLOT section."""
        for section in self.setools.of_kind('PLOT'):
            stem = self._path('PLOT', section.name, '')
            try:
                path = make_plot(section, self._context(), stem)
            except ExpressionError as error:
                raise ConfigError(f'{self.setools.path}:{section.line.number}: PLOT '
                                  f'{section.name}: {error}', path=self.setools.path,
                                  line=section.line.number) from None
            except ValueError as error:
                raise ConfigError(f'{self.setools.path}:{section.line.number}: {error}',
                                  path=self.setools.path, line=section.line.number) from None
            self._warn(f'PLOT {section.name}')
            self.outputs.append(path)

    def make_new_cats(self) -> None:
        """Write every NEW_CAT section (columns computed from expressions)."""
        for section in self.setools.of_kind('NEW_CAT'):
            context = self._context()
            columns = {}
            for line, name, tree in section.items:
                columns[name] = (line, np.atleast_1d(self._evaluate(line, tree, context)))
            self._warn(f'NEW_CAT {section.name}')
            fmt = section.options['OUTPUT_FORMAT'][1]
            if fmt == 'txt':
                path = self._path('NEW_CAT', section.name, '.txt')
                write_text(path, _text_table({k: v for k, (_, v) in columns.items()}))
            else:
                sizes = {v.size for _, v in columns.values() if v.size != 1}
                if len(sizes) > 1:
                    line = next(iter(columns.values()))[0]
                    raise ConfigError(
                        f'{self.setools.path}:{section.line.number}: NEW_CAT {section.name}: '
                        f'columns of different lengths {sorted(sizes)} cannot form a FITS '
                        f'table (use OUTPUT_FORMAT = txt or the same selection)',
                        path=self.setools.path, line=line.number)
                size = sizes.pop() if sizes else 1
                table = {k: np.broadcast_to(v, (size,)) if v.size == 1 else v
                         for k, (_, v) in columns.items()}
                path = self._path('NEW_CAT', section.name, '.fits')
                write_table(path, table,
                            imhead=self.catalog.imhead if fmt == 'sex_cat' else None)
            self.outputs.append(path)

    def make_rand_splits(self) -> None:
        """Split the (masked) catalogue at random into two parts per section."""
        for section in self.setools.of_kind('RAND_SPLIT'):
            if self.rng is None:
                raise ValueError('RAND_SPLIT needs a random generator (rng=)')
            ratio = section.options['RATIO'][1]
            selected = np.ones(len(self.catalog), dtype=bool)
            for name in section.options.get('MASK', (None, []))[1]:
                selected &= self.masks[name]
            rows = np.flatnonzero(selected)
            n_keep = int(math.ceil(rows.size * ratio))
            chosen = np.zeros(rows.size, dtype=bool)
            chosen[self.rng.choice(rows.size, size=n_keep, replace=False)] = True
            percent = int(round(ratio * 100))
            for part, take in ((percent, chosen), (100 - percent, ~chosen)):
                path = self._path('RAND_SPLIT', f'{section.name}_ratio_{part}', '.fits')
                n_written = self.catalog.write_selection(path, rows[take])
                if n_written == 0:
                    self.log.warning('RAND_SPLIT %s: ratio_%d sample is empty (%d objects '
                                     'to split)', section.name, part, rows.size)
                self.outputs.append(path)

    def make_stats(self) -> None:
        """Compute every STAT section and write its text file."""
        for section in self.setools.of_kind('STAT'):
            context = self._context()
            values = {}
            for line, label, tree in section.items:
                values[label] = self._evaluate(line, tree, context)
            self._warn(f'STAT {section.name}')
            self.stats[section.name] = values
            text = '# Statistics\n' + ''.join(
                f'{label} = {format_stat(value)}\n' for label, value in values.items())
            path = self._path('STAT', section.name, '.txt')
            write_text(path, text)
            self.outputs.append(path)

    def process(self) -> list[str]:
        """Run all sections: masks first (others use them), then plots, new
        catalogues, random splits and statistics.

        Returns
        -------
        list of str
            Written files.
        """
        self.make_masks()
        self.make_plots()
        self.make_new_cats()
        self.make_rand_splits()
        self.make_stats()
        return self.outputs


def _text_table(columns):
    names = list(columns)
    n_rows = max((v.size for v in columns.values()), default=0)
    lines = ['# HEADER', '# ' + '\t'.join(names)]
    for row in range(n_rows):
        cells = [format_stat(v[row]) if row < v.size else '' for v in columns.values()]
        lines.append('\t'.join(cells))
    return '\n'.join(lines) + '\n'
