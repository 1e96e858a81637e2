package push

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/ordercast/ordercast/internal/keyfile"
)

// keyFile is the name of the generated VAPID private key in the data
// folder.
const keyFile = "vapid_private_key"

// Keys is the VAPID key pair (RFC 8292) that signs every push request:
// the push services accept a subscription's messages only from the key
// its browser was given (GET /push/key).
type Keys struct {
	private *ecdh.PrivateKey
}

// LoadKeys returns the key pair: envPrivate (VAPID_PRIVATE_KEY) if it is
// non-empty, else the key kept in dir/vapid_private_key, else a new key
// that it writes there first (internal/keyfile, as the JWT secret), so
// that subscriptions survive a restart. The key is the P-256 private
// scalar, 32 bytes as base64url: the file's contents can be copied into
// VAPID_PRIVATE_KEY to give several instances the same key, which they
// must have.
func LoadKeys(envPrivate, dir string) (Keys, error) {
	if envPrivate != "" {
		k, err := ParseKey(envPrivate)
		if err != nil {
			return Keys{}, fmt.Errorf("VAPID_PRIVATE_KEY: %w", err)
		}
		return k, nil
	}
	raw, err := keyfile.LoadOrCreate(dir, keyFile, func() ([]byte, error) {
		k, err := GenerateKeys()
		if err != nil {
			return nil, err
		}
		return []byte(k.privateString()), nil
	}, func(b []byte) error {
		_, err := ParseKey(string(b))
		return err
	})
	if err != nil {
		return Keys{}, fmt.Errorf("push: %w", err)
	}
	return ParseKey(string(raw))
}

// GenerateKeys returns a new key pair.
func GenerateKeys() (Keys, error) {
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return Keys{}, err
	}
	return Keys{private: k}, nil
}

// ParseKey reads a private key in base64url (padded or not).
func ParseKey(s string) (Keys, error) {
	b, err := decodeBase64URL(s)
	if err != nil || len(b) != 32 {
		return Keys{}, errors.New("want a P-256 private key: 32 bytes in base64url")
	}
	k, err := ecdh.P256().NewPrivateKey(b)
	if err != nil {
		return Keys{}, errors.New("not a P-256 private key")
	}
	return Keys{private: k}, nil
}

// PublicKey is the public key as browsers take it for
// applicationServerKey: the uncompressed point (65 bytes), base64url
// without padding.
func (k Keys) PublicKey() string {
	return base64.RawURLEncoding.EncodeToString(k.private.PublicKey().Bytes())
}

func (k Keys) privateString() string {
	return base64.RawURLEncoding.EncodeToString(k.private.Bytes())
}

// decodeBase64URL decodes base64url with or without its padding.
func decodeBase64URL(s string) ([]byte, error) {
	if b, err := base64.RawURLEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.URLEncoding.DecodeString(s)
}
