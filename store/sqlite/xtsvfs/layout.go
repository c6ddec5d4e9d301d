package xtsvfs

import "encoding/binary"

// The WAL file format (https://sqlite.org/fileformat2.html#walformat): a 32-byte header, then
// frames of a 24-byte frame header followed by one database page.
const (
	walHeaderSize      = 32
	walFrameHeaderSize = 24
	walMagic           = 0x377f0682 // the low bit selects the checksum byte order
	walMinPageSize     = 512
	walMaxPageSize     = 65536
)

// walMarker fills the padding after the WAL header in the first sector of every WAL this
// VFS writes. It tells our frame layout apart from the contiguous one of ncruces' vfs/xts,
// whose first sector holds the first frame at the same place (see file.discover).
var walMarker = []byte("tenantra-xtswal1")

// layout maps the logical bytes SQLite reads and writes in a file to where they are stored.
//
// Every file but the WAL is stored as is (page == 0): logical offset = file offset.
//
// In the WAL (page > 0) SQLite's frames are 24 + page bytes, so written where SQLite puts
// them every frame after the first would straddle 512-byte sectors: each frame header and
// page write would have to read, decrypt, patch and rewrite the sectors it shares with its
// neighbours, under a lock, which was most of the cost of ncruces' VFS. Instead the WAL is
// stored as
//
//	sector 0:                    WAL header (32 bytes), walMarker, zeros
//	frame k, at 512 + k·(512+page): frame header (24 bytes), zeros to the end of the sector,
//	                             then the page, sector-aligned
//
// so every frame header and every page SQLite writes is whole sectors: one encryption and
// one pwrite, nothing read back. It costs one sector (512 bytes) per frame on disk. The
// zero padding is never returned to SQLite and is encrypted like everything else.
type layout struct {
	page int64 // WAL page size; 0 for a file stored as is
}

// pos is the file offset of logical byte off.
func (l layout) pos(off int64) int64 {
	if l.page == 0 || off < walHeaderSize {
		return off
	}
	frame := walFrameHeaderSize + l.page
	k, r := (off-walHeaderSize)/frame, (off-walHeaderSize)%frame
	base := sectorSize + k*(sectorSize+l.page)
	if r < walFrameHeaderSize {
		return base + r
	}
	return base + sectorSize + r - walFrameHeaderSize
}

// end is the file offset just past logical byte off-1: where a logical range ending at off
// ends in the file.
func (l layout) end(off int64) int64 {
	if off <= 0 {
		return 0
	}
	return l.pos(off-1) + 1
}

// count is the number of logical bytes stored before file offset p, the inverse of end: it
// turns a file size into the size SQLite sees.
func (l layout) count(p int64) int64 {
	if l.page == 0 || p <= walHeaderSize {
		return max(p, 0)
	}
	if p <= sectorSize {
		return walHeaderSize
	}
	stored := sectorSize + l.page
	k, r := (p-sectorSize)/stored, (p-sectorSize)%stored
	n := walHeaderSize + k*(walFrameHeaderSize+l.page)
	switch {
	case r <= walFrameHeaderSize:
		n += r
	case r <= sectorSize:
		n += walFrameHeaderSize
	default:
		n += walFrameHeaderSize + r - sectorSize
	}
	return n
}

// runEnd is the end of the run of logical bytes that starts at off and is stored
// contiguously (the WAL header, a frame header or a page).
func (l layout) runEnd(off int64) int64 {
	if l.page == 0 {
		return 1<<63 - 1
	}
	if off < walHeaderSize {
		return walHeaderSize
	}
	frame := walFrameHeaderSize + l.page
	start := off - (off-walHeaderSize)%frame
	if off-start < walFrameHeaderSize {
		return start + walFrameHeaderSize
	}
	return start + frame
}

// walPageSize returns the page size in a WAL header, or 0 if hdr is not a valid one.
func walPageSize(hdr []byte) int64 {
	if len(hdr) < walHeaderSize || binary.BigEndian.Uint32(hdr)&^1 != walMagic {
		return 0
	}
	page := int64(binary.BigEndian.Uint32(hdr[8:]))
	if page < walMinPageSize || page > walMaxPageSize || page&(page-1) != 0 {
		return 0
	}
	return page
}

func roundDown(i int64) int64 { return i &^ (sectorSize - 1) }

func roundUp(i int64) int64 { return (i + sectorSize - 1) &^ (sectorSize - 1) }
