// Command gosdk encrypts and decrypts with aws-sdk-go-v2 against Trent.
// Usage: go run . [-endpoint URL]
// Without -endpoint, the SDK takes the endpoint from AWS_ENDPOINT_URL_KMS.
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"log"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

func main() {
	endpoint := flag.String("endpoint", "", "Trent's URL, e.g. http://127.0.0.1:8080")
	flag.Parse()
	ctx := context.Background()

	// Credentials and region come from the usual places (AWS_ACCESS_KEY_ID,
	// AWS_REGION, ~/.aws/config ...), as for AWS.
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	client := kms.NewFromConfig(cfg, func(o *kms.Options) {
		if *endpoint != "" {
			o.BaseEndpoint = aws.String(*endpoint)
		}
	})

	key, err := client.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("go recipe")})
	if err != nil {
		log.Fatal(err)
	}
	arn := aws.ToString(key.KeyMetadata.Arn)
	encCtx := map[string]string{"app": "recipe"}
	enc, err := client.Encrypt(ctx, &kms.EncryptInput{KeyId: &arn, Plaintext: []byte("hello from go"), EncryptionContext: encCtx})
	if err != nil {
		log.Fatal(err)
	}
	dec, err := client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: encCtx})
	if err != nil {
		log.Fatal(err)
	}
	if string(dec.Plaintext) != "hello from go" {
		log.Fatalf("decrypt gave %q", dec.Plaintext)
	}
	dk, err := client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: &arn, KeySpec: types.DataKeySpecAes256})
	if err != nil {
		log.Fatal(err)
	}
	again, err := client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: dk.CiphertextBlob})
	if err != nil {
		log.Fatal(err)
	}
	if !bytes.Equal(again.Plaintext, dk.Plaintext) {
		log.Fatal("data key mismatch")
	}
	fmt.Println(arn)
	fmt.Println(base64.StdEncoding.EncodeToString(enc.CiphertextBlob))
}
