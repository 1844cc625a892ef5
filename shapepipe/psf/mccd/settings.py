"""MCCD's own configuration file (ShapePipe's ``config_MCCD.ini``), read and checked.

Sections ``[INPUTS]``, ``[INSTANCE]``, ``[FIT]``, ``[VALIDATION]`` with
ShapePipe's keys. Directory and pattern keys of ``[INPUTS]``/``[VALIDATION]``
are accepted and unused (the pipeline finds the files). Every value is
converted here, so a typo gives one line naming the file, section and key.
"""

from __future__ import annotations

import configparser
from typing import TYPE_CHECKING, Any

from shapepipe.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

_NONE = {'none', ''}

#: (section, key, type, default, doc). ``None`` default: may be ``None`` in the file.
KEYS = (
    ('INPUTS', 'MIN_N_STARS', int, 20, 'Minimum stars on a CCD to use it in the fit'),
    ('INPUTS', 'OUTLIER_STD_MAX', float, 100.0,
     'Reject stars whose e1, e2 or R2 is this many sigma from the exposure mean'),
    ('INPUTS', 'USE_SNR_WEIGHTS', bool, False, 'Weight stars by SNR_WIN in the fit'),
    ('INPUTS', 'INPUT_SEPARATOR', str, '-', 'Separator of exposure and CCD in file names'),
    ('INSTANCE', 'N_COMP_LOC', int, 8, 'Number of local eigenPSFs per CCD'),
    ('INSTANCE', 'D_COMP_GLOB', int, 8, 'Degree of the global focal-plane polynomial'),
    ('INSTANCE', 'KSIG_LOC', float, 0.0, 'Sparsity threshold (k sigma) of the local model'),
    ('INSTANCE', 'KSIG_GLOB', float, 0.0, 'Sparsity threshold (k sigma) of the global model'),
    ('INSTANCE', 'FILTER_PATH', str, None,
     'A .npy of filters (no pickle); None: starlet filters (3 scales)'),
    ('INSTANCE', 'D_HYB_LOC', int, 2, 'Polynomial degree of the hybrid local model'),
    ('INSTANCE', 'MIN_D_COMP_GLOB', int, None, 'Lowest global degree kept (None: all)'),
    ('INSTANCE', 'RMSE_THRESH', float, 1.25, 'Outlier star threshold (residual RMSE / noise)'),
    ('INSTANCE', 'CCD_STAR_THRESH', float, 0.15,
     'Fraction of outlier stars above which a CCD is dropped (< 0: never)'),
    ('INSTANCE', 'FP_GEOMETRY', str, 'CFIS', 'Focal plane geometry: CFIS'),
    ('FIT', 'LOC_MODEL', str, 'hybrid', 'Local model: hybrid, rca or poly'),
    ('FIT', 'PSF_SIZE', float, 6.2, 'Initial PSF size guess'),
    ('FIT', 'PSF_SIZE_TYPE', str, 'R2', 'PSF_SIZE as R2, fwhm or sigma'),
    ('FIT', 'N_EIGENVECTS', int, 5, 'Eigenvectors of the graph constraint'),
    ('FIT', 'N_ITER_RCA', int, 1, 'Outer iterations'),
    ('FIT', 'N_ITER_GLOB', int, 2, 'Global-model iterations'),
    ('FIT', 'N_ITER_LOC', int, 2, 'Local-model iterations'),
    ('FIT', 'NB_SUBITER_S_LOC', int, 300, 'Sub-iterations, local eigenPSFs'),
    ('FIT', 'NB_SUBITER_A_LOC', int, 400, 'Sub-iterations, local weights'),
    ('FIT', 'NB_SUBITER_S_GLOB', int, 100, 'Sub-iterations, global eigenPSFs'),
    ('FIT', 'NB_SUBITER_A_GLOB', int, 200, 'Sub-iterations, global weights'),
    ('VALIDATION', 'APPLY_DEGRADATION', bool, True, 'Accepted (ShapePipe key); unused'),
    ('VALIDATION', 'MCCD_DEBUG', bool, False, 'Accepted (ShapePipe key); unused'),
    ('VALIDATION', 'GLOBAL_POL_INTERP', bool, False, 'Accepted (ShapePipe key); unused'),
)

#: Keys of ShapePipe's file that name directories or patterns: accepted, unused.
IGNORED = {
    'INPUTS': {'INPUT_DIR', 'PREPROCESSED_OUTPUT_DIR', 'OUTPUT_DIR', 'INPUT_REGEX_FILE_PATTERN'},
    'VALIDATION': {'VAL_DATA_INPUT_DIR', 'VAL_PREPROCESSED_OUTPUT_DIR', 'VAL_MODEL_INPUT_DIR',
                   'VAL_OUTPUT_DIR', 'VAL_REGEX_FILE_PATTERN', 'VAL_SEPARATOR'},
}

_FIT_ARGS = {'LOC_MODEL': 'loc_model', 'PSF_SIZE': 'psf_size', 'PSF_SIZE_TYPE': 'psf_size_type',
             'N_EIGENVECTS': 'n_eigenvects', 'N_ITER_RCA': 'nb_iter',
             'N_ITER_GLOB': 'nb_iter_glob', 'N_ITER_LOC': 'nb_iter_loc',
             'NB_SUBITER_S_LOC': 'nb_subiter_S_loc', 'NB_SUBITER_A_LOC': 'nb_subiter_A_loc',
             'NB_SUBITER_S_GLOB': 'nb_subiter_S_glob', 'NB_SUBITER_A_GLOB': 'nb_subiter_A_glob'}
_INSTANCE_ARGS = {'N_COMP_LOC': 'n_comp_loc', 'D_COMP_GLOB': 'd_comp_glob',
                  'KSIG_LOC': 'ksig_loc', 'KSIG_GLOB': 'ksig_glob', 'D_HYB_LOC': 'd_hyb_loc',
                  'MIN_D_COMP_GLOB': 'min_d_comp_glob', 'RMSE_THRESH': 'rmse_thresh',
                  'CCD_STAR_THRESH': 'ccd_star_thresh', 'FP_GEOMETRY': 'fp_geometry'}


def _convert(text, kind, where):
    text = text.strip()
    if text.lower() in _NONE:
        return None
    try:
        if kind is bool:
            if text.lower() not in ('true', 'false'):
                raise ValueError('use True or False')
            return text.lower() == 'true'
        return kind(text)
    except ValueError as error:
        raise ConfigError(f'{where} = {text!r}: expected {kind.__name__} ({error})') from None


def read_settings(path: str) -> dict[str, Any]:
    """``{'KEY': value}`` of every key in :data:`KEYS`, from ``path`` or defaults."""
    parser = configparser.ConfigParser()
    parser.optionxform = str
    try:
        if not parser.read(path):
            raise ConfigError(f'{path}: cannot read the MCCD config file; fix CONFIG_PATH')
    except configparser.Error as error:
        raise ConfigError(f'{path}: not an ini file ({error}); fix CONFIG_PATH') from None
    known = {}
    for section, key, _, _, _ in KEYS:
        known.setdefault(section, set()).add(key)
    for section in parser.sections():
        if section not in known:
            raise ConfigError(f'{path}: unknown section [{section}] (use INPUTS, INSTANCE, '
                              f'FIT, VALIDATION)')
        for key in parser[section]:
            if key.upper() not in known[section] | IGNORED.get(section, set()):
                raise ConfigError(f'{path} [{section}] {key}: unknown MCCD key')
    values = {}
    for section, key, kind, default, _ in KEYS:
        if parser.has_option(section, key):
            values[key] = _convert(parser[section][key], kind, f'{path} [{section}] {key}')
        else:
            values[key] = default
    if values['FP_GEOMETRY'] != 'CFIS':
        raise ConfigError(f'{path} [INSTANCE] FP_GEOMETRY = {values["FP_GEOMETRY"]}: only CFIS '
                          f'(MegaCam) is supported')
    for key in ('MIN_N_STARS', 'N_COMP_LOC', 'D_COMP_GLOB'):
        if values[key] is None or values[key] < 1:
            raise ConfigError(f'{path} {key} = {values[key]}: must be a positive integer')
    return values


def instance_kw(values: Mapping[str, Any]) -> dict[str, Any]:
    """Arguments of ``mccd.MCCD`` (without filters)."""
    return {arg: values[key] for key, arg in _INSTANCE_ARGS.items()}


def fit_kw(values: Mapping[str, Any]) -> dict[str, Any]:
    """Arguments of ``mccd.MCCD.fit``."""
    return {arg: values[key] for key, arg in _FIT_ARGS.items()}
