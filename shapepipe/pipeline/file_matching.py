"""Finding a module's input files and turning them into jobs.

For each (pattern, extension), the input directories are searched in order
(recursively, ``*pattern*ext``); the first directory with matches wins. The
file number is the part of the name that matches the numbering scheme just
before the extension. Numbers are intersected over the patterns, unless a
number list is given.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
import glob
import os
from dataclasses import dataclass, field

from shapepipe.errors import ConfigError, InputError
from shapepipe.io.atomic import is_temporary_name
from shapepipe.pipeline.numbering import file_name_regex, natural_key


@dataclass
class PatternFiles:
    """The files found for one pattern: number -> path."""

    pattern: str
    ext: str
    directory: str
    files: dict = field(default_factory=dict)


def normalise_ext(ext: str) -> str:
    """Add the leading dot ShapePipe allows users to omit."""
    ext = ext.strip()
    return ext if not ext or ext.startswith('.') else '.' + ext


def pair_patterns(patterns: Sequence[str], exts: Sequence[str],
                  where: str = '') -> list[tuple[str, str]]:
    """Broadcast one extension over all patterns; otherwise lengths must match."""
    exts = [normalise_ext(e) for e in exts]
    if not patterns:
        raise ConfigError(f'{where}no FILE_PATTERN: set FILE_PATTERN in the module section')
    if len(exts) == 1:
        exts = exts * len(patterns)
    if len(exts) != len(patterns):
        raise ConfigError(
            f'{where}FILE_PATTERN has {len(patterns)} entries but FILE_EXT has '
            f'{len(exts)}: give one extension, or one per pattern'
        )
    return list(zip(patterns, exts))


def find_pattern_files(directories: Iterable[str], pattern: str, ext: str, number_regex: str,
                       correct_pattern: bool = True) -> PatternFiles:
    """Find the files of one pattern.

    Returns
    -------
    PatternFiles
        With ``files`` empty when no directory holds a match.

    Raises
    ------
    InputError
        When two files share a number and neither is an exact ``pattern+number+ext``.
    """
    name_re = file_name_regex(number_regex, ext)
    for directory in directories:
        hits = glob.glob(
            os.path.join(glob.escape(directory), '**', f'*{glob.escape(pattern)}*{glob.escape(ext)}'),
            recursive=True,
        )
        by_number = {}
        for path in hits:
            if is_temporary_name(path) or '.part' in os.path.dirname(path):
                continue  # an output being written, or left by a killed job
            match = name_re.match(os.path.basename(path))
            if not match or not os.path.isfile(path):
                continue
            prefix = match.group('prefix')
            if (correct_pattern and pattern not in prefix) or (
                    not correct_pattern and prefix != pattern):
                continue
            by_number.setdefault(match.group('number'), []).append((prefix, path))
        if not by_number:
            continue
        files = {}
        for number, candidates in by_number.items():
            if len(candidates) > 1:
                exact = [p for prefix, p in candidates if prefix == pattern]
                if len(exact) != 1:
                    names = ', '.join(sorted(os.path.relpath(p, directory) for _, p in candidates))
                    raise InputError(
                        f'pattern {pattern!r} matches several files with number {number!r} '
                        f'in {directory}: {names}; make FILE_PATTERN more specific',
                        path=directory,
                    )
                files[number] = exact[0]
            else:
                files[number] = candidates[0][1]
        return PatternFiles(pattern, ext, directory, files)
    return PatternFiles(pattern, ext, '', {})


def read_number_list(items: Sequence[str]) -> list[str]:
    """Numbers from NUMBER_LIST: a file with one number a line, or the list itself."""
    if len(items) == 1 and os.path.isfile(items[0]):
        with open(items[0]) as handle:
            return [line.strip() for line in handle if line.strip() and not line.startswith('#')]
    return list(items)


def select_numbers(found: Sequence[PatternFiles], number_list: Sequence[str] | None = None,
                   ) -> tuple[list[str], dict[str, list[str]]]:
    """Numbers to process and those dropped.

    Parameters
    ----------
    found : list of PatternFiles
    number_list : list of str, optional
        Explicit numbers (NUMBER_LIST); every pattern must have a file for each.

    Returns
    -------
    numbers : list of str
        Naturally sorted.
    dropped : dict
        Number -> patterns it lacks (only without a number list).
    """
    if number_list:
        missing = [
            f'{pf.pattern}{n}{pf.ext}' for n in number_list for pf in found if n not in pf.files
        ]
        if missing:
            shown = ', '.join(missing[:5]) + (' ...' if len(missing) > 5 else '')
            raise InputError(
                f'NUMBER_LIST asks for files that are not in the inputs: {shown}'
            )
        return list(number_list), {}
    all_numbers = set().union(*(pf.files for pf in found)) if found else set()
    common = set.intersection(*(set(pf.files) for pf in found)) if found else set()
    dropped = {
        n: [pf.pattern for pf in found if n not in pf.files] for n in all_numbers - common
    }
    return sorted(common, key=natural_key), dropped
