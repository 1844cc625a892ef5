"""PSFEx models against the simulator's true PSF, over every CCD of a run.

At the validation stars (the 20% of selected stars PSFEx did not see) of every
CCD, the PSFEx model is evaluated as psfex_interp does, with and without the
Lanczos3 resampling correction (``CORRECT_RESAMPLING``), and compared with
the true PSF drawn by the simulator: mean and RMS of the HSM ellipticity
differences and the mean size residual dT/T = (sigma_model / sigma_true)^2 - 1.
The exposure-branch issue's targets are |<de>| < 1e-3 per component, RMS <
5e-3 and |<dT/T>| < 3e-3.

Usage:
    .venv/bin/python benchmarks/bench_psf_model.py [SP_RUN] [--all-models]

``--all-models`` then compares PSFEx, MCCD and Piff with the same truth at stars,
galaxies and by distance to the CCD edge, with speed and memory
(``bench_psf_models.py``, which can also run alone).

SP_RUN is a simulated run directory on which config_prepare.ini and
config_exp.ini have run (e.g. ``demo_run`` after ``make demo``). Without it,
the demo field is simulated and the exposure branch run in a temporary
directory (about 1 minute on 2 cores).
"""

import glob
import os
import re
import sys
import tempfile

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from shapepipe.modules.psfex_interp_package.psfex_model import PSFExModel
from shapepipe.modules.psfex_interp_package.shapes import hsm_shapes
from shapepipe.simulation.render import true_psf_stamps
from simulated_field import run_configs, simulate


def residuals(sp_run):
    """Per star: (de1, de2, dT/T) uncorrected and corrected, and the CCD count."""
    run_dir = sorted(glob.glob(os.path.join(sp_run, 'output', 'run_sp_exp_*')))[-1]
    exposures = {int(row['odometer']): row for row in fits.getdata(
        os.path.join(sp_run, 'truth.fits'), 'EXPOSURES')}
    out = {False: [], True: []}
    n_ccd = 0
    for path in sorted(glob.glob(os.path.join(run_dir, 'psfex_interp_runner', 'output',
                                              'validation_psf-*.fits'))):
        odometer, ccd = re.search(r'-(\d+)-(\d+)\.fits$', path).groups()
        model_path = os.path.join(run_dir, 'psfex_runner', 'output',
                                  f'star_split_ratio_80-{odometer}-{ccd}.psf')
        header = fits.getheader(os.path.join(run_dir, 'split_exp_runner', 'output',
                                             f'image-{odometer}-{ccd}.fits'))
        stars = fits.getdata(path)
        stars = stars[stars['FLAG_STAR_HSM'] == 0]
        if not len(stars):
            continue
        n_ccd += 1
        wcs = WCS(header)
        ra, dec = wcs.all_pix2world(stars['X'], stars['Y'], 1)
        t1, t2, tsig, _ = hsm_shapes(true_psf_stamps(exposures[int(odometer)], wcs, ra, dec))
        for corrected in (False, True):
            model = PSFExModel(model_path, correct_resampling=corrected)
            m1, m2, msig, flag = hsm_shapes(model.stamps(stars['X'], stars['Y'], size=51))
            ok = flag == 0
            out[corrected].append(np.stack([m1 - t1, m2 - t2, msig ** 2 / tsig ** 2 - 1])[:, ok])
    return {k: np.concatenate(v, axis=1) for k, v in out.items()}, n_ccd


def main(sp_run=None):
    if sp_run is None:
        with tempfile.TemporaryDirectory() as tmp:
            run_configs(tmp, simulate(tmp))
            return main(tmp)
    results, n_ccd = residuals(sp_run)
    print(f'{sp_run}: {results[True].shape[1]} validation stars on {n_ccd} CCDs')
    print(f'{"model evaluation":<28} {"<de1>":>9} {"<de2>":>9} {"rms de1":>9} {"rms de2":>9} '
          f'{"<dT/T>":>10} {"+-":>8}')
    for corrected, label in ((False, 'PSFEx model as written'),
                             (True, 'Lanczos3 correction (ours)')):
        de1, de2, dsize = results[corrected]
        print(f'{label:<28} {de1.mean():9.2e} {de2.mean():9.2e} {de1.std():9.2e} '
              f'{de2.std():9.2e} {dsize.mean():10.2e} {dsize.std() / np.sqrt(len(dsize)):8.1e}')
    print('targets: |<de>| < 1e-3, rms < 5e-3, |<dT/T>| < 3e-3. ShapePipe evaluates the model as '
          'written (first row).')


if __name__ == '__main__':
    args = [a for a in sys.argv[1:] if a != '--all-models']
    main(*args[:1])
    if '--all-models' in sys.argv and args:
        import bench_psf_models
        bench_psf_models.main(args[0])
