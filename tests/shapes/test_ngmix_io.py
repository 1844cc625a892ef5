"""ngmix_runner's I/O: catalogue writing and merging, stores, input roles."""

import numpy as np
import pytest
from astropy.io import fits

from shapepipe.errors import InputError
from shapepipe.modules.merge_sep_cats_package.merge import merge_catalogs, piece_paths
from shapepipe.modules.ngmix_package.catalog import HDU_ORDER, empty_tables, write_ngmix_catalog
from shapepipe.modules.ngmix_package.measure import COLUMNS
from shapepipe.modules.ngmix_package.stamp_stores import local_jacobian, open_store
from shapepipe.modules.ngmix_runner import ngmix_runner
from shapepipe.pipeline.connections import assign_roles, missing_roles


def _tables(ids):
    return {name: {key: (np.asarray(ids) if key == 'id' else np.full(len(ids), 1.5))
                   for key in COLUMNS} for name in HDU_ORDER}


def test_empty_catalogue_is_valid(tmp_path):
    path = tmp_path / 'ngmix-277-282.fits'
    write_ngmix_catalog(str(path), empty_tables())
    with fits.open(path) as hdul:
        assert [h.name for h in hdul[1:]] == list(HDU_ORDER)
        assert len(hdul['NOSHEAR'].data) == 0
        assert hdul['NOSHEAR'].columns.names == list(COLUMNS)


def test_pieces_merge_sorted_and_overlaps_rejected(tmp_path):
    a, b = tmp_path / 'a.fits', tmp_path / 'b.fits'
    write_ngmix_catalog(str(a), _tables([5, 1]))
    write_ngmix_catalog(str(b), _tables([3]))
    assert merge_catalogs([str(a), str(b)], str(tmp_path / 'm.fits')) == 3
    assert list(fits.getdata(tmp_path / 'm.fits', '1P')['id']) == [1, 3, 5]
    write_ngmix_catalog(str(b), _tables([5]))
    with pytest.raises(InputError, match='overlap'):
        merge_catalogs([str(a), str(b)], str(tmp_path / 'm2.fits'))


def test_piece_paths():
    first = '/r/run_sp_2021-11-01_10-11-12/ngmix_runner_run_1/output/ngmix-111-221.fits'
    assert piece_paths(first, 2)[1] == first.replace('_run_1/', '_run_2/')
    with pytest.raises(InputError, match='_run_1'):
        piece_paths('/r/ngmix_runner/output/ngmix-111-221.fits', 2)


def test_corrupt_store_is_a_one_line_error(tmp_path):
    path = tmp_path / 'image_vignet-277-282.sqlite'
    path.write_bytes(b'not a database' * 100)
    with pytest.raises(InputError, match='image_vignet-277-282.sqlite'):
        open_store(str(path))
    with pytest.raises(InputError, match='missing.sqlite'):
        open_store(str(tmp_path / 'missing.sqlite'))


def test_locked_store_is_a_one_line_error(tmp_path):
    """A store another process holds an exclusive lock on (e.g. a writer still
    running): one line naming the file after the 5 s wait, not a hang or a traceback."""
    import sqlite3
    import time

    from shapepipe.io.epochs import write_epoch_store
    path = str(tmp_path / 'galaxy_psf-277-282.sqlite')
    write_epoch_store(path, [1], [('e-0', np.array([0]), None)], lambda source, rows: [1])
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute('BEGIN EXCLUSIVE')
    try:
        start = time.perf_counter()
        with pytest.raises(InputError, match=r'galaxy_psf-277-282.sqlite: .*locked'):
            open_store(path)
        assert time.perf_counter() - start < 15
    finally:
        writer.execute('ROLLBACK')
        writer.close()
    with open_store(path) as store:
        assert store['1'] == {'e-0': 1}


def test_input_roles_from_declared_patterns_and_shapepipe_order():
    inputs = ngmix_runner.runner_info.inputs
    shapepipe = ['sexcat', 'image_vignet', 'background_vignet', 'galaxy_psf', 'weight_vignet',
                 'flag_vignet']
    roles = assign_roles(inputs, [(p, '') for p in shapepipe], {})
    assert roles == ['catalog', 'image', 'background', 'psf', 'weight', 'flag']
    defaults = list(zip(ngmix_runner.file_pattern, ngmix_runner.file_ext))
    assert assign_roles(inputs, defaults, {}) == ['catalog', 'image', 'psf', 'weight', 'flag']
    assert missing_roles(inputs, ['catalog', 'image', 'psf', 'weight'], {}) == []
    assert [i.role for i in missing_roles(inputs, ['catalog', 'image', 'weight'], {})] == ['psf']


def test_local_jacobian_of_a_tan_wcs():
    from astropy.wcs import WCS
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ['RA---TAN', 'DEC--TAN']
    wcs.wcs.crval = [255.0, 30.0]
    wcs.wcs.crpix = [100.0, 100.0]
    wcs.wcs.cd = [[-0.187 / 3600, 0.0], [0.0, 0.187 / 3600]]
    jac = local_jacobian(wcs, 100.0, 100.0)
    # RA grows to -x, u = -dRA cos(Dec) grows to +x
    assert np.allclose(jac, [[0.187, 0.0], [0.0, 0.187]], atol=1e-6)
