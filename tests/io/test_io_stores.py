"""shapepipe.io.stores: the safe store encoding, its round trip, and the
refusal of pickles (the ALLOW_PICKLE migration path reads numpy arrays and
WCS objects only)."""

import pickle

import numpy as np
import pytest
from sqlitedict import SqliteDict

from shapepipe.errors import InputError
from shapepipe.io.epochs import open_object_store, write_epoch_store
from shapepipe.io.stores import (
    MAGIC, PickleRefused, UnsafePickle, decode_value, encode_value, read_store, write_store,
)


def test_values_round_trip():
    stamp = np.arange(51 * 51, dtype=np.float32).reshape(51, 51) / 7
    value = {'2113737-10': {'VIGNET': stamp, 'SHAPES': {
        'E1_PSF_HSM': 0.1 + 1e-17, 'SIGMA_PSF_HSM': np.float64(1.5), 'FLAG_PSF_HSM': np.int32(2),
        'NAN': float('nan'), 'INF': -np.inf}},
        'flags': np.array([[1, -2]], dtype=np.int16), 'empty': np.zeros((0, 3)), 'list': [1, 'a',
                                                                                     None, True]}
    back = decode_value(encode_value(value))
    got = back['2113737-10']
    assert got['VIGNET'].dtype == np.float32 and np.array_equal(got['VIGNET'], stamp)
    assert got['VIGNET'].flags.writeable
    assert got['SHAPES']['E1_PSF_HSM'] == 0.1 + 1e-17
    assert got['SHAPES']['SIGMA_PSF_HSM'] == 1.5 and got['SHAPES']['FLAG_PSF_HSM'] == 2
    assert np.isnan(got['SHAPES']['NAN']) and got['SHAPES']['INF'] == -np.inf
    assert back['flags'].dtype == np.int16 and back['flags'].tolist() == [[1, -2]]
    assert back['empty'].shape == (0, 3)
    assert back['list'] == [1, 'a', None, True]
    assert all(a.flags.aligned for a in (got['VIGNET'], back['flags'], back['empty']))
    assert decode_value(encode_value('empty')) == 'empty'
    assert bytes(encode_value('empty')).startswith(MAGIC)


def test_wcs_reads_back_as_its_pickle_would(sip_wcs):
    """The encoded WCS equals astropy's pickle round trip: same header, same pixels."""
    wcs = sip_wcs()
    mine = decode_value(encode_value({'WCS': wcs}))['WCS']
    pickled = pickle.loads(pickle.dumps(wcs))
    assert mine.to_header_string(relax=True) == pickled.to_header_string(relax=True)
    assert mine.pixel_shape == pickled.pixel_shape == (2048, 4612)
    x, y = np.meshgrid(np.linspace(1, 2048, 7), np.linspace(1, 4612, 9))
    np.testing.assert_array_equal(np.array(mine.all_pix2world(x, y, 1)),
                                  np.array(pickled.all_pix2world(x, y, 1)))


def test_values_that_cannot_be_stored():
    with pytest.raises(TypeError, match='object'):
        encode_value(np.array([{}], dtype=object))
    with pytest.raises(TypeError, match='set'):
        encode_value({1, 2})
    with pytest.raises(TypeError, match='keys must be str'):
        encode_value({1: 2})


def test_store_round_trip(tmp_path):
    path = str(tmp_path / 'image_vignet-277-282.sqlite')
    numbers = np.array([3, 1, 2])
    stamps = np.random.default_rng(1).normal(size=(3, 5, 5)).astype(np.float32)
    write_epoch_store(path, numbers, [('2113737-10', np.array([0, 2]), None)],
                      lambda source, rows: [{'VIGNET': stamps[r]} for r in rows], chunk=2)
    with open_object_store(path) as store:
        assert list(store.keys()) == ['3', '1', '2']
        assert store['1'] == 'empty'
        assert np.array_equal(store['2']['2113737-10']['VIGNET'], stamps[2])
    write_store(str(tmp_path / 'plain.sqlite'), {'a': [1, 2], 'b': {'c': 'd'}})
    assert read_store(str(tmp_path / 'plain.sqlite')) == {'a': [1, 2], 'b': {'c': 'd'}}


def test_pickled_store_is_refused_in_one_line(tmp_path, Payload):
    marker = tmp_path / 'created_by_unpickling'
    path = str(tmp_path / 'galaxy_psf-277-282.sqlite')
    with SqliteDict(path) as store:                # sqlitedict's default: pickle
        store['1'] = Payload(marker)
        store.commit()
    for allow in (False, True):
        with open_object_store(path, 'PSF store', allow_pickle=allow) as store:
            with pytest.raises(InputError) as error:
                store['1']
        message = str(error.value)
        assert '\n' not in message and message.startswith(path)
        assert ('ALLOW_PICKLE' in message) if not allow else ('not allowed' in message)
        assert not marker.exists()


def test_shapepipe_store_read_with_allow_pickle(tmp_path, sip_wcs):
    """A ShapePipe-made store (pickled arrays, WCS) reads with ALLOW_PICKLE only."""
    path = str(tmp_path / 'log_exp_headers.sqlite')
    wcs = sip_wcs()
    with SqliteDict(path) as store:
        store['2113737'] = np.array([{'WCS': wcs, 'header': 'SIMPLE  =  T'}], dtype=object)
        store.commit()
    with pytest.raises(InputError, match='pickled values'):
        read_store(path)
    entries = read_store(path, allow_pickle=True)['2113737']
    assert entries[0]['header'] == 'SIMPLE  =  T'
    assert entries[0]['WCS'].to_header_string(relax=True) == wcs.to_header_string(relax=True)


def test_decode_errors():
    with pytest.raises(PickleRefused):
        decode_value(pickle.dumps([1], protocol=4))
    with pytest.raises(UnsafePickle, match='posix.system|os.system'):
        import os
        decode_value(pickle.dumps(os.system, protocol=4), allow_pickle=True)
    with pytest.raises(ValueError, match='neither'):
        decode_value(b'hello')
