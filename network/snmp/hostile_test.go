package snmp_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/tenantra/tenantra/network/snmp"
)

// hostileAgent answers every request on a loopback UDP socket with reply(request, raw) until
// the test ends. It stands in for broken or malicious agents that no real agent imitates.
func hostileAgent(t *testing.T, reply func(req *gosnmp.SnmpPacket, raw []byte) []byte) string {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 65535)
		dec := &gosnmp.GoSNMP{Logger: gosnmp.NewLogger(nil)}
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			req, _ := dec.SnmpDecodePacket(append([]byte(nil), buf[:n]...))
			if out := reply(req, buf[:n]); out != nil {
				_, _ = pc.WriteTo(out, from)
			}
		}
	}()
	return pc.LocalAddr().String()
}

func response(t *testing.T, req *gosnmp.SnmpPacket, vars []gosnmp.SnmpPDU) []byte {
	pkt := &gosnmp.SnmpPacket{Version: req.Version, Community: req.Community,
		PDUType: gosnmp.GetResponse, RequestID: req.RequestID, Variables: vars,
		Logger: gosnmp.NewLogger(nil)}
	b, err := pkt.MarshalMsg()
	if err != nil {
		t.Error(err)
	}
	return b
}

func TestHostileAgents(t *testing.T) {
	t.Parallel()
	c := snmp.NewClient(snmp.Config{Timeout: 200 * time.Millisecond, Retries: 1}, nil, nil)
	cred := []snmp.Credential{{Name: "lab", Version: "v2c", Community: "public"}}
	sysVars := func(req *gosnmp.SnmpPacket) []gosnmp.SnmpPDU {
		var out []gosnmp.SnmpPDU
		for _, v := range req.Variables {
			out = append(out, gosnmp.SnmpPDU{Name: v.Name, Type: gosnmp.OctetString,
				Value: []byte("x\x00\xff" + strings.Repeat("A", 5000))})
		}
		return out
	}

	t.Run("garbage bytes", func(t *testing.T) {
		addr := hostileAgent(t, func(*gosnmp.SnmpPacket, []byte) []byte {
			return []byte{0x30, 0x82, 0xff, 0xff, 0x02, 0x01}
		})
		_, err := c.Collect(context.Background(), addr, cred)
		var te *snmp.TargetError
		if !errors.As(err, &te) {
			t.Fatalf("err = %v, want a TargetError", err)
		}
		t.Log(err)
	})

	t.Run("echoes the request", func(t *testing.T) {
		addr := hostileAgent(t, func(_ *gosnmp.SnmpPacket, raw []byte) []byte {
			return append([]byte(nil), raw...)
		})
		if _, err := c.Collect(context.Background(), addr, cred); err == nil {
			t.Fatal("want an error")
		}
	})

	t.Run("wrong varbind count", func(t *testing.T) {
		addr := hostileAgent(t, func(req *gosnmp.SnmpPacket, _ []byte) []byte {
			if req == nil {
				return nil
			}
			return response(t, req, nil)
		})
		_, err := c.Collect(context.Background(), addr, cred)
		if err == nil || !strings.Contains(err.Error(), "malformed") {
			t.Fatalf("err = %v, want a malformed-response error", err)
		}
	})

	t.Run("walk that never advances", func(t *testing.T) {
		addr := hostileAgent(t, func(req *gosnmp.SnmpPacket, _ []byte) []byte {
			if req == nil {
				return nil
			}
			if req.PDUType == gosnmp.GetRequest {
				return response(t, req, sysVars(req))
			}
			// GETBULK: the same OID under the requested column, forever.
			v := req.Variables[0].Name
			if !strings.HasSuffix(v, ".7") {
				v += ".7"
			}
			return response(t, req, []gosnmp.SnmpPDU{
				{Name: v, Type: gosnmp.Integer, Value: 1},
				{Name: v, Type: gosnmp.Integer, Value: 1}})
		})
		d, err := c.Collect(context.Background(), addr, cred)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.SysDescr) > 1024 || strings.ContainsRune(d.SysDescr, 0) {
			t.Errorf("sysDescr not bounded/sanitised: %d bytes", len(d.SysDescr))
		}
		if len(d.Partial) == 0 || !strings.Contains(strings.Join(d.Partial, ";"),
			"non-increasing") {
			t.Errorf("partial = %v, want non-increasing oid errors", d.Partial)
		}
	})
}
