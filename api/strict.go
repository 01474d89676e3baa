package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
)

// strict checks a JSON body against the type it is to be decoded into,
// for what encoding/json lets through: a key given twice (the last one
// would win), a key in another case than its field's tag (encoding/json
// matches keys case-insensitively, so "PIN" would set pin), a key the type
// does not have, and null anywhere, the whole body included (encoding/json
// leaves the value alone, so `"pin": null` would read as "keep the PIN"
// and a null body as an empty one). It reads tokens only; decode runs
// encoding/json afterwards for the values. The message names the key by
// its path, e.g. `warn_minutes[1]`.
func strict(body []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	return strictValue(dec, t, "")
}

// strictValue reads one value of type t (at path) from dec.
func strictValue(dec *json.Decoder, t reflect.Type, path string) error {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	tok, err := dec.Token()
	if err != nil {
		return syntaxError(err)
	}
	switch tok {
	case nil:
		if path == "" {
			return errors.New("the body is null; send a JSON object")
		}
		return fmt.Errorf("%s: null is not accepted; leave the key out instead", path)
	case json.Delim('{'):
		if t == nil || t.Kind() != reflect.Struct {
			// encoding/json reports the type mismatch with the field's
			// name; skip the object without looking into it.
			return strictSkip(dec, 1)
		}
		return strictObject(dec, t, path)
	case json.Delim('['):
		if t == nil || (t.Kind() != reflect.Slice && t.Kind() != reflect.Array) {
			return strictSkip(dec, 1)
		}
		for i := 0; dec.More(); i++ {
			if err := strictValue(dec, t.Elem(), path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
		_, err := dec.Token() // ']'
		return syntaxError(err)
	}
	return nil
}

// strictObject reads the keys and values of an object, its '{' read.
func strictObject(dec *json.Decoder, t reflect.Type, path string) error {
	fields := jsonFields(t)
	seen := make(map[string]bool, len(fields))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return syntaxError(err)
		}
		key, _ := tok.(string) // the decoder allows only strings here
		at := key
		if path != "" {
			at = path + "." + key
		}
		ft, ok := fields[key]
		if !ok {
			for name := range fields {
				if strings.EqualFold(name, key) {
					return fmt.Errorf("unknown key %s; keys are case-sensitive: did you mean %q?", strconv.Quote(at), name)
				}
			}
			return fmt.Errorf("unknown key %s", strconv.Quote(at))
		}
		if seen[key] {
			return fmt.Errorf("key %s is given twice", strconv.Quote(at))
		}
		seen[key] = true
		if err := strictValue(dec, ft, at); err != nil {
			return err
		}
	}
	_, err := dec.Token() // '}'
	return syntaxError(err)
}

// strictSkip reads past the rest of depth open arrays and objects.
func strictSkip(dec *json.Decoder, depth int) error {
	for depth > 0 {
		tok, err := dec.Token()
		if err != nil {
			return syntaxError(err)
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return nil
}

// jsonFields are the keys encoding/json decodes into a struct of type t
// (jsonKeys), exactly as its tags spell them, with each field's type.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	jsonKeys(t, func(name, _ string, f reflect.StructField) {
		if _, ok := out[name]; !ok {
			out[name] = f.Type
		}
	})
	return out
}

// jsonKeys walks the fields of struct type t as encoding/json takes them:
// unexported fields and "-" are skipped, untagged embedded structs are
// flattened into their parent. each gets a field's key, the options of
// its json tag and the field.
func jsonKeys(t reflect.Type, each func(key, opts string, f reflect.StructField)) {
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				jsonKeys(ft, each)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		each(name, opts, f)
	}
}

// syntaxError words the decoder's errors the way decode reports them.
func syntaxError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, io.EOF) {
		return errors.New("unexpected end of JSON input")
	}
	return errors.New(strings.TrimPrefix(err.Error(), "json: "))
}
