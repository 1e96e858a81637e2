package main

import (
	"strings"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/auth"
)

func TestCORSOrigins(t *testing.T) {
	cfg, err := loadConfig(func(k string) string {
		if k == "CORS_ORIGINS" {
			return " http://localhost:5173, https://App.example.com/ ,"
		}
		return ""
	})
	if err != nil || strings.Join(cfg.CORSOrigins, " ") != "http://localhost:5173 https://app.example.com" {
		t.Fatalf("CORS_ORIGINS: %q, %v", cfg.CORSOrigins, err)
	}
	for _, bad := range []string{"localhost:5173", "https://a.example/path", "ftp://a.example", "https://", "https://a.example?x=1"} {
		_, err := loadConfig(func(k string) string {
			if k == "CORS_ORIGINS" {
				return bad
			}
			return ""
		})
		if err == nil || !strings.Contains(err.Error(), "CORS_ORIGINS") {
			t.Errorf("CORS_ORIGINS=%q: %v, want an error naming the variable", bad, err)
		}
	}
}

func TestAccessTokenTTL(t *testing.T) {
	env := func(ttl string) func(string) string {
		return func(k string) string {
			if k == "ACCESS_TOKEN_TTL" {
				return ttl
			}
			return ""
		}
	}
	for _, tc := range []struct {
		value string
		want  time.Duration
	}{{"", auth.DefaultTTL}, {"30s", 30 * time.Second}, {"1h", time.Hour}} {
		cfg, err := loadConfig(env(tc.value))
		if err != nil || cfg.AccessTokenTTL != tc.want {
			t.Errorf("ACCESS_TOKEN_TTL=%q: %v, %v; want %v", tc.value, cfg.AccessTokenTTL, err, tc.want)
		}
	}
	for _, bad := range []string{"15", "9s", "2h", "-1m", "soon"} {
		if _, err := loadConfig(env(bad)); err == nil || !strings.Contains(err.Error(), "ACCESS_TOKEN_TTL") {
			t.Errorf("ACCESS_TOKEN_TTL=%q: %v, want an error naming the variable", bad, err)
		}
	}
}

func TestMaxActivePerCourier(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "MAX_ACTIVE_PER_COURIER" {
				return v
			}
			return ""
		}
	}
	for v, want := range map[string]int{"": 3, "1": 1, "20": 20} {
		cfg, err := loadConfig(env(v))
		if err != nil || cfg.MaxActivePerCourier != want {
			t.Errorf("MAX_ACTIVE_PER_COURIER=%q: %d, %v; want %d", v, cfg.MaxActivePerCourier, err, want)
		}
	}
	for _, bad := range []string{"0", "-1", "21", "three", "2.5"} {
		if _, err := loadConfig(env(bad)); err == nil || !strings.Contains(err.Error(), "MAX_ACTIVE_PER_COURIER") {
			t.Errorf("MAX_ACTIVE_PER_COURIER=%q: %v, want an error naming the variable", bad, err)
		}
	}
}
