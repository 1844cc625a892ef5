"""The safe value encoding of every sqlite store the pipeline writes.

The stores (stamps and PSFs of vignetmaker/psfex_interp MULTI-EPOCH, the
exposure-header store ``log_exp_headers.sqlite``) are sqlitedict files, as in
ShapePipe, but their values are not pickles: unpickling a crafted file runs
code. A value is encoded as::

    MAGIC | JSON length (8 bytes, little endian) | JSON | raw buffers

The JSON holds the structure (dict with str keys, list, str, int, float,
bool, None); a numpy array is ``{"__array__": [offset, nbytes], "dtype":
"<f4", "shape": [51, 51]}`` pointing into the raw buffers (plain numeric
dtypes only, never object arrays; each buffer 16-byte aligned); an astropy ``WCS`` is ``{"__wcs__": header
text of wcs.to_fits(relax=True), "pixel_shape": [nx, ny] or null}``, which is
what astropy's own pickle of a WCS holds, so the WCS read back is the same.
Tuples come back as lists and numpy scalars as Python numbers.

Reading a value that is a pickle (a store made by ShapePipe or by an older
shapepipe) raises :class:`InputError` naming the file and the fix, unless
``allow_pickle`` is set (``[FILE] ALLOW_PICKLE = True``): then the pickle is
read with :class:`RestrictedUnpickler`, which builds numpy arrays and astropy
WCS objects only and refuses every other global (no code runs).
"""

from __future__ import annotations

from typing import Any
import io
import json
import os
import pickle
import sqlite3
import struct
from collections.abc import Iterable, Mapping, Sequence
from contextlib import closing

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from sqlitedict import SqliteDict

from shapepipe.errors import InputError
from shapepipe.io.atomic import atomic_path

MAGIC = b'SHAPEPIPE-STORE-1\n'
_LENGTH = struct.Struct('<Q')

#: How to read pickled files anyway; used by every "refused" message.
PICKLE_FIX = ('rerun the module that wrote it with this version, or set [FILE] ALLOW_PICKLE = '
              'True to read a ShapePipe-made file (numpy arrays and WCS only)')


class PickleRefused(ValueError):
    """A value or file is a pickle and pickles are not read."""


class UnsafePickle(ValueError):
    """A pickle names a global outside :data:`RestrictedUnpickler.ALLOWED`."""


# ---------------------------------------------------------------------------
# Encoding
# ---------------------------------------------------------------------------

def _to_json(value, buffers):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, np.bool_):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f'store dict keys must be str, not {type(key).__name__}')
            out[key] = _to_json(item, buffers)
        if any(key in out for key in ('__array__', '__wcs__')):
            raise TypeError('store dict keys __array__ and __wcs__ are reserved')
        return out
    if isinstance(value, (list, tuple)):
        return [_to_json(item, buffers) for item in value]
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject or value.dtype.fields is not None:
            raise TypeError(f'cannot store an array of dtype {value.dtype} (plain numbers only)')
        data = np.ascontiguousarray(value).tobytes()
        offset = sum(len(b) for b in buffers)
        if offset % 16:                       # keep every array aligned
            buffers.append(bytes(16 - offset % 16))
            offset += 16 - offset % 16
        buffers.append(data)
        return {'__array__': [offset, len(data)], 'dtype': value.dtype.str,
                'shape': list(value.shape)}
    if isinstance(value, WCS):
        return {'__wcs__': wcs_to_text(value),
                'pixel_shape': None if value.pixel_shape is None else list(value.pixel_shape)}
    raise TypeError(f'cannot store a {type(value).__name__} value')


def encode_value(value: object) -> memoryview:
    """The bytes of one store value (see the module docstring)."""
    buffers = []
    text = json.dumps(_to_json(value, buffers), separators=(',', ':')).encode()
    return sqlite3.Binary(b''.join([MAGIC, _LENGTH.pack(len(text)), text] + buffers))


def wcs_to_text(wcs: WCS) -> str:
    """The header text of ``wcs.to_fits(relax=True)`` (what astropy pickles of a WCS)."""
    return wcs.to_fits(relax=True)[0].header.tostring()


def wcs_from_text(text: str, shape: Sequence[int] | None = None) -> WCS:
    """The WCS of :func:`wcs_to_text`'s text, with its pixel shape (NAXISi) when given."""
    header = fits.Header.fromstring(text)
    if shape:                                # as astropy's unpickling of a WCS does
        header['NAXIS'] = len(shape)
        for k, size in enumerate(shape):
            header[f'NAXIS{k + 1}'] = size
    return WCS(header)


def _object_hook(raw):
    """json's ``object_hook``: arrays and WCS from their JSON, other dicts as they are."""
    def hook(value):
        if '__array__' in value:
            offset, size = value['__array__']
            dtype = np.dtype(value['dtype'])
            if dtype.hasobject:
                raise ValueError(f'array of dtype {dtype}')
            if offset < 0 or offset + size > len(raw):
                raise ValueError('array buffer outside the value')
            return np.frombuffer(raw, dtype, size // max(dtype.itemsize, 1), offset).reshape(
                value['shape'])
        if '__wcs__' in value:
            return wcs_from_text(value['__wcs__'], value.get('pixel_shape'))
        return value
    return hook


def is_pickle(blob: bytes) -> bool:
    """Whether bytes start like a pickle (protocol 2 or later, as sqlitedict writes)."""
    return len(blob) > 1 and blob[0] == 0x80 and 2 <= blob[1] <= 5


def decode_value(blob: bytes, allow_pickle: bool = False) -> object:
    """A store value from its bytes.

    Raises
    ------
    PickleRefused
        The value is a pickle and ``allow_pickle`` is False.
    UnsafePickle
        ``allow_pickle`` and the pickle names a global that is not allowed.
    ValueError
        The bytes are neither an encoded value nor a pickle.
    """
    blob = bytes(blob)
    if blob.startswith(MAGIC):
        start = len(MAGIC) + _LENGTH.size
        (length,) = _LENGTH.unpack_from(blob, len(MAGIC))
        raw = bytearray(blob[start + length:])      # writable arrays, one copy in all
        try:
            return json.loads(blob[start:start + length], object_hook=_object_hook(raw))
        except (ValueError, TypeError, KeyError) as error:
            raise ValueError(f'corrupt store value ({error})') from None
    if is_pickle(blob):
        if not allow_pickle:
            raise PickleRefused('pickled values')
        return restricted_loads(blob)
    raise ValueError('a value is neither a shapepipe store value nor a pickle')


# ---------------------------------------------------------------------------
# Migrating ShapePipe's pickles
# ---------------------------------------------------------------------------

class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays and astropy WCS objects, nothing else.

    Used only with ``ALLOW_PICKLE`` to read stores and header files made by
    ShapePipe; a pickle naming any other global (``os.system``, ``builtins
    .eval``, ...) raises :class:`UnsafePickle` before anything is called.
    """

    ALLOWED = {
        ('numpy', 'ndarray'), ('numpy', 'dtype'),
        ('numpy.core.multiarray', '_reconstruct'), ('numpy._core.multiarray', '_reconstruct'),
        ('numpy.core.multiarray', 'scalar'), ('numpy._core.multiarray', 'scalar'),
        ('numpy.core.numeric', '_frombuffer'), ('numpy._core.numeric', '_frombuffer'),
        ('astropy.wcs.wcs', 'WCS'), ('astropy.wcs.wcs', '__WCS_unpickle__'),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise UnsafePickle(f'the pickle calls {module}.{name}, which is not allowed')
        return super().find_class(module, name)


def restricted_loads(blob: bytes) -> object:
    """Unpickle with :class:`RestrictedUnpickler`."""
    try:
        return RestrictedUnpickler(io.BytesIO(blob)).load()
    except UnsafePickle:
        raise
    except Exception as error:  # a corrupt pickle raises many types
        raise ValueError(f'unreadable pickle ({error})') from None


# ---------------------------------------------------------------------------
# Stores
# ---------------------------------------------------------------------------

def store_error(path: str, error: Exception, what: str = 'store',
                fix: str = 'rerun the module that writes it') -> InputError:
    """The one-line :class:`InputError` for a value of ``path`` that cannot be decoded."""
    if isinstance(error, PickleRefused):
        return InputError(f'{path}: the {what} holds pickled values, which are not read '
                          f'(unpickling can run code); {PICKLE_FIX}', path=path)
    if isinstance(error, UnsafePickle):
        return InputError(f'{path}: refused: {error} (not a ShapePipe {what}); {fix}',
                          path=path)
    return InputError(f'{path}: cannot read the {what} ({error}); {fix}', path=path)


class _Decoder:
    """sqlitedict's ``decode`` with the file named in its errors (picklable)."""

    def __init__(self, path, what, fix, allow_pickle):
        self.path, self.what, self.fix, self.allow_pickle = path, what, fix, allow_pickle

    def __call__(self, blob):
        try:
            return decode_value(blob, self.allow_pickle)
        except (ValueError, TypeError, KeyError) as error:
            raise store_error(self.path, error, self.what, self.fix) from None


def create_store(path: str) -> SqliteDict:
    """A new, empty store at ``path`` (a temporary name: see ``atomic_path``),
    writing safe-encoded values; commit and close it (``with``) when done."""
    return SqliteDict(path, flag='n', autocommit=False, encode=encode_value,
                      decode=_Decoder(path, 'store', 'rerun the module that writes it', False))


def open_store(path: str, what: str = 'store', fix: str = 'rerun the module that writes it',
               allow_pickle: bool = False) -> SqliteDict:
    """A read-only store; a missing, corrupt, locked or pickled file gives one
    :class:`InputError` line (``path: cannot open the <what> (<reason>); <fix>``)
    instead of an exception in sqlitedict's thread."""
    try:
        if not os.path.isfile(path):
            raise OSError('no such file')
        with closing(sqlite3.connect(f'file:{path}?mode=ro', uri=True, timeout=5)) as con:
            con.execute('SELECT name FROM sqlite_master').fetchall()
        return SqliteDict(path, flag='r', decode=_Decoder(path, what, fix, allow_pickle))
    except (OSError, sqlite3.Error, RuntimeError) as error:
        raise InputError(f'{path}: cannot open the {what} ({error}); {fix}', path=path) from None


def write_store(path: str, items: Mapping | Iterable[tuple[str, object]]) -> None:
    """Write ``{key: value}`` (an iterable of pairs or a dict) to a new store at ``path``
    atomically."""
    pairs = items.items() if isinstance(items, dict) else items
    with atomic_path(path) as tmp:
        with create_store(tmp) as store:
            for key, value in pairs:
                store[str(key)] = value
            store.commit()


def read_store(path: str, what: str = 'store', fix: str = 'rerun the module that writes it',
               allow_pickle: bool = False) -> dict:
    """The whole store as a dict."""
    with open_store(path, what, fix, allow_pickle) as store:
        return {key: store[key] for key in store}
