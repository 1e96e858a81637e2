-- Ended sessions (issue 9); see the PostgreSQL migration of the same
-- number.

-- +goose Up
CREATE TABLE session_revocations (
    sid        TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    revoked_at TEXT    NOT NULL
);
CREATE INDEX session_revocations_revoked_at_idx ON session_revocations (revoked_at);
-- Revoking all sessions of a user reads its live families.
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);

-- +goose Down
DROP INDEX refresh_tokens_user_idx;
DROP TABLE session_revocations;
