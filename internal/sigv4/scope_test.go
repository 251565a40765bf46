package sigv4

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/trent-kms/trent/internal/apierr"
)

func TestValidRegion(t *testing.T) {
	for _, tt := range []struct {
		region string
		want   bool
	}{
		{"us-east-1", true},
		{"eu-central-1", true},
		{"us-gov-west-1", true},
		{"ap-southeast-2", true},
		{"il-central-1", true},
		{"us-east-12", true},
		{"", false},
		{"us", false},
		{"us-east", false},
		{"US-east-1", false},
		{"us-east-1a", false},
		{"us--1", false},
		{"us-east-123", false},
		{"-east-1", false},
		{"us-east-1-", false},
		{"us_east-1", false},
		{"us-east-1/x", false},
	} {
		if got := ValidRegion(tt.region); got != tt.want {
			t.Errorf("ValidRegion(%q) = %v, want %v", tt.region, got, tt.want)
		}
	}
}

// TestVerifyScope checks that a verifier with no fixed region takes every
// well-formed region, that Services lists the services it takes, and that
// Verify reports the scope it accepted.
func TestVerifyScope(t *testing.T) {
	tests := []struct {
		name     string
		region   string
		service  string
		services []string
		signAs   string // service the request is signed for
		signIn   string // region the request is signed for
		wantErr  string // exception name, "" for success
	}{
		{name: "any region", signIn: "eu-west-3", signAs: "kms", service: "kms"},
		{name: "gov region", signIn: "us-gov-west-1", signAs: "kms", service: "kms"},
		{name: "malformed region", signIn: "moon-1", signAs: "kms", service: "kms", wantErr: apierr.InvalidSignature},
		{name: "fixed region kept", region: "us-east-1", signIn: "us-west-2", signAs: "kms", service: "kms", wantErr: apierr.InvalidSignature},
		{name: "iam in a set", services: []string{"iam", "sts"}, signIn: "us-east-1", signAs: "iam"},
		{name: "sts in a set", services: []string{"iam", "sts"}, signIn: "eu-west-1", signAs: "sts"},
		{name: "kms not in the set", services: []string{"iam", "sts"}, signIn: "us-east-1", signAs: "kms", wantErr: apierr.InvalidSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifier(t0)
			v.Region, v.Service, v.Services = tt.region, tt.service, tt.services
			r := newRequest("Encrypt", testBody)
			o := defaults()
			o.region, o.service = tt.signIn, tt.signAs
			sign(t, r, testBody, o)
			got, err := v.Verify(r, []byte(testBody))
			if tt.wantErr != "" {
				if !apierr.Is(err, tt.wantErr) {
					t.Fatalf("Verify = %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.Region != tt.signIn || got.Service != tt.signAs || got.Credential != testCredential {
				t.Errorf("Verify = {%v %q %q}, want the test credential, %q, %q", got.Credential, got.Region, got.Service, tt.signIn, tt.signAs)
			}
		})
	}
}

// TestVerifySessionToken checks the temporary-credential path: the session
// token goes to LookupSession, never to Lookup; an expired session answers
// ExpiredTokenException, an unknown one the invalid-token error.
func TestVerifySessionToken(t *testing.T) {
	const token = "FwoGZXIvYXdzEXAMPLETOKEN"
	session := &Credential{AccessKeyID: "ASIAEXAMPLEEXAMPLE12", Secret: []byte("session-secret-session-secret"), Account: testAccount}
	tests := []struct {
		name    string
		akid    string
		secret  string
		lookup  func(id, tok string) (*Credential, error)
		wantErr string
	}{
		{
			name: "valid session", akid: session.AccessKeyID, secret: string(session.Secret),
			lookup: func(id, tok string) (*Credential, error) {
				if id == session.AccessKeyID && tok == token {
					return session, nil
				}
				return nil, errors.New("unknown")
			},
		},
		{
			name: "expired", akid: session.AccessKeyID, secret: string(session.Secret), wantErr: apierr.ExpiredToken,
			lookup: func(string, string) (*Credential, error) { return nil, ErrExpiredToken },
		},
		{
			name: "unknown", akid: session.AccessKeyID, secret: string(session.Secret), wantErr: apierr.UnrecognizedClient,
			lookup: func(string, string) (*Credential, error) {
				return nil, fmt.Errorf("no such session: %w", ErrUnknownCredential)
			},
		},
		{
			// A store that cannot be read is the server's fault, never a
			// bad token.
			name: "lookup fails", akid: session.AccessKeyID, secret: string(session.Secret), wantErr: apierr.KMSInternal,
			lookup: func(string, string) (*Credential, error) { return nil, errors.New("database is closed") },
		},
		{name: "no session lookup", akid: session.AccessKeyID, secret: string(session.Secret), wantErr: apierr.UnrecognizedClient},
		{
			// A long-term key's id with a token is still a session lookup:
			// the token may not be ignored.
			name: "long-term key with a token", akid: testAKID, secret: testSecret, wantErr: apierr.UnrecognizedClient,
			lookup: func(string, string) (*Credential, error) { return nil, ErrUnknownCredential },
		},
		{
			name: "wrong secret", akid: session.AccessKeyID, secret: "another-secret-another", wantErr: apierr.InvalidSignature,
			lookup: func(string, string) (*Credential, error) { return session, nil },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifier(t0)
			v.LookupSession = tt.lookup
			r := newRequest("Encrypt", testBody)
			o := defaults()
			o.akid, o.secret, o.token = tt.akid, tt.secret, token
			sign(t, r, testBody, o)
			if r.Header.Get("X-Amz-Security-Token") != token {
				t.Fatal("the SDK signer did not send the session token")
			}
			got, err := v.Verify(r, []byte(testBody))
			if tt.wantErr != "" {
				if !apierr.Is(err, tt.wantErr) {
					t.Fatalf("Verify = %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.Credential != session {
				t.Errorf("Verify returned %v, want the session credential", got.Credential)
			}
		})
	}
}

// TestSignSignsEveryAmzHeader checks that Sign's requests pass Verify's
// rule that every x-amz-* header be signed, a session token included.
func TestSignSignsEveryAmzHeader(t *testing.T) {
	r := newRequest("Encrypt", testBody)
	r.Header.Set("X-Amz-Security-Token", "tok")
	if err := Sign(r, []byte(testBody), testAKID, []byte(testSecret), testRegion, testService, t0); err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t0)
	v.LookupSession = func(id, tok string) (*Credential, error) {
		if tok != "tok" {
			return nil, errors.New("wrong token")
		}
		return testCredential, nil
	}
	if _, err := v.Verify(r, []byte(testBody)); err != nil {
		t.Fatalf("Verify of Sign's request with a token: %v (Authorization %q)", err, r.Header.Get("Authorization"))
	}
	_ = http.MethodPost
}

// TestVerifyLookupKey: LookupKey tells an unknown key (UnrecognizedClient)
// from a failure to look (an internal error), which Lookup's bool cannot.
func TestVerifyLookupKey(t *testing.T) {
	for _, tt := range []struct {
		name    string
		lookup  func(string) (*Credential, error)
		wantErr string
	}{
		{"found", func(string) (*Credential, error) { return testCredential, nil }, ""},
		{"unknown", func(string) (*Credential, error) { return nil, ErrUnknownCredential }, apierr.UnrecognizedClient},
		{"store down", func(string) (*Credential, error) { return nil, errors.New("database is closed") }, apierr.KMSInternal},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifier(t0)
			v.Lookup = nil
			v.LookupKey = tt.lookup
			r := newRequest("Encrypt", testBody)
			sign(t, r, testBody, defaults())
			_, err := v.Verify(r, []byte(testBody))
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && !apierr.Is(err, tt.wantErr) {
				t.Fatalf("Verify = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
