package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/store/sqlutil"
)

// RevokeSession ends the session sid of userID.
func (s *Store) RevokeSession(ctx context.Context, userID delivery.ID, sid string, now time.Time) error {
	err := s.inOrderTx(ctx, func(ctx context.Context, tx *wtx) error { return revokeSession(ctx, tx, userID, sid, now) })
	return sqlutil.Wrap("sqlite: revoke session", err)
}

// RevokeUserSessions ends every live session of userID.
func (s *Store) RevokeUserSessions(ctx context.Context, userID delivery.ID, now time.Time) ([]string, error) {
	var sids []string
	err := s.inOrderTx(ctx, func(ctx context.Context, tx *wtx) error {
		rows, err := tx.QueryContext(ctx, `
			SELECT DISTINCT family_id FROM refresh_tokens
			WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ? ORDER BY family_id`,
			userID, sqlutil.FormatTime(now))
		if err != nil {
			return fmt.Errorf("list sessions: %w", err)
		}
		sids, err = sqlutil.Collect(rows, func(r sqlutil.Scanner) (string, error) {
			var sid string
			return sid, r.Scan(&sid)
		})
		if err != nil {
			return fmt.Errorf("list sessions: %w", err)
		}
		for _, sid := range sids {
			if err := revokeSession(ctx, tx, userID, sid, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, sqlutil.Wrap("sqlite: revoke user sessions", err)
	}
	return sids, nil
}

// revokeSession revokes the refresh tokens of family sid of userID and
// records the revocation (the first time stays).
func revokeSession(ctx context.Context, tx *wtx, userID delivery.ID, sid string, now time.Time) error {
	at := sqlutil.FormatTime(now)
	if _, err := tx.ExecContext(ctx,
		`UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND user_id = ? AND revoked_at IS NULL`,
		at, sid, userID); err != nil {
		return fmt.Errorf("revoke refresh tokens: %w", err)
	}
	_, err := tx.ExecContext(ctx, `
		INSERT INTO session_revocations (sid, user_id, revoked_at) VALUES (?, ?, ?)
		ON CONFLICT (sid) DO NOTHING`, sid, userID, at)
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
	rows, err := s.read.QueryContext(ctx, `
		SELECT sid, user_id, revoked_at FROM session_revocations
		WHERE revoked_at >= ? ORDER BY revoked_at, sid`, sqlutil.FormatTime(since))
	if err != nil {
		return nil, fmt.Errorf("sqlite: revoked sessions: %w", err)
	}
	out, err := sqlutil.Collect(rows, func(r sqlutil.Scanner) (delivery.Revocation, error) {
		var v delivery.Revocation
		return v, r.Scan(&v.SessionID, &v.UserID, timeCol{&v.RevokedAt})
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: revoked sessions: %w", err)
	}
	return out, nil
}

// PurgeRevocations deletes at most limit revocations recorded before
// before.
func (s *Store) PurgeRevocations(ctx context.Context, before time.Time, limit int) (int, error) {
	var n int64
	err := s.inOrderTx(ctx, func(ctx context.Context, tx *wtx) error {
		res, err := tx.ExecContext(ctx, `
			DELETE FROM session_revocations WHERE sid IN (
				SELECT sid FROM session_revocations WHERE revoked_at < ? LIMIT ?)`,
			sqlutil.FormatTime(before), limit)
		if err != nil {
			return fmt.Errorf("purge revocations: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), sqlutil.Wrap("sqlite: purge revocations", err)
}
