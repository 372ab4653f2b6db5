"""Read a legacy (pre-1.6, non-zip) PyTorch checkpoint with numpy alone.

Layout of such a file: pickled magic number, pickled protocol version, pickled sys info,
the pickled object (here a state dict) whose tensors name their storages by persistent id
("storage", storage_type, key, location, numel), a pickled list of storage keys, then each
storage's raw little-endian bytes prefixed by its element count (int64), in key order.
"""

import collections
import pickle
import struct

import numpy as np

MAGIC = 0x1950A86A20F9469CFC6C

DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class _StorageType:
    def __init__(self, name):
        self.name = name


class _TensorRef:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)


def _rebuild_tensor(storage, offset, size, stride, *_rest):
    return _TensorRef(storage, offset, size, stride)


class _Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if module == "torch._utils" and name in ("_rebuild_tensor", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in DTYPES:
            return _StorageType(name)
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a checkpoint")

    def persistent_load(self, pid):
        kind, storage_type, key, _location, numel = pid[:5]
        if kind != "storage":
            raise pickle.UnpicklingError(f"unknown persistent id {kind!r}")
        return (storage_type.name, key, numel)


def load(path):
    """Return {name: numpy array} from a legacy checkpoint."""
    with open(path, "rb") as f:
        if pickle.load(f) != MAGIC:
            raise ValueError(f"{path}: not a legacy PyTorch checkpoint (bad magic number)")
        pickle.load(f)  # protocol version
        pickle.load(f)  # sys info
        state = _Unpickler(f).load()
        keys = pickle.load(f)
        storages = {}
        for key in keys:
            (count,) = struct.unpack("<q", f.read(8))
            # Types are known from the tensors that refer to the storage.
            dtype = None
            for t in state.values():
                if isinstance(t, _TensorRef) and t.storage[1] == key:
                    dtype = DTYPES[t.storage[0]]
                    break
            if dtype is None:
                raise ValueError(f"{path}: storage {key} is used by no tensor")
            data = np.frombuffer(f.read(count * np.dtype(dtype).itemsize), dtype=dtype)
            if data.size != count:
                raise ValueError(f"{path}: storage {key} is truncated")
            storages[key] = data
    out = collections.OrderedDict()
    for name, t in state.items():
        if not isinstance(t, _TensorRef):
            continue
        base = storages[t.storage[1]]
        itemsize = base.itemsize
        arr = np.lib.stride_tricks.as_strided(
            base[t.offset:], shape=t.size, strides=[s * itemsize for s in t.stride]
        )
        out[name] = np.array(arr, copy=True)
    return out
