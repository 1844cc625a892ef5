"""One Piff PSF model per exposure, fitted to the star stamps of all its CCDs.

Stars come from ``mccd_preprocessing_runner``'s per-exposure files (stamps,
local and focal-plane positions, masks). Each stamp becomes a Piff star at its
CCD pixel position with a constant pixel scale; its focal-plane position
``(u, v)`` [arcsec] (MegaCam layout, as MCCD) is what the interpolation sees,
so one polynomial or Gaussian process spans the whole focal plane. The model
(PixelGrid or a GSObject, any Piff interpolant) and outlier rejection come from
a Piff YAML file's ``psf`` field (``example/GOLD/piff.yaml``).

Storage: Piff's own FITS file (``piff_model-<exp>.piff``). Piff stores a
WCS and bandpass as pickles; we fit without them and refuse to read a file
that has either, so reading a model cannot run code.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import galsim
import numpy as np
from astropy.io import fits

from shapepipe.errors import ConfigError, InputError, ModuleError
from shapepipe.io.atomic import atomic_path
from shapepipe.psf.mccd.model import focal_plane_positions

if TYPE_CHECKING:
    from collections.abc import Mapping

    import piff
    from numpy.typing import ArrayLike

#: Pixel scale [arcsec] of the stamps' (constant) WCS and of the focal-plane u, v.
PIXEL_SCALE = 0.187


class _PiffLog(logging.LoggerAdapter):
    """A logger with Piff's extra ``verbose`` level (logged as debug)."""

    def verbose(self, msg, *args, **kwargs):
        self.debug(msg, *args, **kwargs)


def piff_logger(log: logging.Logger | None = None) -> logging.LoggerAdapter:
    """``log`` (default: the ``piff`` logger) as Piff wants it."""
    return _PiffLog(log if log is not None else logging.getLogger('piff'), {})


def read_piff_config(path: str) -> dict[str, Any]:
    """The ``psf`` field of a Piff YAML file; ConfigError naming the file."""
    import yaml
    try:
        with open(path) as handle:
            config = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f'{path}: cannot read the Piff YAML file ({error}); fix '
                          f'PIFF_CONFIG') from None
    if not isinstance(config, dict) or not isinstance(config.get('psf'), dict):
        raise ConfigError(f'{path}: no "psf" field (Piff config with model and interp)')
    return config['psf']


def _noise_variance(stamp, mask):
    """Background variance from the stamp's outer ring (MAD of unmasked pixels)."""
    ny, nx = stamp.shape
    yy, xx = np.mgrid[:ny, :nx]
    ring = (np.hypot(xx - nx // 2, yy - ny // 2) > 0.4 * min(nx, ny)) & (mask > 0)
    values = stamp[ring] if ring.sum() > 10 else stamp[mask > 0]
    mad = np.median(np.abs(values - np.median(values)))
    return max((1.4826 * mad) ** 2, 1e-12 * max(np.abs(stamp).max(), 1.0))


def make_stars(
    stamps: np.ndarray, masks: np.ndarray, ccds: ArrayLike, x: ArrayLike, y: ArrayLike,
) -> list[piff.Star]:
    """Piff stars from stamps ``(n, ny, nx)`` at local pixel positions (FITS convention)."""
    import piff
    wcs = galsim.PixelScale(PIXEL_SCALE)
    stars = []
    for stamp, mask, ccd, xi, yi in zip(stamps, masks, ccds, x, y):
        ny, nx = stamp.shape
        image = galsim.Image(np.ascontiguousarray(stamp, float), wcs=wcs,
                             xmin=int(np.floor(xi + 0.5)) - nx // 2,
                             ymin=int(np.floor(yi + 0.5)) - ny // 2)
        weight = galsim.Image(np.asarray(mask, float) / _noise_variance(stamp, mask),
                              bounds=image.bounds, wcs=wcs)
        u, v = focal_plane_positions(ccd, [xi], [yi])[0] * PIXEL_SCALE
        stars.append(piff.Star.makeTarget(x=xi, y=yi, u=u, v=v, image=image, weight=weight,
                                          properties={'chipnum': int(ccd)},
                                          flux=float(stamp[mask > 0].sum())))
    return stars


def _release_design_matrices(psf: piff.PSF) -> None:
    """Drop each star's design matrix once the interpolant has used it.

    A PixelGrid fit computes per star a design matrix ``A`` (model pixels x
    grid parameters: 729 x 625 doubles, 3.6 MB, for the 25 x 25 grid) and
    Piff keeps it in the star's ``fit`` after the interpolant's solve; every
    iteration deep-copies the stars (interpolation, reflux), so three to four
    copies of every ``A`` were alive at once: 14.5 MB per star, 2.3 GB for
    148 stars (one demo exposure), ~20 GB for a 40-CCD exposure. The next
    iteration recomputes ``A`` from scratch, so it is dropped right after the
    solve (this instance's ``interp.solve`` only; Piff itself is unchanged).
    """
    interp = getattr(psf, 'interp', None)
    if interp is None or not hasattr(interp, 'solve'):
        return
    solve = interp.solve

    def solve_and_release(stars, logger=None):
        solve(stars, logger=logger)
        for star in stars:
            star.fit.A = None
            star.fit.b = None

    interp.solve = solve_and_release


def fit_model(
    psf_config: Mapping[str, Any], stamps: np.ndarray, masks: np.ndarray, ccds: ArrayLike, x: ArrayLike,
    y: ArrayLike, log: logging.Logger | None = None,
) -> piff.PSF:
    """The fitted Piff PSF of one exposure."""
    import piff
    logger = piff_logger(log)
    try:
        psf = piff.PSF.process(dict(psf_config), logger=logger)
    except (ValueError, TypeError, KeyError, AttributeError, galsim.GalSimError) as error:
        raise ConfigError(f'Piff "psf" config: {error}') from None
    stars = make_stars(stamps, masks, ccds, x, y)
    psf.set_context({}, None)
    _release_design_matrices(psf)
    try:
        psf.fit(stars, logger=logger)
    except (ValueError, np.linalg.LinAlgError, RuntimeError, galsim.GalSimError) as error:
        raise ModuleError(f'the Piff fit failed ({error})') from None
    return psf


def save_model(psf: piff.PSF, path: str) -> None:
    """Piff's FITS file, without WCS or bandpass (no pickles), written atomically."""
    psf.wcs = None
    psf.bandpass = None
    with atomic_path(path) as tmp:
        psf.write(tmp, logger=piff_logger())


def load_model(path: str) -> piff.PSF:
    """The Piff PSF in ``path``; InputError for a file with pickled parts or unreadable."""
    import piff
    try:
        with fits.open(path) as hdul:
            names = [hdu.name.lower() for hdu in hdul]
    except OSError as error:
        raise InputError(f'{path}: cannot read the Piff model ({error}); rerun piff_runner',
                         path=path) from None
    pickled = [n for n in names if n.endswith('_wcs') or n.endswith('_bandpass')]
    if pickled:
        raise InputError(f'{path}: holds pickled {pickled[0]}; refusing to read it (files '
                         f'from piff_runner have none)', path=path)
    try:
        return piff.read(path, logger=piff_logger())
    except (OSError, ValueError, KeyError) as error:
        raise InputError(f'{path}: not a Piff model ({error}); rerun piff_runner',
                         path=path) from None


class PiffModel:
    """An exposure's Piff PSF evaluated at local CCD positions (same interface as
    :class:`shapepipe.psf.mccd.model.MCCDModel`)."""

    def __init__(self, path_or_psf, stamp_size=51):
        self.psf = load_model(path_or_psf) if isinstance(path_or_psf, str) else path_or_psf
        self.stamp_shape = (stamp_size, stamp_size)
        chips = [int(s.data.properties['chipnum']) for s in getattr(self.psf, 'stars', [])
                 if not s.is_flagged]
        #: Stars used in the fit per CCD.
        self.n_train = {c: chips.count(c) for c in sorted(set(chips))}
        self.ccds = list(self.n_train)

    def has_ccd(self, ccd: int) -> bool:
        """Whether the CCD had stars in the fit (no extrapolation to empty CCDs)."""
        return int(ccd) in self.n_train

    def stamps(self, ccd: int, x: ArrayLike, y: ArrayLike) -> np.ndarray:
        """Unit-sum PSF stamps centred on the stamp centre, for positions on CCD ``ccd``."""
        import piff
        x, y = np.asarray(x, float), np.asarray(y, float)
        if not len(x):
            return np.zeros((0,) + self.stamp_shape)
        n = self.stamp_shape[0]
        uv = focal_plane_positions(ccd, x, y) * PIXEL_SCALE
        targets = [piff.Star.makeTarget(x=float(n // 2 + 1), y=float(n // 2 + 1), u=u, v=v,
                                        scale=PIXEL_SCALE, stamp_size=n,
                                        properties={'chipnum': int(ccd)})
                   for u, v in uv]
        images = np.array([s.image.array for s in self.psf.drawStarList(targets)])
        sums = images.sum(axis=(1, 2))
        sums[sums == 0] = 1.0
        return images / sums[:, None, None]
