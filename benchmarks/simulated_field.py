"""Shared by the benchmarks: a simulated field and the pipeline run on it."""

import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
GOLD = os.path.join(REPO, 'example', 'GOLD')


def pipeline_env(sp_run, n_hdu='4'):
    """Environment of a run in ``sp_run`` with the example configs ($SP_RUN, $SP_CONFIG)."""
    return dict(os.environ, SP_RUN=sp_run, SP_CONFIG=GOLD, SP_N_HDU=n_hdu,
                PATH=BIN + os.pathsep + os.environ['PATH'])


def simulate(sp_run, preset='demo', n_hdu='4'):
    """``shapepipe_simulate --preset`` into ``sp_run``; returns the run environment."""
    env = pipeline_env(sp_run, n_hdu)
    subprocess.run([os.path.join(BIN, 'shapepipe_simulate'), '-o', sp_run, '--preset', preset,
                    '--overwrite'], check=True, env=env, stdout=subprocess.DEVNULL)
    return env


def run_configs(sp_run, env, configs=('config_prepare.ini', 'config_exp.ini')):
    """``shapepipe_run`` on example configs in ``sp_run``, in order; each must succeed."""
    for config in configs:
        subprocess.run([os.path.join(BIN, 'shapepipe_run'), '-c', os.path.join(GOLD, config)],
                       check=True, env=env, cwd=sp_run, stdout=subprocess.DEVNULL)
