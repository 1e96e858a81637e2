package main

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/ordercast/ordercast/internal/limits"
)

// limitsConfig is the environment of the abuse limits (API.md, "Limits").
type limitsConfig struct {
	// RateLimits is false with RATE_LIMITS=off (load tests): no REST rate
	// limit, no chat or position budget.
	RateLimits bool
	// MaxConnsPerUser caps a user's sockets over every instance
	// (MAX_CONNS_PER_USER, 0: no cap); MaxConns this instance's (MAX_CONNS).
	MaxConnsPerUser int
	MaxConns        int
	// TrustedProxies name the client address in X-Forwarded-For
	// (TRUSTED_PROXIES, a comma list of CIDRs).
	TrustedProxies []netip.Prefix
}

func loadLimits(getenv func(string) string) (limitsConfig, error) {
	var lc limitsConfig
	switch v := strings.ToLower(getenv("RATE_LIMITS")); v {
	case "", "on":
		lc.RateLimits = true
	case "off":
	default:
		return lc, fmt.Errorf("RATE_LIMITS: want on or off, got %q", v)
	}
	var err error
	if lc.MaxConnsPerUser, err = envInt(getenv, "MAX_CONNS_PER_USER", limits.DefaultMaxConnsPerUser, 0); err != nil {
		return lc, err
	}
	if lc.MaxConns, err = envInt(getenv, "MAX_CONNS", limits.DefaultMaxConns, 1); err != nil {
		return lc, err
	}
	if lc.TrustedProxies, err = limits.ParseProxies(getenv("TRUSTED_PROXIES")); err != nil {
		return lc, fmt.Errorf("TRUSTED_PROXIES: %w", err)
	}
	return lc, nil
}

// envInt reads a whole number of at least least, def when unset.
func envInt(getenv func(string) string, key string, def, least int) (int, error) {
	v := getenv(key)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < least {
		return 0, fmt.Errorf("%s: want a whole number of at least %d, got %q", key, least, v)
	}
	return n, nil
}

// newRateLimits returns the rate limits, or nil (none) with RATE_LIMITS=off.
func newRateLimits(lc limitsConfig) *limits.Limits {
	if !lc.RateLimits {
		return nil
	}
	return limits.New(limits.Options{})
}

// newConns returns the socket caps, counted across instances in Redis
// when rdb is not nil, with or without a per-user cap: Web Push asks
// them who is present.
func newConns(lc limitsConfig, rdb goredis.UniversalClient, log zerolog.Logger) *limits.Conns {
	cfg := limits.ConnsConfig{PerUser: lc.MaxConnsPerUser, Max: lc.MaxConns, Presence: true, Log: log}
	if rdb != nil {
		cfg.Shared = limits.NewShared(rdb, limits.SharedOptions{})
	}
	return limits.NewConns(cfg)
}
