package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/mender-docker/mender-docker/module/strictjson"
)

// stripComments blanks out // and /* */ comments outside strings, so that
// the example config can be used as shipped. Every comment byte becomes a
// space except newlines, which stay: offsets, and so the line numbers of
// errors, are those of the file.
func stripComments(data []byte) ([]byte, error) {
	out := bytes.Clone(data)
	blank := func(from, to int) {
		for i := from; i < to; i++ {
			if out[i] != '\n' {
				out[i] = ' '
			}
		}
	}
	for i := 0; i < len(data); i++ {
		switch c := data[i]; {
		case c == '"':
			// A string: skip to its closing quote; a backslash escapes the
			// next byte. An unterminated string is json's error to report.
			for i++; i < len(data) && data[i] != '"' && data[i] != '\n'; i++ {
				if data[i] == '\\' {
					i++
				}
			}
		case c == '/' && i+1 < len(data) && data[i+1] == '/':
			end := bytes.IndexByte(data[i:], '\n')
			if end < 0 {
				end = len(data) - i
			}
			blank(i, i+end)
			i += end
		case c == '/' && i+1 < len(data) && data[i+1] == '*':
			end := bytes.Index(data[i+2:], []byte("*/"))
			if end < 0 {
				return nil, &posError{off: int64(i), msg: "a /* comment is never closed"}
			}
			blank(i, i+2+end+2)
			i += 2 + end + 1
		}
	}
	return out, nil
}

// posError is an error at a byte offset of the file, with the key it
// concerns, if any.
type posError struct {
	off int64
	key string
	msg string
}

func (e *posError) Error() string {
	if e.key != "" {
		return e.key + ": " + e.msg
	}
	return e.msg
}

// decodeStrict decodes the JSON object in data into v (a pointer to a
// struct), key by key: an unknown or repeated key is an error, keys match
// exactly (encoding/json alone ignores case; strictjson owns these rules
// and the reading of json tags), and every error knows its
// key and where it is, which json.Decoder's errors do not (a duration's
// own error has neither). offsets are the keys' byte offsets, for errors
// found later.
func decodeStrict(data []byte, v any) (offsets map[string]int64, err error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	offsets = map[string]int64{}
	if err := decodeObject(dec, reflect.ValueOf(v).Elem(), "", offsets); err != nil {
		return offsets, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return offsets, &posError{off: dec.InputOffset(), msg: "unexpected text after the configuration's closing }"}
	}
	return offsets, nil
}

func decodeObject(dec *json.Decoder, v reflect.Value, prefix string, offsets map[string]int64) error {
	start := dec.InputOffset()
	tok, err := dec.Token()
	if err == io.EOF && prefix == "" {
		return &posError{off: start, msg: "want a JSON object { ... }; the file has none"}
	}
	if err != nil {
		return syntaxError(err, start, prefix)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		if prefix == "" {
			return &posError{off: start, msg: "want a JSON object { ... }"}
		}
		return &posError{off: start, key: strings.TrimSuffix(prefix, "."), msg: "want an object { ... }"}
	}
	keys := strictjson.NewKeys(v.Type())
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return syntaxError(err, dec.InputOffset(), prefix)
		}
		key := prefix + tok.(string) // inside an object, json gives keys as strings
		at := dec.InputOffset()
		field, err := keys.Next(tok.(string))
		if errors.Is(err, strictjson.ErrDuplicateKey) {
			return &posError{off: at, key: key, msg: "given twice"}
		}
		offsets[key] = at
		if err != nil {
			return &posError{off: at, key: key, msg: "unknown key"}
		}
		f := v.FieldByIndex(field.Index)
		if f.Kind() == reflect.Struct && !f.Addr().Type().Implements(reflect.TypeFor[json.Unmarshaler]()) {
			if err := decodeObject(dec, f, key+".", offsets); err != nil {
				return err
			}
			continue
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return syntaxError(err, at, prefix)
		}
		// Objects inside a value (a list of them, a map) are strict too.
		vd := json.NewDecoder(bytes.NewReader(raw))
		vd.DisallowUnknownFields()
		if err := vd.Decode(f.Addr().Interface()); err != nil {
			return &posError{off: at, key: key, msg: valueError(err, f.Type())}
		}
	}
	if _, err := dec.Token(); err != nil { // the closing }
		return syntaxError(err, dec.InputOffset(), prefix)
	}
	return nil
}

// syntaxError places a JSON syntax error at its offset.
func syntaxError(err error, at int64, prefix string) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &posError{off: se.Offset, msg: "not valid JSON: " + strings.TrimPrefix(se.Error(), "json: ")}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		inside := "the configuration"
		if prefix != "" {
			inside = strings.TrimSuffix(prefix, ".")
		}
		return &posError{off: at, msg: "not valid JSON: the file ends inside " + inside}
	}
	return &posError{off: at, msg: err.Error()}
}

// valueError says what a value should have been, in the words of the
// configuration rather than of Go's types.
func valueError(err error, t reflect.Type) string {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) {
		return err.Error() // a Duration's own message
	}
	return fmt.Sprintf("want %s, not %s", describe(t), article(te.Value))
}

func describe(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "a whole number"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list of " + strings.TrimPrefix(describe(t.Elem()), "a ") + "s"
	case reflect.Struct:
		return "an object"
	}
	return t.String()
}

func article(jsonKind string) string {
	switch {
	case strings.HasPrefix(jsonKind, "number "):
		return strings.TrimPrefix(jsonKind, "number ") // 1.5, for a whole number
	case jsonKind == "array" || jsonKind == "object":
		return "an " + jsonKind
	case jsonKind == "bool":
		return "true or false"
	}
	return "a " + jsonKind
}
