#!/usr/bin/env python3
"""Independent construction of internal/seal's formats (wrap v1, keyfile root v1).

Uses pyca/cryptography (OpenSSL), not Go, so the known-answer tests in
seal_test.go and keyfile_test.go pin the formats against a second implementation.
Run: python3 testdata/kat.py
"""
import base64
import struct

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def wrap(root, nonce, plaintext, aad):
    label = b"trent/wrap/v1"
    ad = struct.pack(">I", len(label)) + label + b"\x01" + struct.pack(">I", len(aad)) + aad
    return b"\x01" + nonce + AESGCM(root).encrypt(nonce, plaintext, ad)


def seal_root(kek, nonce, root):
    return b"\x01" + nonce + AESGCM(kek).encrypt(nonce, root, b"trent/root/v1")


root = bytes(range(0x00, 0x20))
kek = bytes(range(0xA0, 0xC0))
nonce = bytes(range(0x40, 0x4C))
backing = bytes(range(0x60, 0x80))
aad = b"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab\x00\x00\x00\x07"

print("wrap   ", wrap(root, nonce, backing, aad).hex())
print("keyfile", repr("trent-keyfile-v1\n" + base64.b64encode(kek).decode() + "\n"))
print("sealed ", seal_root(kek, nonce, root).hex())


def wrap2(root, gen, nonce, plaintext, aad):
    label = b"trent/wrap/v2"
    g = struct.pack(">I", gen)
    ad = struct.pack(">I", len(label)) + label + b"\x02" + g + struct.pack(">I", len(aad)) + aad
    return b"\x02" + g + nonce + AESGCM(root).encrypt(nonce, plaintext, ad)


print("wrap2  ", wrap2(root, 7, nonce, backing, aad).hex())
