package testenv

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// TestHTTPClientKeepsTheConnection forces the schedule under which the
// SDK breaks its own connection (HTTPClient's comment): the transport's
// write loop is held after the request body reached the server until the
// SDK has closed the body, and the caller's reads of the rest of the
// response wait for the write loop's verdict. An SDK client without
// HTTPClient then fails with net.ErrClosed after the server answered;
// with it, the call succeeds on the same schedule.
func TestHTTPClientKeepsTheConnection(t *testing.T) {
	e := Start(t)
	key, err := e.KMS.CreateKey(t.Context(), &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, fixed := range []bool{false, true} {
		g := &gate{bodyClosed: make(chan struct{}), wrote: make(chan struct{}), closed: make(chan struct{})}
		hc := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
			dial := tr.DialContext
			tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := dial(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				return &gatedConn{Conn: c, g: g}, nil
			}
		})
		var client aws.HTTPClient = watchBody{hc, g}
		if fixed {
			client = HTTPClient(client)
		}
		cfg := Config(e.URL, e.Region, e.AccessKeyID, e.Secret, "")
		cfg.HTTPClient = client
		ctx := httptrace.WithClientTrace(t.Context(), &httptrace.ClientTrace{WroteRequest: g.wroteRequest})
		// A ciphertext of 4096 bytes: more than the transport's 4 KiB
		// read buffer, so some of the response is read after Do returns.
		_, err := kms.NewFromConfig(cfg).Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyMetadata.KeyId, Plaintext: make([]byte, 4096)})
		switch {
		case fixed && err != nil:
			t.Errorf("with HTTPClient: %v", err)
		case !fixed && !errors.Is(err, net.ErrClosed):
			t.Errorf("without HTTPClient: %v, want net.ErrClosed: the schedule forced here no longer breaks the SDK's connection (is HTTPClient still needed?)", err)
		}
	}
}

// gate orders the events of one call; see TestHTTPClientKeepsTheConnection.
type gate struct {
	bodyClosed chan struct{} // the SDK closed the request body
	wrote      chan struct{} // the transport finished writing the request
	wroteErr   error
	closed     chan struct{} // the transport closed the connection
	once       [3]sync.Once
}

func (g *gate) wroteRequest(i httptrace.WroteRequestInfo) {
	g.once[1].Do(func() { g.wroteErr = i.Err; close(g.wrote) })
}

// wait waits for c, or fails the call by timing out (a wrong schedule
// must not hang the test).
func wait(c chan struct{}) {
	select {
	case <-c:
	case <-time.After(10 * time.Second):
	}
}

type gatedConn struct {
	net.Conn
	g *gate
}

// Write holds what follows the request's head (its body) until the SDK
// closed the body, that is, until the response came back.
func (c *gatedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if !bytes.HasPrefix(p, []byte("POST ")) {
		wait(c.g.bodyClosed)
	}
	return n, err
}

// Read, once the response is out, waits for the write loop's verdict and,
// if it failed, for the connection to be closed.
func (c *gatedConn) Read(p []byte) (int, error) {
	select {
	case <-c.g.bodyClosed:
		wait(c.g.wrote)
		if c.g.wroteErr != nil {
			wait(c.g.closed)
		}
	default:
	}
	return c.Conn.Read(p)
}

func (c *gatedConn) Close() error {
	c.g.once[2].Do(func() { close(c.g.closed) })
	return c.Conn.Close()
}

// watchBody tells the gate when the SDK closes the request body: the SDK
// closes the body of the *http.Request it passed to Do, which this sets.
type watchBody struct {
	inner aws.HTTPClient
	g     *gate
}

func (w watchBody) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody {
		b := watchedBody{req.Body, w.g}
		if _, ok := req.Body.(io.WriterTo); ok {
			req.Body = watchedBodyWriterTo{b}
		} else {
			req.Body = b
		}
	}
	return w.inner.Do(req)
}

type watchedBody struct {
	io.ReadCloser
	g *gate
}

func (b watchedBody) Close() error {
	err := b.ReadCloser.Close()
	b.g.once[0].Do(func() { close(b.g.bodyClosed) })
	return err
}

// watchedBodyWriterTo keeps the body's WriteTo, which is what answers
// io.EOF once the SDK's body is closed.
type watchedBodyWriterTo struct{ watchedBody }

func (b watchedBodyWriterTo) WriteTo(w io.Writer) (int64, error) {
	return b.ReadCloser.(io.WriterTo).WriteTo(w)
}
