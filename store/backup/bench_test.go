package backup

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// benchTotal is the data per benchmark iteration: large enough to amortise the header and
// show steady-state throughput, small enough for -benchtime 1x on a small machine.
const (
	benchTotal   = 256 << 20
	benchEntries = 4
)

// patternReader yields n bytes cycling through a random block, so that producing the input
// costs nothing next to sealing it.
type patternReader struct {
	block []byte
	off   int
	n     int64
}

func (p *patternReader) Read(b []byte) (int, error) {
	if p.n <= 0 {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.n)]
	k := 0
	for k < len(b) {
		c := copy(b[k:], p.block[p.off:])
		p.off = (p.off + c) % len(p.block)
		k += c
	}
	p.n -= int64(k)
	return k, nil
}

func writeBench(tb testing.TB, w io.Writer, s Sealing, block []byte) {
	aw, err := NewWriter(w, s, map[string]string{"kind": "bench"})
	if err != nil {
		tb.Fatal(err)
	}
	for i := range benchEntries {
		size := int64(benchTotal / benchEntries)
		name := fmt.Sprintf("tenants/%d.db", i)
		if err := aw.Add(name, size, &patternReader{block: block, n: size}); err != nil {
			tb.Fatal(err)
		}
	}
	if err := aw.Close(); err != nil {
		tb.Fatal(err)
	}
}

func BenchmarkWrite(b *testing.B) {
	s := Sealing{Key: testKey(1)}
	block := pseudoRandom(1, 1<<20)
	b.SetBytes(benchTotal)
	for b.Loop() {
		writeBench(b, io.Discard, s, block)
	}
}

func BenchmarkVerify(b *testing.B) {
	s := Sealing{Key: testKey(1)}
	path := filepath.Join(b.TempDir(), "bench.tenantra")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	writeBench(b, bw, s, pseudoRandom(1, 1<<20))
	if err := bw.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(benchTotal)
	for b.Loop() {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Verify(bufio.NewReaderSize(f, 1<<20), s); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}
