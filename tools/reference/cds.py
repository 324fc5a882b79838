"""Reads a cembed dataset file (.cds) with numpy memory maps (layout: include/cembed/dataset.h)."""
import json
import struct

import numpy as np

ALIGN = 64


def _align(x):
    return (x + ALIGN - 1) // ALIGN * ALIGN


class Dataset:
    def __init__(self, path):
        with open(path, "rb") as f:
            head = f.read(16)
            if head[:8] != b"CEMBDSET":
                raise ValueError(f"{path}: not a cembed dataset")
            version, header_len = struct.unpack("<II", head[8:16])
            if version != 1:
                raise ValueError(f"{path}: dataset version {version}, this reader knows 1")
            header = json.loads(f.read(header_len))
        self.rows = n = header["rows"]
        self.schema = header["schema"]
        self.metadata = header.get("metadata", {})
        raw = np.memmap(path, dtype=np.uint8, mode="r")
        pos = _align(16 + header_len)
        self.labels = raw[pos:pos + 4 * n].view(np.float32)
        pos = _align(pos + 4 * n)
        nd = len(self.schema["dense"])
        self.dense = raw[pos:pos + 4 * n * nd].view(np.float32).reshape(n, nd)
        pos = _align(pos + 4 * n * nd)
        self.ids, self.offsets = [], []
        for f, nnz in zip(self.schema["sparse"], header["nnz"]):
            if f["multi_hot"]:
                self.offsets.append(raw[pos:pos + 8 * (n + 1)].view(np.uint64))
                pos = _align(pos + 8 * (n + 1))
            else:
                self.offsets.append(None)
            self.ids.append(raw[pos:pos + 4 * nnz].view(np.uint32))
            pos = _align(pos + 4 * nnz)

    @property
    def cardinalities(self):
        return [f["cardinality"] for f in self.schema["sparse"]]

    def batch(self, rows):
        """dense, labels, per-feature ids and offsets (int64, B+1 entries) for the given rows."""
        ids, offsets = [], []
        for f in range(len(self.ids)):
            if self.offsets[f] is None:
                ids.append(self.ids[f][rows].astype(np.int64))
                offsets.append(np.arange(len(rows) + 1, dtype=np.int64))
            else:
                o = self.offsets[f]
                bags = [self.ids[f][o[r]:o[r + 1]] for r in rows]
                lengths = np.array([len(b) for b in bags], dtype=np.int64)
                ids.append(np.concatenate(bags).astype(np.int64) if len(bags) else np.zeros(0, np.int64))
                offsets.append(np.concatenate([[0], np.cumsum(lengths)]))
        return self.dense[rows], self.labels[rows], ids, offsets
