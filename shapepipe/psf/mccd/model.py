"""One MCCD model per exposure: fit, safe storage and evaluation at CCD positions.

The fit is the ``mccd`` package's (Liaudat et al. 2021, A&A 646, A27): a
global polynomial model over the focal plane plus a local model per CCD,
both sparse in the starlet domain. The starlet filters are computed by
:func:`starlet_filters` (the wheels lack Sparse2D).

Storage: ``mccd.MCCD.quicksave`` writes a pickled object array (``.npy``
with ``allow_pickle``); a file we read must not be able to run code, so the
fitted arrays go into an ``.npz`` of plain arrays (``fitted_model-<exp>.npz``)
read with ``allow_pickle=False``.

Evaluation reproduces ``MCCD.interpolate_psf_pipeline``: for every position
the 15 nearest training stars of its CCD, a thin-plate radial-basis
interpolation of the local and global weights, the PSF re-centred on the
stamp centre by a Lanczos shift of its HSM centroid, unit sum. (MCCD applies
the x shift along rows; we shift x along columns, so the stamps are centred.) The radial
basis system is the same for every weight component, so it is solved once
per position for all of them (scipy's ``Rbf`` solves it once per component,
53 times with the default settings); the result is the same to rounding
(``tests/psf/test_mccd.py``).
"""

from __future__ import annotations

import contextlib
import types
from typing import TYPE_CHECKING, Any

import galsim
import numpy as np
from scipy.signal import fftconvolve
from scipy.special import xlogy

from shapepipe.errors import InputError, ModuleError
from shapepipe.io.atomic import atomic_path

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    import mccd
    from numpy.typing import ArrayLike

#: Neighbours used to interpolate the weights (MCCD's fixed choice).
N_NEIGHBOURS = 15


class _NumpyStackingGenerators(types.ModuleType):
    """numpy for ``mccd.utils``, whose ``GraphBuilder`` passes a generator to
    ``np.vstack`` (an error since numpy 1.24): stacking accepts any iterable."""

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def vstack(arrays, *args, **kwargs):
        return np.vstack(list(arrays), *args, **kwargs)


def _mccd():
    """The mccd package, imported on first use (it warns about pysap on import)."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        import mccd
        import mccd.utils
    if not isinstance(mccd.utils.np, _NumpyStackingGenerators):
        mccd.utils.np = _NumpyStackingGenerators('numpy')
    return mccd


def _centred_mccd_class():
    """``mccd.MCCD`` whose model is centred on the stamp's central pixel.

    MCCD measures each star's sub-pixel shift from ``n / 2`` with pixel
    centres at integer indices (``utils.CentroidEstimator``), so the fitted
    eigenPSFs are centred half a pixel off the central pixel, on the corner
    between four pixels. Its own ``interpolate_psf_pipeline`` (and
    :func:`centred`) measures the centre with pixel centres at half-integers
    and so moves every evaluated PSF by half a pixel with a Lanczos kernel,
    the shift where resampling smooths most (measured: the raw model's HSM
    centroid sits 0.48 pixel off in x and y). Here the shifts are taken from
    ``(n - 1) / 2``, the centre :func:`centred` aims at, so the model comes out
    centred and the evaluation shift is a few hundredths of a pixel. The same
    offset is applied to the shifts of ``validation_stars`` (MCCD's
    outlier-CCD test compares the shifted model with the stars).
    """
    mccd = _mccd()
    from mccd import utils

    class CentredMCCD(mccd.MCCD):
        def _initialize(self):
            super()._initialize()
            self.shifts = [np.asarray(shifts, float) + 0.5 for shifts in self.shifts]
            lanc_rad = int(np.ceil(3.0 * max(np.max(s) for s in self.sigmas)))
            self.shift_ker_stack, self.shift_ker_stack_adj = zip(
                *[utils.shift_ker_stack(shifts, self.upfact, lanc_rad=lanc_rad)
                  for shifts in self.shifts])

        def estimate_psf(self, *args, shifts=None, **kwargs):
            if shifts is not None:
                shifts = np.asarray(shifts, float) + 0.5
            return super().estimate_psf(*args, shifts=shifts, **kwargs)

    return CentredMCCD


@contextlib.contextmanager
def seeded_mccd(rng: np.random.Generator) -> Iterator[None]:
    """Make an MCCD fit depend only on ``rng``, leaving numpy's global state as it was.

    The ``mccd`` package draws random numbers in two places it takes no
    generator for: ``GraphBuilder`` (``np.random.randint``, numpy's global
    state, when a CCD has fewer stars than components need) and modopt's
    ``PowerMethod`` (the start vector of every step-size estimate, from a
    fresh unseeded ``default_rng()``: this is why two fits of the same stars
    differed by ~5e-5). Inside this context the global state is seeded from
    ``rng`` and ``PowerMethod`` draws its start vectors from ``rng``; on exit
    both are restored. Not for use from several threads at once.
    """
    from modopt.math.matrix import PowerMethod
    state = np.random.get_state()
    original = PowerMethod._set_initial_x

    def _set_initial_x(self):
        return rng.random(self._data_shape).astype(self._data_type)

    np.random.seed(int(rng.integers(2 ** 32)))
    PowerMethod._set_initial_x = _set_initial_x
    try:
        yield
    finally:
        PowerMethod._set_initial_x = original
        np.random.set_state(state)


def focal_plane_positions(ccd: int, x: ArrayLike, y: ArrayLike) -> np.ndarray:
    """Local CCD pixel positions -> MCCD's global (CFIS MegaCam) focal-plane pixels."""
    loc2glob = _mccd().mccd_utils.Loc2Glob()
    return np.array([loc2glob.loc2glob_img_coord(int(ccd), xi, yi) for xi, yi in zip(x, y)],
                    float).reshape(-1, 2)


def fit_model(
    stars: np.ndarray, positions: np.ndarray, ccds: np.ndarray, masks: np.ndarray,
    instance_kw: Mapping[str, Any], fit_kw: Mapping[str, Any], filters: np.ndarray,
    snr_weights: np.ndarray | None = None, rng: np.random.Generator | None = None,
) -> mccd.MCCD:
    """Fit MCCD on one exposure's stars (regular format ``(n, ny, nx)``).

    ``rng`` makes the fit reproducible (:func:`seeded_mccd`); ``None``: a
    generator seeded with 0. Returns the fitted ``mccd.MCCD`` instance, its
    model centred on the stamps' central pixel (:func:`_centred_mccd_class`).
    """
    _mccd()
    from mccd import utils
    unique = np.unique(ccds).astype(int)
    star_list = [utils.rca_format(stars[ccds == c]) for c in unique]
    mask_list = [utils.rca_format(masks[ccds == c]) for c in unique]
    pos_list = [positions[ccds == c] for c in unique]
    snr_list = None if snr_weights is None else [snr_weights[ccds == c] for c in unique]
    model = _centred_mccd_class()(**instance_kw, filters=filters, verbose=False)
    with seeded_mccd(np.random.default_rng(0) if rng is None else rng):
        model.fit(star_list, pos_list, [int(c) for c in unique], mask_list, snr_list, **fit_kw)
    return model


def save_model(model: mccd.MCCD, path: str) -> None:
    """Write the fitted arrays of ``model`` to ``path`` (.npz, no pickle), atomically."""
    arrays = {
        'n_comp_loc': np.int64(model.n_comp_loc), 'd_comp_glob': np.int64(model.d_comp_glob),
        'min_d_comp_glob': np.int64(-1 if model.min_d_comp_glob is None
                                    else model.min_d_comp_glob),
        'upfact': np.int64(model.upfact), 'n_ccd': np.int64(model.n_ccd),
        'ccd_list': np.asarray(model.ccd_list, np.int64),
        'flux_ref': np.asarray(model.flux_ref, float),
        'psf_size': np.float64(model.psf_size),
    }
    for name in ('obs_pos', 'A_loc', 'A_glob', 'S', 'VT', 'Pi', 'alpha'):
        for k, array in enumerate(getattr(model, name)):
            arrays[f'{name}_{k}'] = np.asarray(array, float)
    with atomic_path(path) as tmp:
        with open(tmp, 'wb') as handle:
            np.savez(handle, **arrays)


def load_model(path: str) -> mccd.MCCD:
    """The fitted ``mccd.MCCD`` stored by :func:`save_model`; InputError if unreadable."""
    mccd = _mccd()
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
        min_d = int(arrays['min_d_comp_glob'])
        model = mccd.MCCD(int(arrays['n_comp_loc']), int(arrays['d_comp_glob']),
                          min_d_comp_glob=None if min_d < 0 else min_d,
                          upfact=int(arrays['upfact']), verbose=False)
        n_ccd = int(arrays['n_ccd'])
        model.n_ccd = n_ccd
        model.ccd_list = [int(c) for c in arrays['ccd_list']]
        model.flux_ref = arrays['flux_ref']
        model.psf_size = float(arrays['psf_size'])
        counts = {'obs_pos': n_ccd, 'A_loc': n_ccd, 'A_glob': n_ccd, 'S': n_ccd + 1,
                  'VT': n_ccd, 'Pi': n_ccd, 'alpha': n_ccd + 1}
        for name, count in counts.items():
            setattr(model, name, [arrays[f'{name}_{k}'] for k in range(count)])
    except (OSError, ValueError, KeyError) as error:
        raise InputError(f'{path}: not an MCCD model written by mccd_fit_runner ({error}); '
                         f'rerun mccd_fit_runner', path=path) from None
    model.is_fitted = True
    return model


def _thin_plate(r):
    return xlogy(r ** 2, r)


def interpolated_weights(
    model: mccd.MCCD, ccd_index: int, positions: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Local and global weights at ``positions`` (global pixels): RBF over the
    15 nearest training stars of the CCD, as ``MCCD.estimate_psf``."""
    obs = model.obs_pos[ccd_index]
    values = np.concatenate([model.A_loc[ccd_index], model.A_glob[ccd_index]]).T  # (n_obs, k)
    n_loc = model.A_loc[ccd_index].shape[0]
    out = np.empty((len(positions), values.shape[1]))
    for j, pos in enumerate(positions):
        order = np.argsort(np.linalg.norm(obs - pos, axis=1))[:N_NEIGHBOURS]
        nbs = obs[order]
        kernel = _thin_plate(np.linalg.norm(nbs[:, None, :] - nbs[None, :, :], axis=2))
        coeffs = np.linalg.solve(kernel, values[order])
        out[j] = _thin_plate(np.linalg.norm(nbs - pos, axis=1)) @ coeffs
    return out[:, :n_loc].T, out[:, n_loc:].T


def _lanczos_1d(shift, radius):
    offsets = shift[:, None] - (np.arange(2 * radius + 1) - radius)[None, :]
    return np.sinc(offsets) * np.sinc(offsets / radius)


def centred(psfs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shift each PSF so its HSM centroid is the stamp centre (Lanczos kernel
    of radius 3 sigma, as MCCD's ``interpolate_psf_pipeline``) and normalise to
    unit sum.

    Returns the stamps and a failure flag per stamp (HSM did not converge:
    the stamp is left uncentred).
    """
    n, ny, nx = psfs.shape
    centre = np.array([nx / 2.0, ny / 2.0])
    sigmas = np.empty(n)
    shifts = np.zeros((n, 2))
    failed = np.zeros(n, bool)
    for j, psf in enumerate(psfs):
        moments = galsim.hsm.FindAdaptiveMom(galsim.Image(psf), strict=False)
        failed[j] = bool(moments.error_message)
        sigmas[j] = moments.moments_sigma
        if not failed[j]:
            shifts[j] = centre - [moments.moments_centroid.x - 0.5,
                                  moments.moments_centroid.y - 0.5]
    good = sigmas[~failed]
    radius = int(np.ceil(3.0 * good.max())) if good.size else 8
    # The x shift moves columns (axis 1), the y shift rows (axis 0); MCCD's
    # kernel applies the x shift to axis 0, which leaves PSFs off-centre.
    kx = _lanczos_1d(shifts[:, 0], radius)
    ky = _lanczos_1d(shifts[:, 1], radius)
    out = np.empty_like(psfs)
    for j in range(n):
        out[j] = fftconvolve(psfs[j], np.outer(ky[j], kx[j]), mode='same')
    sums = out.sum(axis=(1, 2))
    sums[sums == 0] = 1.0
    return out / sums[:, None, None], failed


class MCCDModel:
    """An exposure's fitted MCCD model, evaluated at local CCD positions."""

    def __init__(self, path_or_model):
        self.model = (load_model(path_or_model) if isinstance(path_or_model, str)
                      else path_or_model)
        self.ccds = [int(c) for c in self.model.ccd_list]
        self.stamp_shape = tuple(self.model.S[0].shape[:2])
        #: Training stars per CCD.
        self.n_train = {c: len(pos) for c, pos in zip(self.ccds, self.model.obs_pos)}

    def has_ccd(self, ccd: int) -> bool:
        """Whether the CCD kept a model (enough stars, not rejected as an outlier)."""
        return int(ccd) in self.ccds

    def raw_stamps(self, ccd: int, x: ArrayLike, y: ArrayLike) -> np.ndarray:
        """The model (sum of global and local parts) before re-centring, ``(n, ny, nx)``."""
        if not self.has_ccd(ccd):
            raise ModuleError(f'CCD {ccd} has no MCCD model (too few stars or rejected as an '
                              f'outlier CCD in the fit)')
        index = self.ccds.index(int(ccd))
        positions = focal_plane_positions(ccd, x, y)
        w_loc, w_glob = interpolated_weights(self.model, index, positions)
        psfs = self.model.S[index].dot(w_loc) + self.model.S[-1].dot(w_glob)
        return np.moveaxis(psfs, -1, 0)

    def stamps(self, ccd: int, x: ArrayLike, y: ArrayLike) -> np.ndarray:
        """Centred, unit-sum PSF stamps at local pixel positions (FITS convention)."""
        if len(x) == 0:
            return np.zeros((0,) + self.stamp_shape)
        return centred(self.raw_stamps(ccd, np.asarray(x, float), np.asarray(y, float)))[0]
