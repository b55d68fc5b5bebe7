// Package store keeps the provisioned config of a device on disk: the patch
// a fleet manager pushed (over MQTT or the web page) on top of the config
// file, and the previous good patch to roll back to.
//
// Every write is crash safe: the new content goes to a temporary file in
// the same directory, is fsynced, renamed over the old file, and the
// directory is fsynced. A reader therefore finds either the old or the new
// record, never a torn one; each record also carries a SHA-256 of its
// patch, so a file damaged by other means is detected and the previous
// record is used instead. Files are mode 0600: a patch may hold secrets.
package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// File names under the state directory.
const (
	CurrentFile  = "provisioned.json"
	PreviousFile = "provisioned.prev.json"
)

// MaxSize bounds a record read from disk.
const MaxSize = 1 << 20

// Record is one provisioned patch.
type Record struct {
	// Version is the config version the patch produced; it only grows.
	Version int64 `json:"version"`
	// Patch is a JSON object (an RFC 7396 merge patch over the config file).
	Patch json.RawMessage `json:"patch"`
	// SavedAt is when the record was written.
	SavedAt time.Time `json:"saved_at"`
	// Sum is the hex SHA-256 of Patch as stored.
	Sum string `json:"sha256"`
}

// Store is a directory holding the current and the previous record.
type Store struct {
	dir string
}

// ErrCorrupt marks a record file that exists but cannot be trusted.
var ErrCorrupt = errors.New("corrupt provisioned config")

// Open returns the store in dir, creating dir (mode 0700) if it is missing.
func Open(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("store: empty state directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("store: %s is not a directory", dir)
	}
	// A crash between creating a temporary file and renaming it leaves the
	// temporary behind; it was never a record.
	stale, _ := filepath.Glob(filepath.Join(dir, ".provisioned*.tmp-*"))
	for _, p := range stale {
		os.Remove(p)
	}
	return &Store{dir: dir}, nil
}

// Dir is the state directory.
func (s *Store) Dir() string { return s.dir }

// Load returns the current record, or nil when none is stored. When the
// current file is damaged it returns the previous record with an error
// wrapping ErrCorrupt that says so (the caller logs it and goes on).
func (s *Store) Load() (*Record, error) {
	cur, err := s.read(CurrentFile)
	if err == nil {
		return cur, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	prev, perr := s.read(PreviousFile)
	if perr != nil {
		return nil, err
	}
	return prev, fmt.Errorf("%w; using the previous one (version %d)", err, prev.Version)
}

// Previous returns the previous good record, or nil when there is none.
func (s *Store) Previous() (*Record, error) {
	r, err := s.read(PreviousFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return r, err
}

// Save makes r the current record and the record it replaces the previous
// one. The previous file is written first, so a crash at any point leaves
// the current file either old or new.
func (s *Store) Save(r Record) error {
	if !json.Valid(r.Patch) || !bytes.HasPrefix(bytes.TrimSpace(r.Patch), []byte("{")) {
		return errors.New("store: patch is not a JSON object")
	}
	if r.SavedAt.IsZero() {
		r.SavedAt = time.Now().UTC()
	}
	sum := sha256.Sum256(r.Patch)
	r.Sum = hex.EncodeToString(sum[:])
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	old, err := os.ReadFile(filepath.Join(s.dir, CurrentFile))
	switch {
	case err == nil:
		if _, verr := decode(old); verr == nil {
			if err := s.write(PreviousFile, old); err != nil {
				return err
			}
		}
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("store: %w", err)
	}
	return s.write(CurrentFile, data)
}

// Rollback makes the previous record current again and returns it; the
// record it replaces is dropped. It fails when there is no previous record.
func (s *Store) Rollback() (*Record, error) {
	prev, err := s.read(PreviousFile)
	if err != nil {
		return nil, fmt.Errorf("store: no previous provisioned config: %w", err)
	}
	data, err := json.Marshal(prev)
	if err != nil {
		return nil, err
	}
	if err := s.write(CurrentFile, data); err != nil {
		return nil, err
	}
	if err := os.Remove(filepath.Join(s.dir, PreviousFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("store: %w", err)
	}
	return prev, syncDir(s.dir)
}

// Forget deletes the current and previous records: the device runs on its
// config file alone from the next load.
func (s *Store) Forget() error {
	for _, name := range []string{CurrentFile, PreviousFile} {
		if err := os.Remove(filepath.Join(s.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("store: %w", err)
		}
	}
	return syncDir(s.dir)
}

func (s *Store) read(name string) (*Record, error) {
	p := filepath.Join(s.dir, name)
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrCorrupt, p)
	}
	if st.Size() > MaxSize {
		return nil, fmt.Errorf("%w: %s is %d bytes (limit %d)", ErrCorrupt, p, st.Size(), MaxSize)
	}
	data := make([]byte, st.Size())
	if _, err := f.ReadAt(data, 0); err != nil && st.Size() > 0 {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, p, err)
	}
	r, err := decode(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, p, err)
	}
	return r, nil
}

func decode(data []byte) (*Record, error) {
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, err
	}
	if len(r.Patch) == 0 {
		return nil, errors.New("no patch")
	}
	sum := sha256.Sum256(r.Patch)
	if hex.EncodeToString(sum[:]) != r.Sum {
		return nil, errors.New("checksum mismatch")
	}
	return &r, nil
}

// write replaces name atomically: temporary file, fsync, rename, fsync of
// the directory.
func (s *Store) write(name string, data []byte) error {
	tmp, err := os.CreateTemp(s.dir, "."+name+".tmp-*")
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	tmpName := tmp.Name()
	fail := func(err error) error {
		tmp.Close()
		os.Remove(tmpName)
		return fmt.Errorf("store: write %s: %w", name, err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		return fail(err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmpName)
		return fmt.Errorf("store: write %s: %w", name, err)
	}
	if err := os.Rename(tmpName, filepath.Join(s.dir, name)); err != nil {
		os.Remove(tmpName)
		return fmt.Errorf("store: write %s: %w", name, err)
	}
	return syncDir(s.dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("store: sync %s: %w", dir, err)
	}
	return nil
}
