-- Ended sessions (issue 9). A session is a family of refresh tokens; its id
-- (the family id) is the sid claim of its access tokens. Revoking the
-- tokens of a family stops its refreshes, and this row makes every instance
-- refuse its access tokens until they expired: instances load recent rows
-- at start and poll for new ones. Rows older than the longest access-token
-- lifetime are purged.

-- +goose Up
CREATE TABLE session_revocations (
    sid        text        PRIMARY KEY,
    user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    revoked_at timestamptz NOT NULL
);
CREATE INDEX session_revocations_revoked_at_idx ON session_revocations (revoked_at);
-- Revoking all sessions of a user reads its live families.
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);

-- +goose Down
DROP INDEX refresh_tokens_user_idx;
DROP TABLE session_revocations;
