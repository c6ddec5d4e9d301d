package lab

import (
	"fmt"
	"math/rand/v2"
)

// device is a kind of host the preset mixes.
type device struct {
	kind     string
	services []ServiceKind
}

// devices lists the preset's device kinds. The first twelve cover every service kind and
// the two hostile hosts, so Default(12) and above exercise everything; the hostile hosts
// come last, so a small demo lab is all well-behaved.
func devices() []device {
	return []device{
		{"linux-server", []ServiceKind{SSH, HTTP, HTTPS}},
		{"windows-server", []ServiceKind{SMB, RDPNLA}},
		{"router", []ServiceKind{SSHDropbear, Telnet, HTTPBasic}},
		{"web-server", []ServiceKind{SSH, HTTPRedirect, HTTPS}},
		{"mail-server", []ServiceKind{SSH, SMTP, POP3, IMAP}},
		{"db-server", []ServiceKind{SSH, MySQL, Redis}},
		{"legacy-windows", []ServiceKind{SMB1, RDPNoNLA, HTTPSLegacy}},
		{"nas", []ServiceKind{FTP, SMB1, HTTPBasic}},
		{"postgres-server", []ServiceKind{SSH, PostgresOpen}},
		{"app-server", []ServiceKind{SSH, PostgresAuth, MongoDB, HTTP}},
		{"tarpit", []ServiceKind{Tarpit}},
		{"firehose", []ServiceKind{Firehose}},
	}
}

// wellBehaved is how many leading devices are not hostile; extra hosts are drawn from them.
const wellBehaved = 10

// presetSeed fixes the preset's draw: the same n always gives the same lab.
const presetSeed = 0x7e4a47a

// Default returns a lab spec of n hosts mixing device kinds deterministically: the first
// min(n, 12) hosts are one of each kind (hostile ones last), further hosts are drawn from the
// well-behaved kinds with a fixed seed.
func Default(n int) Spec {
	devs := devices()
	rng := rand.New(rand.NewPCG(presetSeed, uint64(n)))
	var spec Spec
	for i := range max(n, 0) {
		d := devs[i%len(devs)]
		if i >= len(devs) {
			d = devs[rng.IntN(wellBehaved)]
		}
		h := HostSpec{Name: fmt.Sprintf("%s-%02d", d.kind, i+1), Kind: d.kind}
		for _, k := range d.services {
			h.Services = append(h.Services, ServiceSpec{Kind: k})
		}
		if d.kind == "tarpit" || d.kind == "firehose" {
			// Hostile hosts sit where an SSH and a web server would be expected.
			h.Services = []ServiceSpec{{Kind: ServiceKind(d.kind), Port: 22},
				{Kind: ServiceKind(d.kind), Port: 80}}
		}
		spec.Hosts = append(spec.Hosts, h)
	}
	return spec
}
