"""File numbering schemes: ShapePipe's example strings and ``RE:`` regexps."""

from __future__ import annotations

import re

from shapepipe.errors import ConfigError

DEFAULT_SCHEME = r'RE:\_\d+'


def scheme_to_regex(scheme: str | None) -> str:
    """Convert a numbering scheme to a regular expression.

    ``RE:<regex>`` is used as given. Otherwise each non-alphanumeric character
    is a literal, a run of n > 1 alphanumerics is ``\\d{n}`` and a single one
    is ``\\d+``: ``_0`` -> ``\\_\\d+``, ``-000-000`` -> ``\\-\\d{3}\\-\\d{3}``,
    ``-0000000-0`` -> ``\\-\\d{7}\\-\\d+``, ``''`` -> ``''``.

    Raises
    ------
    ConfigError
        When the resulting expression does not compile, or cannot be used to
        find the number in a file name (a named group, or one that matches
        an empty string).
    """
    if scheme is None:
        scheme = DEFAULT_SCHEME
    scheme = scheme.strip()
    if scheme.startswith('RE:'):
        regex = scheme[3:]
    else:
        parts = []
        for token in re.findall(r'[A-Za-z0-9]+|[^A-Za-z0-9]', scheme):
            if token[0].isalnum():
                parts.append(r'\d+' if len(token) == 1 else rf'\d{{{len(token)}}}')
            else:
                # A backslash before punctuation is always a literal (``\_``, ``\-``).
                parts.append('\\' + token)
        regex = ''.join(parts)
    try:
        compiled = re.compile(regex)
    except re.error as error:
        raise ConfigError(
            f'NUMBERING_SCHEME {scheme!r} is not a valid regular expression: {error}',
            key='NUMBERING_SCHEME',
        ) from None
    if compiled.groupindex:
        raise ConfigError(
            f'NUMBERING_SCHEME {scheme!r} has a named group '
            f'({", ".join(compiled.groupindex)}): the whole match is the file number, so use '
            f'(?:...) or no group', key='NUMBERING_SCHEME',
        )
    if regex and compiled.fullmatch(''):
        raise ConfigError(
            f'NUMBERING_SCHEME {scheme!r} matches an empty string, so it cannot number files: '
            f'use + instead of * (e.g. RE:\\_\\d+)', key='NUMBERING_SCHEME',
        )
    return regex


def file_name_regex(number_regex: str, ext: str) -> re.Pattern[str]:
    """Regex splitting a file name into ``(prefix, number)`` before ``ext``."""
    return re.compile(rf'^(?P<prefix>.*?)(?P<number>{number_regex}){re.escape(ext)}$')


def natural_key(text: str) -> list[int | str]:
    """Sort key putting ``-2`` before ``-10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r'(\d+)', text)]
