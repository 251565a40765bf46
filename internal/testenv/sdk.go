package testenv

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/trent-kms/trent/internal/testenv/sdkhttp"
)

// Config is the aws-sdk-go-v2 configuration of a test's client of the
// Trent server at url: static credentials (token "" for none), one attempt
// per call, so that a test sees every answer as the server sent it, and
// HTTPClient(nil). Build a client with kms.NewFromConfig, iam.… or
// cloudtrail.…; change what a test needs (HTTPClient: HTTPClient(hc)).
func Config(url, region, accessKeyID, secret, token string) aws.Config {
	return aws.Config{
		Region:           region,
		BaseEndpoint:     aws.String(url),
		Credentials:      credentials.NewStaticCredentialsProvider(accessKeyID, secret, token),
		RetryMaxAttempts: 1,
		HTTPClient:       HTTPClient(nil),
	}
}

// HTTPClient is sdkhttp.Client: inner (the SDK's default client if nil)
// made safe from aws-sdk-go-v2 #2737 (see there).
func HTTPClient(inner aws.HTTPClient) aws.HTTPClient { return sdkhttp.Client(inner) }
