package auth_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/ordercast/ordercast/internal/auth"
)

// A tracking token is 256 random bits as base64url, stored as its
// SHA-256; only its own form is taken for one, never an access token.
func TestTrackToken(t *testing.T) {
	token, hash, err := auth.NewTrackToken()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) != 32 || len(token) != auth.TrackTokenLen {
		t.Fatalf("token %q: %d bytes (%v), want 32 as %d characters of base64url", token, len(raw), err, auth.TrackTokenLen)
	}
	if hash == token || strings.Contains(hash, token) || auth.HashTrackToken(token) != hash {
		t.Fatalf("hash %q of %q: want its SHA-256, the same every time", hash, token)
	}
	other, _, err := auth.NewTrackToken()
	if err != nil || other == token {
		t.Fatalf("two tokens alike: %q (%v)", other, err)
	}
	if !auth.LooksLikeTrackToken(token) {
		t.Fatalf("%q not taken for a tracking token", token)
	}
	for _, s := range []string{"", token[:42], token + "A", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", strings.Repeat("+", 43), strings.Repeat("=", 43)} {
		if auth.LooksLikeTrackToken(s) {
			t.Errorf("%q taken for a tracking token", s)
		}
	}
}
