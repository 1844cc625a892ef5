"""Synthetic metacalibration catalogues with a known response, selection and leakage.

Every object has an intrinsic ellipticity ``e_int``, a size ``T0`` and a PSF
ellipticity. The measurement under the (true or artificial) shear ``s`` is
linear, ``e(s) = e_int + R s + R (alpha psf_e + c)``, and, with
``size_effect``, the size responds to the shear as ``T(s) = T0 (1 + 2 k e_int . s)``,
which makes the cut on T/Tpsf shear dependent (a selection response). The
sheared measurements ``jP``/``jM`` are the same model at ``s = g +- step``, so
the true response of the selected mean is known by finite differences.
"""

import numpy as np
from astropy.io import fits

MCAL_SHIFTS = {'NOSHEAR': (0.0, 0.0), '1P': (1.0, 0.0), '1M': (-1.0, 0.0),
               '2P': (0.0, 1.0), '2M': (0.0, -1.0)}


def make_catalog(n=20000, g=(0.02, 0.0), response=((0.7, 0.0), (0.0, 0.7)), sigma_e=0.2,
                 step=0.01, pairs=True, size_effect=0.0, alpha=(0.0, 0.0), sigma_psf=0.02,
                 true_response=None, additive=(0.0, 0.0), n_bad=0, seed=1):
    """A shear-catalogue dict (see shapepipe.commands.shear_bias), plus ``g_true`` (N, 2).

    ``g`` is (2,) or a callable ``rng, n -> (n, 2)`` of per-object shears.
    ``pairs`` adds for each object its copy rotated by 90 degrees (e_int -> -e_int,
    same size, PSF and shear), which cancels shape noise. ``true_response`` is
    the response to the true shear if it differs from the metacal one
    (an injected multiplicative bias). ``n_bad`` rows with mcal_flags != 0 or
    low S/N and absurd ellipticities are appended; the cuts must reject them.
    """
    rng = np.random.default_rng(seed)
    half = n // 2 if pairs else n
    e_int = rng.normal(0.0, sigma_e, (half, 2))
    T0 = np.exp(rng.normal(np.log(0.8), 0.5, half))
    psf_e = rng.normal(0.0, sigma_psf, (half, 2))
    snr = rng.uniform(15.0, 200.0, half)
    shear = (g(rng, half) if callable(g) else np.broadcast_to(np.asarray(g, float),
                                                                      (half, 2)))
    if pairs:
        e_int = np.concatenate([e_int, -e_int])
        T0, psf_e, snr = (np.concatenate([a, a]) for a in (T0, psf_e, snr))
        shear = np.concatenate([shear, shear])
    response = np.asarray(response, float)
    true_response = response if true_response is None else np.asarray(true_response, float)
    leak = (np.asarray(alpha, float) * psf_e + np.asarray(additive, float)) @ response.T
    base = e_int + shear @ true_response.T + leak
    catalog = {'id': np.arange(1, len(e_int) + 1), 'psf_e': psf_e,
               'mcal_flags': np.zeros(len(e_int), int), 'g_true': shear}
    for kind, shift in MCAL_SHIFTS.items():
        delta = step * np.asarray(shift)
        total_shear = shear + delta
        catalog[kind] = {
            'e': base + delta @ response.T,
            'T': T0 * (1.0 + 2.0 * size_effect * np.sum(e_int * total_shear, axis=1)),
            'Tpsf': np.ones(len(e_int)), 'snr': snr.copy(),
            'flags': np.zeros(len(e_int), int)}
    if n_bad:
        catalog = _append_bad(catalog, n_bad, rng)
    return catalog


def _append_bad(catalog, n_bad, rng):
    bad_mcal = np.arange(n_bad) % 2 == 0
    result = {'id': np.concatenate([catalog['id'], catalog['id'][-1] + 1 + np.arange(n_bad)]),
              'psf_e': np.concatenate([catalog['psf_e'], np.full((n_bad, 2), 0.3)]),
              'mcal_flags': np.concatenate([catalog['mcal_flags'], bad_mcal.astype(int)])}
    for kind in MCAL_SHIFTS:
        m = catalog[kind]
        result[kind] = {
            'e': np.concatenate([m['e'], np.full((n_bad, 2), 0.9)]),
            'T': np.concatenate([m['T'], np.full(n_bad, 2.0)]),
            'Tpsf': np.concatenate([m['Tpsf'], np.ones(n_bad)]),
            'snr': np.concatenate([m['snr'], np.where(bad_mcal, 50.0, 3.0)]),
            'flags': np.concatenate([m['flags'], np.zeros(n_bad, int)])}
    return result


def write_final_catalog(catalog, path, drop=()):
    """Write the catalogue as a final catalogue (HDU RESULTS, NGMIX_* columns)."""
    n = len(catalog['id'])
    columns = [fits.Column('NUMBER', 'J', array=catalog['id']),
               fits.Column('TILE_ID', '7A', array=np.full(n, '277.282'))]
    for kind in MCAL_SHIFTS:
        m = catalog[kind]
        columns += [fits.Column(f'NGMIX_ELL_{kind}', '2D', array=m['e']),
                    fits.Column(f'NGMIX_FLAGS_{kind}', 'J', array=m['flags']),
                    fits.Column(f'NGMIX_SNR_{kind}', 'D', array=m['snr']),
                    fits.Column(f'NGMIX_T_{kind}', 'D', array=m['T']),
                    fits.Column(f'NGMIX_Tpsf_{kind}', 'D', array=m['Tpsf'])]
    columns += [fits.Column('NGMIX_ELL_PSFo_NOSHEAR', '2D', array=catalog['psf_e']),
                fits.Column('NGMIX_MCAL_FLAGS', 'J', array=catalog['mcal_flags'])]
    columns = [c for c in columns if c.name not in drop]
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(columns, name='RESULTS')]
                 ).writeto(path)


def write_ngmix_catalog(catalog, path, rows=None):
    """Write the catalogue as an ngmix_runner output (HDUs 1M 1P 2M 2P NOSHEAR).

    ``rows`` maps a kind to the row indices written in that HDU (default all, in order).
    """
    hdus = [fits.PrimaryHDU()]
    for kind in ('1M', '1P', '2M', '2P', 'NOSHEAR'):
        m = catalog[kind]
        r = np.arange(len(catalog['id'])) if rows is None or kind not in rows else rows[kind]
        columns = [fits.Column('id', 'K', array=catalog['id'][r]),
                   fits.Column('g1', 'D', array=m['e'][r, 0]),
                   fits.Column('g2', 'D', array=m['e'][r, 1]),
                   fits.Column('flags', 'J', array=m['flags'][r]),
                   fits.Column('s2n', 'D', array=m['snr'][r]),
                   fits.Column('T', 'D', array=m['T'][r]),
                   fits.Column('Tpsf', 'D', array=m['Tpsf'][r]),
                   fits.Column('g1_psfo_ngmix', 'D', array=catalog['psf_e'][r, 0]),
                   fits.Column('g2_psfo_ngmix', 'D', array=catalog['psf_e'][r, 1]),
                   fits.Column('mcal_flags', 'J', array=catalog['mcal_flags'][r])]
        hdus.append(fits.BinTableHDU.from_columns(columns, name=kind))
    fits.HDUList(hdus).writeto(path)
