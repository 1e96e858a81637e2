package auth_test

import (
	"encoding/base64"
	"testing"

	"github.com/ordercast/ordercast/internal/auth"
)

func TestRefreshToken(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		tok, hash, err := auth.NewRefreshToken()
		if err != nil {
			t.Fatal(err)
		}
		if b, err := base64.RawURLEncoding.DecodeString(tok); err != nil || len(b) != 32 {
			t.Fatalf("token %q: %d bytes, %v; want 32 base64url bytes", tok, len(b), err)
		}
		if seen[tok] {
			t.Fatalf("token repeated: %q", tok)
		}
		seen[tok] = true
		if got := auth.HashRefreshToken(tok); got != hash {
			t.Fatalf("HashRefreshToken = %q, NewRefreshToken said %q", got, hash)
		}
		if hash == tok || len(hash) != 64 {
			t.Fatalf("hash %q is not a SHA-256 hex", hash)
		}
	}
}

func TestHashRefreshTokenStable(t *testing.T) {
	// SHA-256("abc"), FIPS 180-2 appendix B.1: the stored form must never change.
	const want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if got := auth.HashRefreshToken("abc"); got != want {
		t.Errorf("HashRefreshToken(abc) = %s, want %s", got, want)
	}
}

func TestFamilyID(t *testing.T) {
	a, err := auth.NewFamilyID()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := auth.NewFamilyID()
	if a == "" || a == b {
		t.Errorf("family ids %q, %q", a, b)
	}
}
