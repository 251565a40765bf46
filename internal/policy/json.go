package policy

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
)

// value is a decoded JSON value: map[string]value, []value, string,
// json.Number, bool or nil (null).
type value = any

// decode decodes doc, which must hold exactly one JSON value, into a tree of
// values. Unlike encoding/json's map decoding it rejects an object that has
// the same key twice, and it keeps numbers as their literal text.
func (g grammar) decode(doc string) (value, error) {
	if strings.TrimLeft(doc, " \t\r\n") == "" {
		return nil, g.malformed(faultJSON, "Policy document is not valid JSON (the document is empty).")
	}
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	v, err := g.decodeValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, g.syntaxError(dec, err)
	}
	return v, nil
}

func (g grammar) decodeValue(dec *json.Decoder) (value, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, g.syntaxError(dec, err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			obj := map[string]value{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, g.syntaxError(dec, err)
				}
				key, ok := kt.(string)
				if !ok { // encoding/json reports this itself; be safe anyway
					return nil, g.syntaxError(dec, nil)
				}
				if _, dup := obj[key]; dup {
					return nil, g.malformed(faultJSON, "Policy document contains the key %s more than once in the same object.", echo(key))
				}
				v, err := g.decodeValue(dec)
				if err != nil {
					return nil, err
				}
				obj[key] = v
			}
			if _, err := dec.Token(); err != nil { // the closing '}'
				return nil, g.syntaxError(dec, err)
			}
			return obj, nil
		case '[':
			arr := []value{}
			for dec.More() {
				v, err := g.decodeValue(dec)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			if _, err := dec.Token(); err != nil { // the closing ']'
				return nil, g.syntaxError(dec, err)
			}
			return arr, nil
		}
		return nil, g.syntaxError(dec, nil) // a stray '}' or ']'
	default:
		return t, nil // string, json.Number, bool or nil
	}
}

// syntaxError reports a document that is not one well-formed JSON value. The
// offset comes from the decoder, never from the text, so nothing the caller
// sent is echoed.
func (g grammar) syntaxError(dec *json.Decoder, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return g.malformed(faultJSON, "Policy document is not valid JSON (syntax error at byte offset %d).", se.Offset)
	}
	return g.malformed(faultJSON, "Policy document is not valid JSON (syntax error at byte offset %d).", dec.InputOffset())
}
