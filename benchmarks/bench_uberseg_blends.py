"""Neighbour masking on isolated two-galaxy blends: m and the response R11 of the
central galaxy without masking, with uberseg keeping the neighbour's light
(zero weight only) and with uberseg replacing it by noise (DES).

A round exponential galaxy (hlr 0.4", flux 2000, noise 1 per pixel) with a
neighbour at separation d, flux ratio f and size hlr_n; both sheared by +-0.02
(same noise), the segmentation is the > 2 sigma pixels labelled by the
nearest centre. Prints one row per configuration.

    .venv/bin/python benchmarks/bench_uberseg_blends.py
"""

import galsim
import numpy as np

from shapepipe.modules.ngmix_package.measure import Epochs, Settings, measure
from shapepipe.modules.ngmix_package.uberseg import uberseg_mask

N, C = 51, 25
CASES = [(3.0, 3, 0.5), (2.6, 10, 0.8), (2.0, 10, 0.8), (1.8, 10, 0.8), (2.0, 30, 1.0),
         (1.6, 5, 0.6)]
MODES = (('none', None), ('uberseg keep', 'keep'), ('uberseg noise', 'noise'))


def one_case(sep, ratio, hlr_n, shear):
    jac = np.array([[-0.187, 0.0], [0.0, 0.187]])
    wcs = galsim.JacobianWCS(*jac.ravel())
    psf = galsim.Moffat(beta=3, fwhm=0.7)
    scene = (galsim.Exponential(half_light_radius=0.4, flux=2000)
             + galsim.Exponential(half_light_radius=hlr_n, flux=2000 * ratio).shift(-sep, 0.0))
    image = galsim.Convolve(scene.shear(g1=shear, g2=0.0), psf).drawImage(
        nx=N, ny=N, wcs=wcs).array + np.random.default_rng(1).normal(0, 1.0, (N, N))
    y, x = np.mgrid[:N, :N]
    own = np.hypot(x - C, y - C) < np.hypot(x - (C + sep / 0.187), y - C)
    seg = np.where(image > 2.0, np.where(own, 1, 2), 0)
    common = dict(image=image[None], weight=np.ones((1, N, N)),
                  psf=psf.drawImage(nx=25, ny=25, wcs=wcs).array[None], jacobian=jac[None],
                  offset=np.zeros((1, 2)), start=np.array([0, 1]),
                  background=np.zeros((1, N, N)), epoch_key=np.array([1]),
                  origin=np.array([[100, 100]]))
    out = []
    for _, fill in MODES:
        neighbours = None if fill is None else uberseg_mask(seg, 1)[None]
        res = measure([1], Epochs(**common, neighbours=neighbours), [np.random.default_rng(0)],
                      Settings(pixel_noise_seed=2, neighbour_fill=fill or 'noise'))
        out.append((res['NOSHEAR']['g1'][0], (res['1P']['g1'][0] - res['1M']['g1'][0]) / 0.02))
    return np.array(out)


def main():
    print(f'{"sep":>5} {"flux ratio":>10} {"hlr_n":>6}  ' + ''.join(
        f'{name + " m":>18}{"R11":>7}' for name, _ in MODES))
    for sep, ratio, hlr_n in CASES:
        plus, minus = one_case(sep, ratio, hlr_n, 0.02), one_case(sep, ratio, hlr_n, -0.02)
        m = (plus[:, 0] - minus[:, 0]) / (0.04 * (plus[:, 1] + minus[:, 1]) / 2) - 1
        print(f'{sep:>5.1f} {ratio:>10g} {hlr_n:>6.1f}  ' + ''.join(
            f'{mi:>18.3f}{ri:>7.2f}' for mi, ri in zip(m, plus[:, 1])))


if __name__ == '__main__':
    main()
