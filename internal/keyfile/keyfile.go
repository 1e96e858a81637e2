// Package keyfile keeps a generated secret in a file of the data folder
// (DATA_DIR): the JWT key and the VAPID key pair. The file is read when
// it exists; otherwise a new secret is generated and published under its
// name in one step, private to its owner (0600 in a 0700 folder).
package keyfile

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// LoadOrCreate returns the contents of dir/name, surrounding whitespace
// trimmed (an editor's newline does no harm), once check accepts them.
// Without the file it writes the secret generate returns there first, so
// that it survives a restart, and returns it. A file check refuses is an
// error naming the file.
func LoadOrCreate(dir, name string, generate func() ([]byte, error), check func([]byte) error) ([]byte, error) {
	path := filepath.Join(dir, name)
	secret, err := read(path, check)
	if !errors.Is(err, fs.ErrNotExist) {
		return secret, err
	}
	return create(dir, path, generate, check)
}

// Load returns the contents of dir/name as LoadOrCreate does, but never
// creates the file: for a process that must use the secret of another
// (a load tool signing the server's tokens), a missing file is an error
// (fs.ErrNotExist) rather than a new secret nobody else knows.
func Load(dir, name string, check func([]byte) error) ([]byte, error) {
	return read(filepath.Join(dir, name), check)
}

func read(path string, check func([]byte) error) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err // fs.ErrNotExist is matched by the caller
	}
	b = bytes.TrimSpace(b)
	if err := check(b); err != nil {
		return nil, fmt.Errorf("%s: %w; delete it to generate a new one", path, err)
	}
	return b, nil
}

// create writes a new secret to a private temp file and then publishes it
// under path in one step, so that no reader ever sees a partial one. It
// publishes with a hard link rather than a rename because a link never
// replaces an existing file: when two instances start on one empty data
// folder together, the second one adopts the first one's secret instead
// of overwriting it (and invalidating what the first has already signed).
func create(dir, path string, generate func() ([]byte, error), check func([]byte) error) ([]byte, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data folder: %w", err)
	}
	secret, err := generate()
	if err != nil {
		return nil, fmt.Errorf("generate %s: %w", filepath.Base(path), err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*") // mode 0600
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // after the link, or on failure; the secret lives on under path
	_, err = tmp.Write(secret)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}

	switch err := os.Link(tmp.Name(), path); {
	case err == nil:
	case errors.Is(err, fs.ErrExist):
		return read(path, check) // another process won the race; use its secret
	default:
		// Filesystems without hard links: fall back to rename, which is
		// atomic too but may replace a secret created in the same instant.
		if err := os.Rename(tmp.Name(), path); err != nil {
			return nil, fmt.Errorf("save %s: %w", path, err)
		}
	}
	syncDir(dir)
	return secret, nil
}

// syncDir makes the new directory entry durable where the platform allows;
// failure only risks regenerating the secret after a power cut.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}
