"""Pure-PyTorch implementations of every cembed method's formula, for the Python package's
tests: each maps ids to vectors from the same parameter matrices (the module's blocks, in
order) with torch operations, so autograd gives the reference gradients.

The id -> row maps are written out here (SplitMix64 hashing, quotient-remainder and Chinese
remainder classes, path's base row and map). ROBE and LMA place pieces of vectors anywhere
in one array by hashes and minhash signatures (checked against their definitions in the C++
tests, tests/cpp/test_lma.cpp); here their placement is read from the table itself, by
loading 0, 1, 2, ... into its array and looking up every value once. Their formula (a vector
gathered from array positions, pooled) is then the reference's own. cce's assignment and
hashes are read the same way (probe_block_positions); hot's split (ids 1..rows to rows of
their own, the rest to the cold method's formula) is written out.
"""
import numpy as np
import torch

MASK = (1 << 64) - 1


def mix64(x):
    """SplitMix64 finaliser (src/util/random.h) on Python ints."""
    x = (x + 0x9E3779B97F4A7C15) & MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


def hashed_rows(ids, rows, seed=0x5EED):
    """mix64(id ^ mix64(seed)) mod rows, vectorised in numpy uint64 (which wraps mod 2^64)."""
    x = ids.numpy().astype(np.uint64) ^ np.uint64(mix64(seed))
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    x = x ^ (x >> np.uint64(31))
    return torch.from_numpy((x % np.uint64(rows)).astype(np.int64))


def spec_params(spec):
    name, _, rest = spec.partition(":")
    params = dict(kv.split("=") for kv in rest.split(",")) if rest else {}
    return name, params


def partition_rows(ids, moduli, kind):
    """Row of each id in each part: (id div divisor_j) mod m_j; divisor = product of the
    earlier moduli (generalized QR) or 1 (Chinese remainder)."""
    out, prefix = [], 1
    for m in moduli:
        divisor = prefix if kind == "qr" else 1
        out.append((ids // divisor) % m)
        prefix *= m
    return out


def pooled(vectors, offsets, weights, mode):
    """out[b] = scale_b * sum_k w_k e_k over bag b (mean: 1 / len, empty bags give 0)."""
    batch = offsets.numel() - 1
    lengths = offsets[1:] - offsets[:-1]
    bag_of = torch.repeat_interleave(torch.arange(batch), lengths)
    if weights is not None:
        vectors = vectors * weights[:, None]
    out = torch.zeros(batch, vectors.shape[1], dtype=vectors.dtype).index_add(0, bag_of, vectors)
    if mode == "mean":
        out = out / lengths.clamp(min=1)[:, None].to(out.dtype)
    return out


def probe_positions(module, num_values):
    """Array position of each element of each value's vector (robe, lma), read by loading
    0, 1, 2, ... into the array and looking up each value alone. Restores the weights."""
    (name,) = [n for n, _ in module.named_parameters()] or [n for n, _ in module.named_buffers()]
    array = getattr(module, name)
    saved = array.detach().clone()
    with torch.no_grad():
        array.copy_(torch.arange(array.numel(), dtype=torch.float32).reshape(array.shape))
        ids = torch.arange(num_values)
        out = module.table.forward(ids.numpy(), np.arange(num_values + 1, dtype=np.int64), None, "sum", True)
        array.copy_(saved)
    assert array.numel() < (1 << 24)  # positions exact in float32
    return torch.from_numpy(out).round().to(torch.int64)


def probe_block_positions(module, num_values):
    """For methods whose every output element is a sum of one element from each of some
    parameter blocks (cce: e(v)_j = A_j[a_j(v)] + B_j[h_j(v)]): per block, the 1-based
    position each value's element reads there (0: none), read by loading 1, 2, 3, ... into
    that block alone, zeros into the others, and looking up each value. Restores the weights."""
    params = [p for _, p in module.named_parameters()] or [b for _, b in module.named_buffers()]
    saved = [p.detach().clone() for p in params]
    out = []
    ids = torch.arange(num_values)
    with torch.no_grad():
        for k, p in enumerate(params):
            for q in params:
                q.zero_()
            p.copy_(torch.arange(1, p.numel() + 1, dtype=torch.float32).reshape(p.shape))
            assert p.numel() < (1 << 24)  # positions exact in float32
            got = module.table.forward(ids.numpy(), np.arange(num_values + 1, dtype=np.int64), None, "sum", True)
            out.append(torch.from_numpy(got).round().to(torch.int64))
        for p, s in zip(params, saved):
            p.copy_(s)
    return out


def vectors(spec, blocks, ids, num_values, dim, positions=None):
    """Per-id vectors (len(ids) x dim) of method `spec` from parameter matrices `blocks`
    (rows x width tensors, the module's order)."""
    name, p = spec_params(spec)
    if name == "full":
        return blocks[0][ids]
    if name == "hash":
        return blocks[0][hashed_rows(ids, blocks[0].shape[0], int(p.get("seed", 0x5EED)))]
    if name in ("qr", "cp"):
        kind = "qr" if name == "qr" else p.get("kind", "qr")
        moduli = [b.shape[0] for b in blocks]
        parts = [b[r] for b, r in zip(blocks, partition_rows(ids, moduli, kind))]
        op = p.get("op", "mult")
        if op == "concat":
            return torch.cat(parts, dim=1)
        out = parts[0]
        for part in parts[1:]:
            out = out * part if op == "mult" else out + part
        return out
    if name == "path":
        maps = int(p["maps"])
        base = (num_values + maps - 1) // maps
        x = blocks[0][ids % base]
        m = blocks[1][ids // base]
        a = m[:, : dim * dim].reshape(-1, dim, dim)
        return torch.bmm(a, x[:, :, None])[:, :, 0] + m[:, dim * dim:]
    if name == "memcom":
        rows = blocks[0][hashed_rows(ids, blocks[0].shape[0], int(p.get("seed", 0x5EED)))]
        out = rows * blocks[1][ids]
        bias = p.get("bias", "none")
        if bias != "none":
            out = out + blocks[2][ids]  # scalar: width 1, broadcast
        return out
    if name == "md":
        k = int(p["dim"])
        proj = blocks[1].reshape(dim, k)
        return blocks[0][ids] @ proj.T
    if name in ("robe", "lma"):
        return blocks[0].reshape(-1)[positions[ids]]
    if name == "hot":
        # ids 1..rows: a row of their own (block 0, row id - 1); every other id: the cold method.
        rows = int(p["rows"])
        cold = p.get("cold", "hash") + ":" + ",".join(f"{k[5:]}={v}" for k, v in p.items() if k.startswith("cold."))
        cold_vectors = vectors(cold.rstrip(":"), blocks[1:], ids, num_values, dim)
        is_hot = (ids >= 1) & (ids <= rows)
        hot_vectors = blocks[0][(ids - 1).clamp(0, rows - 1)]
        return torch.where(is_hot[:, None], hot_vectors, cold_vectors)
    if name == "cce":
        # Each element: one element of A_j plus one of B_j, at positions read from the table.
        out = 0
        for block, pos in zip(blocks, positions):
            p_ids = pos[ids]
            out = out + torch.where(p_ids > 0, block.reshape(-1)[(p_ids - 1).clamp(min=0)], torch.zeros((), dtype=block.dtype))
        return out
    raise ValueError(f"no reference for {spec}")
