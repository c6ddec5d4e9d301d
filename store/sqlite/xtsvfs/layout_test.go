package xtsvfs

import (
	"encoding/binary"
	"testing"
)

func TestLayoutRoundTrip(t *testing.T) {
	for _, page := range []int64{0, 512, 1024, 4096, 65536} {
		l := layout{page: page}
		limit := 32 + 5*(walFrameHeaderSize+max(page, 512))
		prev := int64(-1)
		for off := int64(0); off < limit; off++ {
			p := l.pos(off)
			if p <= prev {
				t.Fatalf("page %d: pos(%d) = %d is not after pos(%d) = %d", page, off, p,
					off-1, prev)
			}
			prev = p
			if got := l.count(p); got != off {
				t.Fatalf("page %d: count(pos(%d)) = %d", page, off, got)
			}
			if got := l.count(l.end(off)); got != off {
				t.Fatalf("page %d: count(end(%d)) = %d", page, off, got)
			}
			if e := l.runEnd(off); e <= off || l.pos(e-1)-p != e-1-off {
				t.Fatalf("page %d: run from %d to %d is not contiguous", page, off, e)
			}
		}
	}
}

func TestLayoutWALIsSectorAligned(t *testing.T) {
	const page = 4096
	l := layout{page: page}
	for k := int64(0); k < 100; k++ {
		frame := walHeaderSize + k*(walFrameHeaderSize+page)
		if p := l.pos(frame); p%sectorSize != 0 {
			t.Fatalf("frame %d header at %d, not on a sector", k, p)
		}
		if p := l.pos(frame + walFrameHeaderSize); p%sectorSize != 0 {
			t.Fatalf("frame %d page at %d, not on a sector", k, p)
		}
	}
}

func TestWindows(t *testing.T) {
	wal := layout{page: 4096}
	frame1 := int64(walHeaderSize + walFrameHeaderSize + 4096)
	tests := []struct {
		name   string
		l      layout
		off, n int64
		want   []window
	}{
		{"db page", layout{}, 8192, 4096, []window{{8192, 12288, false}}},
		{"db header", layout{}, 0, 100, []window{{0, 512, true}}},
		{"db change counter", layout{}, 24, 16, []window{{0, 512, true}}},
		{"misaligned page", layout{}, 56, 4096,
			[]window{{0, 512, true}, {512, 4096, false}, {4096, 4608, true}}},
		{"two partial sectors", layout{}, 500, 24, []window{{0, 512, true}, {512, 1024, true}}},
		{"aligned start, partial end", layout{}, 512, 600,
			[]window{{512, 1024, false}, {1024, 1536, true}}},
		{"wal header", wal, 0, 32, []window{{0, 512, false}}},
		{"wal frame header", wal, frame1, 24, []window{{5120, 5632, false}}},
		{"wal page", wal, frame1 + 24, 4096, []window{{5632, 9728, false}}},
		{"wal whole frame", wal, frame1, 4120, []window{{5120, 9728, false}}},
		{"wal part of a page", wal, frame1 + 24 + 100, 50, []window{{5632, 6144, true}}},
		{"wal salt", wal, 16, 8, []window{{0, 512, true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws, k := windows(tt.l, tt.off, tt.n)
			if k != len(tt.want) {
				t.Fatalf("%d windows %v, want %v", k, ws[:k], tt.want)
			}
			for i := range tt.want {
				if ws[i] != tt.want[i] {
					t.Fatalf("windows %v, want %v", ws[:k], tt.want)
				}
			}
		})
	}
}

func TestWALPageSize(t *testing.T) {
	hdr := func(magic, page uint32) []byte {
		b := make([]byte, walHeaderSize)
		binary.BigEndian.PutUint32(b, magic)
		binary.BigEndian.PutUint32(b[4:], 3007000)
		binary.BigEndian.PutUint32(b[8:], page)
		return b
	}
	tests := []struct {
		name string
		hdr  []byte
		want int64
	}{
		{"4096 big-endian checksums", hdr(0x377f0683, 4096), 4096},
		{"512", hdr(0x377f0682, 512), 512},
		{"65536", hdr(0x377f0682, 65536), 65536},
		{"bad magic", hdr(0x377f0680, 4096), 0},
		{"not a power of two", hdr(0x377f0682, 4097), 0},
		{"too small", hdr(0x377f0682, 256), 0},
		{"too large", hdr(0x377f0682, 131072), 0},
		{"zero", hdr(0x377f0682, 0), 0},
		{"short", hdr(0x377f0682, 4096)[:20], 0},
		{"empty", nil, 0},
	}
	for _, tt := range tests {
		if got := walPageSize(tt.hdr); got != tt.want {
			t.Errorf("%s: page size %d, want %d", tt.name, got, tt.want)
		}
	}
}
