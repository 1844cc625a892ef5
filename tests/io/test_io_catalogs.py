"""shapepipe.io.ngmix_catalog and shapepipe.io.final_catalog: layout and round trips."""

import numpy as np
import pytest
from astropy.io import fits

from shapepipe.errors import InputError
from shapepipe.io.final_catalog import (
    FINAL_HDU, ngmix_final_columns, read_final_catalog, write_final_catalog,
)
from shapepipe.io.ngmix_catalog import (
    COLUMNS, COLUMNS_SPEC, DEFAULT, FINAL_BLOCK, FINAL_OBJECT_COLUMNS, FLAG_NOT_MEASURED,
    HDU_ORDER, INT_COLUMNS, concatenate_tables, empty_tables, read_ngmix_catalog,
    write_ngmix_catalog,
)


def tables(ids, seed=0):
    rng = np.random.default_rng(seed)
    out = {}
    for kind in HDU_ORDER:
        out[kind] = {c.name: (np.asarray(ids) if c.name == 'id' else
                              rng.integers(0, 1000, len(ids)).astype(c.dtype) if c.format != 'D'
                              else rng.normal(size=len(ids)))
                     for c in COLUMNS_SPEC}
    return out


def test_ngmix_catalog_round_trip(tmp_path):
    path = str(tmp_path / 'ngmix-277-282.fits')
    written = tables([5, 2, 9])
    write_ngmix_catalog(path, written)
    with fits.open(path) as hdul:
        assert [h.name for h in hdul[1:]] == ['1M', '1P', '2M', '2P', 'NOSHEAR']
        columns = hdul['NOSHEAR'].columns
        assert columns.names == list(COLUMNS)
        assert {c.name: c.format for c in columns}['id'] == 'K'
        assert all(c.format == ('J' if c.name in INT_COLUMNS[1:] else 'K' if c.name == 'id'
                                else 'D') for c in columns)
    back = read_ngmix_catalog(path)
    for kind in HDU_ORDER:
        for name in COLUMNS:
            np.testing.assert_array_equal(back[kind][name], written[kind][name])
            assert back[kind][name].dtype == dict((c.name, c.dtype) for c in COLUMNS_SPEC)[name]


def test_ngmix_empty_and_concatenated(tmp_path):
    path = str(tmp_path / 'ngmix-0.fits')
    write_ngmix_catalog(path, empty_tables())
    assert all(len(t['id']) == 0 for t in read_ngmix_catalog(path).values())
    joined = concatenate_tables([tables([1, 2]), tables([3], seed=1)])
    assert joined['1P']['id'].tolist() == [1, 2, 3]
    assert concatenate_tables([])['NOSHEAR'].keys() == empty_tables()['NOSHEAR'].keys()


def test_ngmix_reader_errors(tmp_path):
    path = str(tmp_path / 'ngmix-1.fits')
    with pytest.raises(InputError, match='ngmix-1.fits: cannot read'):
        read_ngmix_catalog(path)
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(
        [fits.Column('id', 'K', array=[1])], name='NOSHEAR')]).writeto(path)
    with pytest.raises(InputError, match='no HDU 1M, 1P, 2M, 2P'):
        read_ngmix_catalog(path)


def test_final_block_from_ngmix_tables():
    """Measured objects take the ngmix values; the others the defaults and the flag."""
    written = tables([5, 2, 9])
    del written['2M']                       # a type absent from the file
    columns = {c.name: c for c in ngmix_final_columns(written, [2, 7])}
    names = list(columns)
    assert names[:len(FINAL_BLOCK)] == [f'{b[0]}_1M' for b in FINAL_BLOCK]
    assert names[-3:] == [c[0] for c in FINAL_OBJECT_COLUMNS]
    assert len(names) == len(HDU_ORDER) * len(FINAL_BLOCK) + 3
    ell = columns['NGMIX_ELL_1P'].array
    assert ell.shape == (2, 2)
    assert ell[0].tolist() == [written['1P']['g1'][1], written['1P']['g2'][1]]
    assert ell[1].tolist() == [DEFAULT, DEFAULT]
    assert columns['NGMIX_FLAGS_2M'].array.tolist() == [FLAG_NOT_MEASURED] * 2
    assert columns['NGMIX_MCAL_FLAGS'].array.tolist() == [
        written['NOSHEAR']['mcal_flags'][1], FLAG_NOT_MEASURED]
    assert columns['NGMIX_N_EPOCH'].array.tolist() == [written['NOSHEAR']['n_epoch_model'][1], 0]
    assert columns['NGMIX_FLAGS_1M'].format == 'J'


def test_final_catalog_round_trip(tmp_path):
    path = str(tmp_path / 'final_cat-277-282.fits')
    block = ngmix_final_columns(tables([1, 2]), [1, 2])
    write_final_catalog(path, [fits.Column('NUMBER', 'J', array=[1, 2])] + block)
    with fits.open(path) as hdul:
        assert [h.name for h in hdul] == ['PRIMARY', FINAL_HDU]
    data = read_final_catalog(path)
    assert data['NUMBER'].tolist() == [1, 2]
    np.testing.assert_array_equal(data['NGMIX_ELL_NOSHEAR'], block[
        [c.name for c in block].index('NGMIX_ELL_NOSHEAR')].array)
    assert read_final_catalog(path, ['NUMBER']).dtype.names == ('NUMBER',)
    with pytest.raises(InputError, match='lacks column.*NOPE'):
        read_final_catalog(path, ['NOPE'])
    with pytest.raises(InputError, match='no HDU RESULTS'):
        fits.HDUList([fits.PrimaryHDU()]).writeto(str(tmp_path / 'x.fits'))
        read_final_catalog(str(tmp_path / 'x.fits'))


def test_adding_a_column_is_one_line(monkeypatch, tmp_path):
    """A column added to COLUMNS_SPEC is written, read, emptied and concatenated."""
    import shapepipe.io.ngmix_catalog as schema

    spec = schema.COLUMNS_SPEC + (schema.Column('new_col', 'D', 'added'),)
    monkeypatch.setattr(schema, 'COLUMNS_SPEC', spec)
    monkeypatch.setattr(schema, 'COLUMNS', tuple(c.name for c in spec))
    written = tables([1, 2])
    for kind in HDU_ORDER:
        written[kind]['new_col'] = np.array([0.5, 1.5])
    path = str(tmp_path / 'ngmix-1.fits')
    schema.write_ngmix_catalog(path, written)
    assert schema.read_ngmix_catalog(path)['2P']['new_col'].tolist() == [0.5, 1.5]
    assert 'new_col' in schema.empty_tables()['1M']
    assert 'new_col' in schema.concatenate_tables([written])['1M']
