"""job_sp end to end on the simulator's four neighbouring tiles (tiles2x2):
shared exposures processed once, a final catalogue per tile, and post_proc_sp's
merged catalogue without duplicates at the tile borders."""

import glob
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from astropy.coordinates import SkyCoord, match_coordinates_sky
from astropy.io import fits

from shapepipe.commands.post_proc_sp import main as post_proc_main
from shapepipe.commands.post_proc_sp import merge_tiles, final_catalogs, status_table
from shapepipe.commands.simulate import main as simulate_main

BIN = os.path.dirname(sys.executable)
pytestmark = pytest.mark.skipif(
    not (shutil.which('source-extractor') or shutil.which('sex')) or not shutil.which('psfex'),
    reason='needs source-extractor and psfex (make install)')


def job_count(run_glob, module):
    """Jobs a module ran, from the main log of the run."""
    log = glob.glob(os.path.join(run_glob, 'logs', 'log_sp.log'))[0]
    with open(log) as handle:
        text = handle.read()
    section = text.split(f'-- {module} ')[1]
    return int(section.split(' job(s)')[0].split()[-1])


@pytest.fixture(scope='module')
def tiles_run(tmp_path_factory):
    sp_run = tmp_path_factory.mktemp('tiles') / 'run'
    assert simulate_main(['-o', str(sp_run), '--preset', 'tiles2x2', '--seed', '5']) == 0
    tiles = (sp_run / 'tile_numbers.txt').read_text().split()
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ['PATH'])
    env.pop('SP_CONFIG', None)
    # --nsh_jobs 2 as ShapePipe's option: two ID ranges per tile, merged by merge_sep_cats
    result = subprocess.run([os.path.join(BIN, 'job_sp'), '-j', '127', '--nsh_jobs', '2',
                             '--star_cat_from', 'truth.fits'] + tiles, cwd=sp_run, env=env, capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    truth = fits.getdata(sp_run / 'truth.fits', 'TRUTH')
    return sp_run, tiles, truth, result.stdout


def test_exposures_processed_once(tiles_run):
    sp_run, tiles, truth, stdout = tiles_run
    output = sp_run / 'output'
    exposures = sorted(glob.glob(str(sp_run / 'input_exposures' / '*p.fits.fz')))
    assert len(tiles) == 4 and len(exposures) == 2
    # every tile lists both exposures, yet each is split, masked and detected once
    for number in ('274-283', '278-282'):
        found = glob.glob(str(output / 'run_sp_GitFeGie_*' / 'find_exposures_runner' / 'output'
                              / f'exp_numbers-{number}.txt'))
        assert len(open(found[0]).read().split()) == 2
    run = glob.glob(str(output / 'run_sp_exp_SpMh_*'))[0]
    assert job_count(run, 'split_exp_runner') == 2
    run = glob.glob(str(output / 'run_sp_tile_Sx_exp_*'))[0]
    assert job_count(run, 'sextractor_runner_run_2') == 2     # one CCD per exposure
    assert job_count(run, 'sextractor_runner_run_1') == 4     # the tiles, in one module run
    assert job_count(run, 'psfex_runner') == 2


def test_final_catalogue_per_tile_and_status(tiles_run):
    sp_run, tiles, truth, stdout = tiles_run
    table = status_table(str(sp_run / 'output'), tiles)
    assert all(v == 'done' for steps in table.values() for v in steps.values())
    assert sorted(final_catalogs(str(sp_run / 'output'), tiles)) == tiles
    assert 'shapes: ' in stdout and '2 ID range(s)' in stdout


def _match(catalog, truth):
    sky = SkyCoord(catalog['XWIN_WORLD'], catalog['YWIN_WORLD'], unit='deg')
    index, sep, _ = match_coordinates_sky(sky, SkyCoord(truth['ra'], truth['dec'], unit='deg'))
    return index, sep.arcsec


def test_merged_catalogue_has_no_border_duplicates(tiles_run, tmp_path, monkeypatch, capsys):
    sp_run, tiles, truth, stdout = tiles_run
    monkeypatch.chdir(sp_run)
    assert post_proc_main(['-o', str(tmp_path / 'merged.fits')]) == 0
    assert '28 done, 0 failed, 0 missing' in capsys.readouterr().out
    merged = fits.getdata(tmp_path / 'merged.fits', 'RESULTS')
    index, sep = _match(merged, truth)
    good = sep < 1.0
    assert good.mean() > 0.9
    # no truth object twice, and each in the tile that owns it
    assert len(set(index[good])) == good.sum()
    owner_ok = np.array(merged['TILE_ID'])[good] == np.array(truth['tile_owner'])[index[good]]
    assert owner_ok.mean() >= 0.95
    # without the cut the overlaps give duplicates: the cut removed real ones
    counts = merge_tiles(final_catalogs(str(sp_run / 'output'), tiles),
                         str(tmp_path / 'all.fits'), tile_cut=False)
    everything = fits.getdata(tmp_path / 'all.fits', 'RESULTS')
    index_all, sep_all = _match(everything, truth)
    ids = index_all[sep_all < 1.0]
    assert len(ids) - len(set(ids)) >= 5
    assert len(everything) > len(merged)


def process_pids(run_dir, module):
    """Process ids of a module run's jobs, from their logs' first line."""
    pids = set()
    for path in glob.glob(os.path.join(run_dir, module, 'logs', 'process*.log')):
        with open(path) as handle:
            pids.add(handle.readline().split('pid ')[1].strip())
    return pids


def test_mpi_spreads_tiles_over_ranks(tiles_run):
    """Runs last: steps 8-64 again on the four tiles with --mpi 2 (mpiexec)."""
    sp_run, tiles, truth, stdout = tiles_run
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ['PATH'])
    env.pop('SP_CONFIG', None)
    result = subprocess.run([os.path.join(BIN, 'job_sp'), '--mpi', '2', '-j', '120'] + tiles,
                            cwd=sp_run, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    assert 'mpiexec -n 2 shapepipe_run' in result.stdout
    run = sorted(glob.glob(str(sp_run / 'output' / 'run_sp_tile_Sx_exp_*')))[-1]
    assert 'mode MPI' in open(os.path.join(run, 'logs', 'log_sp.log')).read()
    # the four tiles over the two ranks; the exposures they share processed once
    assert job_count(run, 'sextractor_runner_run_1') == 4
    assert len(process_pids(run, 'sextractor_runner_run_1')) == 2
    assert job_count(run, 'sextractor_runner_run_2') == 2 and job_count(run, 'psfex_runner') == 2
    # the shape step computed its split (tiny tiles: one range over both ranks)
    assert '1 ID range(s)' in result.stdout and '2 MPI rank(s) each' in result.stdout
    finals = final_catalogs(str(sp_run / 'output'), tiles)
    assert sorted(finals) == sorted(tiles)
    assert all(os.path.getmtime(path) > os.path.getmtime(run) for path in finals.values())
