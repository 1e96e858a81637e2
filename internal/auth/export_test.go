package auth

import "time"

// SetClock replaces the clock of t, for tests in package auth_test that
// must move time past a token's expiry without sleeping.
func SetClock(t *Tokens, now func() time.Time) { t.now = now }
