package scanner

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestValidateParams(t *testing.T) {
	file := testModule("telnet", "1.0.0", "parameters:",
		"  type: object",
		"  additionalProperties: false",
		"  properties:",
		"    rate: {type: integer, minimum: 1, maximum: 10000, default: 100}",
		"    profile: {type: string, enum: [top100, top1000], default: top100}",
		"    tls: {type: object, additionalProperties: false, default: {},",
		"          properties: {verify: {type: boolean, default: true}}}",
		"    ports: {type: array, items: {type: integer}}")
	c, err := LoadCatalog(mapFS(map[string]string{"telnet@1.0.0.yaml": file}), testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	m := c.Modules[0]
	tests := []struct {
		in, want, err string
	}{
		{``, `{"profile":"top100","rate":100,"tls":{"verify":true}}`, ""},
		{`null`, `{"profile":"top100","rate":100,"tls":{"verify":true}}`, ""},
		{`{"rate": 5, "tls": {"verify": false}, "ports": [22]}`,
			`{"ports":[22],"profile":"top100","rate":5,"tls":{"verify":false}}`, ""},
		{`{"rate": 0}`, "", `parameters of telnet@1.0.0: field "rate": minimum: got 0, want 1`},
		{`{"rate": "fast"}`, "", `field "rate": got string, want integer`},
		{`{"colour": 1}`, "", `additional properties 'colour' not allowed`},
		{`{"tls": {"verify": 1}}`, "", `field "tls.verify": got number, want boolean`},
		{`[1]`, "", "parameters of telnet@1.0.0 must be a JSON object"},
		{`{"rate":`, "", "parameters of telnet@1.0.0 are not JSON"},
	}
	for _, tt := range tests {
		got, err := ValidateParams(m, json.RawMessage(tt.in))
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ValidateParams(%s) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || string(got) != tt.want {
			t.Errorf("ValidateParams(%s) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}
