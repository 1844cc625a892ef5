"""Every config a user copies from example/ validates against the runners'
declared options (keys, types, sections), before any file is needed."""

import glob
import os

import pytest

from shapepipe.pipeline.config import load_config
from shapepipe.pipeline.module_registry import load_runner
from shapepipe.pipeline.plan import ModuleProperties, plan_module_runs

from tests.conftest import REPO

CONFIGS = sorted(glob.glob(os.path.join(REPO, 'example', 'GOLD', '*.ini'))) + [
    os.path.join(REPO, 'example', 'config.ini')]


@pytest.mark.parametrize('path', CONFIGS, ids=os.path.basename)
def test_config_validates(path, monkeypatch):
    monkeypatch.setenv('SP_RUN', '/tmp/sp_run')
    monkeypatch.setenv('SP_CONFIG', os.path.join(REPO, 'example', 'GOLD'))
    monkeypatch.setenv('SP_N_HDU', '4')
    config = load_config(path)
    config.validate_pipeline_sections()
    runs = plan_module_runs(config.pipeline('EXECUTION', 'MODULE'))
    assert runs
    for run in runs:
        run.info = load_runner(run.runner).runner_info
        config.validate_module_section(run.section, run.info.options)
        props = ModuleProperties(config, run)
        assert props.patterns, f'{run.name}: no file pattern'
