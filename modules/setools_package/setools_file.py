"""Read a ``.setools`` selection file into checked, parsed sections.

Sections::

    [MASK:name]        conditions ANDed; '{other}' pre-filters by an earlier
                       mask; NO_SAVE: do not write the selection
    [PLOT:name]        KEY = value, KEY_i = value for curve i
    [STAT:name]        "label" = expression
    [RAND_SPLIT:name]  RATIO = r (percent or fraction); MASK = m1, m2 (optional)
    [NEW_CAT:name]     OUTPUT_FORMAT = fits|SEx_cat|txt; COLUMN = expression

``#`` starts a comment (outside double quotes). Every syntax error is a
:class:`~shapepipe.errors.ConfigError` naming the file, the line number and
the line's text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
import difflib
import re
from dataclasses import dataclass, field

from shapepipe.errors import ConfigError
from shapepipe.modules.setools_package.expression import (
    ExpressionError, parse_comparison, parse_expression, referenced_masks,
)

if TYPE_CHECKING:
    import os

SECTION_TYPES = ('MASK', 'PLOT', 'STAT', 'RAND_SPLIT', 'NEW_CAT')

#: PLOT keys; those in _PLOT_INDEXED may carry a curve suffix ``_i``.
PLOT_KEYS = ('TYPE', 'FORMAT', 'TITLE', 'XLABEL', 'YLABEL', 'XLIM', 'YLIM', 'BIN', 'LOG',
             'HTYPE', 'X', 'Y', 'SCATTER', 'MARKER', 'MARKERSIZE', 'LABEL', 'COLOR', 'LINE',
             'ALPHA')
_PLOT_INDEXED = {'X', 'Y', 'SCATTER', 'MARKER', 'MARKERSIZE', 'LABEL', 'COLOR', 'LINE',
                 'ALPHA', 'BIN', 'HTYPE', 'LOG'}
_PLOT_EXPRESSIONS = {'X', 'Y', 'SCATTER'}
_PLOT_TEXTS = {'TITLE', 'XLABEL', 'YLABEL', 'LABEL'}
PLOT_TYPES = ('plot', 'scatter', 'hist')
NEW_CAT_FORMATS = ('fits', 'sex_cat', 'txt', 'ascii')


@dataclass
class Line:
    """One meaningful line: its number, raw text and cleaned content."""

    number: int
    raw: str
    text: str


@dataclass
class Section:
    """A parsed section. ``items`` depends on the type (see :func:`read_setools`)."""

    kind: str
    name: str
    line: Line
    items: list = field(default_factory=list)
    options: dict = field(default_factory=dict)


@dataclass
class LabelText:
    """A text with ``@expression@`` parts: alternating str and parsed trees."""

    parts: list


class SetoolsFile:
    """A parsed ``.setools`` file.

    Attributes
    ----------
    path : str
    sections : list of Section
        In file order.
    """

    def __init__(self, path, sections):
        self.path = path
        self.sections = sections

    def of_kind(self, kind: str) -> list[Section]:
        """Sections of one type, in file order."""
        return [sec for sec in self.sections if sec.kind == kind]

    def error(self, line: Line, message: str) -> ConfigError:
        """A ConfigError naming the file, the line and its text."""
        return ConfigError(f'{self.path}:{line.number}: {message}: {line.raw.strip()!r}',
                           path=self.path, line=line.number)


def _strip_comment(text):
    out, quoted = [], False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif char == '#' and not quoted:
            break
        out.append(char)
    return ''.join(out).strip()


def _unquote(text):
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    return text


def _split_assignment(text):
    """``KEY = value`` or ``"label" = value`` -> (key, value); None if no '='."""
    text = text.strip()
    if text.startswith('"'):
        end = text.find('"', 1)
        if end < 0:
            return None
        key, rest = text[1:end], text[end + 1:].strip()
        if not rest.startswith('='):
            return None
        return key, rest[1:].strip()
    if '=' not in text:
        return None
    key, value = text.split('=', 1)
    return key.strip(), value.strip()


def parse_label(text: str) -> LabelText:
    """Split a label into literal text and ``@expression@`` trees."""
    pieces = text.split('@')
    if len(pieces) % 2 == 0:
        raise ExpressionError('unbalanced @ in label: write @expression@')
    parts = []
    for index, piece in enumerate(pieces):
        parts.append(parse_expression(piece) if index % 2 else piece)
    return LabelText(parts)


_HEADER = re.compile(r'^\[\s*([A-Za-z_]+)\s*(?::\s*([^\]]*?)\s*)?\]$')


def read_setools(path: str | os.PathLike) -> SetoolsFile:
    """Read and check a ``.setools`` file.

    Returns
    -------
    SetoolsFile
        Sections with their items:

        * MASK: ``items`` = list of (Line, Comparison); ``options`` has
          ``prefilter`` (list of mask names) and ``save`` (bool);
        * PLOT: ``options`` = {KEY: {index: value}} with expressions parsed
          for X/Y/SCATTER and LabelText for texts;
        * STAT: ``items`` = list of (Line, label, tree);
        * RAND_SPLIT: ``options`` = {'RATIO': fraction, 'MASK': [names]};
        * NEW_CAT: ``items`` = list of (Line, column, tree); ``options`` =
          {'OUTPUT_FORMAT': ...}.

    Raises
    ------
    ConfigError
        Unreadable file, or a line that is not valid (with its number).
    """
    try:
        with open(path) as handle:
            raw_lines = handle.read().splitlines()
    except OSError as error:
        raise ConfigError(f'setools file {path} cannot be read ({error.strerror}); set '
                          f'SETOOLS_CONFIG_PATH to an existing .setools file',
                          path=path) from None
    setools = SetoolsFile(path, [])
    current = None
    names = {kind: set() for kind in SECTION_TYPES}
    for number, raw in enumerate(raw_lines, start=1):
        text = _strip_comment(raw)
        if not text:
            continue
        line = Line(number, raw, text)
        header = _HEADER.match(text)
        if text.startswith('['):
            if not header:
                raise setools.error(line, 'bad section header, expected [TYPE:name]')
            kind, name = header.group(1).upper(), header.group(2)
            if kind not in SECTION_TYPES:
                raise setools.error(line, f'unknown section type {kind} (use one of '
                                          f'{", ".join(SECTION_TYPES)})')
            if not name:
                name = f'{kind.lower()}_{len(setools.of_kind(kind)) + 1}'
            if not re.fullmatch(r'[A-Za-z0-9_.\-]+', name):
                raise setools.error(line, f'section name {name!r} must be letters, digits, '
                                          f'_ . or -')
            if name in names[kind]:
                raise setools.error(line, f'{kind} section {name!r} defined twice')
            names[kind].add(name)
            current = Section(kind, name, line)
            if kind == 'MASK':
                current.options = {'prefilter': [], 'save': True}
            setools.sections.append(current)
            continue
        if current is None:
            raise setools.error(line, 'line outside a section; start with [MASK:name], '
                                      '[PLOT:name], ...')
        try:
            _PARSERS[current.kind](setools, current, line, names)
        except ExpressionError as error:
            raise setools.error(line, str(error)) from None
    _check_references(setools)
    return setools


def _parse_mask_line(setools, section, line, names):
    text = line.text
    if text == 'NO_SAVE':
        section.options['save'] = False
        return
    ref = re.fullmatch(r'\{\s*([A-Za-z0-9_.\-]+)\s*\}', text)
    if ref:
        section.options['prefilter'].append((line, ref.group(1)))
        return
    section.items.append((line, parse_comparison(text)))


def _parse_plot_line(setools, section, line, names):
    pair = _split_assignment(line.text)
    if pair is None:
        raise setools.error(line, 'expected KEY = value')
    key, value = pair
    match = re.fullmatch(r'([A-Z]+)(?:_(\d+))?', key.upper())
    base = match.group(1) if match else key
    if base not in PLOT_KEYS:
        close = difflib.get_close_matches(base, PLOT_KEYS, n=1)
        hint = f' (did you mean {close[0]}?)' if close else ''
        raise setools.error(line, f'unknown PLOT key {key}{hint}')
    index = match.group(2) or '0'
    if index != '0' and base not in _PLOT_INDEXED:
        raise setools.error(line, f'PLOT key {base} takes no _i suffix')
    value = _unquote(value)
    if base in _PLOT_EXPRESSIONS:
        parsed = parse_expression(value)
    elif base in _PLOT_TEXTS:
        parsed = parse_label(value)
    elif base == 'TYPE':
        parsed = value.lower()
        if parsed == 'histogram':
            parsed = 'hist'
        if parsed not in PLOT_TYPES:
            raise setools.error(line, f'TYPE must be one of {", ".join(PLOT_TYPES)}')
    elif base in ('XLIM', 'YLIM'):
        try:
            low, high = (float(v) for v in value.split(','))
        except ValueError:
            raise setools.error(line, f'{base} must be "lower, upper"') from None
        parsed = (low, high)
    elif base == 'BIN':
        try:
            parsed = int(value)
            if parsed < 1:
                raise ValueError
        except ValueError:
            raise setools.error(line, 'BIN must be a positive integer') from None
    elif base == 'LOG':
        if value.lower() not in ('true', 'false', '1', '0', 'yes', 'no'):
            raise setools.error(line, 'LOG must be True or False')
        parsed = value.lower() in ('true', '1', 'yes')
    elif base in ('MARKERSIZE', 'ALPHA'):
        try:
            parsed = float(value)
        except ValueError:
            raise setools.error(line, f'{base} must be a number') from None
    else:
        parsed = value
    section.options.setdefault(base, {})
    if index in section.options[base]:
        raise setools.error(line, f'PLOT key {key} given twice')
    section.options[base][index] = (line, parsed)


def _parse_stat_line(setools, section, line, names):
    pair = _split_assignment(line.text)
    if pair is None or not pair[0]:
        raise setools.error(line, 'expected "label" = expression')
    label, value = pair
    section.items.append((line, label, parse_expression(value)))


def _parse_rand_split_line(setools, section, line, names):
    pair = _split_assignment(line.text)
    if pair is None:
        raise setools.error(line, 'expected RATIO = value or MASK = name[, name]')
    key, value = pair[0].upper(), pair[1]
    if key == 'RATIO':
        try:
            ratio = float(value)
        except ValueError:
            raise setools.error(line, 'RATIO must be a number') from None
        if ratio >= 1:
            ratio /= 100.0
        if not 0 < ratio < 1:
            raise setools.error(line, 'RATIO must be between 0 and 100 (percent) exclusive')
        section.options['RATIO'] = (line, ratio)
    elif key == 'MASK':
        masks = [m.strip() for m in value.split(',') if m.strip()]
        if not masks:
            raise setools.error(line, 'MASK needs at least one mask name')
        section.options['MASK'] = (line, masks)
    else:
        raise setools.error(line, f'unknown RAND_SPLIT key {pair[0]} (use RATIO, MASK)')


def _parse_new_cat_line(setools, section, line, names):
    pair = _split_assignment(line.text)
    if pair is None or not pair[0]:
        raise setools.error(line, 'expected COLUMN = expression or OUTPUT_FORMAT = fits')
    key, value = pair
    if key.upper() == 'OUTPUT_FORMAT':
        fmt = _unquote(value).lower()
        if fmt not in NEW_CAT_FORMATS:
            raise setools.error(line, 'OUTPUT_FORMAT must be fits, SEx_cat or txt')
        section.options['OUTPUT_FORMAT'] = (line, 'txt' if fmt == 'ascii' else fmt)
        return
    if not re.fullmatch(r'[A-Za-z_][A-Za-z0-9_]*', key):
        raise setools.error(line, f'column name {key!r} must be letters, digits and _')
    if any(key == other for _, other, _ in section.items):
        raise setools.error(line, f'column {key} defined twice')
    section.items.append((line, key, parse_expression(value)))


_PARSERS = {
    'MASK': _parse_mask_line,
    'PLOT': _parse_plot_line,
    'STAT': _parse_stat_line,
    'RAND_SPLIT': _parse_rand_split_line,
    'NEW_CAT': _parse_new_cat_line,
}


def _trees(section):
    if section.kind == 'MASK':
        return [(line, tree) for line, tree in section.items]
    if section.kind in ('STAT', 'NEW_CAT'):
        return [(line, tree) for line, _, tree in section.items]
    if section.kind == 'PLOT':
        out = []
        for values in section.options.values():
            for line, parsed in values.values():
                if isinstance(parsed, LabelText):
                    out += [(line, part) for part in parsed.parts[1::2]]
                elif not isinstance(parsed, (str, tuple, int, float, bool)):
                    out.append((line, parsed))
        return out
    return []


def _check_references(setools):
    """Masks must exist; a MASK section may only use masks defined before it."""
    all_masks = [sec.name for sec in setools.of_kind('MASK')]
    seen = set()

    def check(line, name, earlier_only):
        if name in seen or (not earlier_only and name in all_masks):
            return
        if name in all_masks:
            raise setools.error(line, f'mask {name!r} is defined after this section; '
                                      f'move its [MASK:{name}] section up')
        close = difflib.get_close_matches(name, all_masks, n=1)
        hint = f' (did you mean {close[0]}?)' if close else ''
        raise setools.error(line, f'unknown mask {name!r}{hint}')

    for section in setools.sections:
        earlier_only = section.kind == 'MASK'
        if section.kind == 'MASK':
            for line, name in section.options['prefilter']:
                check(line, name, True)
        for line, tree in _trees(section):
            for name in referenced_masks(tree):
                check(line, name, earlier_only)
        if section.kind == 'RAND_SPLIT':
            if 'RATIO' not in section.options:
                raise setools.error(section.line, 'RAND_SPLIT section needs RATIO')
            if 'MASK' in section.options:
                line, masks = section.options['MASK']
                for name in masks:
                    check(line, name, False)
        if section.kind == 'PLOT':
            if 'TYPE' not in section.options:
                raise setools.error(section.line, 'PLOT section needs TYPE = plot|scatter|hist')
            kind = section.options['TYPE']['0'][1]
            needed = {'plot': ('X', 'Y'), 'scatter': ('X', 'Y', 'SCATTER'), 'hist': ('Y',)}[kind]
            for key in needed:
                if key not in section.options:
                    raise setools.error(section.line, f'PLOT of TYPE {kind} needs {key}')
        if section.kind == 'NEW_CAT' and 'OUTPUT_FORMAT' not in section.options:
            section.options['OUTPUT_FORMAT'] = (section.line, 'fits')
        if section.kind == 'MASK':
            seen.add(section.name)
