package auth

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// secretFile is the name of the generated key in the data folder.
const secretFile = "jwt_secret"

// LoadOrCreateSecret returns the HS256 key: envSecret (JWT_SECRET) if it is
// non-empty, else the contents of dir/jwt_secret, else a new key that it
// writes there first, so that tokens survive a restart. A key shorter than
// MinSecretLen bytes, from either source, is an error.
//
// The generated key is 48 random bytes written as 64 base64url characters,
// and those characters are the key: the file's contents can be copied into
// JWT_SECRET verbatim to give several instances the same key. Surrounding
// whitespace in the file is ignored, so an editor's newline does no harm.
func LoadOrCreateSecret(envSecret, dir string) ([]byte, error) {
	if envSecret != "" {
		if len(envSecret) < MinSecretLen {
			return nil, fmt.Errorf("auth: JWT_SECRET must be at least %d bytes, got %d", MinSecretLen, len(envSecret))
		}
		return []byte(envSecret), nil
	}
	path := filepath.Join(dir, secretFile)
	secret, err := readSecret(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return secret, err
	}
	return createSecret(dir, path)
}

func readSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err // fs.ErrNotExist is matched by the caller
	}
	b = bytes.TrimSpace(b)
	if len(b) < MinSecretLen {
		return nil, fmt.Errorf("auth: %s holds %d bytes, need at least %d; delete it to generate a new key", path, len(b), MinSecretLen)
	}
	return b, nil
}

// createSecret writes a new key to a private temp file and then publishes it
// under path in one step, so that no reader ever sees a partial key. It
// publishes with a hard link rather than a rename because a link never
// replaces an existing file: when two instances start on one empty data
// folder together, the second one adopts the first one's key instead of
// overwriting it and invalidating the tokens the first has already issued.
func createSecret(dir, path string) ([]byte, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("auth: create secret dir: %w", err)
	}
	raw := make([]byte, 48)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("auth: random: %w", err)
	}
	secret := []byte(base64.RawURLEncoding.EncodeToString(raw))

	tmp, err := os.CreateTemp(dir, "."+secretFile+"-*") // mode 0600
	if err != nil {
		return nil, fmt.Errorf("auth: create secret: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the link, or on failure; the key lives on under path
	_, err = tmp.Write(secret)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("auth: write secret: %w", err)
	}

	switch err := os.Link(tmp.Name(), path); {
	case err == nil:
	case errors.Is(err, fs.ErrExist):
		return readSecret(path) // another process won the race; use its key
	default:
		// Filesystems without hard links: fall back to rename, which is
		// atomic too but may replace a key created in the same instant.
		if err := os.Rename(tmp.Name(), path); err != nil {
			return nil, fmt.Errorf("auth: save secret: %w", err)
		}
	}
	syncDir(dir)
	return secret, nil
}

// syncDir makes the new directory entry durable where the platform allows;
// failure only risks regenerating the key after a power cut.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}
