"""The summary table that ends a run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class ModuleSummary:
    """Job counts and wall time of one module run.

    ``resumed`` jobs were done by an earlier attempt of the run and skipped
    by ``--resume``.
    """

    name: str
    jobs: int = 0
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    not_started: int = 0
    seconds: float = 0.0
    resumed: int = 0

    @property
    def unfinished(self) -> int:
        """Jobs that neither ran to an end nor were done before: interrupted or never run."""
        return max(self.jobs - self.resumed - self.ok - self.failed - self.skipped, 0)


def summary_table(summaries: Sequence[ModuleSummary]) -> str:
    """A plain-text table: module, jobs, ok, failed, skipped, wall time.

    Columns ``resumed`` (done before a ``--resume``) and ``stopped``
    (interrupted or never run) are added when any module has such jobs.
    """
    width = max([len('module')] + [len(s.name) for s in summaries])
    resumed = any(s.resumed for s in summaries)
    stopped = any(s.unfinished for s in summaries)
    head = f'{"module":<{width}}  {"jobs":>6} {"ok":>6} {"failed":>6} {"skipped":>7}'
    head += f' {"resumed":>7}' * resumed + f' {"stopped":>7}' * stopped
    lines = [head + f' {"time [s]":>9}']
    lines.append('-' * len(lines[0]))
    for s in summaries:
        failed = 'START' if s.not_started else s.failed
        line = f'{s.name:<{width}}  {s.jobs:>6} {s.ok:>6} {failed:>6} {s.skipped:>7}'
        line += f' {s.resumed:>7}' * resumed + f' {s.unfinished:>7}' * stopped
        lines.append(line + f' {s.seconds:>9.2f}')
    return '\n'.join(lines)
