// Package sdkhttp holds the HTTP client the tests' aws-sdk-go-v2 clients
// send through. It imports nothing of Trent, so that the tests of any
// package (awsquery's and sigv4's among them, which testenv imports) can
// use it.
package sdkhttp

import (
	"bytes"
	"fmt"
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// Client wraps inner (the SDK's default client if nil) so that the
// transport sends each request from a copy of its body that only the
// transport holds.
//
// Without it the SDK sometimes breaks its own connection under a response
// (aws-sdk-go-v2 #2737: "use of closed network connection" after a 200).
// smithy-go closes the request body it gave net/http as soon as Do
// returns, and that body's WriteTo answers io.EOF once closed. net/http,
// after writing Content-Length bytes, copies what is left of the body to
// io.Discard; when the response came back first (the transport's write
// loop is late on a loaded machine), that copy gets io.EOF, the transport
// counts the write as failed and closes the connection while the caller
// still reads the response body. The server did answer, so retrying the
// call (as the SDK's retryer does) would make the server do it twice, and
// a one-attempt client fails a test on nothing the server did; either is
// wrong for a test that counts what the server did. This removes the
// cause instead.
//
// GetBody is set too, so net/http may resend a request on its own, which
// it does only where it wrote none of it to a reused connection: the
// server cannot have seen that one.
func Client(inner aws.HTTPClient) aws.HTTPClient {
	if inner == nil {
		inner = awshttp.NewBuildableClient()
	}
	return ownBody{inner}
}

type ownBody struct{ inner aws.HTTPClient }

func (c ownBody) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, fmt.Errorf("read the request body: %w", err)
		}
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	return c.inner.Do(req)
}
