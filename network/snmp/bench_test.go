package snmp_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/tenantra/tenantra/internal/testenv"
	"github.com/tenantra/tenantra/network/lab/snmpagent"
	"github.com/tenantra/tenantra/network/snmp"
)

// walkLimit bounds both walkers; the lab snmpd serves a few thousand OIDs.
const walkLimit = 200_000

// BenchmarkWalk walks the whole tree (.1) of a lab snmpd with GETBULK max-repetitions 25, with
// gosnmp (this package) and with net-snmp's snmpbulkwalk, and reports OIDs per second for each.
func BenchmarkWalk(b *testing.B) {
	a := snmpd(b, snmpagent.Options{})
	cred := snmp.Credential{Name: "lab", Version: "v2c", Community: a.Community}
	c := snmp.NewClient(snmp.Config{Timeout: 2 * time.Second, Retries: 1, MaxRepetitions: 25},
		nil, nil)
	b.Run("gosnmp", func(b *testing.B) {
		total := 0
		for b.Loop() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			n, err := c.Walk(ctx, a.Target(), cred, ".1", walkLimit, nil)
			cancel()
			if err != nil {
				b.Fatal(err)
			}
			total += n
		}
		b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "oids/s")
		b.ReportMetric(float64(total)/float64(b.N), "oids/walk")
	})
	b.Run("snmpbulkwalk", func(b *testing.B) {
		bin := testenv.LookPath(b, "snmpbulkwalk")
		total := 0
		for b.Loop() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			cmd := exec.CommandContext(ctx, bin, "-v2c", "-c", a.Community, "-Cr25", "-On",
				"-Oq", "-t", "2", "-r", "1", a.Target(), ".1")
			cmd.Env = append(os.Environ(), "MIBS=")
			out, err := cmd.StdoutPipe()
			if err != nil {
				b.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			sc := bufio.NewScanner(out)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			n := 0
			for sc.Scan() && n < walkLimit {
				n++
			}
			if n >= walkLimit {
				_ = cmd.Process.Kill()
			}
			if err := cmd.Wait(); err != nil && n < walkLimit {
				b.Fatalf("snmpbulkwalk: %v", err)
			}
			cancel()
			total += n
		}
		b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "oids/s")
		b.ReportMetric(float64(total)/float64(b.N), "oids/walk")
	})
}
