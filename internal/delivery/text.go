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
// and PostgreSQL cannot store NUL. Nor may it hold the invisible
// characters that make text read other than it is: bidi overrides and
// isolates (U+202A–U+202E, U+2066–U+2069), which reorder what follows
// them ("Trojan Source"), and zero-width characters (U+200B–U+200D,
// U+2060, U+FEFF), which make two names that look the same differ, save
// for the joiners where writing needs them (joinerAllowed). Errors are
// EINVALID naming the field.
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
	for i, r := range v {
		switch {
		case unicode.IsControl(r) && !(rule.Multiline && (r == '\n' || r == '\t')):
			return "", Errorf(EINVALID, "%s: must not contain control characters", field)
		case r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069:
			return "", Errorf(EINVALID, "%s: must not contain bidirectional control characters (U+%04X)", field, r)
		case r >= 0x200B && r <= 0x200D || r == 0x2060 || r == 0xFEFF:
			if !joinerAllowed(v[:i], r, v[i+utf8.RuneLen(r):]) {
				return "", Errorf(EINVALID, "%s: must not contain zero-width characters (U+%04X)", field, r)
			}
		}
	}
	return v, nil
}

// joinScripts are the scripts whose spelling needs the zero-width joiner
// and non-joiner between letters: the non-joiner is part of Persian
// orthography (می‌خواهم), the joiner picks conjunct forms in Indic scripts.
var joinScripts = []*unicode.RangeTable{
	unicode.Arabic, unicode.Syriac, unicode.Nko, unicode.Mongolian,
	unicode.Devanagari, unicode.Bengali, unicode.Gurmukhi, unicode.Gujarati, unicode.Oriya,
	unicode.Tamil, unicode.Telugu, unicode.Kannada, unicode.Malayalam, unicode.Sinhala,
}

// joinerAllowed tells whether the zero-width character r between before
// and after is writing rather than disguise. The joiner U+200D binds
// emoji into one picture (👩‍🍳, 🏳️‍🌈: a pictograph, maybe with a skin
// tone or the emoji variation selector, then a pictograph), so it is
// allowed there; refusing it would turn away ordinary chat. Both joiners
// are allowed between two letters (or marks) of one script that spells
// with them, as IDNA's CONTEXTJ rules do, more loosely. Anywhere else, and
// the zero-width space, word joiner and BOM always, they only hide.
func joinerAllowed(before string, r rune, after string) bool {
	prev, _ := utf8.DecodeLastRuneInString(before)
	next, _ := utf8.DecodeRuneInString(after)
	switch r {
	case 0x200D:
		base := before
		for prev == 0xFE0F || prev >= 0x1F3FB && prev <= 0x1F3FF { // variation selector, skin tones
			base = base[:len(base)-utf8.RuneLen(prev)]
			prev, _ = utf8.DecodeLastRuneInString(base)
		}
		if isPictograph(prev) && isPictograph(next) {
			return true
		}
		fallthrough
	case 0x200C:
		for _, script := range joinScripts {
			if inScript(prev, script) && inScript(next, script) {
				return true
			}
		}
	}
	return false
}

// isPictograph approximates Unicode's Extended_Pictographic, which the
// unicode package lacks: the symbols emoji are made of, but U+FFFD,
// a symbol too, which an empty side decodes to.
func isPictograph(r rune) bool { return r >= 0xA9 && r != utf8.RuneError && unicode.Is(unicode.So, r) }

func inScript(r rune, script *unicode.RangeTable) bool {
	return unicode.Is(script, r) && (unicode.IsLetter(r) || unicode.IsMark(r))
}
