// Package migrations holds the versioned schema of both SQL engines, one
// folder per dialect, embedded in the binary and applied by goose when a
// store opens. Each migration runs in its own transaction (goose's default
// for SQL files); a migration that cannot must say "-- +goose NO TRANSACTION"
// and explain why.
//
// The two folders describe the same schema and are changed together: a new
// migration gets the same version number in both.
package migrations

import (
	"embed"
	"io/fs"
)

//go:embed sqlite/*.sql postgres/*.sql
var files embed.FS

// SQLite returns the migrations of the SQLite schema.
func SQLite() fs.FS { return sub("sqlite") }

// Postgres returns the migrations of the PostgreSQL schema.
func Postgres() fs.FS { return sub("postgres") }

func sub(dir string) fs.FS {
	f, err := fs.Sub(files, dir)
	if err != nil {
		panic(err) // dir is a constant that go:embed guarantees exists
	}
	return f
}
