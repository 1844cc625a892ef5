"""Neighbour masking on two-galaxy blends: m and the response R11 of the central
galaxy, unmasked and with the uberseg mask in four ways.

A round exponential galaxy (hlr 0.4", flux 2000, noise 1 per pixel) with a
neighbour at separation d, flux ratio f and size hlr_n. The whole scene
(separation included, as lensing does) is sheared by +-0.02 with the same
noise; the segmentation is made on each observed (sheared) image: the > 2
sigma pixels labelled by the nearest of the two (sheared) centres. Each case
is averaged over K neighbour angles (0-360 degrees) with their own sub-pixel
offset and noise; m with a delete-one jackknife error over them.

Modes (ngmix_runner options): ``none`` (NEIGHBOUR_MASK = none); ``fixed keep``
/ ``fixed noise`` (uberseg, NEIGHBOUR_FILL = keep / noise: the zero weight
fixed on the stamp, the neighbours' light kept or replaced by noise before
metacal); ``sheared keep`` / ``sheared noise`` (NEIGHBOUR_MASK_SHEARED = True:
the metacal images made from the stamp and the zero weight sheared with each
of them).

    .venv/bin/python benchmarks/bench_uberseg_blends.py [K]      # K = 24: ~1 min
"""

import sys

import galsim
import numpy as np

from shapepipe.modules.ngmix_package.measure import Epochs, Settings, measure
from shapepipe.modules.ngmix_package.uberseg import uberseg_mask

N, C = 51, 25
SCALE = 0.187
JAC = np.array([[-SCALE, 0.0], [0.0, SCALE]])
# (separation [arcsec], flux ratio neighbour / central, neighbour hlr [arcsec])
CASES = [(3.0, 3, 0.5), (2.0, 1, 0.5), (1.6, 5, 0.6), (2.6, 10, 0.8), (2.0, 10, 0.8),
         (2.0, 30, 1.0)]
# (name, NEIGHBOUR_FILL or None: no mask, NEIGHBOUR_MASK_SHEARED)
MODES = (('none', None, False), ('fixed keep', 'keep', False), ('fixed noise', 'noise', False),
         ('sheared keep', 'keep', True), ('sheared noise', 'noise', True))


def one_scene(sep, ratio, hlr_n, angle, shear, k):
    """(g1, R11) of the central galaxy for every mode, scene k sheared by (shear, 0)."""
    wcs = galsim.JacobianWCS(*JAC.ravel())
    psf = galsim.Moffat(beta=3, fwhm=0.7)
    rng = np.random.default_rng(100 + k)
    noise = rng.normal(0.0, 1.0, (N, N))
    sub = rng.uniform(-0.5, 0.5, 2)                       # central's sub-pixel offset (pixels)
    offset = sep * np.array([np.cos(np.radians(angle)), np.sin(np.radians(angle))])
    scene = (galsim.Exponential(half_light_radius=0.4, flux=2000)
             + galsim.Exponential(half_light_radius=hlr_n, flux=2000 * ratio).shift(*offset))
    image = galsim.Convolve(scene.shear(g1=shear, g2=0.0), psf).drawImage(
        nx=N, ny=N, wcs=wcs, offset=sub).array + noise
    nx, ny = np.linalg.solve(JAC, galsim.Shear(g1=shear, g2=0.0).getMatrix() @ offset)
    y, x = np.mgrid[:N, :N]
    cx, cy = C + sub[0], C + sub[1]
    own = np.hypot(x - cx, y - cy) < np.hypot(x - (cx + nx), y - (cy + ny))
    seg = np.where(image > 2.0, np.where(own, 1, 2), 0)
    common = dict(image=image[None], weight=np.ones((1, N, N)),
                  psf=psf.drawImage(nx=25, ny=25, wcs=wcs).array[None], jacobian=JAC[None],
                  offset=sub[None], start=np.array([0, 1]), background=np.zeros((1, N, N)),
                  epoch_key=np.array([1]), origin=np.array([[100, 100]]))
    out = []
    for _, fill, sheared in MODES:
        neighbours = None if fill is None else uberseg_mask(seg, 1)[None]
        res = measure([1], Epochs(**common, neighbours=neighbours), [np.random.default_rng(0)],
                      Settings(pixel_noise_seed=2 + k, neighbour_fill=fill or 'noise',
                               neighbour_mask_sheared=sheared))
        out.append((res['NOSHEAR']['g1'][0], (res['1P']['g1'][0] - res['1M']['g1'][0]) / 0.02))
    return np.array(out)


def one_case(sep, ratio, hlr_n, n_angles):
    """m, its jackknife error and the mean R11 per mode."""
    diff = np.zeros((n_angles, len(MODES)))
    resp = np.zeros((n_angles, len(MODES)))
    for k in range(n_angles):
        angle = 360.0 * k / n_angles
        plus = one_scene(sep, ratio, hlr_n, angle, 0.02, k)
        minus = one_scene(sep, ratio, hlr_n, angle, -0.02, k)
        diff[k], resp[k] = plus[:, 0] - minus[:, 0], (plus[:, 1] + minus[:, 1]) / 2
    m = diff.sum(0) / (0.04 * resp.sum(0)) - 1
    jack = np.array([(diff.sum(0) - diff[i]) / (0.04 * (resp.sum(0) - resp[i])) - 1
                     for i in range(n_angles)])
    err = np.sqrt((n_angles - 1) * ((jack - jack.mean(0)) ** 2).sum(0))
    return m, err, resp.mean(0)


def main(n_angles=24):
    print(f'{n_angles} angles per case; m +- jackknife error (mean R11)')
    print(f'{"sep":>5} {"ratio":>5} {"hlr_n":>5}  ' + ''.join(
        f'{name:>24}' for name, _, _ in MODES))
    for sep, ratio, hlr_n in CASES:
        m, err, resp = one_case(sep, ratio, hlr_n, n_angles)
        print(f'{sep:>5.1f} {ratio:>5g} {hlr_n:>5.1f}  ' + ''.join(
            f'{f"{a:+.3f} +- {e:.3f} ({r:.2f})":>24}' for a, e, r in zip(m, err, resp)),
            flush=True)


if __name__ == '__main__':
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 24)
