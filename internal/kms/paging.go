package kms

import (
	"encoding/base64"
	"strings"

	"github.com/trent-kms/trent/internal/apierr"
)

// Markers are opaque to clients: the kind of listing and the last item
// returned, so a marker from one listing is refused by another.
func encodeMarker(kind, last string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + "\x00" + last))
}

func decodeMarker(kind, marker string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(marker)
	if err != nil {
		return "", apierr.New(apierr.InvalidMarker, "Invalid marker.")
	}
	k, last, ok := strings.Cut(string(raw), "\x00")
	if !ok || k != kind || last == "" {
		return "", apierr.New(apierr.InvalidMarker, "Invalid marker.")
	}
	return last, nil
}

// listing is how a listing pages: its largest and default page sizes
// (AWS's), and the kind its markers name. The check of a request and its
// handler both read the page through it, so the two cannot disagree.
type listing struct {
	max, def int32
	kind     string
}

var (
	keyPages       = listing{1000, 100, "keys"}      // ListKeys
	aliasPages     = listing{100, 50, "aliases"}     // ListAliases
	grantPages     = listing{100, 50, "grants"}      // ListGrants
	retirablePages = listing{100, 50, "retirable"}   // ListRetirableGrants
	policyPages    = listing{1000, 100, "policies"}  // ListKeyPolicies
	rotationPages  = listing{1000, 100, "rotations"} // ListKeyRotations
	tagPages       = listing{50, 50, "tags"}         // ListResourceTags
)

// params is pageParams for this listing.
func (l listing) params(limit *int32, marker *string) (int, string, error) {
	return pageParams(limit, marker, l.max, l.def, l.kind)
}

// pageParams validates Limit and Marker of a listing and returns the page
// size and the item to start after.
func pageParams(limit *int32, marker *string, max, def int32, kind string) (int, string, error) {
	var v validator
	v.intRange("limit", limit, 1, max)
	v.length("marker", marker, 1, 1024)
	v.pattern("marker", marker, `[\u0020-\u00FF]*`, policyChars)
	if err := v.err(); err != nil {
		return 0, "", err
	}
	n := def
	if limit != nil {
		n = *limit
	}
	after := ""
	if marker != nil {
		var err error
		if after, err = decodeMarker(kind, *marker); err != nil {
			return 0, "", err
		}
	}
	return int(n), after, nil
}
