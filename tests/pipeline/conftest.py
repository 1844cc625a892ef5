"""Fixtures for the pipeline-core tests: the toy pipeline in a temporary dir."""

import os
import shutil
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)


def run_shapepipe(args, cwd, env=None, timeout=120):
    """Run ``shapepipe_run`` in a subprocess; return the CompletedProcess."""
    full_env = dict(os.environ)
    full_env['PATH'] = BIN + os.pathsep + full_env.get('PATH', '')
    full_env.update(env or {})
    return subprocess.run(
        [os.path.join(BIN, 'shapepipe_run')] + list(args), cwd=cwd, env=full_env,
        capture_output=True, text=True, timeout=timeout,
    )


@pytest.fixture
def toy(tmp_path):
    """A copy of the toy pipeline's data and config in ``tmp_path``."""
    shutil.copytree(os.path.join(REPO, 'example', 'data'), tmp_path / 'example' / 'data')
    shutil.copy(os.path.join(REPO, 'example', 'config.ini'), tmp_path / 'config.ini')
    return tmp_path


def newest_run(output_dir):
    """The newest run directory under ``output_dir``."""
    runs = sorted(d for d in os.listdir(output_dir)
                  if d.startswith('shapepipe_run') and os.path.isdir(os.path.join(output_dir, d)))
    return os.path.join(output_dir, runs[-1])
