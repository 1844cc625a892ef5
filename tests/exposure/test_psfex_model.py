"""Evaluating PSFEx models: sub-sampled grids and the Lanczos3 resampling
correction, on models written in the test (no psfex needed)."""

import galsim
import galsim.des
import numpy as np
from astropy.io import fits

from shapepipe.modules.psfex_interp_package.psfex_model import (
    PSFExModel, lanczos3_response, resolved_basis,
)
from shapepipe.modules.psfex_interp_package.shapes import hsm_shapes
from shapepipe.modules.psfex_package.psfex import configured_basis, record_basis

SCALE = 0.187
PSF = galsim.Moffat(beta=3.0, fwhm=0.7).shear(g1=0.03, g2=-0.02)


def write_psf(path, basis, sampling=1.0, fwhm=3.7, **header):
    """A PSFEx-format model: ``basis`` (n_terms, ny, nx) of a degree-1 polynomial in x, y."""
    n_terms, ny, nx = basis.shape
    column = fits.Column(name='PSF_MASK', format=f'{basis.size}E', dim=f'({nx}, {ny}, {n_terms})',
                         array=basis[None].astype(np.float32))
    hdu = fits.BinTableHDU.from_columns([column], name='PSF_DATA')
    cards = dict(LOADED=100, ACCEPTED=100, CHI2=1.0, POLNAXIS=2, POLGRP1=1, POLNAME1='XWIN_IMAGE',
                 POLZERO1=1000.0, POLSCAL1=2000.0, POLGRP2=1, POLNAME2='YWIN_IMAGE',
                 POLZERO2=2000.0, POLSCAL2=4000.0, POLNGRP=1, POLDEG1=1, PSF_FWHM=fwhm,
                 PSF_SAMP=sampling, PSFNAXIS=3, PSFAXIS1=nx, PSFAXIS2=ny, PSFAXIS3=n_terms)
    cards.update(header)
    for key, value in cards.items():
        hdu.header[key] = value
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)
    return path


def lanczos3_stack(n_stars=150, seed=4):
    """What PSFEx does without a basis: stars at random sub-pixel offsets, each
    re-centred by Lanczos3 interpolation, averaged."""
    rng = np.random.default_rng(seed)
    stack = np.zeros((51, 51))
    for dx, dy in rng.uniform(-0.5, 0.5, (n_stars, 2)):
        star = PSF.drawImage(nx=61, ny=61, scale=SCALE, offset=(dx, dy)).array
        image = galsim.InterpolatedImage(galsim.Image(star, scale=1.0),
                                         x_interpolant=galsim.Lanczos(3), normalization='sb',
                                         calculate_stepk=False, calculate_maxk=False)
        stack += image.shift(-dx, -dy).drawImage(nx=51, ny=51, scale=1.0,
                                                 method='no_pixel').array
    return stack / stack.sum()


def size_ratio(image, reference):
    """T(image) / T(reference) - 1 from HSM adaptive moments."""
    (_, _, sigma, _), (_, _, sigma_ref, _) = hsm_shapes([image]), hsm_shapes([reference])
    return sigma[0] ** 2 / sigma_ref[0] ** 2 - 1


def test_lanczos3_response_values():
    freq = np.fft.fftfreq(20)
    response = lanczos3_response(20)
    assert response[0] == 1.0
    # The kernel sharpens a little at mid frequencies and halves Nyquist.
    assert abs(response[freq == 0.2][0] - 1.012) < 2e-3
    assert abs(response[freq == -0.5][0] - 0.502) < 2e-3


def test_correction_restores_the_size_of_a_no_basis_model(tmp_path):
    """Without the correction the Lanczos3 stack is ~0.5% too small; with it,
    within 1e-3 of the true pixelised PSF in size and 2e-4 in ellipticity."""
    truth = PSF.drawImage(nx=51, ny=51, scale=SCALE).array
    stack = lanczos3_stack()
    basis = np.stack([stack, np.zeros_like(stack), np.zeros_like(stack)])
    path = write_psf(tmp_path / 'none.psf', basis, BASISTYP='NONE')
    raw = PSFExModel(path, correct_resampling=False).stamps([1000.0], [2000.0])[0]
    fixed = PSFExModel(path).stamps([1000.0], [2000.0])[0]
    assert size_ratio(raw, truth) < -3.5e-3
    assert abs(size_ratio(fixed, truth)) < 1e-3
    e1, e2, _, _ = hsm_shapes([fixed, truth])
    assert abs(e1[0] - e1[1]) < 2e-4 and abs(e2[0] - e2[1]) < 2e-4
    assert abs(fixed.sum() - 1) < 1e-12


def test_which_models_are_corrected(tmp_path):
    basis = np.stack([lanczos3_stack(n_stars=10)] + [np.zeros((51, 51))] * 2)
    cases = [({'BASISTYP': 'PIXEL'}, 3.7, False), ({'BASISTYP': 'NONE'}, 3.7, True),
             ({'BASISTYP': 'PIXEL_AUTO'}, 3.7, True), ({'BASISTYP': 'PIXEL_AUTO'}, 2.5, False),
             ({}, 3.7, True), ({}, 2.5, False)]
    for i, (header, fwhm, corrected) in enumerate(cases):
        path = write_psf(tmp_path / f'{i}.psf', basis, fwhm=fwhm, **header)
        assert PSFExModel(path).corrected is corrected, (header, fwhm)
    assert resolved_basis('pixel-auto', 3.0) == 'NONE'


def test_sub_sampled_model_matches_galsim_des_psfex(tmp_path):
    """PSF_SAMP = 0.5: image pixels are grid nodes; our stamps equal galsim's evaluation."""
    fine = PSF.drawImage(nx=61, ny=61, scale=SCALE * 0.5, method='no_pixel').array
    slope = np.roll(fine, 1, axis=1) * 0.1
    path = write_psf(tmp_path / 'samp.psf', np.stack([fine, slope, 0 * fine]), sampling=0.5,
                     BASISTYP='PIXEL')
    ours = PSFExModel(path)
    positions = [(1500.0, 2000.0), (300.0, 3900.0)]
    stamps = ours.stamps(*zip(*positions))
    assert stamps.shape[1:] == tuple(ours.stamp_shape) == (31, 31)
    reference = galsim.des.DES_PSFEx(str(path))
    for stamp, (x, y) in zip(stamps, positions):
        expected = reference.getPSF(galsim.PositionD(x, y)).drawImage(
            nx=31, ny=31, scale=1.0, method='no_pixel').array
        expected /= expected.sum()
        assert np.abs(stamp - expected).max() < 1e-6 * expected.max()


def test_sub_sampled_model_interpolates_to_the_true_psf(tmp_path):
    """PSF_SAMP = 0.75 and 0.6: image pixels fall between grid nodes; the cubic
    spline gives the profile to 1e-3 of its peak (galsim.des.DES_PSFEx: 2-4e-3)."""
    for sampling, n in ((0.75, 67), (0.6, 85)):
        fine = PSF.drawImage(nx=n, ny=n, scale=SCALE * sampling, method='no_pixel').array
        path = write_psf(tmp_path / f'samp{n}.psf', np.stack([fine, 0 * fine, 0 * fine]),
                         sampling=sampling, BASISTYP='PIXEL')
        model = PSFExModel(path)
        stamp = model.stamps([1000.0], [2000.0])[0]
        assert stamp.shape == tuple(model.stamp_shape) and stamp.shape[0] % 2 == 1
        truth = PSF.drawImage(nx=stamp.shape[0], ny=stamp.shape[0], scale=SCALE,
                              method='no_pixel').array
        truth /= truth.sum()
        assert np.abs(stamp - truth).max() < 1e-3 * truth.max(), sampling


def test_psfex_runner_records_the_basis(tmp_path):
    config = tmp_path / 'a.psfex'
    config.write_text('PSF_SIZE 51,51\nBASIS_TYPE   PIXEL  # comment\n')
    assert configured_basis(config) == 'PIXEL'
    config.write_text('# BASIS_TYPE PIXEL\nPSF_SIZE 51,51\n')
    assert configured_basis(config) == 'PIXEL_AUTO'
    path = write_psf(tmp_path / 'm.psf', np.zeros((3, 51, 51)))
    record_basis(path, 'NONE')
    assert fits.getheader(path, 1)['BASISTYP'] == 'NONE'
    assert fits.getheader(path, 1)['ACCEPTED'] == 100
    assert list(tmp_path.iterdir()).count(tmp_path / 'm.psf') == 1
    assert len(list(tmp_path.glob('.*part*'))) == 0
