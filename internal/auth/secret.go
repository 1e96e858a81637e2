package auth

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"

	"github.com/ordercast/ordercast/internal/keyfile"
)

// secretFile is the name of the generated key in the data folder.
const secretFile = "jwt_secret"

// LoadOrCreateSecret returns the HS256 key: envSecret (JWT_SECRET) if it is
// non-empty, else the contents of dir/jwt_secret, else a new key that it
// writes there first (internal/keyfile), so that tokens survive a restart.
// A key shorter than MinSecretLen bytes, from either source, is an error.
//
// The generated key is 48 random bytes written as 64 base64url characters,
// and those characters are the key: the file's contents can be copied into
// JWT_SECRET verbatim to give several instances the same key. Surrounding
// whitespace in the file is ignored, so an editor's newline does no harm.
func LoadOrCreateSecret(envSecret, dir string) ([]byte, error) {
	return loadSecret(envSecret, func() ([]byte, error) {
		return keyfile.LoadOrCreate(dir, secretFile, newSecret, checkSecret)
	})
}

// LoadSecret returns the key LoadOrCreateSecret(envSecret, dir) returns,
// but never generates one: without JWT_SECRET and dir/jwt_secret it is an
// error, for a process that signs tokens another one (the server) must
// accept.
func LoadSecret(envSecret, dir string) ([]byte, error) {
	return loadSecret(envSecret, func() ([]byte, error) {
		return keyfile.Load(dir, secretFile, checkSecret)
	})
}

func loadSecret(envSecret string, fromFile func() ([]byte, error)) ([]byte, error) {
	if envSecret != "" {
		if len(envSecret) < MinSecretLen {
			return nil, fmt.Errorf("auth: JWT_SECRET must be at least %d bytes, got %d", MinSecretLen, len(envSecret))
		}
		return []byte(envSecret), nil
	}
	secret, err := fromFile()
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	return secret, nil
}

func newSecret() ([]byte, error) {
	raw := make([]byte, 48)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	return []byte(base64.RawURLEncoding.EncodeToString(raw)), nil
}

func checkSecret(b []byte) error {
	if len(b) < MinSecretLen {
		return fmt.Errorf("holds %d bytes, need at least %d", len(b), MinSecretLen)
	}
	return nil
}
