package main

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"

	"github.com/ordercast/ordercast/internal/auth"
	"github.com/ordercast/ordercast/internal/delivery"
)

// config is the environment of API.md ("Configuration"), parsed once.
type config struct {
	Addr           string
	DatabaseURL    string
	DataDir        string
	JWTSecret      string
	HubAPIKey      string
	AllowedOrigins []string
	// CORSOrigins may call the REST API from a browser page of theirs.
	CORSOrigins []string
	RedisURL    string
	// RedisClusterAddrs selects Redis Cluster with sharded pub/sub; it
	// takes precedence over RedisURL.
	RedisClusterAddrs []string
	MetricsAddr       string
	// InstanceID names the instance on the operator page (INSTANCE_ID);
	// empty: the host name and a random suffix, new at every start.
	InstanceID string
	// AccessTokenTTL is the lifetime of access tokens (API.md: 15 minutes).
	AccessTokenTTL time.Duration
	// MaxActivePerCourier is how many active orders a courier may hold.
	MaxActivePerCourier int
	LogLevel            zerolog.Level
	LogFormat           string
	// SQLiteSynchronous is "full" (commits synced to disk, the default)
	// or "normal" (SQLITE_SYNCHRONOUS; see sqlite.Options).
	SQLiteSynchronous string
	Limits            limitsConfig
	Push              pushConfig
}

func loadConfig(getenv func(string) string) (config, error) {
	cfg := config{
		Addr:        envOr(getenv, "HUB_ADDR", ":8080"),
		DatabaseURL: envOr(getenv, "DATABASE_URL", "sqlite://data/ordercast.db"),
		JWTSecret:   getenv("JWT_SECRET"),
		HubAPIKey:   getenv("HUB_API_KEY"),
		RedisURL:    getenv("REDIS_URL"),
		MetricsAddr: getenv("METRICS_ADDR"),
		InstanceID:  getenv("INSTANCE_ID"),
		LogFormat:   getenv("LOG_FORMAT"),
	}
	for _, o := range strings.Split(getenv("ALLOWED_ORIGINS"), ",") {
		if o = strings.TrimSpace(o); o != "" {
			cfg.AllowedOrigins = append(cfg.AllowedOrigins, o)
		}
	}
	for _, o := range strings.Split(getenv("CORS_ORIGINS"), ",") {
		if o = strings.TrimSpace(o); o == "" {
			continue
		}
		if !validCORSOrigin(o) {
			return cfg, fmt.Errorf("CORS_ORIGINS: want origins such as https://app.example.com or *, got %q", o)
		}
		cfg.CORSOrigins = append(cfg.CORSOrigins, strings.ToLower(strings.TrimSuffix(o, "/")))
	}
	cfg.RedisClusterAddrs = parseAddrs(getenv("REDIS_CLUSTER_ADDRS"))
	if cfg.RedisURL != "" && !strings.HasPrefix(cfg.RedisURL, "redis://") && !strings.HasPrefix(cfg.RedisURL, "rediss://") {
		return cfg, fmt.Errorf("REDIS_URL: want redis:// or rediss://, got scheme of %q", scheme(cfg.RedisURL))
	}
	if !validInstanceID(cfg.InstanceID) {
		return cfg, fmt.Errorf("INSTANCE_ID: want at most %d characters of a-z, A-Z, 0-9, '.', '_' and '-', got %q", maxInstanceID, cfg.InstanceID)
	}
	if n := len(cfg.HubAPIKey); n > 0 && n < minAPIKeyLen {
		// A short key can be guessed; the publish API can write to any order.
		return cfg, fmt.Errorf("HUB_API_KEY: at least %d characters, got %d", minAPIKeyLen, n)
	}
	cfg.AccessTokenTTL = auth.DefaultTTL
	if v := getenv("ACCESS_TOKEN_TTL"); v != "" {
		ttl, err := time.ParseDuration(v)
		if err != nil || ttl < minAccessTokenTTL || ttl > maxAccessTokenTTL {
			return cfg, fmt.Errorf("ACCESS_TOKEN_TTL: want a duration from %s to %s, got %q", minAccessTokenTTL, maxAccessTokenTTL, v)
		}
		cfg.AccessTokenTTL = ttl
	}
	cfg.MaxActivePerCourier = delivery.DefaultMaxActivePerCourier
	if v := getenv("MAX_ACTIVE_PER_COURIER"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > delivery.MaxActiveOrders {
			return cfg, fmt.Errorf("MAX_ACTIVE_PER_COURIER: want a number from 1 to %d, got %q", delivery.MaxActiveOrders, v)
		}
		cfg.MaxActivePerCourier = n
	}
	level, err := zerolog.ParseLevel(envOr(getenv, "LOG_LEVEL", "info"))
	if err != nil {
		return cfg, fmt.Errorf("LOG_LEVEL: %w", err)
	}
	cfg.LogLevel = level
	switch cfg.LogFormat {
	case "":
		cfg.LogFormat = "json"
		if isatty.IsTerminal(os.Stdout.Fd()) {
			cfg.LogFormat = "console"
		}
	case "json", "console":
	default:
		return cfg, fmt.Errorf("LOG_FORMAT: want json or console, got %q", cfg.LogFormat)
	}
	// The data folder holds the SQLite database and the generated JWT
	// secret; it is the database's folder when SQLite is used.
	cfg.DataDir = envOr(getenv, "DATA_DIR", "data")
	if path, ok := sqlitePath(cfg.DatabaseURL); ok && getenv("DATA_DIR") == "" {
		cfg.DataDir = filepath.Dir(path)
	}
	cfg.SQLiteSynchronous = strings.ToLower(envOr(getenv, "SQLITE_SYNCHRONOUS", "full"))
	if cfg.SQLiteSynchronous != "full" && cfg.SQLiteSynchronous != "normal" {
		return cfg, fmt.Errorf("SQLITE_SYNCHRONOUS: want full or normal, got %q", getenv("SQLITE_SYNCHRONOUS"))
	}
	if cfg.Limits, err = loadLimits(getenv); err != nil {
		return cfg, err
	}
	if cfg.Push, err = loadPush(getenv); err != nil {
		return cfg, err
	}
	if _, ok := sqlitePath(cfg.DatabaseURL); !ok && !isPostgresURL(cfg.DatabaseURL) {
		return cfg, fmt.Errorf("DATABASE_URL: want sqlite://path or postgres://…, got scheme of %q", scheme(cfg.DatabaseURL))
	}
	return cfg, nil
}

// maxInstanceID bounds INSTANCE_ID: it names a Redis key and a row of
// the operator page.
const maxInstanceID = 64

// validInstanceID accepts an empty id (a generated one) or a plain name.
func validInstanceID(id string) bool {
	if len(id) > maxInstanceID {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// minAPIKeyLen is the shortest HUB_API_KEY accepted.
const minAPIKeyLen = 16

// Bounds of ACCESS_TOKEN_TTL: shorter tokens would keep clients busy
// refreshing; longer ones outlive a revoked session by too long.
const (
	minAccessTokenTTL = 10 * time.Second
	maxAccessTokenTTL = time.Hour
)

// validCORSOrigin accepts "*" or scheme://host[:port] with nothing after.
func validCORSOrigin(o string) bool {
	if o == "*" {
		return true
	}
	u, err := url.Parse(strings.TrimSuffix(o, "/"))
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		u.Path == "" && u.RawQuery == "" && u.Fragment == "" && u.User == nil
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

// sqlitePath returns the file of a sqlite:// URL (relative paths allowed:
// sqlite://data/ordercast.db is ./data/ordercast.db).
func sqlitePath(url string) (string, bool) {
	path, ok := strings.CutPrefix(url, "sqlite://")
	return path, ok && path != ""
}

func isPostgresURL(url string) bool {
	return strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://")
}

// scheme returns the part of url before "://", so that errors never print
// a URL that may hold a password.
func scheme(url string) string {
	s, _, _ := strings.Cut(url, "://")
	return s
}

// busName says how instances share fan-out, for the start-up log.
func busName(cfg config) string {
	switch {
	case len(cfg.RedisClusterAddrs) > 0:
		return "redis-cluster"
	case cfg.RedisURL != "":
		return "redis"
	}
	return "memory"
}
