// Package jsonscan reads JSON token by token, for the decoders of the hot
// paths (the publish body, the websocket client frame) that fill a struct
// of a few fixed fields by hand instead of through encoding/json's
// reflection. Such a decoder takes only what it is sure of and leaves the
// rest to encoding/json, which decides it and words its error; so a
// Reader checks the grammar of each token it takes and nothing more.
package jsonscan

import "bytes"

// Reader reads the JSON in b; each method moves past what it accepted
// and leaves the position as it was, or anywhere, when it refuses (the
// caller then gives up on the document).
type Reader struct {
	b []byte
	i int
}

// NewReader returns a Reader at the start of b.
func NewReader(b []byte) Reader { return Reader{b: b} }

// Space moves past JSON whitespace.
func (r *Reader) Space() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// AtEnd reports whether the whole input was read.
func (r *Reader) AtEnd() bool { return r.i == len(r.b) }

// Peek returns the next byte, 0 at the end.
func (r *Reader) Peek() byte {
	if r.i < len(r.b) {
		return r.b[r.i]
	}
	return 0
}

// Mark returns the position, for Since.
func (r *Reader) Mark() int { return r.i }

// Since returns what was read since the position mark.
func (r *Reader) Since(mark int) []byte { return r.b[mark:r.i] }

// Take takes c if it comes next.
func (r *Reader) Take(c byte) bool {
	if r.i < len(r.b) && r.b[r.i] == c {
		r.i++
		return true
	}
	return false
}

// Literal takes word (true, false, null) if the input goes on with it,
// whatever follows: "nullx" leaves "x", which the caller's grammar then
// refuses (only space, ',' or '}' may come next).
func (r *Reader) Literal(word string) bool {
	if !bytes.HasPrefix(r.b[r.i:], []byte(word)) {
		return false
	}
	r.i += len(word)
	return true
}

// PlainString takes a string token without escapes and returns its
// contents, which are then its value; one with an escape or a control
// character is refused. The contents are not checked for UTF-8.
func (r *Reader) PlainString() ([]byte, bool) {
	if !r.Take('"') {
		return nil, false
	}
	start := r.i
	for r.i < len(r.b) {
		switch c := r.b[r.i]; {
		case c == '"':
			r.i++
			return r.b[start : r.i-1], true
		case c == '\\' || c < 0x20:
			return nil, false
		}
		r.i++
	}
	return nil, false
}

// Number takes a number token as JSON spells it (RFC 8259: an optional
// minus, no leading zero, a fraction and an exponent each optional) and
// returns it, for strconv to parse as encoding/json does. Like Literal, it
// stops where the grammar does: "01" takes "0".
func (r *Reader) Number() ([]byte, bool) {
	start := r.i
	r.Take('-')
	if !r.Take('0') && r.digits() == 0 {
		return nil, false
	}
	if r.Take('.') && r.digits() == 0 {
		return nil, false
	}
	if r.Take('e') || r.Take('E') {
		if !r.Take('+') {
			r.Take('-')
		}
		if r.digits() == 0 {
			return nil, false
		}
	}
	return r.b[start:r.i], true
}

// digits moves past decimal digits and says how many.
func (r *Reader) digits() int {
	start := r.i
	for r.i < len(r.b) && r.b[r.i] >= '0' && r.b[r.i] <= '9' {
		r.i++
	}
	return r.i - start
}

// SkipValue takes the JSON value at the position without checking it:
// objects and arrays to their closing bracket (strings inside skipped
// whole), other values to the next delimiter. The caller validates what
// it returns.
func (r *Reader) SkipValue() ([]byte, bool) {
	start := r.i
	depth := 0
	for r.i < len(r.b) {
		c := r.b[r.i]
		switch {
		case c == '"':
			r.i++
			for r.i < len(r.b) && r.b[r.i] != '"' {
				if r.b[r.i] == '\\' {
					r.i++
				}
				r.i++
			}
			if r.i >= len(r.b) {
				return nil, false
			}
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			if depth == 0 {
				return r.b[start:r.i], r.i > start
			}
			depth--
		case depth == 0 && (c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			return r.b[start:r.i], r.i > start
		}
		r.i++
		if depth == 0 && (c == '"' || c == '}' || c == ']') {
			return r.b[start:r.i], true
		}
	}
	return r.b[start:r.i], depth == 0 && r.i > start
}

// Object reads a JSON object whose keys are plain strings (PlainString),
// calling member for each with the reader at its value (past the colon
// and any space), which member reads, reporting whether it could; then
// any space, which must end the input. It reports whether all of that
// held.
func (r *Reader) Object(member func(key []byte) bool) bool {
	if !r.Take('{') {
		return false
	}
	r.Space()
	if !r.Take('}') {
		for {
			key, ok := r.PlainString()
			if !ok {
				return false
			}
			r.Space()
			if !r.Take(':') {
				return false
			}
			r.Space()
			if !member(key) {
				return false
			}
			r.Space()
			if r.Take('}') {
				break
			}
			if !r.Take(',') {
				return false
			}
			r.Space()
		}
	}
	r.Space()
	return r.AtEnd()
}
