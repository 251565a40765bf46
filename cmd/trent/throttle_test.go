package main

import (
	"strings"
	"testing"
)

func TestServeThrottleFlags(t *testing.T) {
	noEnv := func(string) string { return "" }
	for _, tc := range []struct {
		args []string
		on   bool
		err  string
	}{
		{args: []string{"--dev"}, on: false},
		{args: []string{"--dev", "--throttle"}, on: true},
		{args: []string{"--dev", "--throttle", "--throttle-rates", "symmetric=5:10"}, on: true},
		{args: []string{"--data-dir", "/x"}, on: true},
		{args: []string{"--data-dir", "/x", "--throttle=false"}, on: false},
		{args: []string{"--data-dir", "/x", "--throttle-rates", "rsa=50,DescribeKey=off"}, on: true},
		{args: []string{"--dev", "--throttle-rates", "rsa=50"}, err: "needs throttling on"},
		{args: []string{"--data-dir", "/x", "--throttle-rates", "rsa=0"}, err: "--throttle-rates: rsa: rate"},
		{args: []string{"--data-dir", "/x", "--throttle-rates", "Encrypt=5"}, err: `unknown class "Encrypt"`},
	} {
		o, err := parseServe(tc.args, noEnv)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if (o.throttle != nil) != tc.on {
			t.Errorf("%q: throttling on = %v, want %v", tc.args, o.throttle != nil, tc.on)
		}
	}
}
