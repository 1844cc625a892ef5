"""Declared configuration options: one declaration per key, used to validate
config files before any job runs, to print commented templates, to build
settings objects and to write the key tables of ``docs/``.

A runner (or another config reader, such as the mask module's ``.mask`` file)
declares its keys with :class:`Option`; values are read as strings,
environment variables are expanded (``$SP_RUN``), and the string is converted
with the declared type. An option declared ``ignored`` is accepted for
ShapePipe compatibility and a warning is logged when a config sets it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
import dataclasses
import difflib
import logging
import os
import re
from dataclasses import dataclass

from shapepipe.errors import ConfigError

LOG = logging.getLogger('shapepipe.config')

REQUIRED = object()
"""Marker default of an option the user must set."""

_TRUE = {'1', 'yes', 'true', 'on'}
_FALSE = {'0', 'no', 'false', 'off'}
_TYPES = ('str', 'int', 'float', 'bool', 'list', 'int_list', 'float_list')


def split_list(text: str) -> list[str]:
    """Split a comma- or newline-separated config value into stripped items."""
    return [item.strip() for item in re.split(r'[,\n]', text) if item.strip()]


def expand(text: str) -> str:
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
    ignored : str, optional
        Why the key is accepted but not used (ShapePipe compatibility); a
        config that sets it gets a warning with this reason, and its value
        is always the default.
    field : str, optional
        Name of the settings-object field this key fills
        (:func:`build_settings`).
    """

    name: str
    type: str = 'str'
    default: object = REQUIRED
    doc: str = ''
    choices: tuple = None
    ignored: str = None
    field: str = None

    def __post_init__(self):
        if self.type not in _TYPES:
            raise ValueError(f'Option {self.name}: unknown type {self.type!r}')
        if self.ignored and self.default is REQUIRED:
            object.__setattr__(self, 'default', None)

    @classmethod
    def for_field(cls, settings_class: type, field: str, name: str, type: str = 'str',
                  doc: str = '', **kwargs: Any) -> 'Option':
        """An option filling ``settings_class.field``, with that field's default.

        The default is written once, in the settings dataclass of the science
        package; the runner's declaration takes it from there.
        """
        fields = {f.name: f for f in dataclasses.fields(settings_class)}
        if field not in fields:
            raise ValueError(f'{settings_class.__name__} has no field {field!r}')
        return cls(name, type, fields[field].default, doc, field=field, **kwargs)

    @property
    def required(self) -> bool:
        """Whether the key must be set in the config."""
        return self.default is REQUIRED

    def convert(self, text: str, where: str = '') -> Any:
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

    def kind(self) -> str:
        """The type as shown to users, with the choices."""
        return self.type + (
            f', one of {", ".join(map(str, self.choices))}' if self.choices else ''
        )

    def default_text(self) -> str:
        """The default as written in a config file ('' for none)."""
        default = self.default
        if default is None or default is REQUIRED:
            return ''
        if isinstance(default, (list, tuple)):
            return ', '.join(str(item) for item in default)
        return str(default)

    def template_lines(self) -> list[str]:
        """Commented lines describing this option in a config template."""
        if self.ignored:
            return [f'# {self.doc} (accepted and ignored: {self.ignored})',
                    f'# {self.name} = ']
        if self.required:
            return [f'# {self.doc} ({self.kind()}, required)', f'{self.name} = ']
        default = self.default_text()
        return [f'# {self.doc} ({self.kind()}, default: {default})', f'{self.name} = {default}']


def suggest(name: str, candidates: Iterable[object]) -> str:
    """Return ``' (did you mean X?)'`` for the closest candidate, or ``''``."""
    by_upper = {str(c).upper(): str(c) for c in candidates}
    match = difflib.get_close_matches(name.upper(), list(by_upper), n=1, cutoff=0.6)
    return f' (did you mean {by_upper[match[0]]}?)' if match else ''


def read_options(declared: Iterable[Option], raw: Mapping[str, str], where: str,
                 ignore: Iterable[str] = (), log: logging.Logger | None = None,
                 ) -> dict[str, Any]:
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
    log : logging.Logger, optional
        Receives a warning for each ignored key that is set (default:
        the ``shapepipe.config`` logger).

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
        if name in raw and opt.ignored:
            (log or LOG).warning('%s%s = %s is accepted and ignored: %s', where, name,
                        raw[name].strip(), opt.ignored)
            values[name] = opt.default
        elif name in raw:
            values[name] = opt.convert(raw[name], where)
        elif opt.required:
            raise ConfigError(f'{where}missing required key {name}: {opt.doc}', key=name)
        else:
            values[name] = opt.default
    return values


def build_settings(settings_class: type, declared: Iterable[Option], values: dict,
                   **extra: Any) -> Any:
    """A settings object from the declared options that name one of its fields.

    Parameters
    ----------
    settings_class : type
        A dataclass of a science package (e.g. ngmix's ``Settings``).
    declared : iterable of Option
        Declarations; those with ``field`` set fill that field.
    values : dict
        Converted values by key name (:func:`read_options`).
    **extra
        Fields given directly (values computed from several keys).
    """
    kwargs = {opt.field: values[opt.name] for opt in declared
              if opt.field and not opt.ignored}
    kwargs.update(extra)
    return settings_class(**kwargs)


def _cell(text) -> str:
    return str(text).replace('|', '\\|').replace('\n', ' ')


def markdown_table(declared: Sequence[Option]) -> str:
    """The key table of ``docs/*.md``: key, type, default, meaning."""
    if not declared:
        return 'No keys of its own.'
    lines = ['| key | type | default | meaning |', '|---|---|---|---|']
    for opt in declared:
        if opt.ignored:
            default, doc = 'ignored', f'{opt.doc} (accepted, a warning is logged: {opt.ignored})'
        else:
            default = 'required' if opt.required else (opt.default_text() or '(empty)')
            doc = opt.doc
        lines.append(f'| `{opt.name}` | {_cell(opt.kind())} | {_cell(default)} | {_cell(doc)} |')
    return '\n'.join(lines)
