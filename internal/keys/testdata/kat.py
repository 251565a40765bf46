#!/usr/bin/env python3
"""Independent construction of Trent's symmetric ciphertext blob (format 1).

Uses pyca/cryptography (OpenSSL), not Go, so the known-answer test in
symmetric_test.go pins the format against a second implementation.
Run: python3 testdata/kat.py
"""
import struct
import uuid

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def canonical_context(ec):
    out = struct.pack(">I", len(ec))
    for k in sorted(ec, key=lambda s: s.encode()):
        kb, vb = k.encode(), ec[k].encode()
        out += struct.pack(">I", len(kb)) + kb + struct.pack(">I", len(vb)) + vb
    return out


def blob(backing, key_id, version, salt, nonce, plaintext, ec, info=b"trent/symmetric/v1"):
    header = b"\x01" + uuid.UUID(key_id).bytes + struct.pack(">I", version) + salt
    k = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(backing)
    return header + nonce + AESGCM(k).encrypt(nonce, plaintext, header + canonical_context(ec))


backing = bytes(range(0x00, 0x20))
salt = bytes(range(0x20, 0x40))
nonce = bytes(range(0x40, 0x4C))
key_id = "1234abcd-12ab-34cd-56ef-1234567890ab"
ec = {"tenant": "acme", "purpose": "kat"}
pt = b"Hello, Trent!"

print("blob     ", blob(backing, key_id, 7, salt, nonce, pt, ec).hex())
print("noctx    ", blob(backing, key_id, 7, salt, nonce, pt, {}).hex())
print("wronginfo", blob(backing, key_id, 7, salt, nonce, pt, ec, info=b"trent/symmetric/v2").hex())
