// Package strictjson checks JSON text against the Go type it is about to be
// decoded into, for what encoding/json lets through: a key that matches a
// field only when case is ignored ("APP" for "app"), and a key given twice
// in one object (the last one wins there). Either makes people and tools
// read other data than the program acts on. It walks the tokens once with
// encoding/json's own Decoder and adds no dependency.
package strictjson

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
)

// Sentinel errors, wrapped by every error Check returns about keys.
var (
	ErrDuplicateKey = errors.New("duplicate key")
	ErrUnknownKey   = errors.New("unknown field")
)

// Check returns an error when data, a JSON value, has an object with a
// key given twice, or an object decoded into a struct (in the shape of v,
// a value or a pointer to one) with a key that is not exactly one of its
// fields' JSON names. Errors name the object's path and the key
// (services.web: unknown field "Run_Args").
// Maps take any key; values of types that decode themselves
// (json.Unmarshaler) and of interface types are checked for duplicates
// only. Syntax errors are left to the decoder that follows: Check returns
// nil for them, so that the decoder's own message is the one shown.
func Check(data []byte, v any) error {
	return CheckIn("", data, v)
}

// CheckIn is Check for a value found at path in a larger document (as
// inside an UnmarshalJSON method): errors name their paths below it.
func CheckIn(path string, data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var t reflect.Type
	if v != nil {
		t = reflect.TypeOf(v)
	}
	err := walk(dec, t, path)
	var se *syntaxError
	if errors.As(err, &se) {
		return nil
	}
	return err
}

// syntaxError marks a token error, which Check leaves to the decoder.
type syntaxError struct{ err error }

func (e *syntaxError) Error() string { return e.err.Error() }

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// walk reads one value from dec; t is the type it decodes into (nil: any
// shape, duplicates checked only).
func walk(dec *json.Decoder, t reflect.Type, path string) error {
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return &syntaxError{err}
	}
	t = shape(t)
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch d {
	case '[':
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i := 0; dec.More(); i++ {
			if err := walk(dec, elem, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case '{':
		var fields map[string]reflect.Type
		var elem reflect.Type
		if t != nil {
			switch t.Kind() {
			case reflect.Struct:
				fields = fieldsOf(t)
			case reflect.Map:
				elem = t.Elem()
			}
		}
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return &syntaxError{err}
			}
			key, _ := kt.(string)
			if seen[key] {
				return fmt.Errorf("%s%w %q", in(path), ErrDuplicateKey, key)
			}
			seen[key] = true
			next := elem
			if fields != nil {
				ft, ok := fields[key]
				if !ok {
					return fmt.Errorf("%s%w %q%s", in(path), ErrUnknownKey, key, suggest(key, fields))
				}
				next = ft
			}
			if err := walk(dec, next, join(path, key)); err != nil {
				return err
			}
		}
	}
	// The closing delimiter.
	if _, err := dec.Token(); err != nil {
		return &syntaxError{err}
	}
	return nil
}

// shape is the type whose shape JSON must follow: pointers removed; nil
// for types that decode themselves or take anything.
func shape(t reflect.Type) reflect.Type {
	for t != nil {
		if t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType) ||
			t.Implements(textUnmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalerType) {
			return nil
		}
		switch t.Kind() {
		case reflect.Pointer:
			t = t.Elem()
		case reflect.Interface:
			return nil
		default:
			return t
		}
	}
	return nil
}

// in prefixes an error about the object at path.
func in(path string) string {
	if path == "" {
		return ""
	}
	return path + ": "
}

// join names key below path: a.b, or a["b c"] for a key that is not a
// plain word.
func join(path, key string) string {
	plain := key != "" && strings.IndexFunc(key, func(r rune) bool {
		return !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) < 0
	switch {
	case plain && path == "":
		return key
	case plain:
		return path + "." + key
	}
	return fmt.Sprintf("%s[%q]", path, key)
}

func suggest(key string, fields map[string]reflect.Type) string {
	for name := range fields {
		if strings.EqualFold(name, key) {
			return fmt.Sprintf(" (keys are case-sensitive: did you mean %q?)", name)
		}
	}
	return ""
}

var fieldCache sync.Map // reflect.Type -> map[string]reflect.Type

// fieldsOf maps the JSON names of a struct's fields to their types, as
// encoding/json resolves them: fields of embedded structs are promoted, and
// of two with one name the shallower wins.
func fieldsOf(t reflect.Type) map[string]reflect.Type {
	if f, ok := fieldCache.Load(t); ok {
		return f.(map[string]reflect.Type)
	}
	out := map[string]reflect.Type{}
	depth := map[string]int{}
	var add func(t reflect.Type, level int, visited map[reflect.Type]bool)
	add = func(t reflect.Type, level int, visited map[reflect.Type]bool) {
		if visited[t] {
			return
		}
		visited[t] = true
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag, hasTag := f.Tag.Lookup("json")
			name, _, _ := strings.Cut(tag, ",")
			if name == "-" && tag == "-" {
				continue
			}
			if f.Anonymous && name == "" {
				ft := f.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					add(ft, level+1, visited)
					continue
				}
			}
			if !f.IsExported() {
				continue
			}
			if name == "" || !hasTag {
				name = f.Name
			}
			if d, ok := depth[name]; ok && d <= level {
				continue
			}
			out[name], depth[name] = f.Type, level
		}
	}
	add(t, 0, map[reflect.Type]bool{})
	fieldCache.Store(t, out)
	return out
}
