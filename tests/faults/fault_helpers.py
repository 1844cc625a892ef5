"""Helpers of the input/config/environment fault tests (owned by these tests)."""

import contextlib
import os
import subprocess
import sys
import textwrap

import numpy as np
from astropy.io import fits

from shapepipe.io.atomic import is_temporary_name
from shapepipe.pipeline import run as run_module

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOLD = os.path.join(REPO, 'example', 'GOLD')
BIN = os.path.dirname(sys.executable)


def write_config(path, text):
    """Write a config file from indented text; return its path as str."""
    path = os.fspath(path)
    with open(path, 'w') as handle:
        handle.write(textwrap.dedent(text).lstrip())
    return path


def toy_config(tmp_path, extra='', module='python_example_runner', execution='',
               output_dir=None, job='', file_extra=''):
    """A config of the toy modules reading text files made in ``tmp_path/data``."""
    data = tmp_path / 'data'
    data.mkdir(exist_ok=True)
    for number in (1, 2):
        (data / f'numbers_{number}.txt').write_text(f'{number}\n')
        (data / f'letters_{number}.txt').write_text('ab'[number - 1] + '\n')
    output_dir = output_dir or str(tmp_path / 'output')
    text = (f'[DEFAULT]\nVERBOSE = False\n[EXECUTION]\nMODULE = {module}\n{execution}\n'
            f'[FILE]\nINPUT_DIR = {data}\nOUTPUT_DIR = {output_dir}\n{file_extra}\n'
            f'[JOB]\nSMP_BATCH_SIZE = 1\n{job}\n'
            f'[PYTHON_EXAMPLE_RUNNER]\nMESSAGE = value:\n{extra}')
    return write_config(tmp_path / 'config.ini', text)


def run_main(config_path, capsys):
    """Run ``shapepipe_run -c config`` in this process: (status, stderr lines, stdout)."""
    status = run_module.main(['-c', os.fspath(config_path)])
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    return status, lines, captured.out


def assert_one_error_line(status, lines, *fragments, expected_status=2):
    """Exit status, exactly one stderr line, no traceback, the line names ``fragments``."""
    assert status == expected_status, lines
    assert len(lines) == 1, lines
    assert 'Traceback' not in lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


@contextlib.contextmanager
def read_only(path):
    """Make ``path`` unwritable, also for root: ``chattr +i`` as root, chmod otherwise."""
    path = os.fspath(path)
    if os.geteuid() == 0:
        subprocess.run(['chattr', '+i', path], check=True)
        try:
            yield path
        finally:
            subprocess.run(['chattr', '-i', path], check=True)
    else:
        mode = os.stat(path).st_mode
        os.chmod(path, 0o555 if os.path.isdir(path) else 0o444)
        try:
            yield path
        finally:
            os.chmod(path, mode)


def files_under(directory):
    """Every file below ``directory`` (relative paths, sorted)."""
    found = []
    for root, _, names in os.walk(directory):
        found += [os.path.relpath(os.path.join(root, n), directory) for n in names]
    return sorted(found)


def temporary_leftovers(directory):
    """Temporary (``.part``) files or directories left below ``directory``."""
    left = []
    for root, dirs, names in os.walk(directory):
        left += [os.path.join(root, n) for n in names + dirs if is_temporary_name(n)]
    return left


def star_field(path, n_stars=60, size=400, seed=3, header=None):
    """A small CCD image of Gaussian stars on noise (Source Extractor and PSFEx
    input), with its flag map ``flag-N.fits`` (all zero) beside it."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size]
    image = rng.normal(0.0, 5.0, (size, size))
    sigma = 1.6
    for _ in range(n_stars):
        x0, y0 = rng.uniform(30, size - 30, 2)
        flux = rng.uniform(2e4, 1e5)
        image += flux / (2 * np.pi * sigma**2) * np.exp(
            -((x - x0) ** 2 + (y - y0) ** 2) / (2 * sigma**2))
    hdr = fits.Header()
    hdr['GAIN'] = 1.0
    hdr['SATURATE'] = 1e9
    for key, value in (header or {}).items():
        hdr[key] = value
    fits.PrimaryHDU(image.astype(np.float32), header=hdr).writeto(path)
    flag = os.path.join(os.path.dirname(path), os.path.basename(path).replace('image', 'flag'))
    fits.PrimaryHDU(np.zeros((size, size), np.int16)).writeto(flag)
    return path


def sextractor_config(tmp_path, input_dir, output_dir, sextractor_extra='', job='',
                      modules='sextractor_runner', more='', sex_dir=None):
    """A config running Source Extractor on ``image-N.fits`` and ``flag-N.fits``
    files of ``input_dir``."""
    sex = sex_dir or os.path.join(GOLD, 'sextractor_default')
    text = (f'[DEFAULT]\nVERBOSE = False\n[EXECUTION]\nMODULE = {modules}\n'
            f'[FILE]\nINPUT_DIR = {input_dir}\nOUTPUT_DIR = {output_dir}\n'
            f'[JOB]\nSMP_BATCH_SIZE = 1\n{job}\n'
            f'[SEXTRACTOR_RUNNER]\nFILE_PATTERN = image, flag\nFILE_EXT = .fits\n'
            f'FLAG_IMAGE = True\n'
            f'NUMBERING_SCHEME = -0\n'
            f'DOT_SEX_FILE = {sex}/default_exp.sex\nDOT_PARAM_FILE = {sex}/default.param\n'
            f'DOT_CONV_FILE = {sex}/default.conv\nCHECKIMAGE = BACKGROUND\n'
            f'{sextractor_extra}\n{more}')
    return write_config(tmp_path / 'config.ini', text)


def fake_executable(path, body):
    """A shell script standing in for an executable (it gets the same arguments)."""
    path = os.fspath(path)
    with open(path, 'w') as handle:
        handle.write('#!/bin/sh\n' + textwrap.dedent(body))
    os.chmod(path, 0o755)
    return path


def run_dir_of(output_dir):
    """The one run directory under ``output_dir``."""
    runs = [d for d in os.listdir(output_dir) if os.path.isdir(os.path.join(output_dir, d))]
    assert len(runs) == 1, runs
    return os.path.join(output_dir, runs[0])


def main_log(output_dir):
    """The text of the main log of the one run under ``output_dir``."""
    with open(os.path.join(run_dir_of(output_dir), 'logs', 'shapepipe.log')) as handle:
        return handle.read()
