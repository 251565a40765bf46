#!/usr/bin/env python3
"""Independent construction of internal/seal/shamir's shares.

Written apart from the Go code and in another way: GF(2^8) multiplication
by log/exp tables over the generator 0x03 (the Go code multiplies without
tables), polynomials evaluated term by term (the Go code uses Horner's
rule), the checksum with hashlib. Given the same "random" bytes, both must
make the same shares. Run: python3 testdata/vectors.py > testdata/vectors.json
"""
import hashlib
import json

EXP = [0] * 512
LOG = [0] * 256
x = 1
for i in range(255):
    EXP[i] = x
    LOG[x] = i
    # x * 3 = x * 2 + x, reduced by x^8 + x^4 + x^3 + x + 1
    x2 = (x << 1) ^ (0x11B if x & 0x80 else 0)
    x = x2 ^ x
for i in range(255, 512):
    EXP[i] = EXP[i - 255]


def mul(a, b):
    if a == 0 or b == 0:
        return 0
    return EXP[LOG[a] + LOG[b]]


def power(x, j):
    r = 1
    for _ in range(j):
        r = mul(r, x)
    return r


def shares(secret, n, t, rand):
    """Shares of secret, reading rand as the Go code reads its randomness:
    8 bytes of set id, then t-1 coefficients per secret byte, lowest degree
    first."""
    set_id, rest = rand[:8], rand[8:]
    out = []
    for x in range(1, n + 1):
        y = bytearray()
        for k, s in enumerate(secret):
            coef = [s] + list(rest[k * (t - 1):(k + 1) * (t - 1)])
            v = 0
            for j, c in enumerate(coef):
                v ^= mul(c, power(x, j))
            y.append(v)
        body = bytes([1]) + set_id + bytes([t, x]) + bytes(y)
        sum4 = hashlib.sha256(b"trent/shamir-share/v1" + body).digest()[:4]
        out.append((body + sum4).hex())
    return out


def rand_bytes(label, n):
    """Deterministic bytes: SHA-256(label || counter) blocks."""
    b = b""
    i = 0
    while len(b) < n:
        b += hashlib.sha256(label.encode() + i.to_bytes(4, "big")).digest()
        i += 1
    return b[:n]


cases = [
    ("one byte, 2 of 3", bytes([0x53]), 3, 2),
    ("1 of 1", bytes(range(16)), 1, 1),
    ("kek, 3 of 5", bytes(range(0xA0, 0xC0)), 5, 3),
    ("kek, 5 of 5", bytes(32), 5, 5),
    ("kek, 2 of 255", bytes([0xFF] * 32), 255, 2),
    ("64 bytes, 10 of 20", bytes(range(64)), 20, 10),
]
vectors = []
for name, secret, n, t in cases:
    rand = rand_bytes(name, 8 + len(secret) * (t - 1))
    vectors.append({
        "name": name,
        "secret": secret.hex(),
        "n": n,
        "t": t,
        "rand": rand.hex(),
        "shares": shares(secret, n, t, rand),
    })
print(json.dumps(vectors, indent=1))
