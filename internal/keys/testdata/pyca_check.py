#!/usr/bin/env python3
"""Cross-check Trent's asymmetric keys and signatures with pyca/cryptography.

pyca/cryptography (48+) bundles a recent OpenSSL, so it knows ML-DSA even where
the system openssl does not. TestPycaCrossCheck runs this script when python3
and such a cryptography are installed.

Input (stdin): a JSON list of checks, each
  {"name": ..., "pkcs8": hex or "", "spki": hex, "msg": hex, "sig": hex,
   "alg": "ML_DSA_SHAKE_256" | "ECDSA_SHA_256" | "ED25519_SHA_512"}
For each: if pkcs8 is given, it must load and yield exactly spki; the
signature must verify under spki. Output (stdout): {name: "ok" | error}.
"""
import json
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


def check(c):
    spki = bytes.fromhex(c["spki"])
    if c["pkcs8"]:
        priv = serialization.load_der_private_key(bytes.fromhex(c["pkcs8"]), None)
        derived = priv.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        if derived != spki:
            return "public key derived from PKCS#8 differs"
    pub = serialization.load_der_public_key(spki)
    msg, sig = bytes.fromhex(c["msg"]), bytes.fromhex(c["sig"])
    if c["alg"] == "ECDSA_SHA_256":
        pub.verify(sig, msg, ec.ECDSA(hashes.SHA256()))
    else:  # ML-DSA (empty context) and pure Ed25519 take the message itself
        pub.verify(sig, msg)
    return "ok"


results = {}
for c in json.load(sys.stdin):
    try:
        results[c["name"]] = check(c)
    except Exception as e:  # report every failure, keep going
        results[c["name"]] = "%s: %s" % (type(e).__name__, e)
json.dump(results, sys.stdout)
