// Package strictjson checks JSON text against the Go type it is about to be
// decoded into, for what encoding/json lets through: a key that matches a
// field only when case is ignored ("APP" for "app"), and a key given twice
// in one object (the last one wins there). Either makes people and tools
// read other data than the program acts on. It walks the tokens once with
// encoding/json's own Decoder and adds no dependency. It is the one owner
// of these key rules and of how json tags name keys: Check applies them to
// a whole document, Keys to one object of a decoder that reads the tokens
// itself (module/config's, whose errors give line numbers).
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
		err = walkArray(dec, t, path)
	case '{':
		err = walkObject(dec, t, path)
	}
	if err != nil {
		return err
	}
	// The closing delimiter.
	if _, err := dec.Token(); err != nil {
		return &syntaxError{err}
	}
	return nil
}

// walkArray reads the elements of an array, up to its closing ].
func walkArray(dec *json.Decoder, t reflect.Type, path string) error {
	var elem reflect.Type
	if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
		elem = t.Elem()
	}
	for i := 0; dec.More(); i++ {
		if err := walk(dec, elem, fmt.Sprintf("%s[%d]", path, i)); err != nil {
			return err
		}
	}
	return nil
}

// walkObject reads the members of an object, up to its closing }.
func walkObject(dec *json.Decoder, t reflect.Type, path string) error {
	keys := NewKeys(t)
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return &syntaxError{err}
		}
		key, _ := kt.(string)
		f, err := keys.Next(key)
		if err != nil {
			return fmt.Errorf("%s%w", in(path), err)
		}
		if err := walk(dec, f.Type, join(path, key)); err != nil {
			return err
		}
	}
	return nil
}

// Field is where a key of an object goes.
type Field struct {
	// Index is the struct field's index sequence (reflect.Value.FieldByIndex);
	// nil for a map's or an untyped object's key.
	Index []int
	// Type is the value's type; nil for any shape.
	Type reflect.Type
}

// Keys holds the key rules for one JSON object, for decoders that read
// objects token by token (as module/config's, which places each error on
// its line): every key exactly once, and, for an object decoded into a
// struct, exactly one of its fields' JSON names, as encoding/json resolves
// them but without ignoring case.
type Keys struct {
	fields map[string]Field // nil: any key
	elem   reflect.Type     // a map's values
	seen   map[string]bool
}

// NewKeys starts an object decoded into t: a struct (or a pointer to one)
// takes its fields' names, a map or any other type any key.
func NewKeys(t reflect.Type) *Keys {
	k := &Keys{seen: map[string]bool{}}
	if t = shape(t); t == nil {
		return k
	}
	switch t.Kind() {
	case reflect.Struct:
		k.fields = fieldsOf(t)
	case reflect.Map:
		k.elem = t.Elem()
	}
	return k
}

// Next takes the object's next key: ErrDuplicateKey when it was given
// before, ErrUnknownKey when it names no field (with a hint when it does
// but for case). Errors name the key, not the object's path.
func (k *Keys) Next(key string) (Field, error) {
	if k.seen[key] {
		return Field{}, fmt.Errorf("%w %q", ErrDuplicateKey, key)
	}
	k.seen[key] = true
	if k.fields == nil {
		return Field{Type: k.elem}, nil
	}
	f, ok := k.fields[key]
	if !ok {
		return Field{}, fmt.Errorf("%w %q%s", ErrUnknownKey, key, suggest(key, k.fields))
	}
	return f, nil
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

func suggest(key string, fields map[string]Field) string {
	for name := range fields {
		if strings.EqualFold(name, key) {
			return fmt.Sprintf(" (keys are case-sensitive: did you mean %q?)", name)
		}
	}
	return ""
}

var fieldCache sync.Map // reflect.Type -> map[string]Field

// fieldsOf maps the JSON names of a struct's fields to their fields, as
// encoding/json resolves them: fields of embedded structs are promoted, and
// of two with one name the shallower wins.
func fieldsOf(t reflect.Type) map[string]Field {
	if f, ok := fieldCache.Load(t); ok {
		return f.(map[string]Field)
	}
	out := map[string]Field{}
	depth := map[string]int{}
	var add func(t reflect.Type, index []int, visited map[reflect.Type]bool)
	add = func(t reflect.Type, index []int, visited map[reflect.Type]bool) {
		if visited[t] {
			return
		}
		visited[t] = true
		level := len(index)
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag, hasTag := f.Tag.Lookup("json")
			name, _, _ := strings.Cut(tag, ",")
			if name == "-" && tag == "-" {
				continue
			}
			at := append(index[:len(index):len(index)], i)
			if f.Anonymous && name == "" {
				ft := f.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					add(ft, at, visited)
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
			out[name], depth[name] = Field{Index: at, Type: f.Type}, level
		}
	}
	add(t, nil, map[reflect.Type]bool{})
	fieldCache.Store(t, out)
	return out
}
