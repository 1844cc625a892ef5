"""Shared test helpers and fixtures: the repository and venv paths, running
``shapepipe_run`` in a subprocess, and the simulated field taken through the
exposure branch (one per test session: the exposure, tile and regression tests
share it)."""

import glob
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
"""The repository root."""
BIN = os.path.dirname(sys.executable)
"""The venv's ``bin/`` (``shapepipe_run``, ``mpiexec``)."""
GOLD = os.path.join(REPO, 'example', 'GOLD')


def tool_env(**env):
    """``os.environ`` with the venv's ``bin/`` first on ``PATH``, plus ``env``."""
    full = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get('PATH', ''))
    full.update(env)
    return full


def run_shapepipe(args, cwd, env=None, timeout=120):
    """Run ``shapepipe_run`` in a subprocess; return the CompletedProcess."""
    return subprocess.run(
        [os.path.join(BIN, 'shapepipe_run')] + list(args), cwd=cwd, env=tool_env(**(env or {})),
        capture_output=True, text=True, timeout=timeout,
    )


def run_config(sp_run, config, **env):
    """Run ``shapepipe_run`` on an example/GOLD config in ``sp_run``; it must succeed."""
    result = run_shapepipe(['-c', os.path.join(GOLD, config)], sp_run, timeout=600,
                           env=dict(SP_RUN=str(sp_run), SP_CONFIG=GOLD, **env))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr


def latest_run(sp_run, prefix):
    """The newest run directory ``$SP_RUN/output/<prefix>*``."""
    return sorted(glob.glob(str(sp_run / 'output' / f'{prefix}*')))[-1]


@pytest.fixture(scope='session')
def branch(tmp_path_factory):
    """The ``test`` preset field (seed 3) after config_prepare.ini and config_exp.ini.

    Returns ``(sp_run, exposure run directory, truth table, exposure table)``.
    """
    from astropy.io import fits

    from shapepipe.commands.simulate import main as simulate_main

    sp_run = tmp_path_factory.mktemp('exp') / 'run'
    assert simulate_main(['-o', str(sp_run), '--preset', 'test', '--seed', '3']) == 0
    for config in ('config_prepare.ini', 'config_exp.ini'):
        run_config(sp_run, config, SP_N_HDU='1')
    run_dir = glob.glob(str(sp_run / 'output' / 'run_sp_exp_*'))[0]
    truth = fits.getdata(sp_run / 'truth.fits', 'TRUTH')
    meta = fits.getdata(sp_run / 'truth.fits', 'EXPOSURES')
    return sp_run, run_dir, truth, meta
