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


def test_models_are_galsim_drawings_of_the_continuous_profiles():
    """P and G equal galsim's pixel-convolved Gaussian and Gaussian (x) Exponential
    (scale FWHM/16) at the object's offset; G's variance exceeds P's by 3 h^2 per axis."""
    from shapepipe.modules.spread_model_package.spread_model import SIGMA_TO_FWHM, model_stamps

    sigma, dx, dy, size = 1.83, 0.31, -0.22, 51
    psf, galaxy = model_stamps([sigma], [dx], [dy], size)
    scale = SIGMA_TO_FWHM * sigma / 16
    gauss = galsim.Gaussian(sigma=sigma)
    expected_psf = gauss.drawImage(nx=size, ny=size, scale=1.0, offset=(dx, dy)).array
    expected_gal = galsim.Convolve(gauss, galsim.Exponential(scale_radius=scale)).drawImage(
        nx=size, ny=size, scale=1.0, offset=(dx, dy)).array
    assert np.abs(psf[0] - expected_psf).max() < 1e-6 * expected_psf.max()
    assert np.abs(galaxy[0] - expected_gal).max() < 1e-4 * expected_gal.max()
    yy, xx = np.mgrid[:size, :size] - size // 2
    for image in (psf[0], galaxy[0]):
        assert abs(image.sum() - 1) < 1e-9
        assert abs((image * xx).sum() - dx) < 1e-6 and abs((image * yy).sum() - dy) < 1e-6
    extra = ((galaxy[0] - psf[0]) * (xx - dx) ** 2).sum()
    assert abs(extra - 3 * scale ** 2) < 1e-3 * 3 * scale ** 2


def test_galaxy_scale():
    """An exponential of half-light radius 0.5" in 0.7" seeing has SPREAD_MODEL
    ~0.012 (Source Extractor gives ~0.017 with the true PSF and pixel-integrated
    disk; benchmarks/bench_spread_model.py): well above the galaxy threshold 0.01."""
    rng = np.random.default_rng(8)
    image, weight, sigma, offsets = _stamps(rng, 40, True)
    sm, err, flag = spread_model(image, weight, np.full(40, sigma), offsets[:, 0], offsets[:, 1])
    assert 0.010 < np.median(sm) < 0.016


def test_chunks_give_the_same_values(monkeypatch):
    """Objects are computed CHUNK at a time: any chunk size gives the same result."""
    from shapepipe.modules.spread_model_package import spread_model as module

    rng = np.random.default_rng(3)
    image, weight, sigma, offsets = _stamps(rng, 20, True)
    whole = spread_model(image, weight, np.full(20, sigma), offsets[:, 0], offsets[:, 1])
    monkeypatch.setattr(module, 'CHUNK', 7)
    chunked = spread_model(image, weight, np.full(20, sigma), offsets[:, 0], offsets[:, 1])
    for a, b in zip(whole, chunked):
        assert len(a) == 20 and np.array_equal(a, b)
