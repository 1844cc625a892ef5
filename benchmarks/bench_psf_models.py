"""PSFEx, MCCD and Piff against the simulator's true PSF, with speed and memory.

On a simulated run where config_prepare.ini and config_exp.ini have run (PSFEx
models, star selections), MCCD and Piff are fitted per exposure to the same
80% training stars (``mccd_preprocessing_runner``'s files) and the three
models are evaluated, as the interpolation runners do, at

* the validation stars (the 20% no model saw), and
* 100 detected objects per CCD spread over its detection list (galaxy positions),

and compared with the true PSF (HSM moments of both): <de1>, <de2>, their
RMS, <dT/T> (T = sigma^2), also by distance to the nearest CCD edge.
Speed: CPU seconds per CCD of each fit (PSFEx: the psfex executable run as
psfex_runner runs it, on the same training catalogues) and milliseconds per
object of the evaluation; memory: peak resident size of the process that
fitted one exposure (for MCCD and Piff a forked child: it includes the ~0.3 GB
of the parent's imports).

Usage:
    .venv/bin/python benchmarks/bench_psf_models.py SP_RUN [MCCD_CONFIG] [PIFF_YAML]

MCCD_CONFIG defaults to example/GOLD/mccd/config_MCCD.ini (~20 s CPU per CCD),
PIFF_YAML to example/GOLD/piff.yaml. The distance to the CCD edge is measured
from the data area (x 33..2080, y 1..4612), not the overscan.
Targets (issue 14): |<de>| < 1e-3, RMS < 5e-3, |<dT/T>| < 3e-3 against truth.
"""

import glob
import logging
import multiprocessing
import os
import resource
import sys
import tempfile
import time

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from shapepipe.psf.mccd import fit as mccd_fit
from shapepipe.psf.mccd.preprocessing import group_by_exposure, preprocess_exposure
from shapepipe.psf.mccd.settings import read_settings
from shapepipe.psf.piff import fit as piff_fit
from shapepipe.psf.piff.model import read_piff_config
from shapepipe.modules.psfex_interp_package.psfex_model import PSFExModel
from shapepipe.psf.shapes import hsm_shapes
from shapepipe.simulation.render import true_psf_stamps

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLD = os.path.join(REPO, 'example', 'GOLD')
EDGE_BINS = (0, 100, 300, 1e9)
#: Data area of a CCD file (FITS pixels; overscan outside): x 33..2080, y 1..4612.
DATA_X, DATA_Y = (32.5, 2080.5), (0.5, 4612.5)
#: Detected objects per CCD used as galaxy positions, spread over the detection list.
N_OBJECTS = 100


def _fit_one(args):
    """Fit one exposure in a child process; return (model path, CPU s, peak RSS MB)."""
    kind, train, model_path, setting = args
    start = time.process_time()
    if kind == 'mccd':
        mccd_fit.fit_exposure(train, model_path, setting)
    else:
        piff_fit.fit_exposure(train, model_path, setting, 20)
    return model_path, time.process_time() - start, \
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fit_models(kind, trains, work, setting):
    """``{exposure: (model path, cpu, rss)}``, one child process per exposure."""
    ext = '.npz' if kind == 'mccd' else '.piff'
    jobs = [(kind, path, os.path.join(work, f'{kind}_model-{exp}{ext}'), setting)
            for exp, path in trains.items()]
    with multiprocessing.get_context('fork').Pool(1, maxtasksperchild=1) as pool:
        results = pool.map(_fit_one, jobs, chunksize=1)
    return {exp: result for exp, result in zip(trains, results)}


def psfex_fit_cpu(catalogs, work):
    """CPU seconds per CCD and peak memory [MB] of the psfex executable run as
    psfex_runner runs it, on the given training catalogues."""
    import shutil
    import subprocess
    from shapepipe.modules.psfex_package.psfex import build_command
    executable = shutil.which('psfex')
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    for path in catalogs:
        out = os.path.join(work, 'psfex_' + os.path.basename(path).replace('.fits', '.cat'))
        subprocess.run(build_command(executable, path, os.path.join(GOLD, 'default.psfex'), work,
                                     out), check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / len(catalogs)
    return cpu, after.ru_maxrss / 1024


def shapes_vs_truth(stamps, truth):
    m1, m2, ms, mf = hsm_shapes(stamps)
    t1, t2, ts, tf = hsm_shapes(truth)
    ok = (mf == 0) & (tf == 0)
    return np.stack([m1 - t1, m2 - t2, ms ** 2 / ts ** 2 - 1])[:, ok], ok


def main(sp_run, mccd_config=None, piff_yaml=None):
    mccd_config = mccd_config or os.path.join(GOLD, 'mccd', 'config_MCCD.ini')
    piff_yaml = piff_yaml or os.path.join(GOLD, 'piff.yaml')
    logging.basicConfig(level=logging.ERROR)
    run_dir = sorted(glob.glob(os.path.join(sp_run, 'output', 'run_sp_exp_2*')))[-1]
    exposures = {str(row['odometer']): row for row in fits.getdata(
        os.path.join(sp_run, 'truth.fits'), 'EXPOSURES')}
    split = os.path.join(run_dir, 'setools_runner', 'output', 'rand_split')
    values = read_settings(mccd_config)
    work = tempfile.mkdtemp(prefix='bench_psf_')
    trains, tests = {}, {}
    for ratio, store in (('80', trains), ('20', tests)):
        for exp, items in group_by_exposure(
                glob.glob(os.path.join(split, f'star_split_ratio_{ratio}-*.fits'))).items():
            store[exp] = os.path.join(work, f'{ratio}-{exp}.fits')
            preprocess_exposure(items, store[exp], values['MIN_N_STARS'] if ratio == '80' else 1)
    n_ccd = {exp: len(np.unique(fits.getdata(path, 1)['CCD_ID_LIST'])) for exp, path in
             trains.items()}
    # PSFEx first: RUSAGE_CHILDREN's peak would otherwise be that of the fit children
    psfex_cpu, psfex_rss = psfex_fit_cpu(
        sorted(glob.glob(os.path.join(split, 'star_split_ratio_80-*.fits'))), work)
    fits_done = {'mccd': fit_models('mccd', trains, work, values),
                 'piff': fit_models('piff', trains, work, read_piff_config(piff_yaml))}
    loaders = {'mccd': mccd_fit.MCCDModel, 'piff': piff_fit.PiffModel}
    results = {k: {'star': [], 'galaxy': [], 'edge': [], 'time': 0.0, 'n': 0}
               for k in ('psfex', 'mccd', 'piff')}
    for exp, test_path in tests.items():
        models = {k: loaders[k](fits_done[k][exp][0]) for k in ('mccd', 'piff')}
        table = fits.getdata(test_path, 1)
        for ccd in np.unique(table['CCD_ID_LIST']):
            wcs = WCS(fits.getheader(os.path.join(run_dir, 'split_exp_runner', 'output',
                                                  f'image-{exp}-{ccd}.fits')))
            stars = table[table['CCD_ID_LIST'] == ccd]
            objects = fits.getdata(os.path.join(run_dir, 'sextractor_runner', 'output',
                                                f'sexcat-{exp}-{ccd}.fits'), 2)
            # SExtractor lists objects by y: take every k-th, not the first ones (one edge)
            objects = objects[::max(1, len(objects) // N_OBJECTS)][:N_OBJECTS]
            psfex = PSFExModel(os.path.join(run_dir, 'psfex_runner', 'output',
                                            f'star_split_ratio_80-{exp}-{ccd}.psf'))
            for where, (x, y) in (('star', stars['LOC_POSITION_IMG_LIST'].T),
                                  ('galaxy', (objects['XWIN_IMAGE'], objects['YWIN_IMAGE']))):
                x, y = np.asarray(x, float), np.asarray(y, float)
                ra, dec = wcs.all_pix2world(x, y, 1)
                truth = true_psf_stamps(exposures[exp], wcs, ra, dec)
                edge = np.minimum.reduce([x - DATA_X[0], DATA_X[1] - x, y - DATA_Y[0],
                                          DATA_Y[1] - y])
                for kind in results:
                    start = time.process_time()
                    if kind == 'psfex':
                        stamps = psfex.stamps(x, y, size=51)
                    elif models[kind].has_ccd(ccd):
                        stamps = models[kind].stamps(ccd, x, y)
                    else:
                        continue
                    results[kind]['time'] += time.process_time() - start
                    results[kind]['n'] += len(x)
                    residual, ok = shapes_vs_truth(stamps, truth)
                    results[kind][where].append(residual)
                    results[kind]['edge'].append(np.vstack([residual, edge[ok][None]]))
    print(f'{sp_run}: {sum(n_ccd.values())} CCDs in {len(trains)} exposures; MCCD settings '
          f'{mccd_config}, Piff {piff_yaml}')
    print(f'{"model":<6} {"where":<8} {"n":>5} {"<de1>":>9} {"<de2>":>9} {"rms de1":>9} '
          f'{"rms de2":>9} {"<dT/T>":>9} {"+-":>8}')
    for kind, res in results.items():
        for where in ('star', 'galaxy'):
            de1, de2, dt = np.concatenate(res[where], axis=1)
            print(f'{kind:<6} {where:<8} {len(dt):5d} {de1.mean():9.2e} {de2.mean():9.2e} '
                  f'{de1.std():9.2e} {de2.std():9.2e} {dt.mean():9.2e} '
                  f'{dt.std() / np.sqrt(len(dt)):8.1e}')
    print('\nby distance to the CCD edge [pixels], stars and galaxies: rms de1, rms de2, <dT/T>')
    for kind, res in results.items():
        de1, de2, dt, edge = np.concatenate(res['edge'], axis=1)
        cells = []
        for lo, hi in zip(EDGE_BINS[:-1], EDGE_BINS[1:]):
            sel = (edge >= lo) & (edge < hi)
            cells.append(f'[{lo:g},{hi:g}) n={sel.sum()}: {de1[sel].std():.2e} '
                         f'{de2[sel].std():.2e} {dt[sel].mean():+.2e}')
        print(f'{kind:<6} ' + ' | '.join(cells))
    print('\nspeed and memory')
    cpu, rss = psfex_cpu, psfex_rss
    print(f'psfex  fit {cpu:.2f} s CPU per CCD, peak {rss:.0f} MB (the psfex executable); '
          f'evaluation {1e3 * results["psfex"]["time"] / results["psfex"]["n"]:.2f} ms CPU per '
          f'object')
    for kind in ('mccd', 'piff'):
        cpu = sum(fits_done[kind][e][1] for e in trains) / sum(n_ccd.values())
        rss = max(fits_done[kind][e][2] for e in trains)
        print(f'{kind:<6} fit {cpu:.1f} s CPU per CCD, peak {rss:.0f} MB per exposure process; '
              f'evaluation {1e3 * results[kind]["time"] / results[kind]["n"]:.2f} ms CPU per '
              f'object')
    print('targets: |<de>| < 1e-3, rms < 5e-3, |<dT/T>| < 3e-3 against truth.')


if __name__ == '__main__':
    main(*sys.argv[1:4])
