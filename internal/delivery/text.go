package delivery

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// TextRule says what a free-text field accepts.
type TextRule struct {
	Max       int  // characters (runes) after trimming
	Required  bool // empty after trimming is refused
	Multiline bool // newline and tab allowed
}

// CheckText validates a free-text field and returns it trimmed. It must
// be valid UTF-8 and hold no control characters (other than newline and
// tab when multiline): they have no place in names, addresses or chat,
// and PostgreSQL cannot store NUL. Errors are EINVALID naming the field.
func CheckText(field, v string, rule TextRule) (string, error) {
	if !utf8.ValidString(v) {
		return "", Errorf(EINVALID, "%s: must be valid UTF-8", field)
	}
	v = strings.TrimSpace(v)
	if rule.Required && v == "" {
		return "", Errorf(EINVALID, "%s: required", field)
	}
	if utf8.RuneCountInString(v) > rule.Max {
		return "", Errorf(EINVALID, "%s: at most %d characters", field, rule.Max)
	}
	for _, r := range v {
		if unicode.IsControl(r) && !(rule.Multiline && (r == '\n' || r == '\t')) {
			return "", Errorf(EINVALID, "%s: must not contain control characters", field)
		}
	}
	return v, nil
}
