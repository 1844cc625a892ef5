"""Multi-epoch metacalibration shapes of a batch of objects.

Input: for every object, its stamps on each epoch (image, weight, flags,
background, PSF image, WCS Jacobian, sub-pixel position, flux scale). Per
object-epoch the stamp is background-subtracted and flux-scaled, bad pixels
(flagged, zero weight, NaN, off the image) are replaced by noise drawn from
the weight map, the PSF is fitted by a Gaussian (``*_psfo`` columns), and the
five metacalibration images are made with noise symmetrisation. On each
metacal type, a Gaussian galaxy is fitted jointly over the epochs (or
adaptive moments are measured), giving ShapePipe's ngmix columns.

Every random number of an object comes from that object's own generator,
so results do not depend on how objects are split into batches or jobs.
"""

from __future__ import annotations

from collections.abc import Sequence
import warnings
from dataclasses import dataclass

import numpy as np

from shapepipe.io.ngmix_catalog import COLUMNS, INT_COLUMNS  # the schema's one owner
from shapepipe.modules.ngmix_package import flags as F
from shapepipe.modules.ngmix_package import gauss_fit
from shapepipe.modules.ngmix_package.metacal import MCAL_TYPES, metacal_images, sheared_masks
from shapepipe.modules.ngmix_package.noise import STREAM_FIXNOISE, STREAM_MASKED, pixel_normals

DEFAULT = -10.0            # ShapePipe's value for quantities that could not be measured
MISSING_PIXEL = -1e29      # stamp values below this are off the image (VIGNET -1e30)


@dataclass
class Epochs:
    """Stamps of all object-epochs of a batch; object ``o`` owns rows
    ``start[o]:start[o+1]``.

    Attributes
    ----------
    image, weight : ndarray (n, N, N)
        Science stamp (values < -1e29 are off the image) and inverse variance.
    psf : ndarray (n, Np, Np)
        PSF images centred at ``Np // 2``; NaN for a missing PSF.
    jacobian : ndarray (n, 2, 2)
        Local WCS Jacobian, arcsec per pixel ([[du/dx, du/dy], [dv/dx, dv/dy]]).
    offset : ndarray (n, 2)
        Object position minus the stamp's central pixel (x, y), pixels.
    start : ndarray (n_obj + 1,)
    flag : ndarray (n, N, N) or None
        Pixel flags; non-zero pixels are masked.
    background : ndarray (n, N, N) or None
        Background stamps; None: the sigma-clipped median of the stamp border.
    flux_scale : ndarray (n,) or None
        ``FSCALE`` of each exposure (1 if None).
    noise : ndarray (n, N, N) or None
        Noise images for the noise symmetrisation, in the flux-scaled units;
        None: drawn from the weight map (see ``Settings.pixel_noise_seed``).
    epoch_key : ndarray (n,) or None
        :func:`noise.epoch_key` of each stamp's epoch (exposure-CCD name).
    origin : ndarray (n, 2) or None
        CCD pixel (x, y) of each stamp's element ``[0, 0]``. With
        ``epoch_key`` and ``Settings.pixel_noise_seed`` the added noise is
        tied to the CCD pixels (:mod:`noise`), identical in twin fields.
    neighbours : ndarray (n, N, N) of bool or None
        Pixels that belong to other objects (uberseg, :mod:`uberseg`):
        weight 0 and replaced by noise like masked pixels.
    """

    image: np.ndarray
    weight: np.ndarray
    psf: np.ndarray
    jacobian: np.ndarray
    offset: np.ndarray
    start: np.ndarray
    flag: np.ndarray = None
    background: np.ndarray = None
    flux_scale: np.ndarray = None
    noise: np.ndarray = None
    epoch_key: np.ndarray = None
    origin: np.ndarray = None
    neighbours: np.ndarray = None


@dataclass
class Settings:
    """Measurement settings (ShapePipe's values by default)."""

    step: float = 0.01
    mag_zp: float = 30.0
    measurement: str = 'gauss'      # 'gauss' (joint fit) or 'moments' (adaptive moments)
    sigma_g: float = 0.4            # BA shape prior width
    center_prior_pixels: float = 1.0
    ntry: int = 2
    max_iter: int = 1000
    tol: float = 1e-12
    chi_max: float = 60.0           # model pixels beyond this chi^2 are exactly 0 in float64
    fixnoise: bool = True
    border: int = 3                 # width of the border used for the background estimate
    pixel_noise_seed: int = None    # run seed of the pixel-tied added noise (None: per object)
    warm_start: bool = True         # sheared types start from the noshear solution
    neighbour_fill: str = 'noise'   # neighbour pixels: replaced by 'noise', or 'keep' their light
    neighbour_mask_sheared: bool = False  # neighbours' zero weight sheared with each metacal image
    metadetect: bool = False        # detect and segment again on every metacal image
    metadetect_mask: bool = False   # metadetect: zero weight on pixels of other detections
    detect_nu: float = 4.0          # metadetect: threshold in noise sigmas of the metacal image
    detect_min_area: int = 5        # metadetect: smallest detection (pixels)
    detect_radius: float = 3.0      # metadetect: the object's detection within this (pixels)


def _border_background(image, bad, width):
    """Sigma-clipped median of each stamp's outer ring (NaN-free, masked ignored)."""
    n = image.shape[-1]
    ring = np.zeros((n, n), bool)
    ring[:width], ring[-width:], ring[:, :width], ring[:, -width:] = True, True, True, True
    values = np.where(bad[:, ring], np.nan, image[:, ring])
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)     # all-masked borders give NaN
        med = np.nanmedian(values, axis=1)
        for _ in range(3):
            mad = np.nanmedian(np.abs(values - med[:, None]), axis=1) * 1.4826
            clipped = np.where(np.abs(values - med[:, None]) > 3 * mad[:, None], np.nan, values)
            med = np.nanmedian(clipped, axis=1)
    return np.where(np.isfinite(med), med, 0.0)[:, None, None]


def prepare(epochs: Epochs, rngs: Sequence[np.random.Generator], settings: Settings,
            zero_neighbours: bool = True,
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Clean stamps, noise images and per-object-epoch flags.

    Returns (image, weight, noise, keep, epoch_flags): ``keep`` marks the
    usable object-epochs; bad pixels get weight 0 and noise values. Pixels
    of neighbours get weight 0 too unless ``zero_neighbours`` is False (the
    caller then masks them in each metacal image).
    """
    image = np.array(epochs.image, dtype=float)
    weight = np.array(epochs.weight, dtype=float)
    n_oe = image.shape[0]
    epoch_flags = np.zeros(n_oe, dtype=np.int64)
    bad = ~np.isfinite(image) | ~np.isfinite(weight) | (weight <= 0) | (image < MISSING_PIXEL)
    if epochs.flag is not None:
        bad |= np.asarray(epochs.flag) != 0
    neighbours = np.zeros_like(bad) if epochs.neighbours is None else (
        np.asarray(epochs.neighbours, bool) & ~bad)
    epoch_flags[neighbours.any(axis=(-2, -1))] |= F.NEIGHBOURS_MASKED
    image[bad] = 0.0
    weight[(bad | neighbours) if zero_neighbours else bad] = 0.0
    if epochs.background is not None:
        background = np.nan_to_num(np.asarray(epochs.background, float), nan=0.0,
                                   posinf=0.0, neginf=0.0)
        background = np.where(background < MISSING_PIXEL, 0.0, background)
    else:
        background = _border_background(image, bad | neighbours, settings.border)
    scale = np.ones(n_oe) if epochs.flux_scale is None else np.asarray(epochs.flux_scale, float)
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
    image = (image - background) * scale[:, None, None]
    weight = weight / scale[:, None, None] ** 2

    psf = np.asarray(epochs.psf, float)
    psf_ok = np.isfinite(psf).all(axis=(-2, -1)) & (psf.sum(axis=(-2, -1)) > 0)
    epoch_flags[~psf_ok] |= F.PSF_MISSING
    all_bad = (bad | neighbours).all(axis=(-2, -1))
    epoch_flags[all_bad] |= F.EPOCH_MASKED
    epoch_flags[bad.any(axis=(-2, -1)) & ~all_bad] |= F.BAD_PIXELS
    if settings.neighbour_fill == 'noise':
        bad = bad | neighbours
    keep = psf_ok & ~all_bad

    variance = np.where(weight > 0, 1.0 / np.where(weight > 0, weight, 1.0), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)     # epochs without any good pixel
        median_var = np.nanmedian(variance.reshape(n_oe, -1), axis=1)
    median_var = np.where(np.isfinite(median_var), median_var, 1.0)
    sigma = np.sqrt(np.where(np.isfinite(variance), variance, median_var[:, None, None]))
    if settings.pixel_noise_seed is not None and epochs.origin is not None:
        n = image.shape[-1]
        args = (settings.pixel_noise_seed, epochs.epoch_key, epochs.origin, n)
        image = np.where(bad, pixel_normals(*args, STREAM_MASKED) * sigma, image)
        noise = pixel_normals(*args, STREAM_FIXNOISE) * sigma
    else:
        noise = np.empty_like(image)
        start = epochs.start
        for o, rng in enumerate(rngs):
            rows = slice(start[o], start[o + 1])
            draws = rng.standard_normal((2,) + image[rows].shape)
            image[rows] = np.where(bad[rows], draws[0] * sigma[rows], image[rows])
            noise[rows] = draws[1] * sigma[rows]
    if epochs.noise is not None:
        noise = np.asarray(epochs.noise, float)
    return image, weight, noise, keep, epoch_flags


def _pixel_grids(jacobian, offset, n):
    """World offsets (u, v) of every pixel centre from the object: (n_oe, n*n) each."""
    coords = np.arange(n, dtype=float) - n // 2
    y, x = np.meshgrid(coords, coords, indexing='ij')
    dx = x.ravel()[None, :] - offset[:, 0, None]
    dy = y.ravel()[None, :] - offset[:, 1, None]
    u = jacobian[:, 0, 0, None] * dx + jacobian[:, 0, 1, None] * dy
    v = jacobian[:, 1, 0, None] * dx + jacobian[:, 1, 1, None] * dy
    return u, v


def fit_psfs(psf: np.ndarray, jacobian: np.ndarray,
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Gaussian fit of each PSF image: (g1, g2, T, errors (3,), status)."""
    n_oe, npsf = psf.shape[0], psf.shape[-1]
    norm = psf / psf.sum(axis=(-2, -1), keepdims=True)
    u, v = _pixel_grids(jacobian, np.zeros((n_oe, 2)), npsf)
    flat = norm.reshape(n_oe, -1)
    area = np.abs(np.linalg.det(jacobian))
    t0 = np.clip((flat * (u * u + v * v)).sum(axis=1), 0.01, 10.0)   # second moment
    guess = np.zeros((n_oe, 6))
    guess[:, 4], guess[:, 5] = t0, 1.0
    weight = np.full_like(flat, 1e6)
    pars, cov, _, _, status, _ = gauss_fit.fit_batch(
        guess, flat, weight, u, v, np.zeros((n_oe, 3)), area, np.arange(n_oe + 1),
        np.zeros(n_oe), 0.0, 200, 1e-12, 60.0, 0.99)
    errors = np.sqrt(np.abs(np.diagonal(cov, axis1=1, axis2=2)[:, 2:5]))
    return pars[:, 2], pars[:, 3], pars[:, 4], errors, status


def _status_flags(status):
    out = np.zeros(len(status), dtype=np.int64)
    out[(status & gauss_fit.STATUS_MAX_ITER) != 0] |= F.FIT_NO_CONVERGE
    out[(status & gauss_fit.STATUS_SINGULAR) != 0] |= F.FIT_SINGULAR
    out[(status & gauss_fit.STATUS_BAD_MODEL) != 0] |= F.FIT_BAD_MODEL
    out[(status & gauss_fit.STATUS_NONFINITE) != 0] |= F.NON_FINITE
    out[(status & gauss_fit.STATUS_NO_DATA) != 0] |= F.NO_EPOCH
    return out


def _flux_guess(image, weight, u, v, t_total, area, start):
    """Linear flux of a round Gaussian of size ``t_total`` at the origin, per object."""
    sigma_sq = t_total[:, None] / 2.0
    profile = area[:, None] * np.exp(-0.5 * (u * u + v * v) / sigma_sq) / (2 * np.pi * sigma_sq)
    numer = np.add.reduceat((weight * profile * image).sum(axis=1), start[:-1])
    denom = np.add.reduceat((weight * profile * profile).sum(axis=1), start[:-1])
    return np.where(denom > 0, numer / np.where(denom > 0, denom, 1.0), 1.0)


def _fit_type(image, weight, u, v, t_psf, area, start, rngs, settings, warm=None):
    """Joint Gaussian fits of one metacal type; returns a dict of arrays.

    ``warm``: (pars (n_obj, 6), ok (n_obj,)) of the noshear fit; objects with
    ``ok`` start from those parameters (all sheared types from the same point,
    next to the solution they must track).
    """
    n_obj = len(start) - 1
    psf_cov = np.stack([t_psf / 2.0, np.zeros_like(t_psf), t_psf / 2.0], axis=1)
    first = start[:-1]
    t_guess = t_psf[first]
    flux = _flux_guess(image, weight, u, v, 2.0 * t_psf, area, start)
    guess = np.zeros((n_obj, 6))
    guess[:, 4] = t_guess
    guess[:, 5] = np.where(np.isfinite(flux) & (flux > 0), flux, 1.0)
    if warm is not None:
        guess[warm[1]] = warm[0][warm[1]]
    sigma_cen = settings.center_prior_pixels * np.sqrt(area[first])
    result = gauss_fit.fit_batch(guess, image, weight, u, v, psf_cov, area, start, sigma_cen,
                                 settings.sigma_g, settings.max_iter, settings.tol,
                                 settings.chi_max, 0.99)
    pars, cov, _, _, status, s2n = (np.array(r) for r in result)
    ntry = np.ones(n_obj, dtype=np.int32)
    for attempt in range(1, settings.ntry):
        retry = np.flatnonzero((status != 0) & (status != gauss_fit.STATUS_NO_DATA))
        if not len(retry):
            break
        new_guess = guess[retry].copy()
        for k, o in enumerate(retry):
            rng = rngs[o]
            new_guess[k, 2:4] = rng.uniform(-0.1, 0.1, 2)
            new_guess[k, 4] *= rng.uniform(0.5, 2.0)
            new_guess[k, 5] *= rng.uniform(0.7, 1.3)
        sub_start, rows = _sub_batch(start, retry)
        res = gauss_fit.fit_batch(new_guess, image[rows], weight[rows], u[rows], v[rows],
                                  psf_cov[rows], area[rows], sub_start, sigma_cen[retry],
                                  settings.sigma_g, settings.max_iter, settings.tol,
                                  settings.chi_max, 0.99)
        pars[retry], cov[retry], status[retry], s2n[retry] = res[0], res[1], res[4], res[5]
        ntry[retry] = attempt + 1
    err = np.sqrt(np.abs(np.diagonal(cov, axis1=1, axis2=2)))
    return {'pars': pars, 'status': status,
            'g1': pars[:, 2], 'g2': pars[:, 3], 'T': pars[:, 4], 'flux': pars[:, 5],
            'g1_err': err[:, 2], 'g2_err': err[:, 3], 'T_err': err[:, 4],
            'flux_err': err[:, 5], 's2n': s2n, 'flags': _status_flags(status), 'ntry': ntry}


def sheared_detection(images: np.ndarray, offsets: np.ndarray, settings: Settings,
                      smooth: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Detection and segmentation of metacal images (metadetection).

    Each stamp is filtered by a round Gaussian of ``smooth`` pixels (sigma,
    per stamp; the target PSF: a matched filter, as Source Extractor's
    detection filter) and thresholded at ``detect_nu`` times the noise of the
    filtered stamp (the MAD of its border); connected pixels are labelled
    (components smaller than ``detect_min_area`` dropped), the object is the component nearest to
    its expected position (within ``detect_radius`` pixels), and every pixel
    is given to the nearest component (uberseg). Made on each sheared image,
    the segmentation is sheared with the galaxy and its neighbours.

    Returns (others (n, N, N) bool: pixels of other components, found (n,)
    bool: the object was detected).
    """
    from scipy import ndimage

    from shapepipe.modules.ngmix_package.uberseg import uberseg_mask

    n_stamp, n = images.shape[0], images.shape[-1]
    if smooth is not None:
        # Unfiltered, a faint galaxy's pixels above threshold break into pieces that
        # differ from one metacal image to the next; the pieces not nearest the centre
        # were then masked as "neighbours" in one sheared image and not in the other
        # (per-object responses of 10-30 on isolated galaxies).
        images = np.stack([ndimage.gaussian_filter(image, sigma, mode='nearest')
                           for image, sigma in zip(images, smooth)])
    ring = np.zeros((n, n), bool)
    width = settings.border + 1
    ring[:width], ring[-width:], ring[:, :width], ring[:, -width:] = True, True, True, True
    values = images[:, ring]
    sigma = 1.4826 * np.median(np.abs(values - np.median(values, axis=1)[:, None]), axis=1)
    others = np.zeros(images.shape, bool)
    found = np.zeros(n_stamp, bool)
    yy, xx = np.mgrid[:n, :n]
    for s in range(n_stamp):
        labels, count = ndimage.label(images[s] > settings.detect_nu * sigma[s])
        if count == 0:
            continue
        sizes = np.bincount(labels.ravel(), minlength=count + 1)
        labels[sizes[labels] < settings.detect_min_area] = 0
        cx, cy = n // 2 + offsets[s, 0], n // 2 + offsets[s, 1]
        distance = np.where(labels > 0, np.hypot(xx - cx, yy - cy), np.inf)
        nearest = np.unravel_index(np.argmin(distance), distance.shape)
        if distance[nearest] > settings.detect_radius:
            continue
        found[s] = True
        others[s] = uberseg_mask(labels, int(labels[nearest]))
    return others, found


def _sub_batch(start, objects):
    rows = np.concatenate([np.arange(start[o], start[o + 1]) for o in objects])
    counts = np.array([start[o + 1] - start[o] for o in objects])
    return np.concatenate([[0], np.cumsum(counts)]), rows


def _moments_type(image, weight, jacobian, start):
    """Adaptive moments (galsim HSM) per epoch, combined with S/N^2 weights."""
    import galsim

    n_obj = len(start) - 1
    out = {key: np.full(n_obj, DEFAULT) for key in ('g1', 'g2', 'T', 'flux', 'g1_err',
                                                      'g2_err', 'T_err', 'flux_err', 's2n')}
    out['flags'] = np.zeros(n_obj, dtype=np.int64)
    out['ntry'] = np.ones(n_obj, dtype=np.int32)
    for o in range(n_obj):
        acc = np.zeros(5)
        wsum = 0.0
        for e in range(start[o], start[o + 1]):
            try:
                mom = galsim.hsm.FindAdaptiveMom(galsim.Image(image[e]),
                                                 weight=galsim.Image(weight[e]))
            except galsim.GalSimError:
                continue
            if mom.moments_status != 0:
                continue
            shear = mom.observed_shape
            s = mom.moments_sigma
            m = shear.getMatrix()
            c_pix = s * s * m @ m.T
            c_world = jacobian[e] @ c_pix @ jacobian[e].T
            t_world = c_world[0, 0] + c_world[1, 1]
            e1 = (c_world[0, 0] - c_world[1, 1]) / t_world
            e2 = 2.0 * c_world[0, 1] / t_world
            g = galsim.Shear(e1=e1, e2=e2)
            mean_w = weight[e][weight[e] > 0].mean()
            s2n = mom.moments_amp * np.sqrt(mean_w) / (np.sqrt(4 * np.pi) * s)
            w = s2n * s2n
            acc += w * np.array([g.g1, g.g2, t_world, mom.moments_amp, s2n])
            wsum += w
        if wsum <= 0:
            out['flags'][o] |= F.MOMENTS_FAILED
            continue
        g1, g2, t, flux, _ = acc / wsum
        s2n = np.sqrt(wsum)
        for key, value in (('g1', g1), ('g2', g2), ('T', t), ('flux', flux), ('s2n', s2n)):
            out[key][o] = value
        for key in ('g1_err', 'g2_err'):
            out[key][o] = 1.0 / s2n
        out['T_err'][o] = 2.0 * t / s2n
        out['flux_err'][o] = flux / s2n
    return out


def measure(ids: np.ndarray, epochs: Epochs, rngs: Sequence[np.random.Generator],
            settings: Settings | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Measure a batch of objects.

    Parameters
    ----------
    ids : array of int
        Object ids (``NUMBER``), one per object.
    epochs : Epochs
        Their stamps; an object with no row (``start[o] == start[o+1]``)
        gets the ``NO_EPOCH`` flag.
    rngs : list of numpy.random.Generator
        One generator per object.
    settings : Settings

    Returns
    -------
    dict
        Metacal type (``'1M' '1P' '2M' '2P' 'NOSHEAR'``) -> dict of column
        arrays with ShapePipe's ngmix column names.
    """
    settings = settings or Settings()
    ids = np.asarray(ids)
    n_obj = len(ids)
    start = np.asarray(epochs.start)
    shear_mask = settings.neighbour_mask_sheared and epochs.neighbours is not None
    image, weight, noise, keep, epoch_flags = prepare(epochs, rngs, settings,
                                                      zero_neighbours=not shear_mask)
    owner = np.repeat(np.arange(n_obj), np.diff(start))
    object_flags = np.zeros(n_obj, dtype=np.int64)
    np.bitwise_or.at(object_flags, owner, epoch_flags)

    kept = np.flatnonzero(keep)
    k_owner = owner[kept]
    n_kept = np.bincount(k_owner, minlength=n_obj)
    object_flags[n_kept == 0] |= F.NO_EPOCH
    n = image.shape[-1]

    psfo = {key: np.full(n_obj, DEFAULT) for key in ('g1', 'g2', 'T', 'g1_err', 'g2_err',
                                                       'T_err')}
    moments_fail = np.zeros(n_obj, dtype=np.int32)
    out_types = {}
    if len(kept):
        jac = np.asarray(epochs.jacobian, float)[kept]
        psf = np.asarray(epochs.psf, float)[kept]
        pg1, pg2, pt, perr, pstatus = fit_psfs(psf, jac)
        failed = pstatus != 0
        np.add.at(moments_fail, k_owner, failed.astype(np.int32))
        wsum = weight[kept].sum(axis=(-2, -1)) * ~failed
        totals = np.bincount(k_owner, wsum, minlength=n_obj)
        has = totals > 0
        for key, values in (('g1', pg1), ('g2', pg2), ('T', pt), ('g1_err', perr[:, 0]),
                            ('g2_err', perr[:, 1]), ('T_err', perr[:, 2])):
            summed = np.bincount(k_owner, wsum * np.where(failed, 0.0, values), minlength=n_obj)
            psfo[key][has] = summed[has] / totals[has]
        object_flags[moments_fail > 0] |= F.PSF_FIT_FAILED

        mcal = metacal_images(image[kept], noise[kept] if settings.fixnoise else None, psf,
                              jac, step=settings.step)
        t_psf = 2.0 * mcal['target_sigma'] ** 2
        fit_weight = weight[kept] / (2.0 if settings.fixnoise else 1.0)
        u, v = _pixel_grids(jac, np.asarray(epochs.offset, float)[kept], n)
        area = np.abs(np.linalg.det(jac))
        k_rngs = [rngs[o] for o in range(n_obj) if n_kept[o] > 0]
        measured = np.flatnonzero(n_kept > 0)
        sub_start = np.concatenate([[0], np.cumsum(n_kept[measured])])
        tpsf_obj = np.add.reduceat(t_psf, sub_start[:-1]) / n_kept[measured]
        wgt = fit_weight.reshape(len(kept), -1)
        k_offset = np.asarray(epochs.offset, float)[kept]
        warm = None
        if shear_mask:
            neighbours = np.asarray(epochs.neighbours, bool)[kept] & (fit_weight > 0)
        for kind in MCAL_TYPES:        # noshear first
            img = mcal[kind].reshape(len(kept), -1)
            wgt_kind, undetected = wgt, None
            if shear_mask:
                # The neighbours' pixels as seen in this metacal image: the mask sheared
                # with the image (bilinear: weights change smoothly with the shear).
                visible = 1.0 - sheared_masks(neighbours, jac, kind, settings.step)
                wgt_kind = wgt * visible.reshape(len(kept), -1)
            if settings.metadetect:
                others, found = sheared_detection(mcal[kind], k_offset, settings,
                                                  mcal['target_sigma'] / np.sqrt(area))
                if settings.metadetect_mask:
                    wgt_kind = wgt_kind * ~others.reshape(len(kept), -1)
                stamp_owner = np.repeat(np.arange(len(measured)), n_kept[measured])
                undetected = np.bincount(stamp_owner, found.astype(float),
                                         minlength=len(measured)) == 0
                # Detected on any epoch: all its epochs are measured. Dropping the epochs
                # where a faint object falls below the threshold changed the epochs fitted
                # between 1P and 1M (S/N 13 -> 10, per-object |R| 5-10).
                wgt_kind = wgt_kind * ~undetected[stamp_owner][:, None]
            if settings.measurement == 'moments':
                res = _moments_type(mcal[kind], wgt_kind.reshape(fit_weight.shape), jac,
                                    sub_start)
            else:
                res = _fit_type(img, wgt_kind, u, v, t_psf, area, sub_start, k_rngs, settings,
                                warm)
                if kind == 'noshear' and settings.warm_start:
                    warm = (res['pars'], res['status'] == 0)
            if undetected is not None:
                res['flags'][undetected] = F.NOT_DETECTED      # not a failed fit
            res['Tpsf'] = tpsf_obj
            out_types[kind] = (measured, res)
    return _assemble(ids, object_flags, n_kept, moments_fail, psfo, out_types, settings)


def _assemble(ids, object_flags, n_kept, moments_fail, psfo, out_types, settings):
    n_obj = len(ids)
    tables = {}
    type_flags = {}
    for kind in MCAL_TYPES:
        cols = {name: np.full(n_obj, DEFAULT) for name in COLUMNS}
        cols['id'] = ids.astype(np.int64)
        cols['n_epoch_model'] = n_kept.astype(np.int32)
        cols['moments_fail'] = moments_fail
        cols['ntry_fit'] = np.zeros(n_obj, dtype=np.int32)
        for key in ('g1', 'g2', 'T', 'g1_err', 'g2_err', 'T_err'):
            cols[f'{key}_psfo_ngmix'] = psfo[key]
        flags = np.where(n_kept == 0, F.NO_EPOCH, 0).astype(np.int64)
        if kind in out_types:
            rows, res = out_types[kind]
            for key in ('g1', 'g2', 'T', 'flux', 'g1_err', 'g2_err', 'T_err', 'flux_err', 's2n',
                        'Tpsf'):
                cols[key][rows] = res[key]
            cols['g1_psf'][rows] = 0.0         # the target PSF is round
            cols['g2_psf'][rows] = 0.0
            cols['ntry_fit'][rows] = res['ntry']
            fit_flags = res['flags'].copy()
            flux = res['flux']
            positive = np.isfinite(flux) & (flux > 0)
            fit_flags[~positive & ((fit_flags & F.NOT_DETECTED) == 0)] |= F.NEG_FLUX
            fatal = (fit_flags & F.FATAL) != 0
            good = positive & ~fatal
            cols['mag'][rows[good]] = settings.mag_zp - 2.5 * np.log10(flux[good])
            cols['mag_err'][rows[good]] = 2.5 / np.log(10) * res['flux_err'][good] / flux[good]
            for key in ('g1', 'g2', 'T', 'flux', 'g1_err', 'g2_err', 'T_err', 'flux_err', 's2n'):
                values = cols[key][rows]
                values[fatal | ~np.isfinite(values)] = DEFAULT
                cols[key][rows] = values
            flags[rows] |= fit_flags
        cols['flags'] = flags
        type_flags[kind] = flags
        tables[kind.upper()] = cols
    mcal_flags = object_flags & ~F.INFO
    # Metadetection: the five catalogues are selected each on its own (flags of its
    # type); a failure in one sheared image must not remove the object from the
    # others (a selection the catalogue-mean response would not see).
    if not settings.metadetect:
        for flags in type_flags.values():
            mcal_flags |= flags & ~F.NOT_DETECTED
    for cols in tables.values():
        cols['mcal_flags'] = mcal_flags
        cols['epoch_flags'] = object_flags & F.INFO
        for name in INT_COLUMNS:
            cols[name] = np.asarray(cols[name]).astype(np.int64 if name == 'id' else np.int32)
    return tables
