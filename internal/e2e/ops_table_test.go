package e2e

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	sdk "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/trent-kms/trent/internal/kms"
	"github.com/trent-kms/trent/internal/testenv"
)

// customKeyStoreOps answer UnsupportedOperationException on purpose:
// Trent has no custom key stores (issue 10 leaves them out).
var customKeyStoreOps = []string{
	"ConnectCustomKeyStore", "CreateCustomKeyStore", "DeleteCustomKeyStore",
	"DescribeCustomKeyStores", "DisconnectCustomKeyStore", "UpdateCustomKeyStore",
}

// pendingOps may still answer UnsupportedOperationException while they are
// being built on a branch; empty now that every operation but the custom
// key store family is served.
var pendingOps = []string{}

// sdkOperations lists the operations of aws-sdk-go-v2's KMS client: its
// methods of the form Op(context.Context, *OpInput, ...func(*Options))
// (*OpOutput, error).
func sdkOperations(t *testing.T) []string {
	t.Helper()
	ctxType := reflect.TypeFor[context.Context]()
	client := reflect.TypeFor[*sdk.Client]()
	var ops []string
	for i := range client.NumMethod() {
		m := client.Method(i)
		ft := m.Type // the receiver is In(0)
		if ft.NumIn() != 4 || !ft.IsVariadic() || ft.In(1) != ctxType || ft.NumOut() != 2 {
			continue
		}
		in, out := ft.In(2), ft.Out(0)
		if in.Kind() != reflect.Pointer || in.Elem().Name() != m.Name+"Input" ||
			out.Kind() != reflect.Pointer || out.Elem().Name() != m.Name+"Output" {
			continue
		}
		ops = append(ops, m.Name)
	}
	// A client with fewer would mean the reflection above missed them.
	if len(ops) < 50 {
		t.Fatalf("found %d operations on the SDK's client: %v", len(ops), ops)
	}
	return ops
}

// TestOperationTableCoversTheSDK keeps Trent honest about what it serves:
// every operation of the current SDK client has a row in the operation
// table, and, but for the custom key store family (and the operations
// other branches are adding, pendingOps), the row does the work — over
// HTTP an empty request is judged by the operation (here: refused as
// invalid, or served), never answered UnsupportedOperationException,
// UnknownOperationException or a 5xx — and FuzzDispatch fuzzes it. And
// the table has no row the SDK does not know.
func TestOperationTableCoversTheSDK(t *testing.T) {
	ops := sdkOperations(t)
	env := testenv.Start(t)
	for _, op := range ops {
		row, ok := kms.Lookup(op)
		if !ok {
			t.Errorf("%s: the SDK has it, Trent's operation table has no row", op)
			continue
		}
		status, _, body := env.Post(t, op, []byte(`{}`), true)
		if status >= 500 || bytes.Contains(body, []byte("UnknownOperationException")) {
			t.Errorf("%s {}: %d %s", op, status, body)
			continue
		}
		unsupported := bytes.Contains(body, []byte("UnsupportedOperationException"))
		switch {
		case slices.Contains(customKeyStoreOps, op):
			if !unsupported || row.Input != nil {
				t.Errorf("%s: custom key stores are not served, yet it answers %d %s", op, status, body)
			}
		case slices.Contains(pendingOps, op):
			if !unsupported {
				t.Logf("%s is served now: take it off pendingOps", op)
			}
		default:
			if unsupported || row.Input == nil {
				t.Errorf("%s: the row does not do the work: %d %s", op, status, body)
			}
			if !slices.Contains(dispatchOps, op) {
				t.Errorf("%s is served but FuzzDispatch does not fuzz it (dispatchOps)", op)
			}
		}
	}
	for _, name := range kms.OperationNames() {
		if !slices.Contains(ops, name) {
			t.Errorf("Trent's table has %s, which the SDK's client does not know", name)
		}
	}
	for _, op := range append(slices.Clone(customKeyStoreOps), pendingOps...) {
		if !slices.Contains(ops, op) {
			t.Errorf("%s is allowed to be unserved but the SDK has no such operation", op)
		}
	}
}

// TestOperationTableInREADME: the README's "What works" section names
// every operation of the SDK client, served or not, so what a user reads
// cannot silently fall behind the code.
func TestOperationTableInREADME(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## What works\n")
	if !ok {
		t.Fatal(`README.md has no "## What works" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	for _, op := range sdkOperations(t) {
		if !regexp.MustCompile(`\b` + op + `\b`).MatchString(section) {
			t.Errorf("README.md's What works does not name %s", op)
		}
	}
}
