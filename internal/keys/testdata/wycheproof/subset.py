#!/usr/bin/env python3
"""Cut small subsets of Wycheproof test vectors (C2SP/wycheproof, Apache-2.0)
into this directory for the asymmetric-key tests. Only vectors are copied.

Run: python3 testdata/wycheproof/subset.py /path/to/wycheproof/checkout
The subset is deterministic: the first N tests of each (flags, result) class.
"""
import json
import re
import os
import sys
from collections import Counter

SRC = os.path.join(sys.argv[1], "testvectors_v1")
DST = os.path.dirname(os.path.abspath(__file__))

def mlkem_class(t):
    return (tuple(t.get("flags", [])), re.sub(r"\s*\d+$", "", t.get("comment", "")), t["result"])


# file -> (tests kept per (flags, result) class, group fields to keep,
#          predicate on a test, max groups)
JOBS = {
    "ecdsa_secp256k1_sha256_bitcoin_test": (3, ["type", "publicKey", "publicKeyDer", "sha"], None, None),
    "ecdh_secp256r1_test": (2, ["type", "curve", "encoding"], None, None),
    "ecdh_secp384r1_test": (2, ["type", "curve", "encoding"], None, None),
    "ecdh_secp521r1_test": (2, ["type", "curve", "encoding"], None, None),
    "rsa_oaep_2048_sha1_mgf1sha1_test": (4, ["type", "keySize", "sha", "mgf", "mgfSha", "privateKeyPkcs8"], None, None),
    "rsa_oaep_2048_sha256_mgf1sha256_test": (4, ["type", "keySize", "sha", "mgf", "mgfSha", "privateKeyPkcs8"], None, None),
    "rsa_pss_2048_sha256_mgf1_32_test": (3, ["type", "keySize", "sha", "mgf", "mgfSha", "sLen", "publicKeyDer"], None, None),
    "rsa_pss_4096_sha384_mgf1_48_test": (2, ["type", "keySize", "sha", "mgf", "mgfSha", "sLen", "publicKeyDer"], None, None),
    "rsa_pss_4096_sha512_mgf1_64_test": (2, ["type", "keySize", "sha", "mgf", "mgfSha", "sLen", "publicKeyDer"], None, None),
    "rsa_signature_2048_sha256_test": (2, ["type", "keySize", "sha", "publicKeyDer"], None, 1),
    "rsa_signature_3072_sha384_test": (1, ["type", "keySize", "sha", "publicKeyDer"], None, 1),
    "rsa_signature_4096_sha512_test": (1, ["type", "keySize", "sha", "publicKeyDer"], None, 1),
    # AWS signs ML-DSA with an empty context, so context-carrying tests are left out.
    "mldsa_44_sign_seed_test": (1, ["type", "privateSeed", "privateKeyPkcs8", "publicKey"], lambda t: "ctx" not in t, None),
    "mldsa_65_sign_seed_test": (1, ["type", "privateSeed", "privateKeyPkcs8", "publicKey"], lambda t: "ctx" not in t, None),
    "mldsa_87_sign_seed_test": (1, ["type", "privateSeed", "privateKeyPkcs8", "publicKey"], lambda t: "ctx" not in t, None),
    "mldsa_44_verify_test": (1, ["type", "publicKey", "publicKeyDer"], lambda t: "ctx" not in t, None),
    # ML-KEM tests carry few flags: their class is the comment (what the
    # vector probes) without its trailing number.
    "mlkem_512_test": (1, ["type", "parameterSet"], None, None, mlkem_class),
    "mlkem_768_test": (1, ["type", "parameterSet"], None, None, mlkem_class),
    "mlkem_1024_test": (1, ["type", "parameterSet"], None, None, mlkem_class),
}

HEADER = ["algorithm", "schema", "generatorVersion", "header", "notes"]

for name, (per_class, group_fields, keep, max_groups, *class_of) in JOBS.items():
    with open(os.path.join(SRC, name + ".json")) as f:
        data = json.load(f)
    seen = Counter()
    groups = []
    for g in data["testGroups"]:
        if max_groups is not None and len(groups) >= max_groups:
            break
        tests = []
        for t in g["tests"]:
            if keep is not None and not keep(t):
                continue
            cls = class_of[0](t) if class_of else (tuple(t.get("flags", [])), t["result"])
            if seen[cls] >= per_class:
                continue
            seen[cls] += 1
            tests.append(t)
        if tests:
            ng = {k: g[k] for k in group_fields if k in g}
            ng["tests"] = tests
            groups.append(ng)
    out = {k: data[k] for k in HEADER if k in data}
    out["source"] = "https://github.com/C2SP/wycheproof testvectors_v1/" + name + ".json (Apache-2.0), subset"
    out["numberOfTests"] = sum(len(g["tests"]) for g in groups)
    out["testGroups"] = groups
    with open(os.path.join(DST, name + ".json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(name, out["numberOfTests"])
