"""``shapepipe_check_config``: validate config files as ``shapepipe_run`` does
before its first job, without needing any input file.

Checks the pipeline sections, every module section against its runner's
declared options, the file patterns and input roles, that inputs from earlier
modules match their declared outputs, and that the Python packages and
executables the modules need are installed.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from shapepipe.errors import ShapePipeError
from shapepipe.pipeline.config import load_config
from shapepipe.pipeline.connections import check_pipeline
from shapepipe.pipeline.dependencies import check_executables, check_python_packages
from shapepipe.pipeline.module_registry import load_runner
from shapepipe.pipeline.plan import ModuleProperties, plan_module_runs

if TYPE_CHECKING:
    from collections.abc import Sequence

    from shapepipe.pipeline.plan import ModuleRun


def check_config(path: str, executables: bool = True) -> list[ModuleRun]:
    """Validate a config file; return its module runs.

    Raises
    ------
    ShapePipeError
        The first problem found, in one line.
    """
    config = load_config(path)
    config.validate_pipeline_sections()
    runs = plan_module_runs(config.pipeline('EXECUTION', 'MODULE'))
    for run in runs:
        run.info = load_runner(run.runner).runner_info
        if (not config.has_section(run.section) and run.name != run.runner
                and config.has_section(run.runner.upper())):
            run.section = run.runner.upper()
        config.validate_module_section(run.section, run.info.options)
    props = {}
    for run in runs:
        props[run.name] = ModuleProperties(config, run)
        check_python_packages(props[run.name].depends, run.name)
        if executables:
            check_executables(props[run.name].executes, run.name)
    check_pipeline(config, runs, props)
    return runs


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: one line per config, exit 1 when any is rejected."""
    parser = argparse.ArgumentParser(prog='shapepipe_check_config', description=__doc__.split('\n')[0])
    parser.add_argument('configs', nargs='+', help='config files')
    parser.add_argument('--no-executables', action='store_true',
                        help='do not require the executables to be installed')
    args = parser.parse_args(argv)
    rejected = 0
    for path in args.configs:
        try:
            runs = check_config(path, executables=not args.no_executables)
            print(f'ok       {path}: {", ".join(r.name for r in runs)}')
        except ShapePipeError as error:
            rejected += 1
            print(f'rejected {path}: {error}')
    print(f'{len(args.configs) - rejected} of {len(args.configs)} accepted')
    return 1 if rejected else 0


if __name__ == '__main__':
    sys.exit(main())
