package auth

import (
	"fmt"

	"golang.org/x/crypto/bcrypt"

	"github.com/ordercast/ordercast/internal/delivery"
)

// Passwords use bcrypt rather than argon2id: it is in x/crypto with a
// self-describing, widely supported hash format and constant-time compare,
// so there is no parameter encoding of our own to get wrong, and its cost is
// CPU-only, which keeps a burst of logins from exhausting memory. Its one
// trap, silent truncation after 72 bytes, is closed below by refusing longer
// passwords instead of hashing a prefix.

// BcryptCost is the work factor of new hashes. Tests (here and in other
// packages) may lower it to bcrypt.MinCost before hashing anything; it must
// not be changed while hashes are being made. Existing hashes keep the cost
// they were made with.
var BcryptCost = 12

// MaxPasswordLen is the longest password bcrypt uses in full, in bytes.
const MaxPasswordLen = 72

// HashPassword returns the bcrypt hash of password. A password longer than
// MaxPasswordLen bytes is refused with EINVALID rather than truncated, so
// two passwords that share a 72-byte prefix never match each other.
// Other length rules are the caller's.
func HashPassword(password string) (string, error) {
	if len(password) > MaxPasswordLen {
		return "", delivery.Errorf(delivery.EINVALID, "password: at most %d bytes", MaxPasswordLen)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), BcryptCost)
	if err != nil {
		return "", fmt.Errorf("auth: hash password: %w", err)
	}
	return string(h), nil
}

// CheckPassword reports whether password matches hash. The comparison is
// constant-time; a malformed hash, or a password HashPassword would have
// refused, is false.
func CheckPassword(hash, password string) bool {
	if len(password) > MaxPasswordLen {
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}
