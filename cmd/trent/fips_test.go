package main

import (
	"slices"
	"testing"
)

func TestFIPSGODEBUG(t *testing.T) {
	tests := []struct{ godebug, want string }{
		{"", ""},
		{"fips140=on", "on"},
		{"http2client=0,fips140=only", "only"},
		{"fips140=on,fips140=off", "off"}, // the last setting counts
		{"x509sha1=1", ""},
	}
	for _, tt := range tests {
		if got := fipsGODEBUG(tt.godebug); got != tt.want {
			t.Errorf("fipsGODEBUG(%q) = %q, want %q", tt.godebug, got, tt.want)
		}
	}
}

func TestWithFIPSGODEBUG(t *testing.T) {
	tests := []struct {
		name     string
		env, out []string
	}{
		{"no GODEBUG", []string{"HOME=/h", "PATH=/bin"}, []string{"HOME=/h", "PATH=/bin", "GODEBUG=fips140=on"}},
		{"other settings kept", []string{"GODEBUG=http2client=0,x509sha1=1", "HOME=/h"}, []string{"HOME=/h", "GODEBUG=http2client=0,x509sha1=1,fips140=on"}},
		{"fips140=off overridden", []string{"GODEBUG=fips140=off,madvdontneed=1"}, []string{"GODEBUG=madvdontneed=1,fips140=on"}},
		{"empty GODEBUG", []string{"GODEBUG="}, []string{"GODEBUG=fips140=on"}},
		{"the PIN is passed on", []string{"TRENT_PKCS11_PIN=1234"}, []string{"TRENT_PKCS11_PIN=1234", "GODEBUG=fips140=on"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := withFIPSGODEBUG(tt.env)
			if !slices.Equal(got, tt.out) {
				t.Errorf("withFIPSGODEBUG(%q) = %q, want %q", tt.env, got, tt.out)
			}
			if v := fipsGODEBUG(got[len(got)-1][len("GODEBUG="):]); v != "on" {
				t.Errorf("the new GODEBUG gives fips140=%q", v)
			}
		})
	}
}

func TestParseServeFIPS(t *testing.T) {
	none := func(string) string { return "" }
	for _, tt := range []struct {
		args []string
		fips bool
	}{
		{[]string{"--dev"}, false},
		{[]string{"--dev", "--fips"}, true},
		{[]string{"--data-dir", "/srv/trent", "--fips"}, true},
	} {
		o, err := parseServe(tt.args, none)
		if err != nil {
			t.Fatalf("parseServe(%q): %v", tt.args, err)
		}
		if o.fips != tt.fips {
			t.Errorf("parseServe(%q).fips = %t, want %t", tt.args, o.fips, tt.fips)
		}
	}
}
