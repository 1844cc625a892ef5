"""mask_runner through shapepipe_run on the synthetic field of test_mask."""

import glob
import os

from astropy.io import fits

from tests.conftest import run_shapepipe
from tests.mask.test_mask import NO_MAG_STAR, STARS, field  # noqa: F401 (fixture)


def run_pipeline(base, extra='', use_ext_star=True):
    (base / 'config.ini').write_text(f"""
[DEFAULT]
VERBOSE = False
RUN_DATETIME = False
[EXECUTION]
MODULE = mask_runner
[FILE]
INPUT_DIR = {base}/input
OUTPUT_DIR = {base}/output
[MASK_RUNNER]
FILE_PATTERN = image, weight, flag, star_cat
FILE_EXT = .fits, .fits, .fits, .cat
NUMBERING_SCHEME = -0-0
MASK_CONFIG_PATH = {base}/test.mask
USE_EXT_FLAG = True
USE_EXT_STAR = {use_ext_star}
{extra}
""")
    os.makedirs(base / 'output', exist_ok=True)
    return run_shapepipe(['-c', str(base / 'config.ini')], base)


def test_runner_writes_prefixed_flag_file(field):  # noqa: F811
    base, _ = field
    os.makedirs(base / 'input')
    for name in ('image-1-0.fits', 'weight-1-0.fits', 'flag-1-0.fits', 'star_cat-1-0.cat'):
        os.rename(base / name, base / 'input' / name)
    result = run_pipeline(base, 'SUFFIX = pipeline')
    assert result.returncode == 0, result.stdout + result.stderr
    out = glob.glob(str(base / 'output' / '*' / 'mask_runner' / 'output' / '*'))
    assert [os.path.basename(p) for p in out] == ['pipeline_flag-1-0.fits']
    flag = fits.getdata(out[0])
    x0, y0, _ = STARS[0]
    assert flag[int(y0), int(x0)] == 2 | 128 | 1
    assert flag[int(NO_MAG_STAR[1]), int(NO_MAG_STAR[0])] == 0
    assert fits.getheader(out[0])['NSTNOMAG'] == 1
    logs = glob.glob(str(base / 'output' / '*' / 'mask_runner' / 'logs' / '*.log'))
    text = ''.join(open(p).read() for p in logs)
    assert 'no magnitude' in text

    # Wrong number of inputs for the USE_EXT_* options: the job fails with one clear line
    result = run_pipeline(base, 'PREFIX = x', use_ext_star=False)
    assert result.returncode != 0
    logs = glob.glob(str(base / 'output' / '*' / 'logs' / '*.log'))
    text = ''.join(open(p).read() for p in logs)
    assert 'USE_EXT_STAR = False expect 3' in text
