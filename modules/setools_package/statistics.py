"""Functions of the ``.setools`` expression language.

Every function takes its arguments and a keyword ``warn`` (a callable that
records a warning). Degenerate input never raises: statistics of an empty
selection give NaN (``mode`` and ``sigma_mad`` give -1, as in ShapePipe) and a
warning; non-finite values are left out of statistics with a warning.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

#: Iterations of the mode's histogram refinement.
MODE_MAX_ITER = 1000
#: Bin width at which the mode's refinement stops.
MODE_EPS = 1e-3


def _finite(values, warn, what):
    values = np.atleast_1d(np.asarray(values, dtype=float)).ravel()
    good = np.isfinite(values)
    if not good.all():
        warn(f'{np.count_nonzero(~good)} non-finite value(s) of {values.size} left out of {what}')
        values = values[good]
    return values


def _reduce(function, name, empty=np.nan):
    def reducer(values, warn):
        values = _finite(values, warn, name)
        if values.size == 0:
            warn(f'no values: {name} is {empty}')
            return float(empty)
        return float(function(values))
    reducer.__name__ = name
    return reducer


mean = _reduce(np.mean, 'mean')
median = _reduce(np.median, 'median')
std = _reduce(np.std, 'std')
var = _reduce(np.var, 'var')


def elementwise(function: np.ufunc) -> Callable[[ArrayLike, Callable[[str], None]], np.ndarray]:
    """Wrap a numpy ufunc (sqrt, log, ...) as an expression function."""
    def apply(values, warn):
        return function(values)
    apply.__name__ = function.__name__
    return apply


def power(base: ArrayLike, exponent: ArrayLike, warn: Callable[[str], None]) -> np.ndarray:
    """``pow(x, y)``: element-wise power."""
    return np.power(np.asarray(base, dtype=float), exponent)


def length(values: ArrayLike, warn: Callable[[str], None]) -> int:
    """``len(x)``: number of values (1 for a number)."""
    return int(np.size(values))


def _extremum(reduce_one, elementwise_two, name):
    def extremum(*args, warn):
        if len(args) == 1:
            values = _finite(args[0], warn, name)
            if values.size == 0:
                warn(f'no values: {name} is nan')
                return float('nan')
            return float(reduce_one(values))
        result = args[0]
        for other in args[1:]:
            if np.ndim(result) and np.ndim(other) and np.shape(result) != np.shape(other):
                raise ValueError(f'{name}() of arrays of different lengths')
            result = elementwise_two(result, other)
        return result
    extremum.__name__ = name
    return extremum


minimum = _extremum(np.min, np.fmin, 'min')
maximum = _extremum(np.max, np.fmax, 'max')


def sigma_mad(values: ArrayLike, warn: Callable[[str], None]) -> float:
    """1.4826 times the median absolute deviation; -1 for no values."""
    values = _finite(values, warn, 'sigma_mad')
    if values.size == 0:
        warn('no values: sigma_mad is -1')
        return -1.0
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


def mode(values: ArrayLike, warn: Callable[[str], None], eps: float = MODE_EPS,
         max_iter: int = MODE_MAX_ITER) -> float:
    """Most frequent value of a continuous distribution.

    The reference binning: with n finite values, n > 100 uses n/10 histogram
    bins, 20 <= n <= 100 uses n/5 bins, 0 < n < 20 gives the median and n = 0
    gives -1. The peak bin is then refined: its values are histogrammed again
    with the same rules applied to their number, until the bin is narrower
    than ``eps`` (its centre is the mode), fewer than 20 values remain (their
    median is the mode) or no bin holds more than one value (median).
    ShapePipe kept the first bin count while the sample shrank, which makes
    the last bins hold one or two values and the result noisy.

    Degenerate data never raise ("too many bins for data range", #808):
    identical values return that value, and values spread over less than the
    floating-point resolution of the bins return their mid-range.
    """
    values = _finite(values, warn, 'mode')
    if values.size == 0:
        warn('no values: mode is -1')
        return -1.0
    data = values
    for _ in range(max_iter):
        n_val = data.size
        if n_val < 20:
            return float(np.median(data))
        n_bins = n_val // 10 if n_val > 100 else n_val // 5
        low, high = float(data.min()), float(data.max())
        resolution = 8 * np.spacing(max(abs(low), abs(high), 1e-300)) * n_bins
        if high - low <= max(resolution, eps):
            return 0.5 * (low + high)
        counts, edges = np.histogram(data, bins=n_bins, range=(low, high))
        peak = int(np.argmax(counts))
        if counts[peak] <= 1:
            # Every value alone in its bin: no peak to refine.
            return float(np.median(data))
        b_min, b_max = edges[peak], edges[peak + 1]
        if b_max - b_min <= eps:
            return float(0.5 * (b_min + b_max))
        data = data[(data >= b_min) & (data <= b_max)]
    warn(f'mode not converged after {max_iter} iterations')
    return float(np.median(data))


def homogen(*args: ArrayLike, warn: Callable[[str], None]) -> float:
    """Inhomogeneity of positions in 1 or 2 dimensions.

    ``homogen(x, n_cells)`` or ``homogen(x, y, n_cells)``: counts in
    ``n_cells`` equal cells over the data range (``sqrt(n_cells)`` per axis in
    2-d, so n_cells must be a square), and returns the standard deviation of
    the counts relative to the worst case (all objects in one cell), in
    percent: 0 is perfectly even, 100 all in one cell. NaN with a warning when
    there are fewer than 2 objects.
    """
    *params, n_cells = args
    if np.ndim(n_cells) != 0 or n_cells < 1 or n_cells != int(n_cells):
        raise ValueError('homogen(): the last argument is the number of cells, a positive '
                         'integer')
    n_cells = int(n_cells)
    params = [np.atleast_1d(np.asarray(p, dtype=float)) for p in params]
    if len(params) == 2:
        if params[0].shape != params[1].shape:
            raise ValueError('homogen(): x and y have different lengths')
        side = int(round(np.sqrt(n_cells)))
        if side * side != n_cells:
            raise ValueError(f'homogen(): n_cells = {n_cells} must be a square number in 2-d')
    good = np.all([np.isfinite(p) for p in params], axis=0)
    if not good.all():
        warn(f'{np.count_nonzero(~good)} non-finite position(s) left out of homogen')
    params = [p[good] for p in params]
    n_tot = params[0].size
    if n_tot < 2:
        warn(f'{n_tot} object(s): homogen is nan')
        return float('nan')
    if len(params) == 1:
        counts, _ = np.histogram(params[0], bins=n_cells)
    else:
        counts, _, _ = np.histogram2d(params[0], params[1], bins=side)
    counts = counts.ravel().astype(float)
    expected = n_tot / n_cells
    worst = np.zeros(n_cells)
    worst[0] = n_cells
    worst_std = np.std(worst)
    if worst_std == 0:
        return 0.0
    return float(np.std(counts / expected) / worst_std * 100.0)
