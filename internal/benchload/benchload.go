// Package benchload puts measured load on a Trent server, for the HTTP
// benchmarks and `trent bench`. Run keeps N keep-alive connections busy, each
// sending one pre-built request body for one operation over and over, signed
// afresh with SigV4 (sigv4.Sign) for every request as a real client signs,
// until a duration or a request count runs out; it reports successes,
// errors, throughput and latency percentiles.
//
// It speaks just enough HTTP/1.1 (Content-Length framing, keep-alive) to do
// that cheaply, so that the client, which shares the machine with the server
// under test, costs little next to what it measures. It does no TLS.
//
// It loads loopback addresses only, unless a Target says AllowRemote: it must
// never be pointed at a server that is not the caller's own. Every Run is
// bounded in time.
package benchload

import (
	"bufio"
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trent-kms/trent/internal/sigv4"
)

// Target is the server to load and the credentials to sign with.
type Target struct {
	// Endpoint is the server's base URL, http://host:port with no path.
	Endpoint    string
	AccessKeyID string
	Secret      []byte
	Region      string
	// AllowRemote permits a host that is not a loopback address.
	AllowRemote bool
}

// Load is what Run sends and for how long.
type Load struct {
	// Op is the operation's wire name, e.g. "Encrypt" (sent as
	// X-Amz-Target: TrentService.Encrypt).
	Op string
	// Body is the JSON body of every request.
	Body []byte
	// Connections is the number of keep-alive connections, each driven by
	// one goroutine. Default 32.
	Connections int
	// Duration bounds the run; it is required.
	Duration time.Duration
	// MaxRequests, if positive, bounds the number of requests sent, whether
	// they succeed or fail.
	MaxRequests int64
	// Bodies, if set, replaces Body: each request sends one of them, chosen
	// by Spread, so the load lands on many keys instead of one.
	Bodies [][]byte
	// Spread chooses among Bodies: SpreadCycle (the default) walks them in
	// order, every request the next one, so with more keys than the
	// server's cache holds every request finds its key cold; SpreadHot
	// picks uniformly at random among the first Hot of them.
	Spread Spread
	// Hot is the size of the hot set for SpreadHot; 0 means all Bodies.
	Hot int
}

// Spread is how a Load with many Bodies spreads its requests over them.
type Spread int

const (
	// SpreadCycle sends the bodies in turn, round-robin over all workers.
	SpreadCycle Spread = iota
	// SpreadHot picks a body uniformly at random among the first Hot.
	SpreadHot
)

// DefaultConnections is Load.Connections when it is not set.
const DefaultConnections = 32

// Result is what a Run measured.
type Result struct {
	Requests int64         // requests answered 200
	Errors   int64         // requests that failed: other statuses, broken connections
	Elapsed  time.Duration // from the first request sent to the last answered
	// P50 and P99 are latency percentiles of the successful requests, to
	// within about 1.6%.
	P50, P99 time.Duration
	// FirstError describes one failure, if there was any.
	FirstError string
}

// Rate returns successful requests per second.
func (r Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// service is the SigV4 service name Trent verifies.
const service = "kms"

// Run sends l to t and measures it. It dials all connections before the
// clock starts, and returns an error without sending anything if the target
// is not allowed or cannot be reached. Failed requests are counted in the
// Result, not returned as an error. Cancelling ctx ends the run early.
func Run(ctx context.Context, t Target, l Load) (Result, error) {
	if l.Duration <= 0 {
		return Result{}, errors.New("benchload: a duration is required")
	}
	if l.Op == "" {
		return Result{}, errors.New("benchload: no operation")
	}
	n := l.Connections
	if n <= 0 {
		n = DefaultConnections
	}
	ep, err := resolve(ctx, t)
	if err != nil {
		return Result{}, err
	}

	ws := make([]*worker, n)
	for i := range ws {
		c, err := ep.dial(ctx)
		if err != nil {
			for _, w := range ws[:i] {
				w.c.close()
			}
			return Result{}, err
		}
		_ = c.nc.SetDeadline(time.Now().Add(l.Duration + time.Second))
		ws[i] = &worker{c: c}
		ws[i].live.Store(c)
	}

	if len(l.Bodies) > 0 && (l.Hot < 0 || l.Hot > len(l.Bodies)) {
		return Result{}, fmt.Errorf("benchload: hot set of %d among %d bodies", l.Hot, len(l.Bodies))
	}
	var (
		issued atomic.Int64
		wg     sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(l.Duration)
	runCtx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	// Unblock workers waiting on a server that stopped answering.
	stop := context.AfterFunc(runCtx, func() {
		for _, w := range ws {
			w.live.Load().interrupt()
		}
	})
	defer stop()
	for _, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(runCtx, ep, t, l, deadline, &issued)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)

	var res Result
	var h histogram
	for _, w := range ws {
		w.c.close()
		res.Requests += w.ok
		res.Errors += w.failed
		if res.FirstError == "" {
			res.FirstError = w.firstErr
		}
		h.merge(&w.hist)
	}
	res.Elapsed = elapsed
	res.P50, res.P99 = h.quantile(0.50), h.quantile(0.99)
	return res, nil
}

type worker struct {
	c        *conn
	live     atomic.Pointer[conn] // c, for Run to interrupt
	hist     histogram
	ok       int64
	failed   int64
	firstErr string
}

func (w *worker) fail(err error) {
	w.failed++
	if w.firstErr == "" {
		w.firstErr = err.Error()
	}
}

func (w *worker) run(ctx context.Context, ep *endpoint, t Target, l Load, deadline time.Time, issued *atomic.Int64) {
	req := ep.template(l.Op)
	hot := l.Hot
	if hot == 0 {
		hot = len(l.Bodies)
	}
	rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	for ctx.Err() == nil {
		n := issued.Add(1)
		if l.MaxRequests > 0 && n > l.MaxRequests {
			return
		}
		body := l.Body
		switch {
		case len(l.Bodies) == 0:
		case l.Spread == SpreadHot:
			body = l.Bodies[rng.IntN(hot)]
		default:
			body = l.Bodies[(n-1)%int64(len(l.Bodies))]
		}
		if w.c == nil {
			c, err := ep.dial(ctx)
			if err != nil {
				if ctx.Err() == nil {
					w.fail(err)
					// Do not spin on a server that refuses connections.
					select {
					case <-ctx.Done():
					case <-time.After(10 * time.Millisecond):
					}
				}
				continue
			}
			_ = c.nc.SetDeadline(deadline.Add(time.Second))
			w.c = c
			w.live.Store(c)
		}
		began := time.Now()
		if began.After(deadline) {
			return
		}
		status, out, reuse, err := w.c.do(req, t, l.Op, body, began, false)
		if err != nil || !reuse {
			w.c.close()
			w.c = nil
		}
		if err != nil {
			if ctx.Err() == nil {
				w.fail(err)
			}
			continue
		}
		if status != http.StatusOK {
			w.fail(statusError(status, out))
			continue
		}
		w.ok++
		w.hist.record(time.Since(began))
	}
}

func statusError(status int, body []byte) error {
	if len(body) > 300 {
		body = body[:300]
	}
	return fmt.Errorf("HTTP %d: %s", status, bytes.TrimSpace(body))
}

// Call sends one signed request and returns the response body. A status
// other than 200 is an error carrying the body (AWS's error JSON).
func Call(ctx context.Context, t Target, op string, body []byte) ([]byte, error) {
	ep, err := resolve(ctx, t)
	if err != nil {
		return nil, err
	}
	c, err := ep.dial(ctx)
	if err != nil {
		return nil, err
	}
	defer c.close()
	if d, ok := ctx.Deadline(); ok {
		_ = c.nc.SetDeadline(d)
	} else {
		_ = c.nc.SetDeadline(time.Now().Add(time.Minute))
	}
	stop := context.AfterFunc(ctx, c.interrupt)
	defer stop()
	status, out, _, err := c.do(ep.template(op), t, op, body, time.Now(), true)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("%s: %w", op, statusError(status, out))
	}
	return out, nil
}

// createKeyBody is the CreateKey request of benchmarks: a symmetric
// encryption key.
var createKeyBody = []byte(`{"Description":"trent bench"}`)

// CreateKey creates a symmetric encryption key for benchmarking and returns
// its id.
func CreateKey(ctx context.Context, t Target) (string, error) {
	out, err := Call(ctx, t, "CreateKey", createKeyBody)
	if err != nil {
		return "", err
	}
	return keyID(out)
}

func keyID(out []byte) (string, error) {
	var resp struct{ KeyMetadata struct{ KeyId string } }
	if err := json.Unmarshal(out, &resp); err != nil || resp.KeyMetadata.KeyId == "" {
		return "", fmt.Errorf("benchload: unexpected CreateKey response %.200q", out)
	}
	return resp.KeyMetadata.KeyId, nil
}

// CreateKeys creates n symmetric encryption keys over the given number of
// keep-alive connections and returns their ids, in no particular order.
// progress, if not nil, is called now and then with the count so far.
func CreateKeys(ctx context.Context, t Target, n, connections int, progress func(done int)) ([]string, error) {
	if n <= 0 {
		return nil, nil
	}
	ep, err := resolve(ctx, t)
	if err != nil {
		return nil, err
	}
	connections = max(1, min(connections, n))
	var (
		mu    sync.Mutex
		ids   = make([]string, 0, n)
		first error
		next  atomic.Int64
		wg    sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fail := func(err error) {
		mu.Lock()
		if first == nil {
			first = err
		}
		mu.Unlock()
		cancel()
	}
	for range connections {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := ep.dial(ctx)
			if err != nil {
				fail(err)
				return
			}
			defer c.close()
			stop := context.AfterFunc(ctx, c.interrupt)
			defer stop()
			req := ep.template("CreateKey")
			for ctx.Err() == nil && next.Add(1) <= int64(n) {
				_ = c.nc.SetDeadline(time.Now().Add(time.Minute))
				status, out, reuse, err := c.do(req, t, "CreateKey", createKeyBody, time.Now(), true)
				if err == nil && status != http.StatusOK {
					err = statusError(status, out)
				}
				if err == nil && !reuse {
					err = errClosed
				}
				if err != nil {
					fail(fmt.Errorf("CreateKey: %w", err))
					return
				}
				id, err := keyID(out)
				if err != nil {
					fail(err)
					return
				}
				mu.Lock()
				ids = append(ids, id)
				done := len(ids)
				mu.Unlock()
				if progress != nil && done%10000 == 0 {
					progress(done)
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return ids, first
	}
	if err := ctx.Err(); err != nil {
		return ids, err
	}
	return ids, nil
}

// Ops are the operations Body knows how to build requests for.
var Ops = []string{"Encrypt", "Decrypt", "GenerateDataKey", "CreateKey"}

// Body returns the request body to load op with, under the key keyID:
// Encrypt of 32 random bytes, Decrypt of a ciphertext made by one Encrypt
// request first, GenerateDataKey of an AES_256 data key. CreateKey needs no
// key: every request creates a new symmetric key (keyID is ignored).
func Body(ctx context.Context, t Target, op, keyID string) ([]byte, error) {
	if op == "CreateKey" {
		return createKeyBody, nil
	}
	if keyID == "" {
		return nil, errors.New("benchload: no key id")
	}
	pt := make([]byte, 32)
	if _, err := crand.Read(pt); err != nil {
		return nil, err
	}
	encrypt, err := json.Marshal(map[string]string{"KeyId": keyID, "Plaintext": base64.StdEncoding.EncodeToString(pt)})
	if err != nil {
		return nil, err
	}
	switch op {
	case "Encrypt":
		return encrypt, nil
	case "Decrypt":
		out, err := Call(ctx, t, "Encrypt", encrypt)
		if err != nil {
			return nil, err
		}
		var resp struct{ CiphertextBlob []byte }
		if err := json.Unmarshal(out, &resp); err != nil || len(resp.CiphertextBlob) == 0 {
			return nil, fmt.Errorf("benchload: unexpected Encrypt response %.200q", out)
		}
		return json.Marshal(map[string][]byte{"CiphertextBlob": resp.CiphertextBlob})
	case "GenerateDataKey":
		return json.Marshal(map[string]string{"KeyId": keyID, "KeySpec": "AES_256"})
	}
	return nil, fmt.Errorf("benchload: cannot build a request for %q (known: %v)", op, Ops)
}

// ErrNotLoopback is returned (wrapped) for a Target whose host is not a
// loopback address and that does not say AllowRemote.
var ErrNotLoopback = errors.New("not a loopback address")

// Check reports whether t is a usable endpoint that Run and Call may load:
// an http:// URL whose host is a loopback address (or any, with
// AllowRemote). It sends nothing.
func Check(ctx context.Context, t Target) error {
	_, err := resolve(ctx, t)
	return err
}

// endpoint is a resolved, permitted Target address.
type endpoint struct {
	url  *url.URL
	addr string // what to dial
}

// resolve checks the endpoint URL and, unless AllowRemote, that every
// address its host names is a loopback address. It returns the address to
// dial, so the name is not looked up again between the check and the dial.
func resolve(ctx context.Context, t Target) (*endpoint, error) {
	u, err := url.Parse(t.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("endpoint: %w", err)
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("endpoint %q: only http:// endpoints are supported", t.Endpoint)
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.User != nil || u.Hostname() == "" {
		return nil, fmt.Errorf("endpoint %q: want http://host:port and nothing else", t.Endpoint)
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	host := u.Hostname()
	if t.AllowRemote {
		return &endpoint{url: u, addr: net.JoinHostPort(host, port)}, nil
	}
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{ip}
	} else if addrs, err = net.DefaultResolver.LookupNetIP(ctx, "ip", host); err != nil {
		return nil, fmt.Errorf("endpoint %q: %w", t.Endpoint, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("endpoint %q: %s has no address", t.Endpoint, host)
	}
	for _, a := range addrs {
		if !a.Unmap().IsLoopback() {
			return nil, fmt.Errorf("endpoint %q: %s is %w; load goes only to this machine unless remote endpoints are explicitly allowed", t.Endpoint, a, ErrNotLoopback)
		}
	}
	return &endpoint{url: u, addr: net.JoinHostPort(addrs[0].Unmap().String(), port)}, nil
}

func (ep *endpoint) dial(ctx context.Context) (*conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", ep.addr)
	if err != nil {
		return nil, err
	}
	return &conn{nc: nc, r: bufio.NewReaderSize(nc, 16<<10), out: make([]byte, 0, 2048)}, nil
}

// template returns the request that a worker signs for every send. It never
// goes through net/http: conn.do writes it out itself.
func (ep *endpoint) template(op string) *http.Request {
	u := *ep.url
	u.Path = "/"
	return &http.Request{
		Method: http.MethodPost,
		URL:    &u,
		Host:   u.Host,
		Header: http.Header{
			"Content-Type": {"application/x-amz-json-1.1"},
			"X-Amz-Target": {"TrentService." + op},
		},
	}
}

// conn is one keep-alive HTTP/1.1 client connection.
type conn struct {
	nc  net.Conn
	r   *bufio.Reader
	out []byte
}

func (c *conn) close() {
	if c != nil {
		c.nc.Close()
	}
}

// interrupt makes a blocked read or write return.
func (c *conn) interrupt() {
	if c != nil {
		_ = c.nc.SetDeadline(time.Unix(1, 0))
	}
}

var (
	errFraming = errors.New("benchload: response without Content-Length (chunked responses are not supported)")
	errClosed  = errors.New("benchload: server closed the connection")
)

// do signs req at now, sends it with body and reads the response: its
// status, its body (that of a 200 response only if keep is set) and whether
// the connection may be used again.
func (c *conn) do(req *http.Request, t Target, op string, body []byte, now time.Time, keep bool) (status int, out []byte, reuse bool, err error) {
	if err := sigv4.Sign(req, body, t.AccessKeyID, t.Secret, t.Region, service, now); err != nil {
		return 0, nil, false, err
	}
	b := appendRequest(c.out[:0], req, op, body)
	c.out = b
	if _, err := c.nc.Write(b); err != nil {
		return 0, nil, false, err
	}
	return c.readResponse(keep)
}

// appendRequest appends req, signed, as HTTP/1.1 bytes with body.
func appendRequest(b []byte, req *http.Request, op string, body []byte) []byte {
	b = append(b, "POST / HTTP/1.1\r\nHost: "...)
	b = append(b, req.Host...)
	b = append(b, "\r\nUser-Agent: trent-bench\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: TrentService."...)
	b = append(b, op...)
	b = append(b, "\r\nX-Amz-Date: "...)
	b = append(b, req.Header.Get("X-Amz-Date")...)
	b = append(b, "\r\nAuthorization: "...)
	b = append(b, req.Header.Get("Authorization")...)
	b = append(b, "\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n\r\n"...)
	return append(b, body...)
}

// readResponse reads one response: status line, headers, and a body framed
// by Content-Length.
func (c *conn) readResponse(keep bool) (status int, out []byte, reuse bool, err error) {
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = errClosed
		}
		return 0, nil, false, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, nil, false, fmt.Errorf("benchload: bad status line %.100q", line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, nil, false, fmt.Errorf("benchload: bad status line %.100q", line)
	}
	length := int64(-1)
	reuse = true
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return 0, nil, false, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, nil, false, fmt.Errorf("benchload: bad header line %.100q", line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.ParseInt(string(value), 10, 64); err != nil || length < 0 || length > 64<<20 {
				return 0, nil, false, fmt.Errorf("benchload: bad Content-Length %.50q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return 0, nil, false, errFraming
		case bytes.EqualFold(name, []byte("Connection")):
			reuse = !bytes.EqualFold(value, []byte("close"))
		}
	}
	if length < 0 {
		return 0, nil, false, errFraming
	}
	if keep || status != http.StatusOK {
		out = make([]byte, length)
		if _, err := io.ReadFull(c.r, out); err != nil {
			return 0, nil, false, err
		}
	} else if _, err := c.r.Discard(int(length)); err != nil {
		return 0, nil, false, err
	}
	return status, out, reuse, nil
}
