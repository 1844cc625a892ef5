"""ShapePipe's own ``scripts/sh/job_sp.bash`` driven against our commands on a
simulated tile: which of its offline steps succeed, and where and why it stops.

    python benchmarks/bench_shapepipe_job_sp.py \
        [--mirror /work/.mirror/CosmoStat+shapepipe/repo] [--branch develop] \
        [--workdir DIR] [--tile 277.282] [--psf psfex] [--nsh_jobs 2]

The script is read from the mirror at run time into a temporary directory (it is
never part of this repository). Our ``shapepipe_run``, ``create_star_cat`` and
``get_number_objects.py`` come first on PATH; the run directory is a simulated
field (``shapepipe_simulate --preset tiles2x2``) laid out as the script's
``-r symlink`` retrieval expects (``data_tiles/``, ``data_exp/``); ``-c`` is a copy
of our ``example/cfis`` whose only change is ``N_HDU`` of ``config_exp_SpMh.ini``
(the simulated mosaics hold fewer than MegaCam's 40 CCDs; ShapePipe's script never
changes it); ``-s save`` makes the mask star catalogues from the simulator's
truth through ``$SP_STAR_CAT`` (ShapePipe's ``create_star_cat`` queries the GSC
online). Each bit of ``-j`` runs as its own call so a failing step is named; step
128 (upload with ``vcp``) needs the network and is not run.
"""

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from shapepipe.commands.job_sp import count_ccd_hdus

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
STEPS = ((1, 'retrieve images, star catalogues'), (2, 'prepare: uncompress, split, headers'),
         (4, 'mask'), (8, 'tile detection, exposure PSFs'), (16, 'tile PSFs, stamps, spread model'),
         (32, 'shapes (ngmix ranges)'), (64, 'merge ranges, final catalogue'))


def extract_script(mirror, branch, dest):
    """job_sp.bash of ShapePipe's ``branch`` into ``dest``; its path."""
    text = subprocess.run(['git', '--git-dir', mirror, 'show', f'{branch}:scripts/sh/job_sp.bash'],
                          check=True, capture_output=True, text=True).stdout
    path = os.path.join(dest, 'job_sp.bash')
    with open(path, 'w') as handle:
        handle.write(text)
    os.chmod(path, 0o755)
    return path


def prepare(work, tile):
    """The simulated field and the config copy; (run dir, config dir, truth path)."""
    run = os.path.join(work, 'run')
    subprocess.run([os.path.join(BIN, 'shapepipe_simulate'), '-o', run, '--preset', 'tiles2x2',
                    '--seed', '5', '--overwrite'], check=True, stdout=subprocess.DEVNULL)
    for ours, theirs in (('input_tiles', 'data_tiles'), ('input_exposures', 'data_exp')):
        if not os.path.exists(os.path.join(run, theirs)):
            os.symlink(ours, os.path.join(run, theirs))
    config = os.path.join(work, 'cfis_config')
    shutil.rmtree(config, ignore_errors=True)
    shutil.copytree(os.path.join(ROOT, 'example', 'cfis'), config)   # links followed
    n_hdu = count_ccd_hdus(sorted(glob.glob(os.path.join(run, 'input_exposures', '*p.fits.fz')))[0])
    path = os.path.join(config, 'config_exp_SpMh.ini')
    with open(path) as handle:
        text = re.sub(r'(?m)^N_HDU\s*=.*$', f'N_HDU = {n_hdu}', handle.read())
    with open(path, 'w') as handle:
        handle.write(text)
    return run, config, os.path.join(run, 'truth.fits'), n_hdu


def run_step(script, run, config, env, bit, args):
    """One bit of -j; (exit status, wall seconds, output, failed commands)."""
    start = time.perf_counter()
    result = subprocess.run(['bash', script, '-j', str(bit), '-c', config, '-p', args.psf,
                             '-r', 'symlink', '-s', 'save', '--nsh_jobs', str(args.nsh_jobs),
                             args.tile], cwd=run, env=env, capture_output=True, text=True,
                            timeout=args.timeout)
    wall = time.perf_counter() - start
    output = result.stdout + result.stderr
    # the script prints "<what>: running '<command>'" then "success|error, return value = N";
    # step 8 and the shape jobs continue after an error (STOP=0, VERBOSE=0): read the logs too
    failed = re.findall(r"([^\n]*): running '([^']*)'\n(?:\x1b\[[0-9;]*m)?error, return value = "
                        r"(\d+)", output)
    return result.returncode, wall, output, failed


def module_errors(run):
    """Module runs of the pipeline logs that report errors."""
    found = []
    for log in sorted(glob.glob(os.path.join(run, 'output', 'run_sp_*', 'logs', 'log_sp.log'))):
        with open(log) as handle:
            text = handle.read()
        for line in text.splitlines():
            if ' ERROR ' in line:
                found.append(f'{os.path.basename(os.path.dirname(os.path.dirname(log)))}: '
                             f'{line.split(" ERROR ", 1)[1][:200]}')
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--mirror', default='/work/.mirror/CosmoStat+shapepipe/repo')
    parser.add_argument('--branch', default='develop')
    parser.add_argument('--workdir', default=None)
    parser.add_argument('--tile', default='277.282', help='a tile of the tiles2x2 field')
    parser.add_argument('--psf', default='psfex', choices=('psfex', 'mccd'),
                        help="ShapePipe's script knows psfex and mccd")
    parser.add_argument('--nsh_jobs', type=int, default=2,
                        help="shape jobs (ShapePipe's default 8 is for 8 cores)")
    parser.add_argument('--timeout', type=float, default=3600)
    args = parser.parse_args(argv)
    work = args.workdir or tempfile.mkdtemp(prefix='bench_shapepipe_job_sp_')
    os.makedirs(work, exist_ok=True)
    scripts = tempfile.mkdtemp(prefix='shapepipe_scripts_', dir=work)
    script = extract_script(args.mirror, args.branch, scripts)
    run, config, truth, n_hdu = prepare(work, args.tile)
    home = os.path.join(work, 'home')
    os.makedirs(home, exist_ok=True)
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ['PATH'], HOME=home,
               SP_STAR_CAT=truth)
    env.pop('SP_CONFIG', None)
    print(f"ShapePipe's job_sp.bash ({args.branch}) from {args.mirror}, run in {run}")
    print(f'tile {args.tile}, -p {args.psf} -r symlink -s save --nsh_jobs {args.nsh_jobs}; '
          f'config copy {config} (N_HDU = {n_hdu})')
    stopped = None
    for bit, name in STEPS:
        status, wall, output, failed = run_step(script, run, config, env, bit, args)
        errors = module_errors(run)
        ok = status == 0 and not failed
        print(f'-j {bit:3d} {name:38s} {"ok" if ok else "FAILED"} (exit {status}, '
              f'{wall:.1f} s)')
        for what, command, code in failed:
            print(f'        {what}: {command} -> exit {code}')
        if not ok:
            tail = [line for line in output.splitlines() if line.strip()][-6:]
            print('        last output: ' + '\n        '.join(tail))
            for error in errors[-5:]:
                print(f'        log: {error}')
            stopped = bit
            break
    finals = glob.glob(os.path.join(run, 'output', 'run_sp_Mc_*', 'make_cat_runner', 'output',
                                    'final_cat-*.fits'))
    if stopped is None:
        from astropy.io import fits

        rows = sum(len(fits.getdata(path, 1)) for path in finals)
        print(f'all offline steps succeeded: {len(finals)} final catalogue(s), {rows} objects')
        print('-j 128 (upload with vcp to vos:cfis) not run: needs the network and a CADC '
              'certificate')
    else:
        print(f'stopped at -j {stopped}')
    print(f'load average at the end: {os.getloadavg()[0]:.1f} (2 cores shared)')
    return 0 if stopped is None else 1


if __name__ == '__main__':
    sys.exit(main())
