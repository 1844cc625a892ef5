"""Twin (+g/-g) simulated fields run through the whole GOLD chain.

Each field pair shares the simulator seed (same galaxies, stars, masks,
exposures, PSFs and pixel noise; galaxies in 90-degree rotated pairs) and
differs only in the sign of the shear. Each field is processed exactly as
data: ``config_prepare.ini``, ``config_exp.ini`` (PSFEx, star selection) and
``config_tile_branch.ini`` (detection, PSFs, stamps, ngmix, make_cat), the
last one once per measurement variant (e.g. ``NEIGHBOUR_MASK = none``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
import configparser
import glob
import os
import subprocess
import sys

from shapepipe.errors import ShapePipeError
from shapepipe.simulation.simulate import settings_for, simulate

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOLD = os.path.join(REPO, 'example', 'GOLD')
BIN = os.path.dirname(sys.executable)
SIGNS = ('plus', 'minus')


def field_dir(out_dir: str, pair: int, sign: str) -> str:
    """Run directory of one field of a pair."""
    return os.path.join(out_dir, f'pair{pair:03d}', sign)


def variant_config(sp_run: str, name: str, ngmix_options: Mapping[str, str]) -> str:
    """``config_tile_branch.ini`` with [NGMIX_RUNNER] options replaced, written in ``sp_run``."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read(os.path.join(GOLD, 'config_tile_branch.ini'))
    parser['DEFAULT']['RUN_NAME'] = f'run_sp_tile_{name}'
    for key, value in ngmix_options.items():
        parser['NGMIX_RUNNER'][key] = str(value)
    path = os.path.join(sp_run, f'config_tile_{name}.ini')
    with open(path, 'w') as handle:
        parser.write(handle)
    return path


MPI_ENV_PREFIXES = ('PMI', 'OMPI_', 'MPI_LOCAL', 'HYDRA_', 'HYDI_', 'MPIR_', 'PMIX')


def child_env(**extra: str) -> dict[str, str]:
    """This process's environment without mpiexec's variables (a shapepipe_run started by an
    MPI rank must not take itself for an MPI job), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(MPI_ENV_PREFIXES)}
    env.update(extra)
    return env


def _run(sp_run, config, env):
    result = subprocess.run([os.path.join(BIN, 'shapepipe_run'), '-c', config], cwd=sp_run,
                            env=env, capture_output=True, text=True)
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).strip().splitlines()[-5:]
        raise ShapePipeError(f'{sp_run}: shapepipe_run -c {os.path.basename(config)} failed: '
                             + ' | '.join(tail))


def _final_catalogue(sp_run, name):
    runs = sorted(glob.glob(os.path.join(sp_run, 'output', f'run_sp_tile_{name}_[0-9]*')))
    found = glob.glob(os.path.join(runs[-1], 'make_cat_runner', 'output',
                                   'final_cat*.fits')) if runs else []
    return found[0] if found else None


def run_field(out_dir: str, pair: int, sign: str, shear: Sequence[float], seed: int,
              variants: Mapping[str, Mapping[str, str]], preset: str = 'test',
              sim_overrides: Mapping[str, Any] | None = None,
              reuse: bool = False) -> dict[str, str]:
    """Simulate one field and run the chain; returns {variant: final catalogue path}.

    ``variants`` maps a name to [NGMIX_RUNNER] options, e.g.
    ``{'uberseg': {}, 'nomask': {'NEIGHBOUR_MASK': 'none'}}``. With ``reuse``,
    a field whose exposure branch has run (``done`` file) is not simulated
    again and a variant with a final catalogue is not run again: new
    variants are measured on the same simulations.
    """
    sp_run = field_dir(out_dir, pair, sign)
    done = os.path.join(sp_run, 'exposure_branch.done')
    if reuse and os.path.exists(done):
        n_hdu = open(done).read().strip()
        env = child_env(SP_RUN=sp_run, SP_CONFIG=GOLD, SP_N_HDU=n_hdu,
                        PATH=BIN + os.pathsep + os.environ['PATH'])
        catalogues = {}
        for name, options in variants.items():
            path = _final_catalogue(sp_run, name)
            if path is None:
                _run(sp_run, variant_config(sp_run, name, options), env)
                path = _final_catalogue(sp_run, name)
            if path is None:
                raise ShapePipeError(f'{sp_run}: variant {name} wrote no final_cat*.fits')
            catalogues[name] = path
        return catalogues
    os.makedirs(sp_run, exist_ok=True)
    factor = 1.0 if sign == 'plus' else -1.0
    settings = settings_for(preset, seed=seed, g1=factor * shear[0], g2=factor * shear[1],
                            rotated_pairs=True, n_jobs=1, **(sim_overrides or {}))
    simulate(sp_run, settings, overwrite=True, log=lambda *_: None)
    n_hdu = str(len(settings.ccds))
    env = child_env(SP_RUN=sp_run, SP_CONFIG=GOLD, SP_N_HDU=n_hdu,
                    PATH=BIN + os.pathsep + os.environ['PATH'])
    for config in ('config_prepare.ini', 'config_exp.ini'):
        _run(sp_run, os.path.join(GOLD, config), env)
    with open(done, 'w') as handle:
        handle.write(n_hdu + '\n')
    catalogues = {}
    for name, options in variants.items():
        _run(sp_run, variant_config(sp_run, name, options), env)
        catalogues[name] = _final_catalogue(sp_run, name)
        if catalogues[name] is None:
            raise ShapePipeError(f'{sp_run}: variant {name}: make_cat_runner wrote no '
                                 f'final_cat*.fits')
    return catalogues
