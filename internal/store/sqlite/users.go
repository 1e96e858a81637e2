package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/store/sqlutil"
)

const userColumns = `id, email, name, role, restaurant_id, password_hash, created_at`

func scanUser(row sqlutil.Scanner) (delivery.User, error) {
	var u delivery.User
	var rid sql.NullInt64
	err := row.Scan(&u.ID, &u.Email, &u.Name, &u.Role, &rid, &u.PasswordHash, timeCol{&u.CreatedAt})
	u.RestaurantID = delivery.ID(rid.Int64)
	return u, err
}

// CreateUser inserts u, first creating its restaurant r for role restaurant.
func (s *Store) CreateUser(ctx context.Context, u delivery.User, r delivery.Restaurant) (delivery.User, error) {
	u.Email = sqlutil.NormalizeEmail(u.Email)
	u.CreatedAt = sqlutil.Now()
	u.RestaurantID = 0
	err := s.inOrderTx(ctx, func(ctx context.Context, tx *wtx) error {
		var rid sql.NullInt64
		if u.Role == delivery.RoleRestaurant {
			lat, lng := sqlutil.PlaceArgs(r.Place)
			err := tx.QueryRowContext(ctx,
				`INSERT INTO restaurants (name, lat, lng, prep_minutes, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id`,
				r.Name, lat, lng, sqlutil.PrepMinutes(r), sqlutil.FormatTime(u.CreatedAt)).Scan(&rid)
			if err != nil {
				return fmt.Errorf("insert restaurant: %w", err)
			}
			u.RestaurantID = delivery.ID(rid.Int64)
		}
		err := tx.QueryRowContext(ctx, `
			INSERT INTO users (email, name, role, restaurant_id, password_hash, created_at)
			VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
			u.Email, u.Name, u.Role, rid, u.PasswordHash, sqlutil.FormatTime(u.CreatedAt)).Scan(&u.ID)
		if isUnique(err) {
			return delivery.Errorf(delivery.EEMAILTAKEN, "email already registered")
		}
		if err != nil {
			return fmt.Errorf("insert user: %w", err)
		}
		return nil
	})
	if err != nil {
		return delivery.User{}, sqlutil.Wrap("sqlite: create user", err)
	}
	return u, nil
}

// UserByID returns the user with id, or ENOTFOUND.
func (s *Store) UserByID(ctx context.Context, id delivery.ID) (delivery.User, error) {
	row := s.read.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id)
	return userResult(row, "id "+id.String())
}

// UserByEmail returns the user with email (any case), or ENOTFOUND.
func (s *Store) UserByEmail(ctx context.Context, email string) (delivery.User, error) {
	row := s.read.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE email = ?`, sqlutil.NormalizeEmail(email))
	return userResult(row, "with that email")
}

func userResult(row *sql.Row, what string) (delivery.User, error) {
	u, err := scanUser(row)
	if errors.Is(err, sql.ErrNoRows) {
		return delivery.User{}, delivery.Errorf(delivery.ENOTFOUND, "user %s not found", what)
	}
	if err != nil {
		return delivery.User{}, sqlutil.Wrap("sqlite: load user", err)
	}
	return u, nil
}

// CreateRefreshToken stores t.
func (s *Store) CreateRefreshToken(ctx context.Context, t delivery.RefreshToken) error {
	err := s.inOrderTx(ctx, func(ctx context.Context, tx *wtx) error { return insertRefreshToken(ctx, tx, t, sqlutil.Now()) })
	return sqlutil.Wrap("sqlite: create refresh token", err)
}

func insertRefreshToken(ctx context.Context, tx *wtx, t delivery.RefreshToken, now time.Time) error {
	_, err := tx.ExecContext(ctx, `
		INSERT INTO refresh_tokens (hash, user_id, family_id, expires_at, created_at)
		VALUES (?, ?, ?, ?, ?)`,
		t.Hash, t.UserID, t.FamilyID, sqlutil.FormatTime(t.ExpiresAt), sqlutil.FormatTime(now))
	switch {
	case isUnique(err):
		return delivery.Errorf(delivery.ECONFLICT, "refresh token already stored")
	case isForeignKey(err):
		return delivery.Errorf(delivery.ENOTFOUND, "user %s not found", t.UserID)
	case err != nil:
		return fmt.Errorf("insert refresh token: %w", err)
	}
	return nil
}

// RotateRefreshToken spends oldHash and stores next in its family. Reuse of
// a spent token ends the session (revokeSession) and commits that before answering
// ETOKENREUSED.
func (s *Store) RotateRefreshToken(ctx context.Context, oldHash string, next delivery.RefreshToken, now time.Time) (delivery.ID, string, error) {
	now = sqlutil.Time(now)
	var userID delivery.ID
	var familyID string
	var reused bool
	err := s.inOrderTx(ctx, func(ctx context.Context, tx *wtx) error {
		var expiresAt time.Time
		var usedAt, revokedAt sql.NullString
		err := tx.QueryRowContext(ctx, `
			SELECT user_id, family_id, expires_at, used_at, revoked_at
			FROM refresh_tokens WHERE hash = ?`, oldHash).
			Scan(&userID, &familyID, timeCol{&expiresAt}, &usedAt, &revokedAt)
		if errors.Is(err, sql.ErrNoRows) {
			return delivery.Errorf(delivery.EUNAUTHORIZED, "invalid refresh token")
		}
		if err != nil {
			return fmt.Errorf("load refresh token: %w", err)
		}
		if usedAt.Valid {
			reused = true
			return revokeSession(ctx, tx, userID, familyID, now) // committed; the error follows below
		}
		if revokedAt.Valid || !now.Before(expiresAt) {
			return delivery.Errorf(delivery.EUNAUTHORIZED, "refresh token expired or revoked")
		}
		if _, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET used_at = ? WHERE hash = ?`,
			sqlutil.FormatTime(now), oldHash); err != nil {
			return fmt.Errorf("spend refresh token: %w", err)
		}
		next.UserID, next.FamilyID = userID, familyID
		return insertRefreshToken(ctx, tx, next, now)
	})
	if err != nil {
		return 0, "", sqlutil.Wrap("sqlite: rotate refresh token", err)
	}
	if reused {
		return userID, familyID, delivery.Errorf(delivery.ETOKENREUSED, "refresh token already used; its session is revoked")
	}
	return userID, familyID, nil
}

// PurgeRefreshTokens deletes at most limit tokens expired at now or
// revoked RevokedRefreshGrace before.
func (s *Store) PurgeRefreshTokens(ctx context.Context, now time.Time, limit int) (int, error) {
	var n int64
	err := s.inOrderTx(ctx, func(ctx context.Context, tx *wtx) error {
		res, err := tx.ExecContext(ctx, `
			DELETE FROM refresh_tokens WHERE hash IN (
				SELECT hash FROM refresh_tokens WHERE expires_at <= ? OR revoked_at <= ? LIMIT ?)`,
			sqlutil.FormatTime(now), sqlutil.FormatTime(now.Add(-sqlutil.RevokedRefreshGrace)), limit)
		if err != nil {
			return fmt.Errorf("purge refresh tokens: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), sqlutil.Wrap("sqlite: purge refresh tokens", err)
}
