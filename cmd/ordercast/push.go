package main

import (
	"fmt"

	goredis "github.com/redis/go-redis/v9"

	"github.com/ordercast/ordercast/internal/push"
)

// pushConfig is the Web Push part of the environment (API.md,
// "Notifications when no socket is open").
type pushConfig struct {
	// VAPIDPrivateKey is VAPID_PRIVATE_KEY; empty: the key generated once
	// into DATA_DIR.
	VAPIDPrivateKey string
	Subject         string // VAPID_SUBJECT
	// AllowInsecure is PUSH_ALLOW_INSECURE=1: endpoints on loopback, over
	// http too (tests only).
	AllowInsecure bool
}

func loadPush(getenv func(string) string) (pushConfig, error) {
	pc := pushConfig{VAPIDPrivateKey: getenv("VAPID_PRIVATE_KEY"), Subject: envOr(getenv, "VAPID_SUBJECT", push.DefaultSubject)}
	if err := push.CheckSubject(pc.Subject); err != nil {
		return pc, err
	}
	switch v := getenv("PUSH_ALLOW_INSECURE"); v {
	case "", "0":
	case "1":
		pc.AllowInsecure = true
	default:
		return pc, fmt.Errorf("PUSH_ALLOW_INSECURE: want 1 or nothing, got %q", v)
	}
	return pc, nil
}

// newPush returns the Web Push settings of cfg: its key pair (from the
// environment, or kept in the data folder), and its claims in Redis when
// instances share one, so that one of them pushes each event.
func newPush(cfg config, rdb goredis.UniversalClient) (*push.Config, error) {
	keys, err := push.LoadKeys(cfg.Push.VAPIDPrivateKey, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	pc := &push.Config{Keys: keys, Subject: cfg.Push.Subject, AllowInsecure: cfg.Push.AllowInsecure}
	if rdb != nil {
		pc.Claims = push.NewRedisClaims(rdb, "")
	}
	return pc, nil
}
