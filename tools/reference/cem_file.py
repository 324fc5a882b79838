"""Reads an exported cembed model (.cem; layout: src/inference/model_file.h) with numpy: its
metadata, the MLPs' parameters, each table's fp32 parameter blocks, and for robe, lma and cce
where each element of each value's vector lies in those blocks, from the file alone.

The positions are computed here from what the file stores, by the methods' formulas written
out independently of cembed's code (so a PyTorch model built from them, bench/inference_vs_torch.py
and tests/python/torch_exported.py, checks cembed's scores rather than repeating its lookups):

  robe  block of chunk c of value v of served feature f = reduce(mix(mix(f:v ^ seed) + (c+1) G)),
        reduce(h) = h * blocks / 2^64 from 32-bit halves, G the golden-ratio constant
        (src/embedding/block_placement.h); nothing per value is stored
  lma   the placement section: each value's blocks, read as they are, or its minhashes and
        presence flag, hashed: chunk c packs the minhashes at positions (c*K + i) mod L with
        their positions, two per 64-bit word, h = mix(seed ^ w_0), h = mix(h ^ w_i), then
        mix(h + (c+1) G), reduced; a value without a signature is placed as by robe
  cce   column j of value v: A_j[a_j(v)] + B_j[h_j(v)], a_j the stored assignment,
        h_j(v) = mix(v ^ mix(derive(seed, 2, clusterings * C + j))) mod K, `clusterings`
        stored beside it (src/embedding/cce_table.cpp)
"""
import json
import struct

import numpy as np

VERSION = 3
ALIGN = 64
MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
SECTION = {"metadata": 1, "mlp": 2, "parameters": 3, "serving": 4, "vocabulary": 5}


def mix64(x):
    """SplitMix64's finaliser (src/util/random.h) on a numpy uint64 array (wraps mod 2^64)."""
    x = np.asarray(x, dtype=np.uint64) + np.uint64(GOLDEN)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def mix64_int(x):
    return int(mix64(np.array([x & MASK], dtype=np.uint64))[0])


def derive_seed(seed, a, b=0):
    """derive_seed of src/util/random.h, on Python ints."""
    return mix64_int(mix64_int(seed ^ mix64_int(a + 0x632BE59BD9B4E019)) ^ mix64_int(b + 0x8CB92BA72F3D8DD7))


def reduce_blocks(h, blocks):
    """h * blocks / 2^64 from 32-bit halves (exact for blocks <= 2^32, as cembed computes it)."""
    b = np.uint64(blocks)
    hi, lo = h >> np.uint64(32), h & np.uint64(0xFFFFFFFF)
    return (hi * b + ((lo * b) >> np.uint64(32))) >> np.uint64(32)


def spec_params(spec):
    name, _, rest = spec.partition(":")
    return name, (dict(kv.split("=") for kv in rest.split(",")) if rest else {})


class Reader:
    """Little-endian fields of one section, from a position."""

    def __init__(self, data, pos=0):
        self.data, self.pos = data, pos

    def take(self, fmt):
        v = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return v if len(v) > 1 else v[0]

    def array(self, dtype, count, aligned):
        if aligned:
            self.pos = (self.pos + ALIGN - 1) // ALIGN * ALIGN
        a = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.pos)
        self.pos += a.nbytes
        return a


class CemFile:
    def __init__(self, path):
        self.path = path
        b = np.fromfile(path, dtype=np.uint8)
        if bytes(b[:8]) != b"CEMBMODL":
            raise ValueError(f"{path}: not a cembed model")
        version, count = struct.unpack_from("<II", b, 8)
        if version != VERSION:
            raise ValueError(f"{path}: model format version {version}, this reader knows {VERSION}")
        self.sections = {}
        for i in range(count):
            kind, index, offset, length, _ = struct.unpack_from("<IIQQQ", b, 32 + 32 * i)
            self.sections[kind, index] = b[offset:offset + length].tobytes()
        self.meta = json.loads(self.sections[SECTION["metadata"], 0])
        self.dim = self.meta["model"]["dim"]
        self.cardinalities = [f["cardinality"] for f in self.meta["plan"]["features"]]

    def section(self, name, index=0):
        return self.sections[SECTION[name], index]

    def mlp(self):
        """The MLPs' parameters (bottom then top, W then b per layer), flat float32 arrays."""
        r, out, sec = Reader(self.section("mlp")), [], self.section("mlp")
        while r.pos < len(sec):
            out.append(r.array(np.float32, r.take("Q"), False).copy())
        return out

    def blocks(self, t):
        """Table t's parameter blocks as rows x width float32 arrays (fp32 exports only)."""
        if self.meta["precision"] != "fp32":
            raise ValueError(f"{self.path}: {self.meta['precision']} (read fp32 exports)")
        r, out = Reader(self.section("parameters", t)), []
        assert r.take("I") == len(self.meta["tables"][t]["blocks"])
        for bm in self.meta["tables"][t]["blocks"]:
            n, _group = r.take("QQ")
            out.append(r.array(np.float32, n, True).reshape(-1, bm["row_width"]).copy())
        assert r.pos == len(self.section("parameters", t)), f"{self.path}: table {t}"
        return out

    def placement(self, t):
        """Table t's lma placement section (block_placement.h, the exported layout):
        hashes, offsets, minhashes (values x hashes), presence flags, blocks (values x chunks)."""
        r = Reader(self.section("serving", t))
        hashes = r.take("I")
        offset = [r.take("q") for _ in range(r.take("Q"))]
        minhash = r.array(np.uint16, r.take("Q"), True)
        present = r.array(np.uint8, r.take("Q"), True)
        blocks = r.array(np.uint32, r.take("Q"), True)
        assert r.pos == len(self.section("serving", t)), f"{self.path}: table {t}'s placement"
        return hashes, offset, minhash.reshape(-1, max(hashes, 1)), present, blocks

    def positions(self, t):
        """Per feature table t serves, where its values' elements lie in the table's blocks:
        robe and lma, values x dim positions in the flattened array; cce, per block (A_0, B_0,
        A_1, ...) values x dim 1-based positions in that block, 0 where the element does not
        read it (torch_formulas.vectors' arguments). None for methods that need none."""
        table = self.meta["plan"]["tables"][t]
        name, p = spec_params(table["spec"])
        cards = [self.cardinalities[f] for f in table["features"]]
        if name in ("robe", "lma"):
            return self._shared_array_positions(t, name, p, cards)
        if name == "cce":
            return [self._cce_positions(t, p, cards[0])]
        return None

    def _shared_array_positions(self, t, name, p, cards):
        dim = self.dim
        z = int(p.get("block", min(32, dim) if name == "robe" else 1))
        nblocks = int(p["size"]) // z
        chunks = (dim + z - 1) // z
        seed_key = mix64_int(int(p.get("seed", 0x5EED)))
        k = int(p.get("k", 2))
        if name == "lma":
            hashes, offset, minhash, present, stored = self.placement(t)
            stored = stored.reshape(-1, chunks) if stored.size else None
        out = []
        for f, n in enumerate(cards):
            ids = np.arange(n, dtype=np.uint64)
            by_id = hashed_blocks(ids, f, chunks, seed_key, nblocks)
            if name == "robe":
                blocks = by_id
            elif stored is not None:
                blocks = stored[offset[f]:offset[f + 1]].astype(np.uint64)
            else:
                sig = minhash[offset[f]:offset[f + 1]]
                blocks = minhash_blocks(sig, chunks, k, hashes, seed_key, nblocks)
                absent = present[offset[f]:offset[f + 1]] == 0
                blocks[absent] = by_id[absent]
            j = np.arange(dim)
            out.append(blocks[:, j // z].astype(np.int64) * z + j % z)
        return out

    def _cce_positions(self, t, p, n):
        dim, rows = self.dim, int(p["rows"])
        cols, seed = int(p.get("cols", 2)), int(p.get("seed", 0x5EED))
        r = Reader(self.section("serving", t))
        _steps, clusterings = r.take("qq")
        assignment = r.array(np.uint32, r.take("Q"), True).reshape(cols, n).astype(np.int64)
        widths = [dim // cols + (1 if j < dim % cols else 0) for j in range(cols)]
        ids = np.arange(n, dtype=np.uint64)
        out, start = [], 0
        for j, w in enumerate(widths):
            hash_seed = mix64_int(derive_seed(seed, 2, clusterings * cols + j))
            hashed = (mix64(ids ^ np.uint64(hash_seed)) % np.uint64(rows)).astype(np.int64)
            for row in (assignment[j], hashed):  # A_j, then B_j
                pos = np.zeros((n, dim), dtype=np.int64)
                pos[:, start:start + w] = row[:, None] * w + np.arange(w) + 1
                out.append(pos)
            start += w
        return out


def hashed_blocks(ids, f, chunks, seed_key, nblocks):
    """robe's block of every chunk of every id of served feature f: values x chunks."""
    base = mix64(ids ^ np.uint64(((f << 32) ^ seed_key) & MASK))
    salts = [np.uint64(((c + 1) * GOLDEN) & MASK) for c in range(chunks)]
    return np.stack([reduce_blocks(mix64(base + s), nblocks) for s in salts], axis=1)


def minhash_blocks(sig, chunks, k, hashes, seed_key, nblocks):
    """lma's block of every chunk of every value from its kept minhashes (values x hashes)."""
    out = []
    for c in range(chunks):
        pos = [(c * k + i) % hashes for i in range(k)]
        words = []
        for i in range(0, k, 2):
            w = sig[:, pos[i]].astype(np.uint64) | np.uint64(pos[i] << 16)
            if i + 1 < k:
                w |= (sig[:, pos[i + 1]].astype(np.uint64) << np.uint64(32)) | np.uint64(pos[i + 1] << 48)
            words.append(w)
        h = mix64(np.uint64(seed_key) ^ words[0])
        for w in words[1:]:
            h = mix64(h ^ w)
        h = mix64(h + np.uint64(((c + 1) * GOLDEN) & MASK))
        out.append(reduce_blocks(h, nblocks))
    return np.stack(out, axis=1)
