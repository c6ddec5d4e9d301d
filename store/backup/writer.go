package backup

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"runtime/debug"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/minio/sio"

	"github.com/tenantra/tenantra/store"
)

// copyBufSize is a multiple of the 64 KiB DARE payload, so that sio seals whole packages
// straight from the buffer instead of copying them into its own.
const copyBufSize = 256 << 10

// Writer writes one archive. Add entries, then Close; an archive whose Writer was not closed
// successfully never verifies, so a backup killed halfway cannot be mistaken for a good one.
//
// A Writer is not safe for concurrent use. It never closes the io.Writer it was given: making
// the output durable (fsync, rename) is the caller's job.
type Writer struct {
	enc   io.WriteCloser // DARE stream over the output
	tw    *tar.Writer
	man   Manifest
	names map[string]bool
	buf   []byte
	// err is sticky: after a failed write the stream is in an unknown state, and Close must
	// not turn it into an archive that verifies.
	err    error
	closed bool
}

// NewWriter writes the header of a new archive to w and returns a Writer for its entries.
// meta is copied into the manifest (kind of archive, tenant, ...); meta["app_version"], when
// present, also becomes the manifest's AppVersion, which otherwise is the module version of
// the running binary.
func NewWriter(w io.Writer, s Sealing, meta map[string]string) (*Writer, error) {
	return newWriter(w, s, meta, defaultKDF(), time.Now())
}

// newWriter lets tests use cheap KDF parameters, since the real ones cost half a second per
// archive.
func newWriter(w io.Writer, s Sealing, meta map[string]string, kdf kdfParams,
	now time.Time) (*Writer, error) {
	if err := checkSealing(s); err != nil {
		return nil, err
	}
	for k, v := range meta {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, store.Errorf(store.ErrInvalid, "archive metadata %q is not valid UTF-8",
				store.Truncate(k, 40))
		}
	}
	h, dataKey, err := newHeader(s, kdf)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(h.marshal()); err != nil {
		return nil, fmt.Errorf("write archive header: %w", err)
	}
	enc, err := sio.EncryptWriter(noClose{w}, sioConfig(dataKey))
	if err != nil {
		return nil, fmt.Errorf("archive encryption: %w", err)
	}
	m := Manifest{
		Format:     FormatVersion,
		Created:    now.UTC().Truncate(time.Second),
		AppVersion: meta["app_version"],
		Entries:    []Entry{},
		Meta:       maps.Clone(meta),
	}
	if m.Meta == nil {
		m.Meta = map[string]string{}
	}
	if m.AppVersion == "" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			m.AppVersion = bi.Main.Version
		}
	}
	return &Writer{enc: enc, tw: tar.NewWriter(enc), man: m, names: map[string]bool{}}, nil
}

func sioConfig(key []byte) sio.Config {
	return sio.Config{MinVersion: sio.Version20, MaxVersion: sio.Version20,
		CipherSuites: []byte{sio.AES_256_GCM}, Key: key}
}

// noClose hides Close from sio, which would otherwise close the caller's file before the
// caller can sync it.
type noClose struct{ io.Writer }

var errClosed = errors.New("archive writer is closed")

// Add streams exactly size bytes from r into the archive as entry name, hashing them for the
// manifest. It refuses unsafe names (see SafeName), ManifestName and duplicates without
// writing anything. A reader that ends early or holds more than size bytes fails the whole
// archive: the file changed while it was being backed up.
func (w *Writer) Add(name string, size int64, r io.Reader) error {
	switch {
	case w.err != nil:
		return w.err
	case w.closed:
		return errClosed
	}
	if err := SafeName(name); err != nil {
		return err
	}
	if name == ManifestName {
		return store.Errorf(store.ErrInvalid, "archive entry name %s is reserved", name)
	}
	if w.names[name] {
		return store.Errorf(store.ErrConflict, "archive entry %s is added twice", name)
	}
	if size < 0 {
		return store.Errorf(store.ErrInvalid, "archive entry %s: negative size %d", name, size)
	}
	if r == nil {
		r = strings.NewReader("")
	}
	w.names[name] = true
	if err := w.tw.WriteHeader(w.tarHeader(name, size)); err != nil {
		return w.fail(fmt.Errorf("archive entry %s: %w", name, err))
	}
	if w.buf == nil {
		w.buf = make([]byte, copyBufSize)
	}
	h := sha256.New()
	n, err := io.CopyBuffer(io.MultiWriter(w.tw, h), io.LimitReader(r, size), w.buf)
	if err != nil {
		return w.fail(fmt.Errorf("archive entry %s: %w", name, err))
	}
	if n < size {
		return w.fail(fmt.Errorf("archive entry %s: its source ended after %d of %d bytes",
			name, n, size))
	}
	var one [1]byte
	if k, _ := io.ReadFull(r, one[:]); k > 0 {
		return w.fail(fmt.Errorf("archive entry %s: its source holds more than %d bytes",
			name, size))
	}
	w.man.Entries = append(w.man.Entries, Entry{Name: name, Size: size,
		SHA256: hex.EncodeToString(h.Sum(nil))})
	return nil
}

func (w *Writer) tarHeader(name string, size int64) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o600,
		ModTime: w.man.Created}
}

func (w *Writer) fail(err error) error {
	w.err = err
	return err
}

// Close writes the manifest and the final authenticated package. After an error from Add,
// Close returns that error and leaves the archive unfinished, so it does not verify.
func (w *Writer) Close() error {
	switch {
	case w.err != nil:
		return w.err
	case w.closed:
		return nil
	}
	w.closed = true
	mj, err := json.MarshalIndent(w.man, "", "  ")
	if err != nil {
		return w.fail(fmt.Errorf("archive manifest: %w", err))
	}
	if err := w.tw.WriteHeader(w.tarHeader(ManifestName, int64(len(mj)))); err != nil {
		return w.fail(fmt.Errorf("archive manifest: %w", err))
	}
	if _, err := w.tw.Write(mj); err != nil {
		return w.fail(fmt.Errorf("archive manifest: %w", err))
	}
	if err := w.tw.Close(); err != nil {
		return w.fail(fmt.Errorf("archive manifest: %w", err))
	}
	if err := w.enc.Close(); err != nil {
		return w.fail(fmt.Errorf("finish archive: %w", err))
	}
	return nil
}

// Manifest returns the manifest as it stands: complete once Close has succeeded.
func (w *Writer) Manifest() Manifest {
	m := w.man
	m.Entries = append([]Entry(nil), w.man.Entries...)
	m.Meta = maps.Clone(w.man.Meta)
	return m
}
