package kms

import (
	"strconv"
	"strings"
	"testing"

	"github.com/trent-kms/trent/internal/apierr"
	"github.com/trent-kms/trent/internal/awsproto"
)

// message returns the ValidationException message of v, failing t if v has
// none.
func message(t *testing.T, v *validator) string {
	t.Helper()
	err := v.err()
	e, ok := err.(*apierr.Error)
	if !ok || e.Code != apierr.Validation {
		t.Fatalf("err() = %v, want a ValidationException", err)
	}
	if n := awsproto.EscapedLen(e.Message); n > awsproto.MaxErrorMessageBytes {
		t.Fatalf("message of %d bytes escaped, over %d", n, awsproto.MaxErrorMessageBytes)
	}
	return e.Message
}

func TestValidatorListsTheFirstFew(t *testing.T) {
	for _, tc := range []struct {
		violations int
		listed     int
	}{
		{1, 1},
		{2, 2},
		{maxListedErrors, maxListedErrors},
		{maxListedErrors + 1, maxListedErrors},
		{100_000, maxListedErrors},
	} {
		var v validator
		for i := range tc.violations {
			v.required("m"+strconv.Itoa(i), false)
		}
		msg := message(t, &v)
		noun := "errors"
		if tc.violations == 1 {
			noun = "error"
		}
		if prefix := strconv.Itoa(tc.violations) + " validation " + noun + " detected: Value null at 'm0'"; !strings.HasPrefix(msg, prefix) {
			t.Errorf("%d violations: message %.80q…, want prefix %q", tc.violations, msg, prefix)
		}
		if got := strings.Count(msg, "Value null at"); got != tc.listed {
			t.Errorf("%d violations: %d listed, want %d", tc.violations, got, tc.listed)
		}
	}
}

func TestValidatorClipsEchoedValues(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		clipped     bool
	}{
		{"AWS's recorded 257-character echo", strings.Repeat("v", 257), false},
		{"exactly the limit", strings.Repeat("v", maxEchoedValue), false},
		{"a byte over", strings.Repeat("v", maxEchoedValue+1), true},
		{"a megabyte", strings.Repeat("v", 1<<20), true},
		// Six bytes each once escaped.
		{"escaping characters", strings.Repeat("<", maxEchoedValue), true},
		{"control characters", strings.Repeat("\x01", 1<<20), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v validator
			v.length("description", &tc.value, 0, 1)
			msg := message(t, &v)
			if !tc.clipped {
				if !strings.Contains(msg, "'"+tc.value+"'") {
					t.Fatalf("message %.80q… does not repeat the value whole", msg)
				}
				return
			}
			if !strings.Contains(msg, "...' at 'description'") {
				t.Fatalf("message %.80q… does not end the value with a clip mark", msg)
			}
			echoed := msg[strings.Index(msg, "Value '")+len("Value '") : strings.Index(msg, "...' at")]
			if n := awsproto.EscapedLen(echoed); n > maxEchoedValue {
				t.Fatalf("echoed value is %d bytes escaped, over %d", n, maxEchoedValue)
			}
		})
	}
}

// TestValidatorMessageBudget checks that long violations stop the list
// before maxListedErrors once the message would pass its size.
func TestValidatorMessageBudget(t *testing.T) {
	var v validator
	long := strings.Repeat("<", 1<<20)
	for i := range maxListedErrors {
		v.length("m"+strconv.Itoa(i), &long, 0, 1)
	}
	msg := message(t, &v)
	if got := strings.Count(msg, "failed to satisfy"); got >= maxListedErrors || got == 0 {
		t.Fatalf("%d violations listed, want fewer than %d but some", got, maxListedErrors)
	}
	if !strings.HasPrefix(msg, strconv.Itoa(maxListedErrors)+" validation errors detected: ") {
		t.Fatalf("message %.60q… does not count every violation", msg)
	}
}

func TestValidatorListLengthFirst(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tokens int
		want   string
	}{
		{"at the limit", 10, "10 validation errors detected: Value '' at 'grantTokens.1.member' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"one over", 11, "1 validation error detected: Value at 'grantTokens' failed to satisfy constraint: Member must have length less than or equal to 10"},
		{"far over", 300_000, "1 validation error detected: Value at 'grantTokens' failed to satisfy constraint: Member must have length less than or equal to 10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v validator
			v.grantTokens(make([]string, tc.tokens))
			if msg := message(t, &v); !strings.HasPrefix(msg, tc.want) {
				t.Fatalf("message %.200q, want prefix %q", msg, tc.want)
			}
		})
	}
}

// TestValidatorCostDoesNotGrow checks that violations past the listed few
// cost a counter: no formatting, no allocation per element.
func TestValidatorCostDoesNotGrow(t *testing.T) {
	mods := make([]string, 100_000)
	for i := range mods {
		mods[i] = "BOGUS"
	}
	var v validator
	allocs := testing.AllocsPerRun(10, func() {
		v = validator{}
		v.dryRunModifiers(mods)
	})
	if allocs > 100 {
		t.Errorf("validating %d bad DryRunModifiers allocates %v times", len(mods), allocs)
	}
	if msg := message(t, &v); !strings.HasPrefix(msg, "100000 validation errors detected: Value 'BOGUS' at 'dryRunModifiers.1.member'") {
		t.Errorf("message %.100q…", msg)
	}
}

func TestTooManyTagsRefusedBeforeElements(t *testing.T) {
	tags := make([]awsproto.Tag, maxTagsPerKey+1) // no keys, no values
	var v validator
	v.tags("tags", tags)
	if err := v.err(); err != nil {
		t.Fatalf("validator.tags = %v; the count is checkTags' to refuse", err)
	}
	_, err := checkTags(nil, tags)
	if e, ok := err.(*apierr.Error); !ok || e.Code != apierr.Tag || e.Message != "Too many tags" {
		t.Fatalf("checkTags = %v, want TagException Too many tags", err)
	}
}
