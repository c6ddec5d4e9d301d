package ldap_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantra/tenantra/network/ldap"
)

// cutProxy forwards loopback TCP to upstream and cuts the connection after the server has sent
// limit bytes (limit <= 0: never). It counts the bytes the server sent.
type cutProxy struct {
	ln       net.Listener
	upstream string
	limit    int64
	sent     atomic.Int64
	wg       sync.WaitGroup
}

func newCutProxy(t *testing.T, upstream string, limit int64) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, upstream: upstream, limit: limit}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		p.wg.Wait()
	})
	return p
}

func (p *cutProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.DialTimeout("tcp", p.upstream, 5*time.Second)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.wg.Add(2)
		go func() {
			defer p.wg.Done()
			_, _ = io.Copy(s, c)
			_ = s.Close()
		}()
		go func() {
			defer p.wg.Done()
			defer func() { _ = c.Close(); _ = s.Close() }()
			buf := make([]byte, 4096)
			for {
				n, err := s.Read(buf)
				if n > 0 {
					if p.limit > 0 && p.sent.Load()+int64(n) >= p.limit {
						n = int(p.limit - p.sent.Load())
						_, _ = c.Write(buf[:n])
						p.sent.Add(int64(n))
						return // cut mid-message
					}
					if _, werr := c.Write(buf[:n]); werr != nil {
						return
					}
					p.sent.Add(int64(n))
				}
				if err != nil {
					return
				}
			}
		}()
	}
}

// TestDroppedConnectionKeepsPartial cuts the server's stream at points through the
// collection: what was read before the cut is kept, the Directory is marked Partial with
// reasons, and the error wraps ErrPartial.
func TestDroppedConnectionKeepsPartial(t *testing.T) {
	dc, _ := lab(t)
	cfg := adminConfig(dc)
	cfg.PageSize = 4 // many pages, so cuts land between and inside them
	full := newCutProxy(t, dc.Addr.String()+":389", 0)
	cfg.URL = "ldap://" + full.ln.Addr().String()
	whole := collect(t, cfg)
	total := full.sent.Load()
	known := map[string]bool{}
	for _, u := range whole.Users {
		known[u.DistinguishedName] = true
	}
	t.Logf("full collection: %d users, %d computers, %d bytes from the server",
		len(whole.Users), len(whole.Computers), total)

	midUsers := 0
	for pct := int64(5); pct < 100; pct += 5 {
		p := newCutProxy(t, dc.Addr.String()+":389", total*pct/100)
		cfg.URL = "ldap://" + p.ln.Addr().String()
		c, err := ldap.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		d, err := c.Collect(ctx)
		cancel()
		if d == nil {
			// Cut before the rootDSE was read: nothing to keep.
			if err == nil || errors.Is(err, ldap.ErrPartial) {
				t.Fatalf("cut at %d%%: no directory and err %v", pct, err)
			}
			continue
		}
		if !errors.Is(err, ldap.ErrPartial) || !d.Partial || len(d.PartialReasons) == 0 {
			t.Fatalf("cut at %d%%: err %v partial %v reasons %v", pct, err, d.Partial,
				d.PartialReasons)
		}
		for table, why := range d.PartialReasons {
			if why == "" || strings.Contains(why, "\n") {
				t.Errorf("cut at %d%%: reason for %s is %q", pct, table, why)
			}
		}
		for _, u := range d.Users {
			if !known[u.DistinguishedName] {
				t.Errorf("cut at %d%%: user %s not in the full collection", pct,
					u.DistinguishedName)
			}
		}
		if n := len(d.Users); n > 0 && n < len(whole.Users) {
			midUsers++
			if _, ok := d.PartialReasons["users"]; !ok {
				t.Errorf("cut at %d%% mid-users: reasons %v", pct, d.PartialReasons)
			}
		}
	}
	if midUsers == 0 {
		t.Error("no cut landed inside the users search; the test proves nothing")
	}
}

// TestPagingAndSizeLimit: tiny pages read the same directory as large ones; a size limit
// smaller than the users table is reported as a partial users table.
func TestPagingAndSizeLimit(t *testing.T) {
	dc, _ := lab(t)
	big := collect(t, adminConfig(dc))
	cfg := adminConfig(dc)
	cfg.PageSize = 2
	small := collect(t, cfg)
	if len(small.Users) != len(big.Users) || len(small.Computers) != len(big.Computers) {
		t.Errorf("page size 2 read %d users %d computers, default %d %d", len(small.Users),
			len(small.Computers), len(big.Users), len(big.Computers))
	}
	if small.Stats.Pages < len(big.Users)/2 {
		t.Errorf("page size 2 used %d pages for %d users", small.Stats.Pages, len(big.Users))
	}
	t.Logf("pages: %d at size 2, %d at default", small.Stats.Pages, big.Stats.Pages)

	cfg = adminConfig(dc)
	cfg.SizeLimit = 5
	c, err := ldap.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.Collect(context.Background())
	if !errors.Is(err, ldap.ErrPartial) || d == nil {
		t.Fatalf("size limit 5: err %v", err)
	}
	why := d.PartialReasons["users"]
	if !strings.Contains(why, "size limit") || len(d.Users) == 0 || len(d.Users) > 5 {
		t.Errorf("size limit 5: %d users, reasons %v", len(d.Users), d.PartialReasons)
	}
	t.Log(err)
}

// TestCancelled: a cancelled context ends the collection with the context's error.
func TestCancelled(t *testing.T) {
	dc, _ := lab(t)
	c, err := ldap.New(adminConfig(dc))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Collect(ctx); err == nil {
		t.Fatal("collect with a cancelled context succeeded")
	}
}
