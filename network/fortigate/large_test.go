package fortigate

import (
	"bufio"
	"context"
	"net/http"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// writePolicies streams a FortiOS policy table of n rows to w without building it: each
// row carries some of the fields a FortiOS 7.2 policy has beside the twelve the collector
// keeps (a device that ignores the "format" parameter sends over a hundred), so the body is
// a few times the decoded result.
func writePolicies(w http.ResponseWriter, n int) int64 {
	w.Header().Set("Content-Type", "application/json")
	bw := bufio.NewWriterSize(w, 64<<10)
	var written int64
	put := func(b []byte) {
		m, _ := bw.Write(b)
		written += int64(m)
	}
	put([]byte(`{"http_method":"GET","size":` + strconv.Itoa(n) + `,"matched_count":` +
		strconv.Itoa(n) + `,"revision":"d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9","results":[`))
	row := make([]byte, 0, 2048)
	for i := 1; i <= n; i++ {
		row = row[:0]
		if i > 1 {
			row = append(row, ',')
		}
		id := strconv.AppendInt(nil, int64(i), 10)
		row = append(row, `{"policyid":`...)
		row = append(row, id...)
		row = append(row, `,"q_origin_key":`...)
		row = append(row, id...)
		row = append(row, `,"status":"enable","name":"rule-`...)
		row = append(row, id...)
		row = append(row, `","uuid":"5e0a4e2c-1d2b-51ee-8b1a-4f0d9c2e7a11",`+
			`"srcintf":[{"name":"internal","q_origin_key":"internal"}],`+
			`"dstintf":[{"name":"wan1","q_origin_key":"wan1"}],"action":"accept",`+
			`"nat64":"disable","nat46":"disable","ztna-status":"disable",`+
			`"srcaddr":[{"name":"all","q_origin_key":"all"}],`+
			`"dstaddr":[{"name":"host-`...)
		row = append(row, id...)
		row = append(row, `","q_origin_key":"host"}],"srcaddr6":[],"dstaddr6":[],`+
			`"internet-service":"disable","schedule":"always",`+
			`"service":[{"name":"HTTPS","q_origin_key":"HTTPS"}],"tos":"0x00",`+
			`"anti-replay":"enable","utm-status":"enable","inspection-mode":"flow",`+
			`"profile-type":"single","profile-protocol-options":"default",`+
			`"ssl-ssh-profile":"certificate-inspection","av-profile":"default",`+
			`"webfilter-profile":"default","ips-sensor":"default",`+
			`"application-list":"default","logtraffic":"all","logtraffic-start":"disable",`+
			`"auto-asic-offload":"enable","nat":"enable","ippool":"disable","poolname":[],`+
			`"session-ttl":"0","match-vip":"enable","srcaddr-negate":"disable",`+
			`"dstaddr-negate":"disable","service-negate":"disable",`+
			`"comments":"generated for the 50,000-rule streaming test"}`...)
		put(row)
	}
	put([]byte(`],"vdom":"root","path":"firewall","name":"policy","status":"success",` +
		`"http_status":200,"serial":"FGT60FTK22000001","version":"v7.2.5","build":1517}`))
	_ = bw.Flush()
	return written
}

// heapObjects is the live-and-unswept heap object bytes; reading it does not stop the world.
func heapObjects() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestPolicies50k collects a 50,000-rule table and checks that memory stays bounded: the
// heap grows by the result plus little, never by as much as the body, which it must if the
// body were buffered (body + result). Numbers are reported; time is never asserted.
func TestPolicies50k(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a ~60 MB policy table")
	}
	const n = 50000
	r := newReplay(t)
	var bodyBytes atomic.Int64
	r.Override(pathPolicies, func(w http.ResponseWriter, _ *http.Request) {
		bodyBytes.Store(writePolicies(w, n))
	})
	c := newClient(t, r.options(t)) // the default 64 MiB body cap

	// A low GC target keeps the heap close to what is live, so the peak measures what the
	// decoder holds rather than when the collector happened to run.
	defer debug.SetGCPercent(debug.SetGCPercent(20))
	runtime.GC()
	base := heapObjects()
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			if h := heapObjects(); h > peak.Load() {
				peak.Store(h)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	start := time.Now()
	cfg, err := c.Collect(context.Background())
	elapsed := time.Since(start)
	close(stop)
	<-done
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	if len(cfg.Policies) != n {
		t.Fatalf("%d policies, want %d", len(cfg.Policies), n)
	}
	last := cfg.Policies[n-1]
	if last.ID != n || last.Name != "rule-50000" || last.DstAddr[0] != "host-50000" ||
		last.UTMStatus != "enable" || last.Service[0] != "HTTPS" {
		t.Errorf("last policy %+v", last)
	}
	runtime.GC()
	live := heapObjects() - min(base, heapObjects())
	growth := peak.Load() - min(base, peak.Load())
	body := bodyBytes.Load()
	t.Logf("50,000 policies: body %.1f MiB, result live %.1f MiB, peak heap growth %.1f MiB,"+
		" %v", mib(body), mib(int64(live)), mib(int64(growth)), elapsed)
	// Beyond the result itself, the decoder holds one row and its buffers; 16 MiB leaves room
	// for garbage the collector has not reached yet.
	if beyond := int64(growth) - int64(live); beyond > 16<<20 {
		t.Errorf("peak heap growth exceeds the result by %.1f MiB", mib(beyond))
	}
	if int64(growth) >= body {
		t.Errorf("peak heap growth %.1f MiB reached the body size %.1f MiB: not streaming",
			mib(int64(growth)), mib(body))
	}
	runtime.KeepAlive(cfg)
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }
