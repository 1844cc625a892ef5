"""Read and validate a ``.mask`` configuration file.

The file has ShapePipe's sections and key names (``[BORDER_PARAMETERS]
BORDER_WIDTH`` ...). Every key is declared once below with its type and
default; unknown keys are an error with a did-you-mean suggestion. Keys that
only drove ShapePipe's external tools (WeightWatcher paths, region-file names,
temporary directory) are accepted and ignored: masks are rasterised in Python
and no temporary files are written.
"""

import configparser
import difflib
import os
from dataclasses import dataclass

from shapepipe.errors import ConfigError

_TRUE = {'1', 'yes', 'true', 'on'}
_FALSE = {'0', 'no', 'false', 'off'}


@dataclass(frozen=True)
class _Key:
    name: str
    kind: str          # 'bool', 'int', 'float', 'str', 'path', 'ignored'
    default: object
    doc: str


_NO_DEFAULT = object()

#: Declared keys per section: (name, type, default, description).
SECTIONS = {
    'PROGRAM_PATH': [
        _Key('CDSCLIENT_PATH', 'str', 'findgsc2.2',
             'CDS client queried for GSC 2.2 stars when USE_EXT_STAR = False'),
        _Key('WW_PATH', 'ignored', None, 'WeightWatcher executable (not needed: ignored)'),
        _Key('WW_CONFIG_FILE', 'ignored', None, 'WeightWatcher config (not needed: ignored)'),
        _Key('STAR_CAT', 'ignored', None, 'old spelling of the star catalogue input (ignored)'),
    ],
    'BORDER_PARAMETERS': [
        _Key('BORDER_MAKE', 'bool', False, 'flag a border of BORDER_WIDTH pixels'),
        _Key('BORDER_WIDTH', 'int', 0, 'border width in pixels'),
        _Key('BORDER_FLAG_VALUE', 'int', 4, 'flag value of border pixels'),
    ],
    'HALO_PARAMETERS': [
        _Key('HALO_MAKE', 'bool', False, 'flag halos of bright stars'),
        _Key('HALO_MASKMODEL_PATH', 'path', None, 'polygon template of a halo at HALO_MAG_PIVOT'),
        _Key('HALO_MAG_LIM', 'float', 13.0, 'only stars brighter than this get a halo mask'),
        _Key('HALO_SCALE_FACTOR', 'float', 0.05,
             'template scale is 1 - HALO_SCALE_FACTOR * (mag - HALO_MAG_PIVOT)'),
        _Key('HALO_MAG_PIVOT', 'float', 13.8, 'magnitude at which the template is used as is'),
        _Key('HALO_FLAG_VALUE', 'int', 2, 'flag value of halo pixels'),
        _Key('HALO_REG_FILE', 'ignored', None, 'ShapePipe region-file name (ignored)'),
    ],
    'SPIKE_PARAMETERS': [
        _Key('SPIKE_MAKE', 'bool', False, 'flag diffraction spikes of bright stars'),
        _Key('SPIKE_MASKMODEL_PATH', 'path', None,
             'polygon template of the spikes at SPIKE_MAG_PIVOT'),
        _Key('SPIKE_MAG_LIM', 'float', 18.0, 'only stars brighter than this get a spike mask'),
        _Key('SPIKE_SCALE_FACTOR', 'float', 0.3,
             'template scale is 1 - SPIKE_SCALE_FACTOR * (mag - SPIKE_MAG_PIVOT)'),
        _Key('SPIKE_MAG_PIVOT', 'float', 13.8, 'magnitude at which the template is used as is'),
        _Key('SPIKE_FLAG_VALUE', 'int', 128, 'flag value of spike pixels'),
        _Key('SPIKE_REG_FILE', 'ignored', None, 'ShapePipe region-file name (ignored)'),
    ],
    'MESSIER_PARAMETERS': [
        _Key('MESSIER_MAKE', 'bool', False, 'flag discs around Messier objects'),
        _Key('MESSIER_CAT_PATH', 'path', None, 'Messier catalogue (FITS table or ECSV)'),
        _Key('MESSIER_SIZE_PLUS', 'float', 0.0, 'fractional increase of the disc radius'),
        _Key('MESSIER_FLAG_VALUE', 'int', 16, 'flag value of Messier pixels'),
        _Key('MESSIER_PIXEL_SCALE', 'ignored', None,
             'old pixel-scale key (ignored: the WCS gives the scale)'),
    ],
    'NGC_PARAMETERS': [
        _Key('NGC_MAKE', 'bool', False, 'flag discs around NGC objects'),
        _Key('NGC_CAT_PATH', 'path', None, 'NGC catalogue (FITS table or ECSV)'),
        _Key('NGC_SIZE_PLUS', 'float', 0.0, 'fractional increase of the disc radius'),
        _Key('NGC_FLAG_VALUE', 'int', 32, 'flag value of NGC pixels'),
    ],
    'MD_PARAMETERS': [
        _Key('MD_MAKE', 'bool', False,
             'flag missing data (image value 0 or weight 0) and record its fraction'),
        _Key('MD_THRESH_FLAG', 'float', 0.3,
             'missing fraction from which the image is marked flagged (header MFLAG)'),
        _Key('MD_THRESH_REMOVE', 'float', 0.75,
             'missing fraction from which the image is removed (with MD_REMOVE)'),
        _Key('MD_REMOVE', 'bool', False, 'skip images whose missing fraction >= MD_THRESH_REMOVE'),
        _Key('MD_FLAG_VALUE', 'int', 1024, 'flag value of missing-data pixels (shapepipe)'),
    ],
    'EXTERNAL_FLAG': [
        _Key('EF_MAKE', 'bool', True, 'merge the input flag file (bitwise or) when one is given'),
    ],
    'OTHER': [
        _Key('TEMP_DIRECTORY', 'ignored', None, 'ShapePipe temporary directory (ignored)'),
        _Key('KEEP_REG_FILE', 'ignored', None, 'ShapePipe region files (ignored)'),
        _Key('KEEP_INDIVIDUAL_MASK', 'ignored', None, 'ShapePipe individual masks (ignored)'),
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


def _convert(key, text, where):
    text = text.strip()
    try:
        if key.kind == 'bool':
            low = text.lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise ValueError('use True or False')
        if key.kind == 'int':
            return int(text)
        if key.kind == 'float':
            return float(text)
    except ValueError as error:
        raise ConfigError(f'{where}{key.name} = {text!r}: expected {key.kind} ({error}); '
                          f'{key.doc}', key=key.name) from None
    if key.kind == 'path':
        return os.path.expanduser(os.path.expandvars(text))
    return os.path.expandvars(text)


def _check_flag(value, name, where):
    if not 0 < value < 2 ** 15:
        raise ConfigError(f'{where}{name} = {value}: a flag value must be in 1..32767 '
                          f'(the output is int16)', key=name)


def read_mask_config(path):
    """Read a ``.mask`` file into ``{section: {KEY: value}}``.

    Every declared key is present in the result (its default when absent).
    Relative template and catalogue paths are taken relative to the ``.mask``
    file's directory.

    Parameters
    ----------
    path : str
        The ``.mask`` file (``MASK_CONFIG_PATH``).

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
        by_name = {key.name: key for key in keys}
        raw = dict(parser.items(section)) if parser.has_section(section) else {}
        for key_name in raw:
            if key_name not in by_name:
                home = _KEY_SECTION.get(key_name)
                if home:
                    hint = f' (it belongs in [{home}])'
                else:
                    close = difflib.get_close_matches(key_name, _KEY_SECTION, n=1)
                    hint = (f' (did you mean {close[0]} in [{_KEY_SECTION[close[0]]}]?)'
                            if close else '')
                raise ConfigError(f'{where}unknown key {key_name}{hint}', path=path,
                                  key=key_name)
        section_values = {}
        for key in keys:
            if key.name in raw and key.kind != 'ignored':
                value = _convert(key, raw[key.name], where)
            else:
                value = key.default
            if key.kind == 'path' and value and not os.path.isabs(value):
                value = os.path.join(base, value)
            if key.name.endswith('_FLAG_VALUE'):
                _check_flag(value, key.name, where)
            section_values[key.name] = value
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
