package server

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzActionOf checks the in-place scan against the plain way of reading
// a form's first Action (split, then unescape), wherever that value is
// short enough for the scan not to clip it before unescaping, and that
// the answer never passes maxAction bytes.
func FuzzActionOf(f *testing.F) {
	for _, s := range []string{
		"Action=CreateUser&Version=2010-05-08", "Version=1&Action=Get%55ser", "Action=a+b",
		"Action=Get%zzUser", "Action=&Action=GetUser", "&&&", "Action", "Action=%", "Action=%4",
		"Action=" + strings.Repeat("%41", 200),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got := actionOf(body)
		if len(got) > maxAction {
			t.Fatalf("actionOf = %d bytes, more than %d", len(got), maxAction)
		}
		for _, kv := range strings.Split(string(body), "&") {
			v, ok := strings.CutPrefix(kv, "Action=")
			if !ok {
				continue
			}
			if len(v) > 3*maxAction {
				return // the scan clips before it unescapes
			}
			want, err := url.QueryUnescape(v)
			if err != nil {
				want = ""
			}
			if want = clip(want, maxAction); got != want {
				t.Fatalf("actionOf(%q) = %q, want %q", body, got, want)
			}
			return
		}
		if got != "" {
			t.Fatalf("actionOf(%q) = %q for a body with no Action", body, got)
		}
	})
}
