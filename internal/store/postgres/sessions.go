package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/store/sqlutil"
)

// sessionLockClass is the first key of the advisory locks that serialize
// the rotations and the revocation of one session (the second is a hash
// of its id); two-key advisory locks do not collide with goose's one-key
// migration lock.
const sessionLockClass = 0x5e55

// lockSession takes the session's lock until the transaction ends. Without
// it, a revocation's UPDATE, which waits for a rotation holding a token
// of the family, would not see the token the rotation then inserts
// (READ COMMITTED reads rows committed before the statement began), and
// that token would survive its session. It takes a *txn, not a queryer:
// on the pool, outside a transaction, the lock ends with its statement.
func lockSession(ctx context.Context, tx *txn, sid string) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, sessionLockClass, sid); err != nil {
		return fmt.Errorf("lock session: %w", err)
	}
	return nil
}

// RevokeSession ends the session sid of userID.
func (s *Store) RevokeSession(ctx context.Context, userID delivery.ID, sid string, now time.Time) error {
	err := s.inTx(ctx, func(tx *txn) error { return revokeSession(ctx, tx, userID, sid, sqlutil.Time(now)) })
	return sqlutil.Wrap("postgres: revoke session", err)
}

// RevokeUserSessions ends every live session of userID.
func (s *Store) RevokeUserSessions(ctx context.Context, userID delivery.ID, now time.Time) ([]string, error) {
	now = sqlutil.Time(now)
	var sids []string
	err := s.inTx(ctx, func(tx *txn) error {
		rows, err := tx.Query(ctx, `
			SELECT family_id FROM refresh_tokens
			WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2
			GROUP BY family_id ORDER BY hashtext(family_id), family_id`, userID, now)
		if err != nil {
			return fmt.Errorf("list sessions: %w", err)
		}
		if sids, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return fmt.Errorf("list sessions: %w", err)
		}
		// In the order of their locks' keys: a rotation holds one
		// session's lock, so two revocations never wait for each other.
		for _, sid := range sids {
			if err := revokeSession(ctx, tx, userID, sid, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, sqlutil.Wrap("postgres: revoke user sessions", err)
	}
	return sids, nil
}

// revokeSession revokes the refresh tokens of family sid of userID, under
// the session's lock, and records the revocation (the first time stays).
func revokeSession(ctx context.Context, tx *txn, userID delivery.ID, sid string, now time.Time) error {
	if err := lockSession(ctx, tx, sid); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx,
		`UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND user_id = $3 AND revoked_at IS NULL`,
		now, sid, userID); err != nil {
		return fmt.Errorf("revoke refresh tokens: %w", err)
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO session_revocations (sid, user_id, revoked_at) VALUES ($1, $2, $3)
		ON CONFLICT (sid) DO NOTHING`, sid, userID, now)
	switch {
	case isForeignKey(err):
		return delivery.Errorf(delivery.ENOTFOUND, "user %s not found", userID)
	case err != nil:
		return fmt.Errorf("record revocation: %w", err)
	}
	return nil
}

// RevokedSessions returns the revocations recorded at since or later.
func (s *Store) RevokedSessions(ctx context.Context, since time.Time) ([]delivery.Revocation, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT sid, user_id, revoked_at FROM session_revocations
		WHERE revoked_at >= $1 ORDER BY revoked_at, sid`, sqlutil.Time(since))
	if err != nil {
		return nil, fmt.Errorf("postgres: revoked sessions: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (delivery.Revocation, error) {
		var v delivery.Revocation
		err := row.Scan(&v.SessionID, &v.UserID, &v.RevokedAt)
		v.RevokedAt = v.RevokedAt.UTC()
		return v, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: revoked sessions: %w", err)
	}
	if out == nil {
		out = []delivery.Revocation{}
	}
	return out, nil
}

// PurgeRevocations deletes at most limit revocations recorded before
// before. Rows another transaction holds are skipped.
func (s *Store) PurgeRevocations(ctx context.Context, before time.Time, limit int) (int, error) {
	tag, err := s.pool.Exec(ctx, `
		DELETE FROM session_revocations WHERE sid IN (
			SELECT sid FROM session_revocations WHERE revoked_at < $1
			LIMIT $2 FOR UPDATE SKIP LOCKED)`,
		sqlutil.Time(before), limit)
	if err != nil {
		return 0, fmt.Errorf("postgres: purge revocations: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
