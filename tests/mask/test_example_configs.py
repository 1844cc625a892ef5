"""The example configs of mask and setools validate against the runners' declarations."""

import os

import pytest

from shapepipe.modules.mask_runner import mask_runner
from shapepipe.modules.setools_runner import setools_runner
from shapepipe.pipeline.config import load_config

GOLD = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), 'example', 'GOLD')


@pytest.mark.parametrize('name, runner, section', [
    ('config_mask.ini', mask_runner, 'MASK_RUNNER'),
    ('config_mask_tile.ini', mask_runner, 'MASK_RUNNER'),
    ('config_setools.ini', setools_runner, 'SETOOLS_RUNNER'),
])
def test_example_config_validates(monkeypatch, tmp_path, name, runner, section):
    monkeypatch.setenv('SP_CONFIG', GOLD)
    monkeypatch.setenv('SP_RUN', str(tmp_path))
    config = load_config(os.path.join(GOLD, name))
    config.validate_pipeline_sections()
    assert config.pipeline('EXECUTION', 'MODULE') == [runner.__name__]
    values = config.validate_module_section(section, runner.runner_info.options)
    path_key = 'MASK_CONFIG_PATH' if runner is mask_runner else 'SETOOLS_CONFIG_PATH'
    assert os.path.isfile(values[path_key])
