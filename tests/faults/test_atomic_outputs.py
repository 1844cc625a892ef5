"""No output under its final name unless complete: executables' outputs
(Source Extractor, PSFEx), split_exp's CCD files, Python writers; paths with
spaces; zero points that are not numbers."""

import errno
import os
import shutil
import signal
import subprocess
import time

import numpy as np
import pytest
from astropy.io import fits

from shapepipe.io.atomic import atomic_group, atomic_path, atomic_paths
from shapepipe.pipeline.file_matching import find_pattern_files
from shapepipe.pipeline.log_handlers import OneLineFileHandler
from shapepipe.simulation.focal_plane import ccd_header

from .fault_helpers import (
    BIN, GOLD, fake_executable, files_under, main_log, run_dir_of, run_main, sextractor_config,
    star_field, temporary_leftovers, write_config,
)

# A stand-in for Source Extractor that writes part of its catalogue and check
# image under the names it is given, then fails, hangs or is interrupted.
PARTIAL_SEX = '''
case "$1" in --version|-v) echo "fake 1.0"; exit 0;; esac
cat=""; check=""
while [ $# -gt 0 ]; do
  case "$1" in
    -CATALOG_NAME) cat="$2"; shift;;
    -CHECKIMAGE_NAME) check="$2"; shift;;
  esac
  shift
done
head -c 2880 /dev/zero > "$cat"
head -c 1000 /dev/zero > "$check"
touch "{marker}"
{then}
'''


def module_output(output_dir, module='sextractor_runner'):
    return os.path.join(run_dir_of(output_dir), module, 'output')


def test_sextractor_and_psfex_with_spaces_in_every_path(tmp_path, capsys):
    """A space in INPUT_DIR, OUTPUT_DIR and the config files' directory."""
    inputs = tmp_path / 'input images'
    inputs.mkdir()
    star_field(inputs / 'image-1.fits', header={'PHOTZP': 30.5})
    configs = tmp_path / 'my configs'
    shutil.copytree(os.path.join(GOLD, 'sextractor_default'), configs / 'sex')
    # GOLD's PSFEx settings with a smaller, constant model (0.2 s instead of 16 s).
    with open(os.path.join(GOLD, 'default.psfex')) as handle:
        psfex_config = handle.read().replace('51,51', '25,25')
    (configs / 'default psf.psfex').write_text(
        psfex_config.replace('PSFVAR_DEGREES  2', 'PSFVAR_DEGREES  0'))
    output = tmp_path / 'run output, v1'
    config = sextractor_config(
        tmp_path, inputs, output, modules='sextractor_runner, psfex_runner',
        sextractor_extra='ZP_FROM_HEADER = True', sex_dir=configs / 'sex',
        more=f'[PSFEX_RUNNER]\nINPUT_MODULE = sextractor_runner\nFILE_PATTERN = sexcat\n'
             f'NUMBERING_SCHEME = -0\nDOT_PSFEX_FILE = {configs}/default psf.psfex\n'
             f'MIN_STARS = 10\n')
    status, lines, _ = run_main(config, capsys)
    assert status == 0 and lines == [], lines
    sex_out = module_output(output)
    assert sorted(os.listdir(sex_out)) == ['background-1.fits', 'sexcat-1.fits']
    with fits.open(os.path.join(sex_out, 'sexcat-1.fits')) as hdul:
        objects = hdul[2].data
        assert 45 <= len(objects) <= 75          # 60 stars drawn, a few blended or at edges
        # The zero point came from the header: MAG = 30.5 - 2.5 log10(FLUX).
        good = objects['FLUX_AUTO'] > 0
        mag = 30.5 - 2.5 * np.log10(objects['FLUX_AUTO'][good])
        assert np.allclose(objects['MAG_AUTO'][good], mag, atol=1e-3)
    background = fits.getdata(os.path.join(sex_out, 'background-1.fits'))
    assert background.shape == (400, 400) and abs(np.median(background)) < 2.0
    psf_out = module_output(output, 'psfex_runner')
    assert sorted(os.listdir(psf_out)) == ['psfex_cat-1.cat', 'sexcat-1.psf']
    header = fits.getheader(os.path.join(psf_out, 'sexcat-1.psf'), 1)
    assert header['ACCEPTED'] >= 20 and header['BASISTYP'] == 'PIXEL_AUTO'
    assert temporary_leftovers(output) == []


def test_non_numeric_zero_point_fails_the_job_in_one_line(tmp_path, capsys):
    inputs = tmp_path / 'in'
    inputs.mkdir()
    star_field(inputs / 'image-1.fits', n_stars=20, header={'PHOTZP': 30.0})
    star_field(inputs / 'image-2.fits', n_stars=20, header={'PHOTZP': 'INDEF'})
    star_field(inputs / 'image-3.fits', n_stars=20, header={'MAGZP': 29.0})
    output = tmp_path / 'out'
    config = sextractor_config(tmp_path, inputs, output, sextractor_extra='ZP_FROM_HEADER = True')
    status, lines, _ = run_main(config, capsys)
    assert status == 1 and lines == []
    errors = [line for line in main_log(output).splitlines() if 'ERROR' in line]
    assert len(errors) == 2
    assert f"{inputs}/image-2.fits: header keyword PHOTZP = 'INDEF' is not a finite number" \
        in errors[0]
    assert f'{inputs}/image-3.fits has no PHOTZP keyword' in errors[1]
    # Only the image with a valid zero point has outputs.
    assert sorted(os.listdir(module_output(output))) == ['background-1.fits', 'sexcat-1.fits']


@pytest.mark.parametrize('failure, job, expected', [
    ('exit 1', '', 'exited with status 1'),
    ('exec sleep 30', 'TIMEOUT = 2', 'TIMEOUT'),
])
def test_failed_or_timed_out_sextractor_leaves_no_output(tmp_path, capsys, failure, job,
                                                         expected):
    inputs = tmp_path / 'in'
    inputs.mkdir()
    star_field(inputs / 'image-1.fits', n_stars=5)
    fake = fake_executable(tmp_path / 'fake_sex',
                           PARTIAL_SEX.format(marker=tmp_path / 'marker', then=failure))
    output = tmp_path / 'out'
    config = sextractor_config(tmp_path, inputs, output, job=job,
                               sextractor_extra=f'EXEC_PATH = {fake}')
    start = time.monotonic()
    status, lines, _ = run_main(config, capsys)
    assert time.monotonic() - start < 20
    assert status == 1 and lines == []
    assert os.path.isfile(tmp_path / 'marker')       # the outputs were being written
    assert expected in main_log(output)
    assert os.listdir(module_output(output)) == []   # no partial catalogue or check image


def test_failed_rerun_keeps_the_complete_outputs_of_an_earlier_run(tmp_path, capsys):
    """RUN_DATETIME = False: the second run writes into the same directory and fails."""
    inputs = tmp_path / 'in'
    inputs.mkdir()
    star_field(inputs / 'image-1.fits', n_stars=20)
    output = tmp_path / 'out'
    config = sextractor_config(tmp_path, inputs, output)
    text = open(config).read().replace('VERBOSE = False', 'VERBOSE = False\nRUN_DATETIME = False')
    write_config(config, text)
    assert run_main(config, capsys)[0] == 0
    sex_out = module_output(output)
    before = {name: open(os.path.join(sex_out, name), 'rb').read() for name in os.listdir(sex_out)}
    fake = fake_executable(tmp_path / 'fake_sex',
                           PARTIAL_SEX.format(marker=tmp_path / 'marker', then='exit 3'))
    write_config(config, text + f'EXEC_PATH = {fake}\n')
    assert run_main(config, capsys)[0] == 1
    after = {name: open(os.path.join(sex_out, name), 'rb').read() for name in os.listdir(sex_out)}
    assert after == before and len(before) == 2


def start_with_hanging_sextractor(tmp_path):
    """Start shapepipe_run in its own process group; return once Source Extractor
    (a stand-in) has written part of its outputs and hangs."""
    inputs = tmp_path / 'in'
    inputs.mkdir()
    star_field(inputs / 'image-1.fits', n_stars=5)
    marker = tmp_path / 'marker'
    fake = fake_executable(tmp_path / 'fake_sex', PARTIAL_SEX.format(marker=marker,
                                                                      then='exec sleep 30'))
    output = tmp_path / 'out'
    config = sextractor_config(tmp_path, inputs, output, sextractor_extra=f'EXEC_PATH = {fake}')
    proc = subprocess.Popen([os.path.join(BIN, 'shapepipe_run'), '-c', config], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + 30
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists()
    return proc, output


def test_ctrl_c_during_sextractor_leaves_no_output(tmp_path):
    proc, output = start_with_hanging_sextractor(tmp_path)
    os.killpg(proc.pid, signal.SIGINT)               # Ctrl-C reaches the whole group
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert 'Traceback' not in err
    assert os.listdir(module_output(output)) == []
    assert temporary_leftovers(output) == []


def test_killed_job_leaves_only_hidden_temporaries_that_inputs_ignore(tmp_path):
    """SIGKILL cannot be handled: the partial files keep their temporary names,
    which no input pattern matches, so the next module never reads them."""
    proc, output = start_with_hanging_sextractor(tmp_path)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    sex_out = module_output(output)
    left = sorted(os.listdir(sex_out))
    assert len(left) == 2 and all(name.startswith('.') and '.part' in name for name in left)
    for pattern in ('sexcat', 'background'):
        assert find_pattern_files([sex_out], pattern, '.fits', r'\-\d+').files == {}


def test_failed_psfex_leaves_no_output(tmp_path, capsys):
    inputs = tmp_path / 'in'
    inputs.mkdir()
    catalog = fits.BinTableHDU.from_columns([
        fits.Column('VIGNET', '2601E', dim='(51,51)', array=np.zeros((20, 51, 51), 'f4'))])
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU(), catalog]).writeto(
        inputs / 'star_selection-1.fits')
    # Writes a partial model where PSFEx would (PSF_DIR), then fails.
    fake = fake_executable(tmp_path / 'fake_psfex', '''
        case "$1" in --version|-v) echo "fake 1.0"; exit 0;; esac
        while [ $# -gt 0 ]; do [ "$1" = -PSF_DIR ] && dir="$2"; shift; done
        head -c 2880 /dev/zero > "$dir/star_selection-1.psf"
        exit 2
        ''')
    output = tmp_path / 'out'
    config = write_config(tmp_path / 'config.ini', f'''
        [DEFAULT]
        VERBOSE = False
        [EXECUTION]
        MODULE = psfex_runner
        [FILE]
        INPUT_DIR = {inputs}
        OUTPUT_DIR = {output}
        [PSFEX_RUNNER]
        NUMBERING_SCHEME = -0
        EXEC_PATH = {fake}
        DOT_PSFEX_FILE = {GOLD}/default.psfex
        ''')
    status, lines, _ = run_main(config, capsys)
    assert status == 1 and lines == []
    assert 'exited with status 2' in main_log(output)
    assert os.listdir(module_output(output, 'psfex_runner')) == []


def _mosaic(path, n_ccd, truncate=0):
    hdus = [fits.PrimaryHDU()]
    rng = np.random.default_rng(5)
    for ccd in range(n_ccd):
        hdus.append(fits.CompImageHDU(rng.normal(size=(64, 32)).astype(np.float32),
                                      header=ccd_header(ccd, 220.0, 51.0)))
    fits.HDUList(hdus).writeto(path)
    if truncate:
        data = open(path, 'rb').read()
        open(path, 'wb').write(data[:len(data) - truncate])


def test_split_exp_truncated_last_hdu_leaves_no_ccd_file(tmp_path, capsys):
    inputs = tmp_path / 'in'
    inputs.mkdir()
    for number, bad in (('2000001', False), ('2000002', True)):
        _mosaic(inputs / f'image-{number}.fitsfz', 3)
        _mosaic(inputs / f'weight-{number}.fitsfz', 3, truncate=2880 if bad else 0)
        _mosaic(inputs / f'flag-{number}.fitsfz', 3)
    output = tmp_path / 'out'
    config = write_config(tmp_path / 'config.ini', f'''
        [DEFAULT]
        VERBOSE = False
        [EXECUTION]
        MODULE = split_exp_runner
        [FILE]
        INPUT_DIR = {inputs}
        OUTPUT_DIR = {output}
        [SPLIT_EXP_RUNNER]
        OUTPUT_SUFFIX = image, weight, flag
        N_HDU = 3
        ''')
    status, lines, _ = run_main(config, capsys)
    assert status == 1 and lines == []
    errors = [line for line in main_log(output).splitlines() if 'ERROR' in line]
    assert len(errors) == 1
    assert f'{inputs}/weight-2000002.fitsfz: HDU 3 cannot be read' in errors[0]
    assert 'corrupt or truncated' in errors[0]
    # Exposure 2000001 complete; nothing of 2000002, not even its image CCDs.
    names = sorted(os.listdir(module_output(output, 'split_exp_runner')))
    assert names == sorted([f'{kind}-2000001-{ccd}.fits' for kind in ('image', 'weight', 'flag')
                            for ccd in range(3)] + ['headers-2000001.npy'])


def test_python_writer_on_a_full_disk_keeps_the_old_file(tmp_path):
    path = tmp_path / 'cat.fits'
    fits.PrimaryHDU(np.ones(10)).writeto(path)
    before = path.read_bytes()

    def half_then_full(tmp):
        with open(tmp, 'wb') as handle:
            handle.write(before[:100])
        raise OSError(errno.ENOSPC, 'No space left on device')

    with pytest.raises(OSError, match='No space left'):
        with atomic_path(path) as tmp:
            half_then_full(tmp)
    assert path.read_bytes() == before and files_under(tmp_path) == ['cat.fits']


def test_atomic_group_is_all_or_nothing(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with atomic_group() as group:
            for n in range(3):
                open(group.temporary(tmp_path / f'ccd-{n}.fits'), 'w').write('x')
            raise KeyboardInterrupt
    assert files_under(tmp_path) == []
    with pytest.raises(FileNotFoundError, match='b.txt was not written'):
        with atomic_paths([tmp_path / 'a.txt', tmp_path / 'b.txt']) as (a, b):
            open(a, 'w').write('a')
    assert files_under(tmp_path) == []
    with atomic_paths([tmp_path / 'a b,c.txt', tmp_path / 'd.txt']) as temps:
        assert all(' ' not in os.path.basename(t) and ',' not in t for t in temps)
        for tmp in temps:
            open(tmp, 'w').write('ok')
    assert files_under(tmp_path) == ['a b,c.txt', 'd.txt']


@pytest.fixture
def small_disk(tmp_path):
    """A 24 MiB tmpfs (as root): a real file system that can be filled."""
    mount_point = tmp_path / 'small disk'
    mount_point.mkdir()
    subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', str(mount_point)],
                   check=True)
    try:
        yield mount_point
    finally:
        subprocess.run(['umount', '-l', str(mount_point)], check=True)


@pytest.mark.skipif(os.geteuid() != 0, reason='mounting a tmpfs needs root')
def test_disk_filling_up_during_sextractor(tmp_path, small_disk, capsys):
    """Another process fills the disk just before Source Extractor writes: its
    outputs fail (ENOSPC), nothing appears under a final name, and the logs that
    cannot be written any more give one line, not a traceback per message."""
    inputs = tmp_path / 'in'
    inputs.mkdir()
    star_field(inputs / 'image-1.fits', n_stars=20)
    fill = small_disk / 'other process.dat'
    wrapper = fake_executable(tmp_path / 'filling_sex', f'''
        case "$1" in --version|-v) exec source-extractor "$@";; esac
        dd if=/dev/zero of="{fill}" bs=1M count=64 2>/dev/null
        exec source-extractor "$@"
        ''')
    output = small_disk / 'output'
    config = sextractor_config(tmp_path, inputs, output, sextractor_extra=f'EXEC_PATH = {wrapper}')
    monkey_reported = OneLineFileHandler.reported
    OneLineFileHandler.reported = False
    try:
        status, lines, _ = run_main(config, capsys)
    finally:
        OneLineFileHandler.reported = monkey_reported
    assert status == 1
    # A log whose last block is full fails too: at most one line, never a traceback.
    assert len(lines) <= 1 and all('No space left on device' in line for line in lines)
    assert not any('Traceback' in line or 'Logging error' in line for line in lines)
    assert os.listdir(module_output(output)) == []
    assert temporary_leftovers(output) == []
    # The job's one-line error is in the main log, unless that log is what failed.
    assert '*Error* while writing .sexcat-1.' in main_log(output) or lines
