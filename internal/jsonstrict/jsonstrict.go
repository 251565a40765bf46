// Package jsonstrict decodes a document that must be exactly one JSON
// value: no object member the target does not name, and nothing after the
// value. The unseal and rotation bodies, audit digests, session tokens and
// PKCS#11 settings are read with it.
package jsonstrict

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// ErrTrailingData reports a document with more after its value.
var ErrTrailingData = errors.New("data after the JSON value")

// Decode decodes data into v. A document of nothing but white space is
// io.EOF, unwrapped, for the callers that accept an empty body.
func Decode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	// dec.More is not enough: it is false before a stray '}' or ']',
	// which ends no value it is in.
	switch _, err := dec.Token(); {
	case err == io.EOF:
		return nil
	case err != nil:
		return err
	default:
		return ErrTrailingData
	}
}
