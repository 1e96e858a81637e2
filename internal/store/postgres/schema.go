package postgres

import (
	"net/url"
	"strings"
)

// WithSearchPath returns the connection URL (or key=value string) raw
// with its search_path set to schema, so that a store opened on it keeps
// its tables there: several deployments, or test runs, on one database.
func WithSearchPath(raw, schema string) (string, error) {
	if !strings.HasPrefix(raw, "postgres://") && !strings.HasPrefix(raw, "postgresql://") {
		return raw + " search_path=" + schema, nil // a key=value connection string
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}
