package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/store/sqlutil"
)

const userColumns = `id, email, name, role, restaurant_id, password_hash, created_at`

func scanUser(row pgx.Row) (delivery.User, error) {
	var u delivery.User
	var rid *int64
	if err := row.Scan(&u.ID, &u.Email, &u.Name, &u.Role, &rid, &u.PasswordHash, &u.CreatedAt); err != nil {
		return delivery.User{}, err
	}
	if rid != nil {
		u.RestaurantID = delivery.ID(*rid)
	}
	u.CreatedAt = u.CreatedAt.UTC()
	return u, nil
}

// CreateUser inserts u, first creating its restaurant r for role restaurant.
func (s *Store) CreateUser(ctx context.Context, u delivery.User, r delivery.Restaurant) (delivery.User, error) {
	u.Email = sqlutil.NormalizeEmail(u.Email)
	u.CreatedAt = sqlutil.Now()
	u.RestaurantID = 0
	err := s.inTx(ctx, func(tx *txn) error {
		var rid *int64
		if u.Role == delivery.RoleRestaurant {
			lat, lng := sqlutil.PlaceArgs(r.Place)
			err := tx.QueryRow(ctx,
				`INSERT INTO restaurants (name, lat, lng, prep_minutes, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
				r.Name, lat, lng, sqlutil.PrepMinutes(r), u.CreatedAt).Scan(&rid)
			if err != nil {
				return fmt.Errorf("insert restaurant: %w", err)
			}
			u.RestaurantID = delivery.ID(*rid)
		}
		err := tx.QueryRow(ctx, `
			INSERT INTO users (email, name, role, restaurant_id, password_hash, created_at)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
			u.Email, u.Name, u.Role, rid, u.PasswordHash, u.CreatedAt).Scan(&u.ID)
		if isUnique(err) {
			return delivery.Errorf(delivery.EEMAILTAKEN, "email already registered")
		}
		if err != nil {
			return fmt.Errorf("insert user: %w", err)
		}
		return nil
	})
	if err != nil {
		return delivery.User{}, sqlutil.Wrap("postgres: create user", err)
	}
	return u, nil
}

// UserByID returns the user with id, or ENOTFOUND.
func (s *Store) UserByID(ctx context.Context, id delivery.ID) (delivery.User, error) {
	row := s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id)
	return userResult(row, "id "+id.String())
}

// UserByEmail returns the user with email (any case), or ENOTFOUND.
func (s *Store) UserByEmail(ctx context.Context, email string) (delivery.User, error) {
	row := s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE email = $1`, sqlutil.NormalizeEmail(email))
	return userResult(row, "with that email")
}

func userResult(row pgx.Row, what string) (delivery.User, error) {
	u, err := scanUser(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return delivery.User{}, delivery.Errorf(delivery.ENOTFOUND, "user %s not found", what)
	}
	if err != nil {
		return delivery.User{}, fmt.Errorf("postgres: load user: %w", err)
	}
	return u, nil
}

// CreateRefreshToken stores t.
func (s *Store) CreateRefreshToken(ctx context.Context, t delivery.RefreshToken) error {
	err := insertRefreshToken(ctx, s.pool, t, sqlutil.Now())
	return sqlutil.Wrap("postgres: create refresh token", err)
}

func insertRefreshToken(ctx context.Context, q queryer, t delivery.RefreshToken, now time.Time) error {
	_, err := q.Exec(ctx, `
		INSERT INTO refresh_tokens (hash, user_id, family_id, expires_at, created_at)
		VALUES ($1, $2, $3, $4, $5)`,
		t.Hash, t.UserID, t.FamilyID, sqlutil.Time(t.ExpiresAt), now)
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
	err := s.inTx(ctx, func(tx *txn) error {
		invalid := delivery.Errorf(delivery.EUNAUTHORIZED, "invalid refresh token")
		err := tx.QueryRow(ctx, `SELECT family_id FROM refresh_tokens WHERE hash = $1`, oldHash).Scan(&familyID)
		if errors.Is(err, pgx.ErrNoRows) {
			return invalid
		}
		if err != nil {
			return fmt.Errorf("load refresh token: %w", err)
		}
		// Read under the session's lock: a revocation of the session
		// that committed meanwhile is seen, and one that waits for this
		// rotation then finds the token it stores.
		if err := lockSession(ctx, tx, familyID); err != nil {
			return err
		}
		var expiresAt time.Time
		var usedAt, revokedAt *time.Time
		err = tx.QueryRow(ctx, `
			SELECT user_id, family_id, expires_at, used_at, revoked_at
			FROM refresh_tokens WHERE hash = $1 FOR UPDATE`, oldHash).
			Scan(&userID, &familyID, &expiresAt, &usedAt, &revokedAt)
		if errors.Is(err, pgx.ErrNoRows) { // purged meanwhile
			return invalid
		}
		if err != nil {
			return fmt.Errorf("load refresh token: %w", err)
		}
		if usedAt != nil {
			reused = true
			return revokeSession(ctx, tx, userID, familyID, now) // committed; the error follows below
		}
		if revokedAt != nil || !now.Before(expiresAt) {
			return delivery.Errorf(delivery.EUNAUTHORIZED, "refresh token expired or revoked")
		}
		if _, err := tx.Exec(ctx, `UPDATE refresh_tokens SET used_at = $1 WHERE hash = $2`, now, oldHash); err != nil {
			return fmt.Errorf("spend refresh token: %w", err)
		}
		next.UserID, next.FamilyID = userID, familyID
		return insertRefreshToken(ctx, tx, next, now)
	})
	if err != nil {
		return 0, "", sqlutil.Wrap("postgres: rotate refresh token", err)
	}
	if reused {
		return userID, familyID, delivery.Errorf(delivery.ETOKENREUSED, "refresh token already used; its session is revoked")
	}
	return userID, familyID, nil
}

// PurgeRefreshTokens deletes at most limit tokens expired at now or
// revoked RevokedRefreshGrace before. Rows another transaction holds (a
// rotation, another instance's purge) are skipped rather than waited for.
func (s *Store) PurgeRefreshTokens(ctx context.Context, now time.Time, limit int) (int, error) {
	tag, err := s.pool.Exec(ctx, `
		DELETE FROM refresh_tokens WHERE hash IN (
			SELECT hash FROM refresh_tokens WHERE expires_at <= $1 OR revoked_at <= $2
			LIMIT $3 FOR UPDATE SKIP LOCKED)`,
		sqlutil.Time(now), sqlutil.Time(now.Add(-sqlutil.RevokedRefreshGrace)), limit)
	if err != nil {
		return 0, fmt.Errorf("postgres: purge refresh tokens: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
