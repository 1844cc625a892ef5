"""Fixtures for the pipeline-core tests: the toy pipeline in a temporary dir."""

import os
import shutil

import pytest

from tests.conftest import BIN, REPO, run_shapepipe  # noqa: F401 (imported by the tests)


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
