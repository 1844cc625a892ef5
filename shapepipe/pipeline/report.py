"""The summary table that ends a run."""

from dataclasses import dataclass


@dataclass
class ModuleSummary:
    """Job counts and wall time of one module run."""

    name: str
    jobs: int = 0
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    not_started: int = 0
    seconds: float = 0.0


def summary_table(summaries):
    """A plain-text table: module, jobs, ok, failed, skipped, wall time."""
    width = max([len('module')] + [len(s.name) for s in summaries])
    lines = [f'{"module":<{width}}  {"jobs":>6} {"ok":>6} {"failed":>6} {"skipped":>7} {"time [s]":>9}']
    lines.append('-' * len(lines[0]))
    for s in summaries:
        failed = 'START' if s.not_started else s.failed
        lines.append(f'{s.name:<{width}}  {s.jobs:>6} {s.ok:>6} {failed:>6} {s.skipped:>7} '
                     f'{s.seconds:>9.2f}')
    return '\n'.join(lines)
