"""Reading a tile's multi-epoch stamp stores into :class:`measure.Epochs`.

The stores (vignetmaker MULTI-EPOCH, psfex_interp MULTI-EPOCH) map
``NUMBER -> {'<exp>-<ccd>': {'VIGNET': stamp, ...}}`` (or ``'empty'``). For
each epoch of an object we also need where the object sits in the stamp and
the local WCS Jacobian: both come from the exposure header store
(``log_exp_headers.sqlite``) and the object's sky position.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING
import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from shapepipe.io.epochs import open_object_store
from shapepipe.modules.ngmix_package.measure import Epochs, measure
from shapepipe.modules.ngmix_package.noise import epoch_key

if TYPE_CHECKING:
    import logging

    from sqlitedict import SqliteDict

    from shapepipe.modules.ngmix_package.measure import Settings

ROLES = ('image', 'weight', 'flag', 'background', 'psf')


def open_store(path: str, allow_pickle: bool = False) -> SqliteDict:
    """A read-only stamp store, or an InputError naming the file (``allow_pickle``:
    read a ShapePipe-made store, see :mod:`shapepipe.io.stores`)."""
    return open_object_store(path, 'stamp store', allow_pickle=allow_pickle)


def measure_stamp_arrays(ids: np.ndarray, arrays: Mapping[str, np.ndarray],
                         rngs: Sequence[np.random.Generator], settings: Settings | None = None,
                         ) -> dict[str, dict[str, np.ndarray]]:
    """:func:`measure.measure` of stamps given as a dict of :class:`Epochs` fields
    (e.g. ``shapepipe.simulation.shear_stamps.run_paired``'s measurement)."""
    return measure(ids, Epochs(**arrays), rngs, settings)


def local_jacobian(wcs: WCS, x: float, y: float) -> np.ndarray:
    """[[du/dx, du/dy], [dv/dx, dv/dy]] in arcsec per pixel at 1-indexed (x, y).

    ``u = -dRA cos(Dec)`` and ``v = dDec`` (galsim's local frame of a
    celestial WCS), by central differences of one pixel.
    """
    px = np.array([x + 0.5, x - 0.5, x, x])
    py = np.array([y, y, y + 0.5, y - 0.5])
    ra, dec = wcs.all_pix2world(px, py, 1)
    cos_dec = np.cos(np.radians(dec.mean()))
    dra = (ra - ra.mean() + 180.0) % 360.0 - 180.0
    u = -dra * cos_dec * 3600.0
    v = (dec - dec.mean()) * 3600.0
    return np.array([[u[0] - u[1], u[2] - u[3]], [v[0] - v[1], v[2] - v[3]]])


class ExposureGeometry:
    """WCS and flux scale of every exposure CCD, from the header store."""

    def __init__(self, headers):
        self._wcs = {}
        self._scale = {}
        for exposure, entries in headers.items():
            for entry in entries:
                key = f'{exposure}-{entry["ccd"]}'
                wcs = entry['WCS']
                self._wcs[key] = wcs if isinstance(wcs, WCS) else WCS(wcs)
                header = entry.get('header')
                scale = 1.0
                if header is not None:
                    if isinstance(header, str):
                        header = fits.Header.fromstring(header)
                    scale = float(header.get('FSCALE', 1.0))
                self._scale[key] = scale

    def __contains__(self, key):
        return key in self._wcs

    def locate(self, key: str, ra: float, dec: float) -> tuple[np.ndarray, np.ndarray, float]:
        """(offset (2,), jacobian (2, 2), flux scale) of a sky position on ``key``."""
        wcs = self._wcs[key]
        x, y = wcs.all_world2pix([ra], [dec], 1)
        x, y = float(x[0]), float(y[0])
        centre_x = np.floor(x - 0.5) + 1.0       # the stamp's central pixel (vignetmaker)
        centre_y = np.floor(y - 0.5) + 1.0
        return (np.array([x - centre_x, y - centre_y]), local_jacobian(wcs, x, y),
                self._scale[key])

    def centre_pixel(self, key: str, ra: float, dec: float) -> np.ndarray:
        """The stamp's central CCD pixel (x, y), 1-indexed, of a sky position on ``key``."""
        x, y = self._wcs[key].all_world2pix([ra], [dec], 1)
        return np.floor(np.array([x[0], y[0]]) - 0.5).astype(np.int64) + 1

    def wcs(self, key: str) -> WCS:
        """The astropy WCS of epoch ``key``."""
        return self._wcs[key]


def gather_epochs(numbers: Sequence[int], positions: Mapping[int, tuple[float, float]],
                  stores: Mapping[str, SqliteDict], geometry: ExposureGeometry,
                  log: logging.Logger | None = None) -> Epochs:
    """Stamps of ``numbers`` from the stores, as an :class:`Epochs`.

    Parameters
    ----------
    numbers : sequence of int
    positions : dict
        NUMBER -> (ra, dec) in degrees.
    stores : dict
        Role (see :data:`ROLES`) -> open store; ``'background'`` may be absent.
    geometry : ExposureGeometry

    Returns
    -------
    Epochs
        An epoch is used when the object has an image stamp and a PSF for
        it; epochs without a PSF are kept with a NaN PSF so the measurement
        flags them (``PSF_MISSING``).
    """
    rows = {role: [] for role in ROLES}
    jacobians, offsets, scales, start = [], [], [], [0]
    epoch_keys, centres = [], []
    for number in numbers:
        key = str(number)
        images = stores['image'].get(key, 'empty')
        psfs = stores['psf'].get(key, 'empty')
        weights = stores['weight'].get(key, 'empty')
        flags = stores['flag'].get(key, 'empty') if 'flag' in stores else 'empty'
        backs = stores['background'].get(key, 'empty') if 'background' in stores else 'empty'
        epochs = sorted(images) if isinstance(images, dict) else []
        for epoch in epochs:
            if epoch not in geometry:
                if log:
                    log.warning('object %s: epoch %s is not in the header store (left out)',
                                key, epoch)
                continue
            image = np.asarray(images[epoch]['VIGNET'], float)
            weight = _vignet(weights, epoch, image.shape, 0.0)
            flag = _vignet(flags, epoch, image.shape, 0)
            background = _vignet(backs, epoch, image.shape, np.nan)
            psf = _vignet(psfs, epoch, None, np.nan)
            rows['image'].append(image)
            rows['weight'].append(weight)
            rows['flag'].append(flag)
            rows['background'].append(background)
            rows['psf'].append(psf)
            offset, jac, scale = geometry.locate(epoch, *positions[number])
            offsets.append(offset)
            jacobians.append(jac)
            scales.append(scale)
            epoch_keys.append(epoch_key(epoch))
            centres.append(geometry.centre_pixel(epoch, *positions[number]))
        start.append(len(offsets))
    n_psf = _psf_size(rows['psf'])
    psf = np.stack([p if p.shape[-1] == n_psf else np.full((n_psf, n_psf), np.nan)
                    for p in rows['psf']]) if rows['psf'] else np.zeros((0, n_psf, n_psf))
    size = rows['image'][0].shape[-1] if rows['image'] else 1

    def stack(role):
        return np.stack(rows[role]) if rows[role] else np.zeros((0, size, size))

    background = stack('background')
    has_background = 'background' in stores and np.isfinite(background).any()
    return Epochs(
        image=stack('image'), weight=stack('weight'), psf=psf,
        jacobian=np.array(jacobians).reshape(-1, 2, 2), offset=np.array(offsets).reshape(-1, 2),
        start=np.array(start), flag=stack('flag'),
        background=np.nan_to_num(background, nan=0.0) if has_background else None,
        flux_scale=np.array(scales), epoch_key=np.array(epoch_keys, dtype=np.int64),
        origin=np.array(centres, dtype=np.int64).reshape(-1, 2) - size // 2)


def _vignet(entries, epoch, shape, fill):
    if isinstance(entries, dict) and epoch in entries:
        return np.asarray(entries[epoch]['VIGNET'], float)
    if shape is None:
        return np.full((1, 1), fill, dtype=float)
    return np.full(shape, fill, dtype=float)


def _psf_size(psfs):
    sizes = [p.shape[-1] for p in psfs if p.shape[-1] > 1]
    return max(sizes) if sizes else 1
