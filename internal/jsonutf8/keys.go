package jsonutf8

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
)

// KeyError names a key that encoding/json would have matched loosely.
type KeyError struct {
	Path string // where, e.g. "items[0].Quantity"
	Want string // the field's name for a case variant; "" for a duplicate
}

func (e *KeyError) Error() string {
	if e.Want == "" {
		return e.Path + ": duplicate key"
	}
	return fmt.Sprintf("%s: unknown field (keys are case-sensitive: did you mean %s?)", e.Path, e.Want)
}

// CheckKeys refuses what encoding/json decodes without a word: a key that
// appears twice in one object (the last one wins), at any depth, and a key
// that differs only in case (Unicode simple folding, as encoding/json
// compares) from a field of the struct it is decoded into ("Text" fills
// text). Either would let a check that reads the exact key, such as
// FirstInvalid, see another value than the one decoded. t is the type obj
// is decoded into; inside values decoded as a whole (json.RawMessage, a
// type with its own UnmarshalJSON, any) only duplicates are refused, as
// their keys are the client's own. obj must be valid JSON (decode it
// first); it returns nil or a *KeyError.
func CheckKeys(obj []byte, t reflect.Type) error {
	s := keyScanner{b: obj}
	s.space()
	if e := s.value(t); e != nil {
		return e
	}
	return nil
}

// keyScanner walks a valid JSON document. It allocates nothing for a
// sound one but the set of keys of a large object.
type keyScanner struct {
	b []byte
	i int
}

// within prefixes the path of e, found inside the value at step (a key,
// or an array index "[n]"): paths are built only for an error, on the way
// out.
func within(step string, e *KeyError) *KeyError {
	switch {
	case e.Path == "":
		e.Path = step
	case e.Path[0] == '[':
		e.Path = step + e.Path
	default:
		e.Path = step + "." + e.Path
	}
	return e
}

func (s *keyScanner) space() {
	for s.i < len(s.b) && isSpace(s.b[s.i]) {
		s.i++
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// value checks the value at s.i, decoded into t (nil: anything), and
// moves past it.
func (s *keyScanner) value(t reflect.Type) *KeyError {
	if s.i >= len(s.b) {
		return nil
	}
	switch s.b[s.i] {
	case '{':
		return s.object(shapeOf(t))
	case '[':
		var elem reflect.Type
		if sh := shapeOf(t); sh.list {
			elem = sh.elem
		}
		s.i++
		for n := 0; ; n++ {
			s.space()
			if s.i >= len(s.b) || s.b[s.i] == ']' {
				s.i++
				return nil
			}
			if e := s.value(elem); e != nil {
				return within(fmt.Sprintf("[%d]", n), e)
			}
			s.next()
		}
	case '"':
		s.str()
	default: // a number, true, false or null
		for s.i < len(s.b) && !isSpace(s.b[s.i]) && s.b[s.i] != ',' && s.b[s.i] != ']' && s.b[s.i] != '}' {
			s.i++
		}
	}
	return nil
}

// next moves past the comma (and space) after a member or element.
func (s *keyScanner) next() {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == ',' {
		s.i++
	}
}

// smallObject is how many keys an object's duplicates are looked for
// among by comparison; beyond it a set is built, so that a body of many
// keys costs no quadratic time.
const smallObject = 16

func (s *keyScanner) object(sh *shape) *KeyError {
	elem := sh.elem
	if sh.list {
		elem = nil
	}
	var few [smallObject][]byte
	seen := few[:0]
	var many map[string]bool
	s.i++
	for {
		s.space()
		if s.i >= len(s.b) || s.b[s.i] == '}' {
			s.i++
			return nil
		}
		tokStart := s.i
		key, escaped := s.str()
		if escaped {
			var k string
			_ = json.Unmarshal(s.b[tokStart:s.i], &k) // a valid string token
			key = []byte(k)
		}
		switch {
		case many != nil:
			if many[string(key)] {
				return &KeyError{Path: string(key)}
			}
			many[string(key)] = true
		case containsKey(seen, key):
			return &KeyError{Path: string(key)}
		case len(seen) < smallObject:
			seen = append(seen, key)
		default:
			many = make(map[string]bool, 4*smallObject)
			for _, k := range seen {
				many[string(k)] = true
			}
			many[string(key)] = true
		}
		child := elem
		if sh.fields != nil {
			ft, ok := sh.fields[string(key)]
			if !ok {
				for _, f := range sh.names {
					if bytes.EqualFold(key, []byte(f)) {
						return &KeyError{Path: string(key), Want: f}
					}
				}
			}
			child = ft
		}
		s.space()
		if s.i < len(s.b) && s.b[s.i] == ':' {
			s.i++
		}
		s.space()
		if e := s.value(child); e != nil {
			return within(string(key), e)
		}
		s.next()
	}
}

func containsKey(list [][]byte, k []byte) bool {
	for _, x := range list {
		if bytes.Equal(x, k) {
			return true
		}
	}
	return false
}

// str moves past the string token at s.i and returns its raw contents
// (between the quotes) and whether they hold an escape.
func (s *keyScanner) str() (raw []byte, escaped bool) {
	s.i++ // the opening quote
	start := s.i
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case '\\':
			escaped = true
			s.i += 2
			continue
		case '"':
			raw = s.b[start:s.i]
			s.i++
			return raw, escaped
		}
		s.i++
	}
	return s.b[start:], escaped
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// concrete is the type whose shape the JSON value must have: pointers
// removed; nil for a type that decodes the value itself, or for any.
func concrete(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() == reflect.Interface {
		return nil
	}
	p := reflect.PointerTo(t)
	if p.Implements(jsonUnmarshaler) || p.Implements(textUnmarshaler) {
		return nil
	}
	return t
}

// shape is what CheckKeys needs to know of a type; the zero shape takes
// any JSON value.
type shape struct {
	// fields maps the JSON names of a struct's fields, as encoding/json
	// names them (tag name, else field name; embedded structs promoted),
	// to their types.
	fields map[string]reflect.Type
	names  []string     // the keys of fields, for the search of a case variant
	elem   reflect.Type // of a map's values, or of a list's elements
	list   bool         // a slice or an array
}

var (
	anything = &shape{}
	shapes   sync.Map // reflect.Type → *shape, built once per type
)

func shapeOf(t reflect.Type) *shape {
	if t == nil {
		return anything
	}
	if sh, ok := shapes.Load(t); ok {
		return sh.(*shape)
	}
	sh, _ := shapes.LoadOrStore(t, newShape(t))
	return sh.(*shape)
}

func newShape(t reflect.Type) *shape {
	t = concrete(t)
	switch {
	case t == nil:
		return anything
	case t.Kind() == reflect.Struct:
		sh := &shape{fields: map[string]reflect.Type{}}
		addFields(sh.fields, t)
		sh.names = slices.Sorted(maps.Keys(sh.fields))
		return sh
	case t.Kind() == reflect.Map:
		return &shape{elem: t.Elem()}
	case t.Kind() == reflect.Slice || t.Kind() == reflect.Array:
		return &shape{elem: t.Elem(), list: true}
	}
	return anything
}

func addFields(m map[string]reflect.Type, t reflect.Type) {
	var embedded []reflect.Type
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case f.Anonymous && name == "" && ft.Kind() == reflect.Struct:
			embedded = append(embedded, ft)
		case !f.IsExported():
		case name == "":
			m[f.Name] = f.Type
		default:
			m[name] = f.Type
		}
	}
	// Promoted fields, unless the outer struct has one of that name.
	for _, et := range embedded {
		inner := map[string]reflect.Type{}
		addFields(inner, et)
		for name, ft := range inner {
			if _, ok := m[name]; !ok {
				m[name] = ft
			}
		}
	}
}
