package auth

import (
	"crypto/sha256"
	"encoding/hex"
)

// Refresh tokens are opaque: 32 random bytes, base64url. The store keeps only
// their SHA-256 (hex), so a leaked database cannot be replayed as sessions.
// A plain fast hash is enough, unlike for passwords, because the token has
// 256 bits of entropy and cannot be guessed from its hash.

// NewRefreshToken returns a new refresh token for the client and the hash to
// store for it.
func NewRefreshToken() (token, hash string, err error) {
	token, err = randomString(32)
	if err != nil {
		return "", "", err
	}
	return token, HashRefreshToken(token), nil
}

// HashRefreshToken returns the stored form of token: its SHA-256, lower-case hex.
func HashRefreshToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// NewFamilyID returns a random id for a chain of refresh tokens that
// descend from one login; reuse of a spent token revokes the whole family.
func NewFamilyID() (string, error) {
	return randomString(16)
}
