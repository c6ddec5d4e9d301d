package xtsvfs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/ncruces/go-sqlite3/util/vfsutil"
	"github.com/ncruces/go-sqlite3/vfs"
)

// fileModel checks a file against the plaintext it should hold: every byte written (and
// not truncated away since) must read back, from any offset and in any length.
type fileModel struct {
	t     testing.TB
	f     *file
	data  []byte
	known []bool
}

func newFileModel(t testing.TB, page int64) *fileModel {
	c, err := newSectorCipher(bytes.Repeat([]byte{7}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	m := &fileModel{t: t, f: &file{File: &vfsutil.SliceFile{}, cipher: c, wal: page != 0}}
	if page != 0 {
		m.write(0, walHeader(page, 1))
	}
	return m
}

func walHeader(page int64, salt uint32) []byte {
	h := make([]byte, walHeaderSize)
	binary.BigEndian.PutUint32(h, walMagic|1)
	binary.BigEndian.PutUint32(h[4:], 3007000)
	binary.BigEndian.PutUint32(h[8:], uint32(page))
	binary.BigEndian.PutUint32(h[16:], salt)
	return h
}

func (m *fileModel) write(off int64, p []byte) {
	m.t.Helper()
	if n, err := m.f.WriteAt(p, off); err != nil || n != len(p) {
		m.t.Fatalf("WriteAt(%d bytes at %d) = %d, %v", len(p), off, n, err)
	}
	if end := off + int64(len(p)); end > int64(len(m.data)) {
		m.data = append(m.data, make([]byte, end-int64(len(m.data)))...)
		m.known = append(m.known, make([]bool, end-int64(len(m.known)))...)
	}
	copy(m.data[off:], p)
	for i := range p {
		m.known[off+int64(i)] = true
	}
}

func (m *fileModel) read(off, n int64) {
	m.t.Helper()
	p := make([]byte, n)
	got, err := m.f.ReadAt(p, off)
	if err != nil && !errors.Is(err, io.EOF) {
		m.t.Fatalf("ReadAt(%d bytes at %d): %v", n, off, err)
	}
	if err == nil && got != len(p) {
		m.t.Fatalf("ReadAt(%d bytes at %d) = %d with no error", n, off, got)
	}
	all := true
	for i := range n {
		j := off + i
		k := j < int64(len(m.known)) && m.known[j]
		all = all && k
		if k && i < int64(got) && p[i] != m.data[j] {
			m.t.Fatalf("ReadAt(%d bytes at %d): byte %d is %#x, want %#x", n, off, j, p[i],
				m.data[j])
		}
	}
	if all && got != len(p) {
		m.t.Fatalf("ReadAt(%d bytes at %d) = %d, %v; every byte was written", n, off, got,
			err)
	}
}

func (m *fileModel) truncate(size int64) {
	m.t.Helper()
	if err := m.f.Truncate(size); err != nil {
		m.t.Fatalf("Truncate(%d): %v", size, err)
	}
	for i := size; i < int64(len(m.known)); i++ {
		m.known[i] = false
	}
}

func (m *fileModel) checkSize() {
	m.t.Helper()
	size, err := m.f.Size()
	if err != nil {
		m.t.Fatal(err)
	}
	for i := len(m.known) - 1; i >= 0; i-- {
		if m.known[i] {
			if size <= int64(i) {
				m.t.Fatalf("Size() = %d, but byte %d was written", size, i)
			}
			break
		}
	}
}

// run plays the operations encoded in ops: 6 bytes each (kind, offset, length).
func (m *fileModel) run(ops []byte) {
	page := m.f.lay.page
	for len(ops) >= 6 {
		kind := ops[0]
		off := int64(binary.LittleEndian.Uint16(ops[1:])) * 7
		n := int64(binary.LittleEndian.Uint16(ops[3:])%9000) + 1
		fill := ops[5]
		ops = ops[6:]
		if m.f.wal && off < walHeaderSize {
			off += walHeaderSize // frames only; the header is rewritten whole below
		}
		switch kind % 5 {
		case 0, 1:
			m.write(off, bytes.Repeat([]byte{fill}, int(n)))
		case 2:
			m.read(off, n)
		case 3:
			if m.f.wal && kind%2 == 0 {
				m.write(0, walHeader(page, uint32(fill)))
			} else {
				m.truncate(off)
			}
		case 4:
			m.checkSize()
		}
	}
	m.read(0, int64(len(m.data))+1)
}

func TestFileModel(t *testing.T) {
	for _, page := range []int64{0, 512, 4096, 65536} {
		for seed := range uint64(20) {
			rng := rand.New(rand.NewPCG(seed, uint64(page)))
			ops := make([]byte, 6*200)
			for i := range ops {
				ops[i] = byte(rng.Uint32())
			}
			newFileModel(t, page).run(ops)
		}
	}
}

// TestWALFrames writes frames as SQLite does (frame header, then page) and checks that
// nothing is read back and every frame sits on sector boundaries in the file.
func TestWALFrames(t *testing.T) {
	const page = 4096
	m := newFileModel(t, page)
	counted := &countingFile{File: m.f.File}
	m.f.File = counted
	for k := range int64(10) {
		off := walHeaderSize + k*(walFrameHeaderSize+page)
		m.write(off, bytes.Repeat([]byte{byte(k)}, walFrameHeaderSize))
		m.write(off+walFrameHeaderSize, bytes.Repeat([]byte{byte(k + 100)}, page))
	}
	if counted.reads != 0 || counted.writes != 20 || counted.misaligned != 0 {
		t.Fatalf("10 frames took %d reads and %d writes (%d misaligned); want 0, 20, 0",
			counted.reads, counted.writes, counted.misaligned)
	}
	m.read(walHeaderSize, 10*(walFrameHeaderSize+page))
	if size, _ := m.f.Size(); size != walHeaderSize+10*(walFrameHeaderSize+page) {
		t.Fatalf("Size() = %d, want the logical size %d", size,
			walHeaderSize+10*(walFrameHeaderSize+page))
	}
	// A second handle on the same file learns the layout from the header.
	other := &file{File: counted.File, cipher: m.f.cipher, wal: true}
	p := make([]byte, page)
	if _, err := other.ReadAt(p, walHeaderSize+3*(walFrameHeaderSize+page)+
		walFrameHeaderSize); err != nil || p[0] != 103 || p[page-1] != 103 {
		t.Fatalf("page of frame 3 through a second handle: %d…%d, %v", p[0], p[page-1], err)
	}
}

// countingFile counts the system calls a file would make.
type countingFile struct {
	vfs.File
	reads, writes, misaligned int
}

func (c *countingFile) ReadAt(p []byte, off int64) (int, error) {
	c.reads++
	return c.File.ReadAt(p, off)
}

func (c *countingFile) WriteAt(p []byte, off int64) (int, error) {
	c.writes++
	if off%sectorSize != 0 || len(p)%sectorSize != 0 {
		c.misaligned++
	}
	return c.File.WriteAt(p, off)
}

func FuzzFile(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 16, 1, 2, 0, 0, 0, 16, 0}, uint8(0))
	f.Add([]byte{0, 5, 0, 0, 16, 9, 2, 4, 0, 100, 0, 0, 3, 3, 0, 0, 0, 0}, uint8(3))
	f.Add([]byte{1, 200, 1, 24, 0, 1, 4, 0, 0, 0, 0, 0, 2, 190, 1, 40, 0, 0}, uint8(1))
	f.Add([]byte{3, 10, 0, 0, 0, 0, 0, 10, 0, 0, 1, 2, 2, 0, 0, 0, 32, 0}, uint8(7))
	f.Fuzz(func(t *testing.T, ops []byte, kind uint8) {
		pages := []int64{0, 512, 1024, 4096, 8192, 16384, 32768, 65536}
		newFileModel(t, pages[kind%uint8(len(pages))]).run(ops)
	})
}
