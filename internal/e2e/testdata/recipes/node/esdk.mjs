// Envelope-encrypt with the AWS Encryption SDK for JavaScript, its data
// keys made and unwrapped by a Trent key. Usage: node esdk.mjs KEY_ARN ENDPOINT
import {
  buildClient, CommitmentPolicy, KmsKeyringNode, getClient, KMS,
} from "@aws-crypto/client-node";

const [keyArn, endpoint] = process.argv.slice(2);
const { encrypt, decrypt } = buildClient(CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT);
// The keyring makes a KMS client per region; this one points it at Trent.
const clientProvider = getClient(KMS, { endpoint });
const keyring = new KmsKeyringNode({ clientProvider, generatorKeyId: keyArn });

const context = { purpose: "recipe" };
const { result } = await encrypt(keyring, "hello from the Encryption SDK", { encryptionContext: context });
const { plaintext, messageHeader } = await decrypt(keyring, result);
if (plaintext.toString() !== "hello from the Encryption SDK") throw new Error("round trip failed");
if (messageHeader.encryptionContext.purpose !== "recipe") throw new Error("encryption context lost");

// The message carries its data key encrypted by Trent under keyArn.
const [edk] = messageHeader.encryptedDataKeys;
console.log(JSON.stringify({
  keyArn: edk.providerInfo,
  encryptedDataKey: Buffer.from(edk.encryptedDataKey).toString("base64"),
  encryptionContext: messageHeader.encryptionContext,
}));
