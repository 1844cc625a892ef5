"""How many of ShapePipe's own example/cfis pipeline configs shapepipe accepts.

    python benchmarks/bench_cfis_configs.py --mirror /path/to/shapepipe.git [--ref develop]

Reads ShapePipe's configs from a git repository of ShapePipe (nothing is copied
into this one), fills the two templates as job_sp does, validates each config
as ``shapepipe_run`` does before its first job (keys, types, sections, runners;
not the executables) and prints one line per config and the count. ShapePipe
runs all 22 (issue 13 counted 10 accepted before the production work).
"""

import argparse
import os
import subprocess
import sys
import tempfile

from shapepipe.commands.check_config import check_config
from shapepipe.commands.job_sp import fill_merge_template, fill_shape_template
from shapepipe.errors import ShapePipeError


def shapepipe_configs(mirror, ref):
    """{name: text} of the pipeline configs (those with an [EXECUTION] section)."""
    names = subprocess.run(['git', '-C', mirror, 'ls-tree', '--name-only', f'{ref}:example/cfis'],
                           check=True, capture_output=True, text=True).stdout.split()
    configs = {}
    for name in names:
        if not name.endswith('.ini'):
            continue
        text = subprocess.run(['git', '-C', mirror, 'show', f'{ref}:example/cfis/{name}'],
                              check=True, capture_output=True, text=True).stdout
        if '[EXECUTION]' in text:
            configs[name] = text
    return configs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--mirror', required=True, help='git directory of ShapePipe')
    parser.add_argument('--ref', default='develop')
    args = parser.parse_args(argv)
    configs = shapepipe_configs(args.mirror, args.ref)
    accepted = 0
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault('SP_RUN', tmp)
        os.environ.setdefault('SP_CONFIG', tmp)
        os.environ.setdefault('VM_HOME', tmp)
        for name, text in sorted(configs.items()):
            if 'Ng_template' in name:
                text = fill_shape_template(text, 1, 0, 999, 'psfex')
            elif 'merge_sep_cats_template' in name:
                text = fill_merge_template(text, 8)
            path = os.path.join(tmp, name)
            with open(path, 'w') as handle:
                handle.write(text)
            try:
                check_config(path, executables=False)
                accepted += 1
                print(f'accepted  {name}')
            except ShapePipeError as error:
                print(f'rejected  {name}: {error}')
    print(f'{accepted} of {len(configs)} ShapePipe example/cfis configs accepted')
    return 0


if __name__ == '__main__':
    sys.exit(main())
