"""PLOT sections: line/marker plots, colour-coded scatter plots, histograms.

Figures are drawn with matplotlib's object interface on the Agg canvas (no
pyplot, no global state), so jobs can run in threads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from shapepipe.io.atomic import atomic_path
from shapepipe.modules.setools_package.expression import evaluate
from shapepipe.modules.setools_package.setools_file import LabelText

if TYPE_CHECKING:
    from shapepipe.modules.setools_package.expression import Context
    from shapepipe.modules.setools_package.setools_file import Section


def format_value(value: object) -> str:
    """Text of an ``@expression@`` value in a label."""
    if np.ndim(value) == 0:
        value = float(value)
        if not np.isfinite(value):
            return str(value)
        if value == int(value) and abs(value) < 1e15:
            return str(int(value))
        return f'{value:.5g}'
    return np.array2string(np.asarray(value), precision=4, threshold=10)


def render_text(parsed: LabelText | str, context: Context) -> str:
    """Text with its ``@expression@`` parts evaluated."""
    if not isinstance(parsed, LabelText):
        return str(parsed)
    out = []
    for index, part in enumerate(parsed.parts):
        out.append(format_value(evaluate(part, context)) if index % 2 else part)
    return ''.join(out)


def _value(options, key, index, default=None):
    entries = options.get(key, {})
    if index in entries:
        return entries[index][1]
    if len(entries) == 1 and '0' in entries:
        return entries['0'][1]
    return default


def _finite_rows(arrays, warn, what):
    arrays = [np.atleast_1d(np.asarray(a, dtype=float)) for a in arrays]
    size = max(a.size for a in arrays)
    arrays = [np.broadcast_to(a, (size,)) if a.size == 1 else a for a in arrays]
    if len({a.size for a in arrays}) != 1:
        raise ValueError(f'{what}: values of different lengths '
                         f'({", ".join(str(a.size) for a in arrays)})')
    good = np.all([np.isfinite(a) for a in arrays], axis=0) if size else np.zeros(0, bool)
    if np.count_nonzero(~good):
        warn(f'{what}: {np.count_nonzero(~good)} non-finite value(s) not plotted')
    arrays = [a[good] for a in arrays]
    if arrays[0].size == 0:
        warn(f'{what}: nothing to plot (empty selection)')
    return arrays


def make_plot(section: Section, context: Context, output_stem: str) -> str:
    """Draw one PLOT section and write ``output_stem.<format>``.

    Parameters
    ----------
    section : Section
        A parsed PLOT section.
    context : Context
        Catalogue and masks.
    output_stem : str
        Output path without extension.

    Returns
    -------
    str
        The written file.
    """
    opts = section.options
    warn = context.warnings.append
    kind = opts['TYPE']['0'][1]
    fig = Figure()
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if 'TITLE' in opts:
        fig.suptitle(render_text(_value(opts, 'TITLE', '0'), context))

    has_label = False
    curves = sorted(opts['SCATTER' if kind == 'scatter' else 'Y'],
                    key=lambda index: int(index))
    for index in curves:
        what = f'plot {section.name} curve {index}'
        label = _value(opts, 'LABEL', index)
        label = render_text(label, context) if label is not None else None
        has_label |= label is not None
        style = {
            'color': _value(opts, 'COLOR', index),
            'alpha': _value(opts, 'ALPHA', index),
        }
        if kind == 'hist':
            (values,) = _finite_rows([evaluate(opts['Y'][index][1], context)], warn, what)
            bins = _value(opts, 'BIN', index, 10)
            if values.size and values.min() == values.max():
                bins = 1
            ax.hist(values, bins=bins, log=bool(_value(opts, 'LOG', index, False)),
                    histtype=_value(opts, 'HTYPE', index, 'bar'), label=label, **style)
            continue
        x_tree = _value(opts, 'X', index)
        if x_tree is None and len(opts.get('X', {})) == 1:
            x_tree = next(iter(opts['X'].values()))[1]     # one X for every Y
        y_tree = _value(opts, 'Y', index)
        if x_tree is None or y_tree is None:
            raise ValueError(f'{what}: give X_{index} and Y_{index} (or one X and Y for all)')
        if kind == 'plot':
            x, y = _finite_rows([evaluate(x_tree, context), evaluate(y_tree, context)],
                                warn, what)
            ax.plot(x, y, marker=_value(opts, 'MARKER', index, '+'),
                    markersize=_value(opts, 'MARKERSIZE', index, 3.0),
                    ls=_value(opts, 'LINE', index, ''), label=label, **style)
        else:
            colour = evaluate(opts['SCATTER'][index][1], context)
            x, y, colour = _finite_rows([evaluate(x_tree, context), evaluate(y_tree, context),
                                         colour], warn, what)
            style.pop('color')
            points = ax.scatter(x, y, c=colour, marker=_value(opts, 'MARKER', index, '.'),
                                s=_value(opts, 'MARKERSIZE', index, 10.0), label=label,
                                **style)
            if colour.size:
                bar = fig.colorbar(points, ax=ax)
                if label:
                    bar.set_label(label)

    for key, setter in (('XLIM', ax.set_xlim), ('YLIM', ax.set_ylim)):
        if key in opts:
            setter(*_value(opts, key, '0'))
    if 'XLABEL' in opts:
        ax.set_xlabel(render_text(_value(opts, 'XLABEL', '0'), context))
    if 'YLABEL' in opts:
        ax.set_ylabel(render_text(_value(opts, 'YLABEL', '0'), context))
    if has_label and kind != 'scatter' and ax.get_legend_handles_labels()[0]:
        ax.legend()

    fmt = str(_value(opts, 'FORMAT', '0', 'png')).lower()
    path = f'{output_stem}.{fmt}'
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt)
    return path
