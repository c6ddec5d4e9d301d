package results

import (
	"fmt"
	"io"
)

// Backup writes every key and value (values still sealed with their tenants' keys) as one
// consistent stream in Badger's backup format.
func (s *Store) Backup(w io.Writer) error {
	if _, err := s.db.Backup(w, 0); err != nil {
		return fmt.Errorf("back up results: %w", err)
	}
	return nil
}

// Load reads a stream written by Backup into this (normally empty) store.
func (s *Store) Load(r io.Reader) error {
	if err := s.db.Load(r, 256); err != nil {
		return fmt.Errorf("load results: %w", err)
	}
	return nil
}
