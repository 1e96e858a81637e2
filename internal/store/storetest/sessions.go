package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
)

// testRevokeUserSessions: every live session of the user ends (the ones
// already revoked or expired are not listed), its revocations are
// recorded, and other users keep theirs.
func testRevokeUserSessions(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	u := createUser(t, s, "u@example.com", delivery.RoleCustomer, "")
	other := createUser(t, s, "o@example.com", delivery.RoleCustomer, "")
	must(t, s.CreateRefreshToken(ctx, token("a1", u.ID, "laptop")))
	_, _, err := s.RotateRefreshToken(ctx, "a1", token("a2", 0, ""), refreshBase)
	must(t, err)
	must(t, s.CreateRefreshToken(ctx, token("b1", u.ID, "phone")))
	must(t, s.CreateRefreshToken(ctx, token("c1", u.ID, "ended")))
	must(t, s.RevokeSession(ctx, u.ID, "ended", refreshBase.Add(-time.Minute)))
	old := token("d1", u.ID, "expired")
	old.ExpiresAt = refreshBase
	must(t, s.CreateRefreshToken(ctx, old))
	must(t, s.CreateRefreshToken(ctx, token("o1", other.ID, "others")))

	sids, err := s.RevokeUserSessions(ctx, u.ID, refreshBase)
	must(t, err)
	slices.Sort(sids)
	deepEqual(t, "RevokeUserSessions", sids, []string{"laptop", "phone"})
	for _, tok := range []string{"a2", "b1"} {
		_, _, err := s.RotateRefreshToken(ctx, tok, token(tok+"-next", 0, ""), refreshBase)
		wantCode(t, err, delivery.EUNAUTHORIZED)
	}
	revs, err := s.RevokedSessions(ctx, refreshBase.Add(-time.Hour))
	must(t, err)
	deepEqual(t, "RevokedSessions", revs, []delivery.Revocation{
		{SessionID: "ended", UserID: u.ID, RevokedAt: refreshBase.Add(-time.Minute)},
		{SessionID: "laptop", UserID: u.ID, RevokedAt: refreshBase},
		{SessionID: "phone", UserID: u.ID, RevokedAt: refreshBase},
	})
	// Nothing is left to end.
	sids, err = s.RevokeUserSessions(ctx, u.ID, refreshBase)
	must(t, err)
	if len(sids) != 0 {
		t.Fatalf("second RevokeUserSessions = %v, want none", sids)
	}
	_, _, err = s.RotateRefreshToken(ctx, "o1", token("o2", 0, ""), refreshBase)
	must(t, err)
}

// testRevokedSessionsSince: RevokedSessions lists from since on, oldest
// first; PurgeRevocations deletes those before its bound, at most limit
// at a time.
func testRevokedSessionsSince(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	u := createUser(t, s, "u@example.com", delivery.RoleCustomer, "")
	for i := range 4 {
		must(t, s.RevokeSession(ctx, u.ID, label(i), refreshBase.Add(time.Duration(i)*time.Minute)))
	}
	list := func(since time.Time) []string {
		t.Helper()
		revs, err := s.RevokedSessions(ctx, since)
		must(t, err)
		out := []string{}
		for _, r := range revs {
			out = append(out, r.SessionID)
		}
		return out
	}
	deepEqual(t, "since the second", list(refreshBase.Add(time.Minute)), []string{label(1), label(2), label(3)})
	deepEqual(t, "since after the last", list(refreshBase.Add(time.Hour)), []string{})
	purge := func(before time.Time, limit, want int) {
		t.Helper()
		n, err := s.PurgeRevocations(ctx, before, limit)
		must(t, err)
		if n != want {
			t.Fatalf("PurgeRevocations(%v, %d) = %d, want %d", before.Sub(refreshBase), limit, n, want)
		}
	}
	bound := refreshBase.Add(2 * time.Minute) // the first two are older
	purge(bound, 1, 1)
	purge(bound, 10, 1)
	purge(bound, 10, 0)
	deepEqual(t, "after the purge", list(refreshBase.Add(-time.Hour)), []string{label(2), label(3)})
}

// testRevokeDuringRotations: a session ended while its client rotates
// as fast as it can keeps no refresh token that still works, whichever
// rotation the revocation met.
func testRevokeDuringRotations(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	u := createUser(t, s, "u@example.com", delivery.RoleCustomer, "")
	for round := range 5 {
		fam := label(round)
		cur := fam + "-0"
		must(t, s.CreateRefreshToken(ctx, token(cur, u.ID, fam)))
		rotated, revoked := make(chan struct{}, 1), make(chan struct{})
		done := make(chan error, 1)
		go func() { // rotates until refused, or until told of the revocation
			for i := 1; ; i++ {
				select {
				case <-revoked:
					done <- nil
					return
				default:
				}
				next := fam + "-" + label(i)
				if _, _, err := s.RotateRefreshToken(ctx, cur, token(next, 0, ""), refreshBase); err != nil {
					done <- err
					return
				}
				cur = next
				select {
				case rotated <- struct{}{}:
				default:
				}
			}
		}()
		<-rotated // the revocation meets rotations under way
		must(t, s.RevokeSession(ctx, u.ID, fam, refreshBase))
		close(revoked)
		if err := <-done; err != nil {
			wantCode(t, err, delivery.EUNAUTHORIZED)
		}
		// The last token the rotations stored is dead too.
		_, _, err := s.RotateRefreshToken(ctx, cur, token(fam+"-after", 0, ""), refreshBase)
		wantCode(t, err, delivery.EUNAUTHORIZED)
	}
}
