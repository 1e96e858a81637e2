package accounts

import "time"

// SetClock replaces the clock of s, for tests in package accounts_test that
// must move time past a refresh token's expiry without sleeping.
func SetClock(s *Service, now func() time.Time) { s.now = now }
