"""shapepipe.io.exposure_headers: headers<num>.npy and log_exp_headers.sqlite
without pickle; crafted pickles are refused by the library and by shapepipe_run
(exit status, one line, and the file the payload would create never appears)."""

import pickle

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from shapepipe.errors import InputError
from shapepipe.io.exposure_headers import (
    exposure_key, merge_header_files, read_exposure_headers, read_headers_file,
    write_headers_file,
)
from tests.conftest import run_shapepipe


@pytest.fixture
def entries(sip_wcs):
    wcs = sip_wcs()
    header = wcs.to_header(relax=True)
    header['FSCALE'] = 1.25
    return lambda: [{'ccd': ccd, 'WCS': wcs, 'header': header.tostring()} for ccd in (0, 13)]


def test_headers_file_round_trip(tmp_path, entries, sip_wcs):
    path = str(tmp_path / 'headers-2113737.npy')
    write_headers_file(path, entries())
    table = np.load(path, allow_pickle=False)          # a plain structured array
    assert table.dtype.names == ('ccd', 'header', 'wcs', 'naxis1', 'naxis2')
    back = read_headers_file(path)
    assert [e['ccd'] for e in back] == [0, 13]
    assert back[1]['header'] == entries()[1]['header']
    assert fits.Header.fromstring(back[1]['header'])['FSCALE'] == 1.25
    wcs = pickle.loads(pickle.dumps(sip_wcs()))         # what ShapePipe's store held
    assert back[1]['WCS'].to_header_string(relax=True) == wcs.to_header_string(relax=True)
    assert back[1]['WCS'].pixel_shape == wcs.pixel_shape
    assert exposure_key(path) == '2113737'


def test_header_store_round_trip(tmp_path, entries, sip_wcs):
    paths = []
    for number in ('2113737', '2113874'):
        paths.append(str(tmp_path / f'headers-{number}.npy'))
        write_headers_file(paths[-1], entries())
    store = merge_header_files(paths, str(tmp_path / 'log_exp_headers.sqlite'))
    headers = read_exposure_headers(store)
    assert sorted(headers) == ['2113737', '2113874']
    entry = headers['2113874'][1]
    assert entry['ccd'] == 13 and isinstance(entry['WCS'], WCS)
    # as ShapePipe's pickled .npy then pickled store gave it, to the last bit
    old = pickle.loads(pickle.dumps(pickle.loads(pickle.dumps(sip_wcs()))))
    np.testing.assert_array_equal(entry['WCS'].all_pix2world([[10.0, 20.0]], 1),
                                  old.all_pix2world([[10.0, 20.0]], 1))


def shapepipe_headers_file(path, wcs, payload=None):
    """A headers .npy as ShapePipe writes it: a pickled object array of dicts."""
    values = [{'WCS': wcs, 'header': 'SIMPLE  =                    T'}] * 2
    if payload is not None:
        values[1] = {'WCS': payload, 'header': ''}
    array = np.empty(2, dtype=object)
    array[:] = values
    np.save(path, array, allow_pickle=True)


def test_shapepipe_headers_file(tmp_path, sip_wcs):
    path = str(tmp_path / 'headers-2113737.npy')
    shapepipe_headers_file(path, sip_wcs())
    with pytest.raises(InputError, match=r'headers-2113737.npy: .*pickle.*ALLOW_PICKLE'):
        read_headers_file(path)
    back = read_headers_file(path, allow_pickle=True)
    assert [e['ccd'] for e in back] == [0, 1]              # ShapePipe's CCD order
    assert back[0]['WCS'].pixel_shape == (2048, 4612)


@pytest.mark.parametrize('allow', [False, True])
def test_crafted_headers_file_is_refused(tmp_path, allow, Payload, sip_wcs):
    marker = tmp_path / 'created_by_unpickling'
    path = str(tmp_path / 'headers-2113737.npy')
    shapepipe_headers_file(path, sip_wcs(), Payload(marker))
    with pytest.raises(InputError) as error:
        read_headers_file(path, allow_pickle=allow)
    assert str(error.value).startswith(path) and '\n' not in str(error.value)
    assert not marker.exists()


def run_config(tmp_path, module, file_keys='', section=''):
    """shapepipe_run on ./in -> ./out with one module."""
    text = (f'[EXECUTION]\nMODULE = {module}\n[FILE]\nINPUT_DIR = ./in\nOUTPUT_DIR = ./out\n'
            f'{file_keys}\n{section}\n')
    (tmp_path / 'config.ini').write_text(text)
    return run_shapepipe(['-c', 'config.ini'], cwd=tmp_path)


def assert_refused(result, marker, name, phrase):
    """Exit 1; one console ERROR line, naming the file and the reason; no
    traceback; the payload's file not created."""
    console = result.stdout + result.stderr
    assert result.returncode == 1, console
    errors = [line for line in console.splitlines() if 'ERROR' in line]
    assert len(errors) == 1, console
    assert name in errors[0] and phrase in errors[0], errors
    assert 'Traceback' not in console
    assert not marker.exists()


@pytest.mark.parametrize('allow', ['False', 'True'])
def test_shapepipe_run_refuses_crafted_headers(tmp_path, allow, Payload, sip_wcs):
    """merge_headers on a crafted headers .npy: the job fails (exit 1) with one
    line naming the file, no traceback on the console, no file created."""
    marker = tmp_path / 'created_by_unpickling'
    (tmp_path / 'in').mkdir()
    shapepipe_headers_file(str(tmp_path / 'in' / 'headers-2113737.npy'), sip_wcs(),
                           Payload(marker))
    result = run_config(tmp_path, 'merge_headers_runner', f'ALLOW_PICKLE = {allow}')
    assert_refused(result, marker, 'in/headers-2113737.npy',
                   'ALLOW_PICKLE' if allow == 'False' else 'not allowed')
    assert not list((tmp_path / 'out').rglob('log_exp_headers.sqlite'))


def test_shapepipe_run_refuses_crafted_store(tmp_path, Payload):
    """psfex_interp MULTI-EPOCH given a crafted header store (ME_LOG_WCS)."""
    from sqlitedict import SqliteDict

    marker = tmp_path / 'created_by_unpickling'
    (tmp_path / 'in').mkdir()
    (tmp_path / 'psf').mkdir()
    (tmp_path / 'in' / 'tile_sexcat-277-282.fits').write_bytes(b'')
    store_path = str(tmp_path / 'log_exp_headers.sqlite')
    with SqliteDict(store_path) as store:
        store['2113737'] = [{'ccd': 0, 'WCS': Payload(marker), 'header': ''}]
        store.commit()
    result = run_config(tmp_path, 'psfex_interp_runner', section=f"""
[PSFEX_INTERP_RUNNER]
FILE_PATTERN = tile_sexcat
FILE_EXT = .fits
NUMBERING_SCHEME = -000-000
MODE = MULTI-EPOCH
ME_DOT_PSF_DIR = {tmp_path / 'psf'}
ME_LOG_WCS = {store_path}
""")
    assert_refused(result, marker, store_path, 'pickled values')
