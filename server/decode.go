package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"mime"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/jsonutf8"
	"github.com/ordercast/ordercast/internal/wire"
)

// requireJSON answers 415 to a request whose body is not declared JSON
// (application/json or application/*+json, parameters such as charset
// allowed): a page of another site may post text/plain or a form without
// a CORS preflight, and such a request must reach no handler. A request
// without a body (a claim) needs no type.
func requireJSON(c *fiber.Ctx) error {
	if len(c.Request().Body()) > 0 && !isJSONType(c.Get(fiber.HeaderContentType)) {
		return delivery.Errorf(delivery.EMEDIATYPE, "Content-Type: a request body must be application/json")
	}
	return c.Next()
}

func isJSONType(contentType string) bool {
	mediaType, _, err := mime.ParseMediaType(contentType) // lower-cased
	if err != nil {
		return false
	}
	sub, ok := strings.CutPrefix(mediaType, "application/")
	return ok && (sub == "json" || len(sub) > len("+json") && strings.HasSuffix(sub, "+json"))
}

// decodeJSON decodes one JSON object from body into v. Unknown fields,
// wrong types, trailing data, malformed JSON, a key given twice and a case
// variant of a field's name are EINVALID errors whose message names the
// field or the offset, so a client can fix its request.
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return delivery.Errorf(delivery.EINVALID, "request body must be a JSON object")
	}
	if !utf8.Valid(body) {
		// encoding/json would silently replace the bad bytes (and keep
		// them in raw fields such as a publish's data).
		return invalidUTF8(body)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return delivery.Errorf(delivery.EINVALID, "request body must hold a single JSON object")
	}
	if err := jsonutf8.CheckKeys(body, reflect.TypeOf(v)); err != nil {
		return delivery.Errorf(delivery.EINVALID, "%s", err)
	}
	return nil
}

func jsonError(err error) error {
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	var domainErr *delivery.Error
	switch {
	case errors.As(err, &syntaxErr):
		return delivery.Errorf(delivery.EINVALID, "malformed JSON at byte %d", syntaxErr.Offset)
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return delivery.Errorf(delivery.EINVALID, "request body must be a JSON object")
		}
		return delivery.Errorf(delivery.EINVALID, "%s: must be %s", typeErr.Field, wire.DescribeType(typeErr.Type))
	case errors.As(err, &domainErr):
		return domainErr
	case errors.Is(err, io.ErrUnexpectedEOF):
		return delivery.Errorf(delivery.EINVALID, "malformed JSON: unexpected end of input")
	}
	if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return delivery.Errorf(delivery.EINVALID, "%s: unknown field", strings.Trim(field, `"`))
	}
	return delivery.Errorf(delivery.EINVALID, "invalid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
}

// invalidUTF8 names the first top-level field (in key order) of a body
// that is not valid UTF-8.
func invalidUTF8(body []byte) error {
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) == nil {
		for _, k := range slices.Sorted(maps.Keys(fields)) {
			if !utf8.Valid(fields[k]) || !utf8.ValidString(k) {
				return delivery.Errorf(delivery.EINVALID, "%s: must be valid UTF-8", strings.ToValidUTF8(k, "?"))
			}
		}
	}
	return delivery.Errorf(delivery.EINVALID, "request body must be valid UTF-8")
}

// checkUTF8Fields refuses a body whose named string fields are not valid
// UTF-8 as sent (jsonutf8: encoding/json would silently replace the bad
// bytes). Call it after decodeJSON accepted the body.
func checkUTF8Fields(body []byte, fields ...string) error {
	if f := jsonutf8.FirstInvalid(body, fields...); f != "" {
		return delivery.Errorf(delivery.EINVALID, "%s: must be valid UTF-8", f)
	}
	return nil
}
