"""``python -m tests.regression [--refresh]``: run the regression test, or
rewrite the reference catalogues from the current code (then review and commit
``tests/data/regression/``)."""

import argparse
import os
import subprocess
import sys

from tests.regression import DATA, REFRESH_VARIABLE


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m tests.regression', description=__doc__)
    parser.add_argument('--refresh', action='store_true',
                        help='rewrite the reference catalogues instead of comparing')
    args = parser.parse_args(argv)
    env = dict(os.environ)
    if args.refresh:
        env[REFRESH_VARIABLE] = '1'
    here = os.path.dirname(os.path.abspath(__file__))
    status = subprocess.call([sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider',
                              '-s', here], env=env)
    if args.refresh and status == 0:
        print(f'reference catalogues rewritten in {DATA}: review `git diff --stat` and commit')
    return status


if __name__ == '__main__':
    sys.exit(main())
