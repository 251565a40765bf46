package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/trent-kms/trent/internal/server"
)

func rotateRequestSeeds() []string {
	return []string{"", "{}", `{"unseal_shares":["01ab","02cd"]}`, `{"unseal_shares":null}`,
		`{"unseal_shares":[1]}`, `{"x":1}`, `{} {}`, `[]`, `{"unseal_shares":["a"]`, "\x00"}
}

func TestRotateRequestSeedsNonEmpty(t *testing.T) {
	if len(rotateRequestSeeds()) == 0 {
		t.Fatal("empty seed corpus")
	}
}

// FuzzParseRotateRequest: any body is accepted as a request or refused
// with ErrRefused and one fixed message (nothing of the body, which may
// hold shares), without panicking; what is accepted is empty or one JSON
// value, nothing after it.
func FuzzParseRotateRequest(f *testing.F) {
	for _, s := range rotateRequestSeeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		_, err := parseRotateRequest(body)
		if err == nil {
			if len(bytes.Trim(body, " \t\r\n")) > 0 && !json.Valid(body) {
				t.Fatalf("parseRotateRequest accepted %q, which is not one JSON value", body)
			}
			return
		}
		if !errors.Is(err, server.ErrRefused) {
			t.Fatalf("parseRotateRequest(%q) = %v, want ErrRefused", body, err)
		}
		// One fixed message, whatever the body: nothing of it is quoted.
		if _, err2 := parseRotateRequest([]byte("[")); err.Error() != err2.Error() {
			t.Fatalf("the error depends on the body: %v", err)
		}
	})
}
