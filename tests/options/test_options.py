"""The one option-declaration system: ignored keys, settings from declarations,
the mask config on it, and the generated key tables of docs/."""

import dataclasses
import logging

import pytest

from shapepipe.commands.option_docs import main as option_docs_main, render
from shapepipe.errors import ConfigError
from shapepipe.modules.ngmix_package.measure import Settings
from shapepipe.modules.ngmix_runner import ngmix_runner
from shapepipe.options import Option, build_settings, markdown_table, read_options
from shapepipe.pipeline import options as old_path


def test_old_import_path_is_the_same_system():
    assert old_path.Option is Option and old_path.read_options is read_options


def test_ignored_option_is_accepted_with_a_warning(caplog):
    declared = [Option('KEPT', 'int', 1, 'a key'),
                Option('OLD', 'float', doc='ShapePipe key', ignored='the WCS gives it')]
    with caplog.at_level(logging.WARNING, logger='shapepipe.config'):
        values = read_options(declared, {'OLD': 'not even a number'}, 'c.ini [X] ')
    assert values == {'KEPT': 1, 'OLD': None}
    assert caplog.messages == ['c.ini [X] OLD = not even a number is accepted and ignored: '
                               'the WCS gives it']
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger='shapepipe.config'):
        read_options(declared, {'KEPT': '3'}, '')
    assert caplog.messages == []          # no warning when the ignored key is not set
    assert declared[1].template_lines()[1].startswith('# OLD')


def test_ngmix_settings_are_built_from_the_declarations():
    declared = ngmix_runner.runner_info.options
    values = read_options(declared, {'LOG_WCS': 'x', 'METACAL_STEP': '0.02', 'NTRY': '5',
                                     'PIXEL_SCALE': '0.2'}, '')
    settings = build_settings(Settings, declared, values)
    assert settings == dataclasses.replace(Settings(), step=0.02, ntry=5)
    defaults = build_settings(Settings, declared, read_options(declared, {'LOG_WCS': 'x'}, ''))
    assert defaults == Settings()         # the declared defaults are the dataclass's own
    by_name = {opt.name: opt for opt in declared}
    assert by_name['PIXEL_SCALE'].ignored and by_name['MAG_ZP'].default == Settings.mag_zp
    with pytest.raises(ValueError, match='no field'):
        Option.for_field(Settings, 'nothing', 'X')


def test_markdown_table_escapes_and_marks_ignored_and_required():
    table = markdown_table([Option('A', 'str', doc='x | y'), Option('B', ignored='why'),
                            Option('C', 'list', ['u', 'v'], 'c')])
    lines = table.splitlines()
    assert lines[2] == '| `A` | str | required | x \\| y |'
    assert lines[3].startswith('| `B` | str | ignored |') and 'why' in lines[3]
    assert lines[4] == '| `C` | list | u, v | c |'


def test_render_replaces_only_between_markers():
    text = ('intro\n<!-- BEGIN option-table runner:ngmix_runner -->\nold\n'
            '<!-- END option-table -->\nafter\n')
    out = render(text)
    assert out.startswith('intro\n<!-- BEGIN')
    assert out.endswith('<!-- END option-table -->\nafter\n')
    assert '| `METACAL_STEP` | float | 0.01 |' in out and 'old' not in out
    assert render(out) == out
    with pytest.raises(ValueError, match='unknown option-table'):
        render('<!-- BEGIN option-table nothing -->\n<!-- END option-table -->')


def test_docs_key_tables_match_the_declarations(capsys):
    """Fails when a declaration changed and `make docs` was not run."""
    status = option_docs_main(['--check'])
    assert status == 0, capsys.readouterr().out


def test_mask_config_keys_use_the_option_system(tmp_path, caplog):
    from shapepipe.modules.mask_package.config_file import SECTIONS, read_mask_config
    assert all(isinstance(key, Option) for keys in SECTIONS.values() for key in keys)
    path = tmp_path / 'a.mask'
    path.write_text('[PROGRAM_PATH]\nWW_PATH = ww\n[BORDER_PARAMETERS]\nBORDER_MAKE = yes\n'
                    'BORDER_WIDTH = 7\n')
    with caplog.at_level(logging.WARNING, logger='shapepipe.config'):
        config = read_mask_config(str(path))
    assert config['BORDER_PARAMETERS'] == {'BORDER_MAKE': True, 'BORDER_WIDTH': 7,
                                           'BORDER_FLAG_VALUE': 4}
    assert config['PROGRAM_PATH']['WW_PATH'] is None
    assert len(caplog.messages) == 1 and 'WW_PATH' in caplog.messages[0]
    path.write_text('[BORDER_PARAMETERS]\nBORDER_MAKE = maybe\n')
    with pytest.raises(ConfigError, match='BORDER_MAKE.*expected bool'):
        read_mask_config(str(path))
    path.write_text('[BORDER_PARAMETERS]\nHALO_MAKE = True\n')
    with pytest.raises(ConfigError, match=r'belongs in \[HALO_PARAMETERS\]'):
        read_mask_config(str(path))
    path.write_text('[BORDER_PARAMETERS]\nHALO_MAKES = True\n')
    with pytest.raises(ConfigError, match=r'did you mean HALO_MAKE in \[HALO_PARAMETERS\]'):
        read_mask_config(str(path))
