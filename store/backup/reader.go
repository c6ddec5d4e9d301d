package backup

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/minio/sio"

	"github.com/tenantra/tenantra/store"
)

// maxManifestSize bounds the manifest read into memory; a million entries fit.
const maxManifestSize = 256 << 20

// Verify reads the whole archive once and returns its manifest if, and only if, everything
// checks: the header is intact and opens with s, every DARE package authenticates, the tar
// stream is well formed, every entry's size and SHA-256 equal the manifest's, no entry is
// missing or extra, and nothing follows the manifest. It keeps no state between calls and may
// run concurrently on different readers; to stop it early, close the reader.
func Verify(r io.Reader, s Sealing) (Manifest, error) {
	return read(r, s, nil)
}

// Extract streams every entry but the manifest to fn, in archive order, and returns the
// manifest. Entries given to fn carry no SHA256: it is only known at the end. Call Verify
// first, on the same file: Extract checks the same things but can only know the archive is
// good once fn has seen every entry, so an error from Extract means that whatever fn wrote
// must be thrown away. fn need not read its reader to the end; an error it returns stops
// Extract and is returned wrapped.
func Extract(r io.Reader, s Sealing, fn func(e Entry, r io.Reader) error) (Manifest, error) {
	if fn == nil {
		return Manifest{}, errors.New("backup: Extract needs a function")
	}
	return read(r, s, fn)
}

// archiveReader holds the layers of one read: the source, which remembers I/O errors; the
// framer, which knows the DARE package boundaries; and the decrypted payload, which remembers
// the first DARE error.
type archiveReader struct {
	src     *sourceReader
	frames  *framer
	payload *payloadReader
}

// openPayload reads the header, unwraps the data key and returns the decrypted payload.
func openPayload(r io.Reader, s Sealing) (*archiveReader, error) {
	if err := checkSealing(s); err != nil {
		return nil, err
	}
	src := &sourceReader{r: r}
	h, err := readHeader(src)
	if err != nil {
		return nil, err
	}
	dataKey, err := h.open(s)
	if err != nil {
		return nil, err
	}
	frames := &framer{r: src}
	dec, err := sio.DecryptReader(frames, sioConfig(dataKey))
	if err != nil {
		return nil, fmt.Errorf("archive decryption: %w", err)
	}
	return &archiveReader{src: src, frames: frames, payload: &payloadReader{r: dec}}, nil
}

// place says where in the archive a problem was found, in the words of the error message.
type place struct {
	entry  string // the entry being read, or the last one read when between entries
	inside bool   // reading the entry's data, rather than what follows it
}

func (p place) String() string {
	switch {
	case p.inside && p.entry == ManifestName:
		return "the manifest"
	case p.inside:
		return "entry " + p.entry
	case p.entry == "":
		return "before its first entry"
	case p.entry == ManifestName:
		return "after the manifest"
	}
	return "after entry " + p.entry
}

// damage turns a failed read at p into the error an operator reads.
func (ar *archiveReader) damage(p place, err error) error {
	if ar.src.err != nil {
		return fmt.Errorf("read archive: %w", ar.src.err)
	}
	cause := ar.payload.err
	if cause == nil {
		// DARE authenticated everything so far, yet the tar stream or manifest is wrong:
		// written by a broken or hostile holder of the key.
		return store.Errorf(store.ErrCorrupt, "archive is malformed %s: %v", at(p), err)
	}
	var se sio.Error
	if !errors.As(cause, &se) {
		return fmt.Errorf("read archive %s: %w", at(p), cause)
	}
	if ar.frames.truncated && !ar.frames.malformed {
		// The source ended where a package was still due. (A damaged length field in the
		// final package reads the same way; "truncated" still says where to look.)
		return store.Errorf(store.ErrCorrupt, "archive is truncated %s", at(p))
	}
	reason := "malformed encrypted block"
	if se.Error() == "sio: authentication failed" {
		reason = "authentication failed"
	}
	switch {
	case p.inside && p.entry == ManifestName:
		return store.Errorf(store.ErrCorrupt, "archive manifest is damaged: %s", reason)
	case p.inside:
		return store.Errorf(store.ErrCorrupt, "archive entry %s is damaged: %s", p.entry,
			reason)
	}
	return store.Errorf(store.ErrCorrupt, "archive is damaged %s: %s", p, reason)
}

// at renders p after "truncated" or "malformed".
func at(p place) string {
	if p.inside {
		return "inside " + p.String()
	}
	return p.String()
}

func read(r io.Reader, s Sealing, fn func(Entry, io.Reader) error) (Manifest, error) {
	ar, err := openPayload(r, s)
	if err != nil {
		return Manifest{}, err
	}
	tr := tar.NewReader(ar.payload)
	var (
		seen  []Entry
		names = map[string]bool{}
		man   *Manifest
		last  string // the last entry read completely
		buf   = make([]byte, copyBufSize)
	)
	for {
		th, err := tr.Next()
		if errors.Is(err, io.EOF) && ar.payload.err == nil {
			break
		}
		if err != nil {
			return Manifest{}, ar.damage(place{entry: last}, err)
		}
		if man != nil {
			return Manifest{}, store.Errorf(store.ErrCorrupt, "archive has an entry after "+
				"the manifest")
		}
		if err := checkTarHeader(th, names); err != nil {
			return Manifest{}, err
		}
		names[th.Name] = true
		here := place{entry: th.Name, inside: true}
		if th.Name == ManifestName {
			if man, err = readManifest(tr, th.Size); err != nil {
				if ar.payload.err != nil || !errors.Is(err, store.ErrCorrupt) {
					return Manifest{}, ar.damage(here, err)
				}
				return Manifest{}, err
			}
			last = ManifestName
			continue
		}
		h := sha256.New()
		er := &entryReader{r: tr, h: h}
		if fn != nil {
			if err := fn(Entry{Name: th.Name, Size: th.Size}, er); err != nil {
				if ar.payload.err != nil || ar.src.err != nil {
					return Manifest{}, ar.damage(here, err)
				}
				return Manifest{}, fmt.Errorf("extract archive entry %s: %w", th.Name, err)
			}
		}
		// Whatever fn left unread is still hashed: the manifest check covers every byte.
		if _, err := io.CopyBuffer(er, tr, buf); err != nil {
			return Manifest{}, ar.damage(here, err)
		}
		seen = append(seen, Entry{Name: th.Name, Size: er.n,
			SHA256: hex.EncodeToString(h.Sum(nil))})
		last = th.Name
	}
	if man == nil {
		return Manifest{}, store.Errorf(store.ErrCorrupt, "archive has no manifest")
	}
	// The tar end marker is in; the DARE stream must end right there, with its final package.
	if n, err := io.CopyBuffer(io.Discard, ar.payload, buf); err != nil || n > 0 {
		if err == nil {
			err = errors.New("data after the end of the tar stream")
		}
		return Manifest{}, ar.damage(place{entry: ManifestName}, err)
	}
	// The final DARE package is in, so the source must end here too.
	var one [1]byte
	if n, err := io.ReadFull(ar.src, one[:]); n > 0 {
		return Manifest{}, store.Errorf(store.ErrCorrupt, "archive is damaged after the "+
			"manifest: data after the end of the archive")
	} else if ar.src.err != nil {
		return Manifest{}, fmt.Errorf("read archive: %w", err)
	}
	if err := compare(seen, man.Entries); err != nil {
		return Manifest{}, err
	}
	return *man, nil
}

func checkTarHeader(th *tar.Header, names map[string]bool) error {
	if err := SafeName(th.Name); err != nil {
		return store.Errorf(store.ErrCorrupt, "archive holds an entry with an unsafe name: %v",
			err)
	}
	switch {
	case th.Typeflag != tar.TypeReg:
		return store.Errorf(store.ErrCorrupt, "archive entry %s is not a regular file",
			th.Name)
	case names[th.Name]:
		return store.Errorf(store.ErrCorrupt, "archive entry %s appears twice", th.Name)
	}
	return nil
}

func readManifest(r io.Reader, size int64) (*Manifest, error) {
	if size > maxManifestSize {
		return nil, store.Errorf(store.ErrCorrupt, "archive manifest is %d bytes; refusing "+
			"more than %d", size, maxManifestSize)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var m Manifest
	if err := dec.Decode(&m); err != nil || dec.More() {
		return nil, store.Errorf(store.ErrCorrupt, "archive manifest is not valid JSON")
	}
	if m.Format != FormatVersion {
		return nil, store.Errorf(store.ErrCorrupt, "archive manifest has format %d; this "+
			"Tenantra reads %d", m.Format, FormatVersion)
	}
	if m.Meta == nil {
		m.Meta = map[string]string{}
	}
	if m.Entries == nil {
		m.Entries = []Entry{}
	}
	return &m, nil
}

// compare checks the entries read against the manifest, naming the first that differs.
func compare(seen, listed []Entry) error {
	want := make(map[string]Entry, len(listed))
	for _, e := range listed {
		if _, dup := want[e.Name]; dup {
			return store.Errorf(store.ErrCorrupt, "archive manifest lists entry %q twice",
				store.Truncate(e.Name, 80))
		}
		want[e.Name] = e
	}
	for _, got := range seen {
		e, ok := want[got.Name]
		switch {
		case !ok:
			return store.Errorf(store.ErrCorrupt, "archive entry %s is not in the manifest",
				got.Name)
		case e.Size != got.Size:
			return store.Errorf(store.ErrCorrupt, "archive entry %s: size does not match the "+
				"manifest (%d bytes, the manifest says %d)", got.Name, got.Size, e.Size)
		case e.SHA256 != got.SHA256:
			return store.Errorf(store.ErrCorrupt, "archive entry %s: checksum does not match "+
				"the manifest", got.Name)
		}
		delete(want, got.Name)
	}
	for _, e := range listed {
		if _, missing := want[e.Name]; missing {
			return store.Errorf(store.ErrCorrupt, "archive entry %q listed in the manifest is "+
				"missing", store.Truncate(e.Name, 80))
		}
	}
	return nil
}

// sourceReader remembers the source's first I/O error, which is neither damage nor
// truncation and must reach the operator as itself.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(b []byte) (int, error) {
	n, err := s.r.Read(b)
	if err != nil && !errors.Is(err, io.EOF) && s.err == nil {
		s.err = err
	}
	return n, err
}

// DARE 2.0 package framing (see sio's DARE.md): a 16-byte header whose bytes 2-3 hold the
// payload length minus one (little-endian) and whose byte 4 carries the final flag, then the
// payload and a 16-byte tag. Every package but the last holds exactly 64 KiB.
const (
	dareHeaderSize = 16
	dareTagSize    = 16
	darePayload    = 64 << 10
)

// framer passes the DARE stream to sio and follows its package boundaries, for two reasons:
// it ends the stream right after the final package, so that bytes appended to an archive are
// reported as such rather than as a malformed package; and it knows whether the source ended
// where more of the stream was due, which tells truncation from damage. It decides nothing
// about authenticity: sio does.
type framer struct {
	r         io.Reader
	hdr       [dareHeaderSize]byte
	hdrN      int  // bytes of the current package header passed on
	left      int  // bytes of the current package after its header still to pass on
	final     bool // the current package says it is the last
	done      bool // the last package has been passed on
	truncated bool // the source ended where more of the stream was due
	malformed bool // a package header is inconsistent: damage, not truncation
}

func (f *framer) Read(p []byte) (int, error) {
	if f.done {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	var err error
	if f.hdrN < dareHeaderSize {
		n, err = f.r.Read(p[:min(len(p), dareHeaderSize-f.hdrN)])
		copy(f.hdr[f.hdrN:], p[:n])
		f.hdrN += n
		if f.hdrN == dareHeaderSize {
			length := int(binary.LittleEndian.Uint16(f.hdr[2:4])) + 1
			f.final = f.hdr[4]&0x80 != 0
			if !f.final && length != darePayload {
				f.malformed = true
			}
			f.left = length + dareTagSize
		}
	} else {
		n, err = f.r.Read(p[:min(len(p), f.left)])
		if f.left -= n; f.left == 0 {
			f.hdrN = 0
			f.done = f.final
		}
	}
	if errors.Is(err, io.EOF) && !f.done {
		f.truncated = true
	}
	return n, err
}

// payloadReader makes the first DARE error sticky: sio v0.4.1 does not keep every error, and
// a reader must never go on past a package that failed.
type payloadReader struct {
	r   io.Reader
	err error
}

func (p *payloadReader) Read(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	n, err := p.r.Read(b)
	if err != nil && !errors.Is(err, io.EOF) {
		p.err = err
	}
	return n, err
}

// entryReader hashes what is read of an entry, whether by fn or by the drain after it.
type entryReader struct {
	r io.Reader
	h io.Writer
	n int64
}

func (e *entryReader) Read(b []byte) (int, error) {
	n, err := e.r.Read(b)
	_, _ = e.h.Write(b[:n])
	e.n += int64(n)
	return n, err
}

// Write lets the drain copy into the entry's hash (io.CopyBuffer(er, tr, buf)).
func (e *entryReader) Write(b []byte) (int, error) {
	_, _ = e.h.Write(b)
	e.n += int64(len(b))
	return len(b), nil
}
