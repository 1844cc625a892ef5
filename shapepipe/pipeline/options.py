"""Declared configuration options: one declaration per key, used to validate
config files before any job runs and to print commented templates.

A runner declares its options with :class:`Option`; values are read from the
config as strings, environment variables are expanded (``$SP_RUN``), and the
string is converted with the declared type.
"""

import difflib
import os
import re
from dataclasses import dataclass

from shapepipe.errors import ConfigError

REQUIRED = object()
"""Marker default of an option the user must set."""

_TRUE = {'1', 'yes', 'true', 'on'}
_FALSE = {'0', 'no', 'false', 'off'}
_TYPES = ('str', 'int', 'float', 'bool', 'list', 'int_list', 'float_list')


def split_list(text):
    """Split a comma- or newline-separated config value into stripped items."""
    return [item.strip() for item in re.split(r'[,\n]', text) if item.strip()]


def expand(text):
    """Expand ``$VAR``/``${VAR}`` and ``~`` in a config value."""
    return os.path.expanduser(os.path.expandvars(text))


def _to_bool(text):
    low = text.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError(f'{text!r} is not a boolean (use True or False)')


def _convert_scalar(text, kind):
    text = expand(text.strip())
    if kind == 'str':
        return text
    if kind == 'int':
        return int(text.strip())
    if kind == 'float':
        return float(text.strip())
    if kind == 'bool':
        return _to_bool(text)
    raise AssertionError(kind)


@dataclass(frozen=True)
class Option:
    """One configuration key of a runner or of a pipeline section.

    Parameters
    ----------
    name : str
        Key as written in the config file (upper case).
    type : str
        One of ``str`` (env-expanded), ``int``, ``float``, ``bool``,
        ``list`` (comma-separated strings, env-expanded), ``int_list``,
        ``float_list``.
    default : object
        Value used when the key is absent; :data:`REQUIRED` when it must be set.
    doc : str
        One-line description, shown in templates and errors.
    choices : tuple, optional
        Allowed values (compared case-insensitively for strings).
    """

    name: str
    type: str = 'str'
    default: object = REQUIRED
    doc: str = ''
    choices: tuple = None

    def __post_init__(self):
        if self.type not in _TYPES:
            raise ValueError(f'Option {self.name}: unknown type {self.type!r}')

    @property
    def required(self):
        """Whether the key must be set in the config."""
        return self.default is REQUIRED

    def convert(self, text, where=''):
        """Convert the raw config string to the declared type.

        Raises
        ------
        ConfigError
            When the value cannot be converted or is not an allowed choice.
        """
        try:
            if self.type.endswith('list'):
                kind = 'str' if self.type == 'list' else self.type[:-5]
                value = [_convert_scalar(item, kind) for item in split_list(text)]
            else:
                value = _convert_scalar(text, self.type)
        except ValueError as error:
            raise ConfigError(
                f'{where}{self.name} = {text.strip()!r}: expected {self.type} '
                f'({error}); {self.doc}', key=self.name,
            ) from None
        if self.choices is not None:
            allowed = {str(c).lower(): c for c in self.choices}
            values = value if isinstance(value, list) else [value]
            for item in values:
                if str(item).lower() not in allowed:
                    raise ConfigError(
                        f'{where}{self.name} = {item!r} is not one of '
                        f'{", ".join(map(str, self.choices))}', key=self.name,
                    )
            if not isinstance(value, list):
                value = allowed[str(value).lower()]
        return value

    def template_lines(self):
        """Commented lines describing this option in a config template."""
        kind = self.type + (
            f', one of {", ".join(map(str, self.choices))}' if self.choices else ''
        )
        if self.required:
            return [f'# {self.doc} ({kind}, required)', f'{self.name} = ']
        default = self.default
        if isinstance(default, (list, tuple)):
            default = ', '.join(str(item) for item in default)
        return [f'# {self.doc} ({kind}, default: {default})', f'{self.name} = {default}']


def suggest(name, candidates):
    """Return ``' (did you mean X?)'`` for the closest candidate, or ``''``."""
    by_upper = {str(c).upper(): str(c) for c in candidates}
    match = difflib.get_close_matches(name.upper(), list(by_upper), n=1, cutoff=0.6)
    return f' (did you mean {by_upper[match[0]]}?)' if match else ''


def read_options(declared, raw, where, ignore=()):
    """Validate a section's raw values against declarations and convert them.

    Parameters
    ----------
    declared : iterable of Option
        The declarations of the section.
    raw : dict
        Key (upper case) -> raw string, only the keys written in the section.
    where : str
        Prefix for messages, e.g. ``"config.ini [MASK_RUNNER] "``.
    ignore : iterable of str
        Extra keys accepted without declaration (handled elsewhere).

    Returns
    -------
    dict
        Every declared name -> converted value or default.
    """
    by_name = {opt.name: opt for opt in declared}
    ignore = set(ignore)
    for key in raw:
        if key not in by_name and key not in ignore:
            raise ConfigError(
                f'{where}unknown key {key}{suggest(key, list(by_name) + list(ignore))}',
                key=key,
            )
    values = {}
    for name, opt in by_name.items():
        if name in raw:
            values[name] = opt.convert(raw[name], where)
        elif opt.required:
            raise ConfigError(f'{where}missing required key {name}: {opt.doc}', key=name)
        else:
            values[name] = opt.default
    return values
