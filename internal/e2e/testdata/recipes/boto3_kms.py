# Encrypt, decrypt and make a data key with boto3 against Trent.
# Usage: python3 boto3_kms.py [ENDPOINT]
# Without ENDPOINT, boto3 takes it from AWS_ENDPOINT_URL_KMS (botocore 1.31+).
import base64
import sys

import boto3

endpoint = sys.argv[1] if len(sys.argv) > 1 else None
kms = boto3.client("kms", endpoint_url=endpoint)

key = kms.create_key(Description="boto3 recipe")["KeyMetadata"]["Arn"]
context = {"app": "recipe"}
blob = kms.encrypt(KeyId=key, Plaintext=b"hello from boto3", EncryptionContext=context)["CiphertextBlob"]
plain = kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)["Plaintext"]
assert plain == b"hello from boto3", plain

data_key = kms.generate_data_key(KeyId=key, KeySpec="AES_256")
assert len(data_key["Plaintext"]) == 32
again = kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"])["Plaintext"]
assert again == data_key["Plaintext"]

print(key)
print(base64.b64encode(blob).decode())
