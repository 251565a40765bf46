package keys

import (
	"encoding/binary"
	"math"
	"slices"
)

// MaxContextBytes is the largest encryption context Trent binds: the bytes
// of its keys and values together, in UTF-8. AWS documents no figure in the
// API reference; AWS's own engineers write of a "4K barrier for encryption
// contexts in KMS", so a context that works with AWS fits with room to
// spare. The kms package refuses larger contexts before any key is used,
// so that a request cannot make every Encrypt and Decrypt sort and hash a
// hundred thousand pairs.
const MaxContextBytes = 8192

// ContextSize returns the bytes of ec's keys and values together, as
// MaxContextBytes counts them.
func ContextSize(ec map[string]string) int {
	n := 0
	for k, v := range ec {
		n += len(k) + len(v)
	}
	return n
}

// CanonicalContext encodes an encryption context unambiguously, for use as
// (part of) the additional authenticated data of a ciphertext:
//
//	count (uint32 BE) ‖ for each pair, sorted by key in byte order:
//	    len(key) (uint32 BE) ‖ key ‖ len(value) (uint32 BE) ‖ value
//
// Every field is length-prefixed, so {"ab":"c"} and {"a":"bc"} encode
// differently, and the encoding is the same for equal maps whatever their
// iteration order. A nil map and an empty map both encode as four zero bytes.
// Keys and values are compared and encoded as raw bytes: no Unicode
// normalisation is applied (AWS does none either).
//
// CanonicalContext panics if a key or value is 4 GiB or longer, or the map has
// 2^32 or more entries; request-size limits keep that far out of reach.
func CanonicalContext(ec map[string]string) []byte {
	return appendCanonicalContext(make([]byte, 0, canonicalContextLen(ec)), ec)
}

// canonicalContextLen is the exact length of CanonicalContext(ec).
func canonicalContextLen(ec map[string]string) int {
	n := 4
	for k, v := range ec {
		n += 8 + len(k) + len(v)
	}
	return n
}

// sortedKeysOnStack is how many keys appendCanonicalContext sorts without a
// heap allocation. AWS callers rarely send more than a handful of pairs.
const sortedKeysOnStack = 16

// appendCanonicalContext appends CanonicalContext(ec) to dst.
func appendCanonicalContext(dst []byte, ec map[string]string) []byte {
	dst = binary.BigEndian.AppendUint32(dst, checkedLen(len(ec)))
	switch len(ec) {
	case 0:
		return dst
	case 1:
		for k, v := range ec {
			dst = appendField(dst, k)
			dst = appendField(dst, v)
		}
		return dst
	}
	var stack [sortedKeysOnStack]string
	keys := stack[:0]
	for k := range ec {
		keys = append(keys, k)
	}
	slices.Sort(keys) // Go orders strings bytewise
	for _, k := range keys {
		dst = appendField(dst, k)
		dst = appendField(dst, ec[k])
	}
	return dst
}

func appendField(dst []byte, s string) []byte {
	dst = binary.BigEndian.AppendUint32(dst, checkedLen(len(s)))
	return append(dst, s...)
}

func checkedLen(n int) uint32 {
	if uint64(n) > math.MaxUint32 {
		panic("keys: encryption context field too large to encode")
	}
	return uint32(n)
}
