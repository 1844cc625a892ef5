"""SPREAD_MODEL separates point sources from resolved galaxies."""

import galsim
import numpy as np

from shapepipe.modules.spread_model_package.spread_model import spread_model


def _stamps(rng, n, galaxy, noise=2.0, size=41, scale=0.1857):
    psf = galsim.Moffat(beta=3.0, fwhm=0.7)
    stamps, offsets = [], []
    for _ in range(n):
        dx, dy = rng.uniform(-0.5, 0.5, 2)
        obj = galsim.Convolve(galsim.Exponential(half_light_radius=0.5), psf) if galaxy else psf
        image = obj.withFlux(2e4).drawImage(nx=size, ny=size, scale=scale, offset=(dx, dy)).array
        stamps.append(image + rng.normal(0, noise, image.shape))
        offsets.append((dx, dy))
    sigma = galsim.hsm.FindAdaptiveMom(psf.drawImage(nx=size, ny=size, scale=scale)).moments_sigma
    return np.array(stamps), np.full((n, size, size), 1 / noise ** 2), sigma, np.array(offsets)


def test_stars_and_galaxies_separate():
    rng = np.random.default_rng(5)
    for galaxy in (False, True):
        image, weight, sigma, offsets = _stamps(rng, 60, galaxy)
        sm, err, flag = spread_model(image, weight, np.full(60, sigma), offsets[:, 0], offsets[:, 1])
        assert (flag == 0).all() and (err > 0).all() and (err < 3e-3).all()
        c = sm + 2 * err
        if galaxy:
            assert np.mean(c > 0.003) >= 0.98     # none taken for a star
        else:
            assert np.mean(np.abs(sm) < 0.003) >= 0.98


def test_masked_stamp_is_flagged():
    image = np.full((1, 21, 21), -1e30)
    sm, err, flag = spread_model(image, np.ones((1, 21, 21)), [1.5], [0.0], [0.0])
    assert flag[0] == 1 and sm[0] == -1.0 and err[0] == 1.0
