// Encrypt, decrypt and make a data key with the AWS SDK for JavaScript v3
// against Trent. Usage: node kms.mjs [ENDPOINT]
// Without ENDPOINT, the SDK takes it from AWS_ENDPOINT_URL_KMS.
import {
  KMSClient, CreateKeyCommand, EncryptCommand, DecryptCommand, GenerateDataKeyCommand,
} from "@aws-sdk/client-kms";

const endpoint = process.argv[2];
const kms = new KMSClient(endpoint ? { endpoint } : {});

const { KeyMetadata } = await kms.send(new CreateKeyCommand({ Description: "js recipe" }));
const context = { app: "recipe" };
const { CiphertextBlob } = await kms.send(new EncryptCommand({
  KeyId: KeyMetadata.Arn, Plaintext: Buffer.from("hello from js"), EncryptionContext: context,
}));
const { Plaintext } = await kms.send(new DecryptCommand({ CiphertextBlob, EncryptionContext: context }));
if (Buffer.from(Plaintext).toString() !== "hello from js") throw new Error("decrypt gave something else");

const dataKey = await kms.send(new GenerateDataKeyCommand({ KeyId: KeyMetadata.Arn, KeySpec: "AES_256" }));
const again = await kms.send(new DecryptCommand({ CiphertextBlob: dataKey.CiphertextBlob }));
if (!Buffer.from(again.Plaintext).equals(Buffer.from(dataKey.Plaintext))) throw new Error("data key mismatch");

console.log(KeyMetadata.Arn);
console.log(Buffer.from(CiphertextBlob).toString("base64"));
