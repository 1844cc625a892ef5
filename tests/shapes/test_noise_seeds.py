"""The added noise (masked pixels, fixnoise) is tied to CCD pixels and the
per-object streams to sky positions, never to the object's NUMBER, so twin
+g/-g fields with renumbered objects share it."""

import galsim
import numpy as np
import pytest

from shapepipe.modules.ngmix_package.measure import Epochs, Settings, measure, prepare
from shapepipe.modules.ngmix_package.noise import (STREAM_FIXNOISE, STREAM_MASKED, epoch_key,
                                                   pixel_normals, position_rng)

N = 41
JAC = np.array([[-0.187, 0.0], [0.0, 0.187]])


def test_pixel_normals_are_standard_normal_and_tied_to_the_pixel():
    keys = np.array([epoch_key('2113737-13')] * 2)
    origins = np.array([[1000, 2000], [1007, 1995]])        # overlapping stamps
    a = pixel_normals(5, keys, origins, 200, STREAM_MASKED)
    # The overlap holds the same values, whichever stamp it was cut from.
    np.testing.assert_array_equal(a[0, :-5, 7:], a[1, 5:, :-7])
    flat = a[0].ravel()
    assert abs(flat.mean()) < 4 / np.sqrt(flat.size)
    assert flat.std() == pytest.approx(1.0, abs=0.01)
    assert abs(np.mean(flat ** 4) - 3.0) < 0.1                # Gaussian kurtosis
    # Neighbouring pixels, the two streams, other epochs and seeds are independent.
    b = pixel_normals(5, keys, origins, 200, STREAM_FIXNOISE)
    c = pixel_normals(5, np.array([epoch_key('2113737-14')] * 2), origins, 200, STREAM_MASKED)
    d = pixel_normals(6, keys, origins, 200, STREAM_MASKED)
    for other in (b[0], c[0], d[0], np.roll(a[0], 1, axis=1)):
        assert abs(np.corrcoef(flat, other.ravel())[0, 1]) < 0.01


def test_position_streams_do_not_depend_on_number():
    one = position_rng(7, 212.5, 31.25, 'ngmix').random(3)
    # The same galaxy detected 0.01 arcsec away in the twin field.
    two = position_rng(7, 212.5 + 0.01 / 3600, 31.25, 'ngmix').random(3)
    other = position_rng(7, 212.5 + 3.0 / 3600, 31.25, 'ngmix').random(3)
    np.testing.assert_array_equal(one, two)
    assert not np.allclose(one, other)


def _twin_epochs(shear, order, noise_sigma=2.0):
    """Two galaxies on one CCD, stamps cut around them (in ``order``), with
    the same pixel noise in both fields and a bad column through both."""
    rng = np.random.default_rng(11)
    ccd = rng.normal(0.0, noise_sigma, (400, 400))          # same pixel noise in twin fields
    wcs = galsim.JacobianWCS(*JAC.ravel())
    psf = galsim.Moffat(beta=3, fwhm=0.7)
    centres = [(120, 140), (260, 300)]
    images, origins = [], []
    for k in order:
        gal = galsim.Exponential(half_light_radius=0.5, flux=3000).shear(
            g1=0.2 * (-1) ** k, g2=0.1).shear(g1=shear, g2=0.0)
        stamp = galsim.Convolve(gal, psf).drawImage(nx=N, ny=N, wcs=wcs).array
        x, y = centres[k]
        images.append(stamp + ccd[y - N // 2:y + N // 2 + 1, x - N // 2:x + N // 2 + 1])
        origins.append((x - N // 2, y - N // 2))
    image = np.array(images)
    flag = np.zeros_like(image)
    flag[:, :, N // 2 + 4] = 1
    psf_img = psf.drawImage(nx=25, ny=25, wcs=wcs).array
    n = len(order)
    return Epochs(image=image, weight=np.full_like(image, noise_sigma ** -2),
                  psf=np.repeat(psf_img[None], n, 0), jacobian=np.repeat(JAC[None], n, 0),
                  offset=np.zeros((n, 2)), start=np.arange(n + 1), flag=flag,
                  background=np.zeros_like(image), epoch_key=np.full(n, epoch_key('2113737-13')),
                  origin=np.array(origins))


def test_twin_fields_with_renumbered_objects_share_the_added_noise():
    """Field A detects and numbers the galaxies (1, 2), field B the other way
    round, and B is sheared the other way: each galaxy gets the same masked-pixel and fixnoise noise in
    both, and e(+g) - e(-g) is the response alone (tiny scatter); with the
    NUMBER rule the two fields' added noises differ."""
    g = 0.02
    settings = Settings(pixel_noise_seed=3)
    a, b = _twin_epochs(+g, (0, 1)), _twin_epochs(-g, (1, 0))
    rng_a = [position_rng(3, 10.0, 20.0), position_rng(3, 10.1, 20.0)]
    rng_b = rng_a[::-1]
    _, _, noise_a, _, _ = prepare(a, rng_a, settings)
    img_b, _, noise_b, _, _ = prepare(b, rng_b, settings)
    np.testing.assert_array_equal(noise_a, noise_b[::-1])
    img_a, _, _, _, _ = prepare(a, rng_a, settings)
    masked = a.flag[0] != 0
    np.testing.assert_array_equal(img_a[0][masked], img_b[1][masked])

    def twin_difference(settings, rngs_a, rngs_b):
        res_a = measure(np.array([1, 2]), a, rngs_a, settings)
        res_b = measure(np.array([1, 2]), b, rngs_b, settings)
        response = (res_a['1P']['g1'] - res_a['1M']['g1']) / (2 * settings.step)
        return res_a['NOSHEAR']['g1'] - res_b['NOSHEAR']['g1'][::-1] - 2 * g * response

    # e(+g) - e(-g) is the response alone (measured 0.7e-3 and 5e-3 from 2 g R).
    assert np.abs(twin_difference(settings, rng_a, rng_b)).max() < 0.008

    # The old rule: generators seeded by NUMBER give the twins different noise.
    old = Settings()

    def by_number():
        return [np.random.default_rng(1), np.random.default_rng(2)]

    _, _, noise_a, _, _ = prepare(a, by_number(), old)
    _, _, noise_b, _, _ = prepare(b, by_number(), old)
    assert not np.allclose(noise_a, noise_b[::-1])
    assert np.abs(twin_difference(old, by_number(), by_number())).max() > 0.02
