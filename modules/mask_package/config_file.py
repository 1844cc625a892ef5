"""Read and validate a ``.mask`` configuration file.

The file has ShapePipe's sections and key names (``[BORDER_PARAMETERS]
BORDER_WIDTH`` ...). Every key is declared once below with its type and
default; unknown keys are an error with a did-you-mean suggestion. Keys that
only drove ShapePipe's external tools (WeightWatcher paths, region-file names,
temporary directory) are accepted and ignored: masks are rasterised in Python
and no temporary files are written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
import configparser
import difflib
import os

from shapepipe.errors import ConfigError
from shapepipe.options import Option, read_options, suggest

if TYPE_CHECKING:
    import logging

#: Keys naming a file, taken relative to the ``.mask`` file's directory.
PATH_KEYS = ('HALO_MASKMODEL_PATH', 'SPIKE_MASKMODEL_PATH', 'MESSIER_CAT_PATH', 'NGC_CAT_PATH')

NOT_NEEDED = 'masks are rasterised in Python, without external tools or temporary files'


def _ignored(name, doc, reason=NOT_NEEDED):
    """A ShapePipe key we do not need: accepted, a warning when set."""
    return Option(name, doc=doc, ignored=reason)


def _bright_star_keys(prefix, what, mag_lim, scale_factor, flag_value):
    """The keys of [HALO_PARAMETERS] or [SPIKE_PARAMETERS]."""
    return [
        Option(f'{prefix}_MAKE', 'bool', False, f'flag {what} of bright stars'),
        Option(f'{prefix}_MASKMODEL_PATH', 'str', None,
               f'polygon template of the {what} at {prefix}_MAG_PIVOT'),
        Option(f'{prefix}_MAG_LIM', 'float', mag_lim,
               f'only stars brighter than this get a {what} mask'),
        Option(f'{prefix}_SCALE_FACTOR', 'float', scale_factor,
               f'template scale is 1 - {prefix}_SCALE_FACTOR * (mag - {prefix}_MAG_PIVOT)'),
        Option(f'{prefix}_MAG_PIVOT', 'float', 13.8,
               'magnitude at which the template is used as is'),
        Option(f'{prefix}_FLAG_VALUE', 'int', flag_value, f'flag value of {what} pixels'),
        Option(f'{prefix}_REG_FILE', doc='ShapePipe region-file name (ignored)',
               ignored=NOT_NEEDED),
    ]


#: Declared keys per section.
SECTIONS = {
    'PROGRAM_PATH': [
        Option('CDSCLIENT_PATH', 'str', 'findgsc2.2',
               'CDS client queried for GSC 2.2 stars when USE_EXT_STAR = False'),
        _ignored('WW_PATH', 'WeightWatcher executable'),
        _ignored('WW_CONFIG_FILE', 'WeightWatcher config'),
        _ignored('STAR_CAT', 'old spelling of the star catalogue input',
                 'the star catalogue is an input file of mask_runner (USE_EXT_STAR = True)'),
    ],
    'BORDER_PARAMETERS': [
        Option('BORDER_MAKE', 'bool', False, 'flag a border of BORDER_WIDTH pixels'),
        Option('BORDER_WIDTH', 'int', 0, 'border width in pixels'),
        Option('BORDER_FLAG_VALUE', 'int', 4, 'flag value of border pixels'),
    ],
    'HALO_PARAMETERS': _bright_star_keys('HALO', 'halos', 13.0, 0.05, 2),
    'SPIKE_PARAMETERS': _bright_star_keys('SPIKE', 'diffraction spikes', 18.0, 0.3, 128),
    'MESSIER_PARAMETERS': [
        Option('MESSIER_MAKE', 'bool', False, 'flag discs around Messier objects'),
        Option('MESSIER_CAT_PATH', 'str', None, 'Messier catalogue (FITS table or ECSV)'),
        Option('MESSIER_SIZE_PLUS', 'float', 0.0, 'fractional increase of the disc radius'),
        Option('MESSIER_FLAG_VALUE', 'int', 16, 'flag value of Messier pixels'),
        _ignored('MESSIER_PIXEL_SCALE', 'old pixel-scale key', 'the WCS gives the pixel scale'),
    ],
    'NGC_PARAMETERS': [
        Option('NGC_MAKE', 'bool', False, 'flag discs around NGC objects'),
        Option('NGC_CAT_PATH', 'str', None, 'NGC catalogue (FITS table or ECSV)'),
        Option('NGC_SIZE_PLUS', 'float', 0.0, 'fractional increase of the disc radius'),
        Option('NGC_FLAG_VALUE', 'int', 32, 'flag value of NGC pixels'),
    ],
    'MD_PARAMETERS': [
        Option('MD_MAKE', 'bool', False,
               'flag missing data (image value 0 or weight 0) and record its fraction'),
        Option('MD_THRESH_FLAG', 'float', 0.3,
               'missing fraction from which the image is marked flagged (header MFLAG)'),
        Option('MD_THRESH_REMOVE', 'float', 0.75,
               'missing fraction from which the image is removed (with MD_REMOVE)'),
        Option('MD_REMOVE', 'bool', False, 'skip images whose missing fraction >= MD_THRESH_REMOVE'),
        Option('MD_FLAG_VALUE', 'int', 1024, 'flag value of missing-data pixels (shapepipe)'),
    ],
    'EXTERNAL_FLAG': [
        Option('EF_MAKE', 'bool', True, 'merge the input flag file (bitwise or) when one is given'),
    ],
    'OTHER': [
        _ignored('TEMP_DIRECTORY', 'ShapePipe temporary directory'),
        _ignored('KEEP_REG_FILE', 'ShapePipe region files'),
        _ignored('KEEP_INDIVIDUAL_MASK', 'ShapePipe individual masks'),
    ],
}

_KEY_SECTION = {key.name: section for section, keys in SECTIONS.items() for key in keys}

#: Keys that must be set when the section's ``*_MAKE`` is true.
_NEEDED_WHEN_MADE = {
    'HALO_PARAMETERS': ('HALO_MAKE', 'HALO_MASKMODEL_PATH'),
    'SPIKE_PARAMETERS': ('SPIKE_MAKE', 'SPIKE_MASKMODEL_PATH'),
    'MESSIER_PARAMETERS': ('MESSIER_MAKE', 'MESSIER_CAT_PATH'),
    'NGC_PARAMETERS': ('NGC_MAKE', 'NGC_CAT_PATH'),
}


def _check_flag(value, name, where):
    if not 0 < value < 2 ** 15:
        raise ConfigError(f'{where}{name} = {value}: a flag value must be in 1..32767 '
                          f'(the output is int16)', key=name)


def read_mask_config(path: str | os.PathLike,
                     log: logging.Logger | None = None) -> dict[str, dict[str, Any]]:
    """Read a ``.mask`` file into ``{section: {KEY: value}}``.

    Every declared key is present in the result (its default when absent).
    Relative template and catalogue paths are taken relative to the ``.mask``
    file's directory.

    Parameters
    ----------
    path : str
        The ``.mask`` file (``MASK_CONFIG_PATH``).
    log : logging.Logger, optional
        Receives the warnings about ignored keys (default: ``shapepipe.config``).

    Returns
    -------
    dict

    Raises
    ------
    ConfigError
        Missing or unreadable file, unknown section or key, bad value, or a
        ``*_MAKE = True`` section without its template/catalogue path.
    """
    name = os.path.basename(path)
    if not os.path.isfile(path):
        raise ConfigError(f'mask config file {path} not found: set MASK_CONFIG_PATH to an '
                          f'existing .mask file', path=path)
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str.upper
    try:
        parser.read(path)
    except configparser.Error as error:
        message = str(error).splitlines()[0]
        raise ConfigError(f'{path}: not a valid .mask file ({message})', path=path) from None

    for section in parser.sections():
        if section not in SECTIONS:
            hint = difflib.get_close_matches(section, SECTIONS, n=1)
            hint = f' (did you mean [{hint[0]}]?)' if hint else ''
            raise ConfigError(f'{name}: unknown section [{section}]{hint}', path=path,
                              section=section)

    base = os.path.dirname(os.path.abspath(path))
    values = {}
    for section, keys in SECTIONS.items():
        where = f'{name} [{section}] '
        by_name = {key.name for key in keys}
        raw = dict(parser.items(section)) if parser.has_section(section) else {}
        for key_name in raw:
            if key_name not in by_name:
                home = _KEY_SECTION.get(key_name)
                if home:
                    hint = f' (it belongs in [{home}])'
                else:
                    hint = suggest(key_name, _KEY_SECTION)
                    if hint:
                        close = hint[len(' (did you mean '):-2]
                        hint = f' (did you mean {close} in [{_KEY_SECTION[close]}]?)'
                raise ConfigError(f'{where}unknown key {key_name}{hint}', path=path,
                                  key=key_name)
        section_values = read_options(keys, raw, where, log=log)
        for key in PATH_KEYS:
            value = section_values.get(key)
            if value and not os.path.isabs(value):
                section_values[key] = os.path.join(base, value)
        for key, value in section_values.items():
            if key.endswith('_FLAG_VALUE'):
                _check_flag(value, key, where)
        if section in _NEEDED_WHEN_MADE:
            make, needed = _NEEDED_WHEN_MADE[section]
            if section_values[make]:
                if not section_values[needed]:
                    raise ConfigError(f'{where}{make} = True needs {needed}', path=path,
                                      key=needed)
                if not os.path.isfile(section_values[needed]):
                    raise ConfigError(f'{where}{needed} = {section_values[needed]}: file not '
                                      f'found; point it to a file in mask_default/',
                                      path=path, key=needed)
        values[section] = section_values

    border = values['BORDER_PARAMETERS']
    if border['BORDER_MAKE'] and border['BORDER_WIDTH'] < 0:
        raise ConfigError(f'{name} [BORDER_PARAMETERS] BORDER_WIDTH must be >= 0', path=path)
    for section in ('MESSIER_PARAMETERS', 'NGC_PARAMETERS'):
        prefix = section.split('_')[0]
        if values[section][f'{prefix}_SIZE_PLUS'] < 0:
            raise ConfigError(f'{name} [{section}] {prefix}_SIZE_PLUS must be >= 0', path=path)
    return values
