package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/ordercast/ordercast/internal/accounts"
	"github.com/ordercast/ordercast/internal/auth"
	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/store/postgres"
	"github.com/ordercast/ordercast/internal/store/sqlite"
)

// seeder makes the run's accounts in the server's store (-seed) instead
// of registering them over REST, where each costs the server a bcrypt
// hash (2,000 couriers: minutes): every account gets the one hash made
// when the seeder opened, and a session signed with the server's key, as
// registration would have given it. The rest of the setup (menus,
// orders, claims) still goes through the API.
type seeder struct {
	store seedStore
	acc   *accounts.Service
	hash  string // of loadPassword
}

type seedStore interface {
	delivery.Store
	io.Closer
}

// loadPassword is every account's password, registered or seeded.
const loadPassword = "load-test-password"

// openSeeder opens the store at storeURL (the server's DATABASE_URL)
// alongside the running server. The server has migrated it already: the
// store's own migration finds nothing to do, under the advisory lock on
// PostgreSQL and the write lock on SQLite, whose busy timeout makes the
// two processes' writes wait for each other rather than fail. The key is
// jwtSecret (the server's JWT_SECRET) if set, else dataDir/jwt_secret.
func openSeeder(ctx context.Context, storeURL, jwtSecret, dataDir string) (*seeder, error) {
	if jwtSecret == "" && dataDir == "" {
		return nil, errors.New("-seed signs the server's tokens: give -seed-data-dir (the server's DATA_DIR, which holds jwt_secret) or set JWT_SECRET as the server has it")
	}
	secret, err := auth.LoadSecret(jwtSecret, dataDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("-seed-data-dir: %w: give the server's DATA_DIR (by default its SQLite database's folder), or set JWT_SECRET as the server has it", err)
	}
	if err != nil {
		return nil, fmt.Errorf("-seed: %w", err)
	}
	hash, err := auth.HashPassword(loadPassword)
	if err != nil {
		return nil, err
	}
	store, err := openSeedStore(ctx, storeURL)
	if err != nil {
		return nil, err
	}
	// The server's issuer, audience and default lifetime; Verify there
	// checks the sid against its sessions as for any token.
	tokens := auth.NewTokens(secret, auth.Issuer, auth.Audience, auth.DefaultTTL)
	return &seeder{store: store, acc: accounts.New(store, tokens, nil), hash: hash}, nil
}

// openSeedStore opens an existing database only: a wrong path must not
// leave a fresh SQLite file behind, and an account seeded there would
// only meet 401s and 404s.
func openSeedStore(ctx context.Context, storeURL string) (seedStore, error) {
	if path, ok := strings.CutPrefix(storeURL, "sqlite://"); ok && path != "" {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("-seed: %w: give the server's DATABASE_URL (the server makes the database when it starts)", err)
		}
		return sqlite.Open(ctx, path)
	}
	if strings.HasPrefix(storeURL, "postgres://") || strings.HasPrefix(storeURL, "postgresql://") {
		return postgres.Open(ctx, storeURL)
	}
	scheme, _, _ := strings.Cut(storeURL, "://") // never the URL: it may hold a password
	return nil, fmt.Errorf("-seed: want the server's DATABASE_URL, sqlite:///path or postgres://…, got scheme %q", scheme)
}

// register makes the account req asks for, signed in, and answers as
// POST /auth/register would: the server's answer is this session's JSON.
func (s *seeder) register(ctx context.Context, req accounts.RegisterRequest) (session, error) {
	var out session
	sess, err := s.acc.RegisterHashed(ctx, req, s.hash)
	if err != nil {
		return out, fmt.Errorf("seed %s: %w", req.Email, err)
	}
	b, err := json.Marshal(sess)
	if err != nil {
		return out, err
	}
	return out, json.Unmarshal(b, &out)
}

func (s *seeder) close() error { return s.store.Close() }
