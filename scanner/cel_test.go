package scanner

import (
	"context"
	"testing"
	"time"

	"github.com/google/cel-go/common/types"
)

func TestCIDRContains(t *testing.T) {
	tests := []struct {
		cidr, ip string
		want     bool
	}{
		{"10.0.0.0/8", "10.1.2.3", true},
		{"10.0.0.0/8", "11.1.2.3", false},
		{"10.0.0.5/8", "10.200.0.1", true}, // host bits are masked
		{"0.0.0.0/0", "203.0.113.1", true},
		{"0.0.0.0 0.0.0.0", "203.0.113.1", true},
		{"192.168.1.0 255.255.255.0", "192.168.1.77", true},
		{"192.168.1.0 255.255.255.0", "192.168.2.1", false},
		{"192.168.1.0 255.0.255.0", "192.168.1.1", false}, // not a contiguous mask
		{"192.168.1.7", "192.168.1.7", true},
		{"2001:db8::/32", "2001:db8::1", true},
		{"2001:db8::/32", "10.0.0.1", false},
		{"10.0.0.0/8", "::ffff:10.0.0.1", true},
		{"garbage", "10.0.0.1", false},
		{"10.0.0.0/8", "not an ip", false},
		{"", "", false},
	}
	for _, tt := range tests {
		if got := CIDRContains(tt.cidr, tt.ip); got != tt.want {
			t.Errorf("CIDRContains(%q, %q) = %v, want %v", tt.cidr, tt.ip, got, tt.want)
		}
	}
}

// TestCELFunctions evaluates the custom functions through the asset environment.
func TestCELFunctions(t *testing.T) {
	cfg := testConfig(t)
	envs, err := newCELEnvs(cfg.EOL, DefaultCostLimit)
	if err != nil {
		t.Fatal(err)
	}
	asset := &Asset{Name: "dc01", OS: "Windows Server 2008 R2 Standard", OSVersion: "6.1",
		Addresses: []string{"10.1.2.3"}}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		expr string
		want bool
	}{
		{`version_lt("7.2.5", "7.2.10")`, true},
		{`version_lt(asset.os_version, "6.2")`, true},
		{`os_eol(asset.os, asset.os_version) == timestamp("2020-01-14T00:00:00Z")`, true},
		{`os_eol(asset.os, asset.os_version) < now`, true},
		{`os_eol("Plan 9", "4") == timestamp(0)`, true},
		{`asset.addresses.exists(a, cidr_contains("10.0.0.0/8", a))`, true},
		{`cidr_contains("192.168.0.0/16", asset.addresses[0])`, false},
		{`!has(asset.snmp) && asset.services.size() == 0`, true},
		{`asset.last_seen == timestamp(0)`, true}, // zero time.Time is the epoch
		{`params.limit == 3 && asset.name.startsWith("dc")`, true},
	}
	adapter := envs.bySubject[SubjectAsset].CELTypeAdapter()
	wd := newWatchdog(context.Background(), time.Second)
	defer wd.close()
	for _, tt := range tests {
		prg, err := envs.compile(SubjectAsset, tt.expr, types.BoolType)
		if err != nil {
			t.Errorf("%s: %v", tt.expr, err)
			continue
		}
		act := &activation{}
		act.set("asset", adapter.NativeToValue(asset))
		act.set("now", types.Timestamp{Time: now})
		act.set("params", adapter.NativeToValue(map[string]any{"limit": int64(3)}))
		got, err := evalBool(wd, prg, act)
		if err != nil || got != tt.want {
			t.Errorf("%s = %v, %v; want %v", tt.expr, got, err, tt.want)
		}
	}
}
