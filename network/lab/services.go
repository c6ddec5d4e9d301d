package lab

import (
	"crypto/tls"
	"net"
	"net/netip"
	"slices"

	fp "github.com/tenantra/tenantra/network/fingerprint"
)

// ServiceKind names what a lab port serves. Each kind has one identity (product, version,
// findings), so the truth follows from the kind alone.
type ServiceKind string

// Service kinds.
const (
	SSH          ServiceKind = "ssh"           // OpenSSH 9.2p1 on Debian
	SSHDropbear  ServiceKind = "ssh-dropbear"  // dropbear 2022.83, as on routers
	HTTP         ServiceKind = "http"          // nginx 1.22.1 welcome page
	HTTPRedirect ServiceKind = "http-redirect" // nginx 301 to https://<address>/
	HTTPBasic    ServiceKind = "http-basic"    // router admin page behind Basic auth
	HTTPS        ServiceKind = "https"         // nginx over TLS 1.2-1.3, self-signed
	HTTPSLegacy  ServiceKind = "https-legacy"  // IIS over TLS 1.0-1.2, self-signed
	FTP          ServiceKind = "ftp"           // vsftpd 3.0.5
	SMTP         ServiceKind = "smtp"          // Exim 4.96
	POP3         ServiceKind = "pop3"          // Dovecot
	IMAP         ServiceKind = "imap"          // Dovecot
	Telnet       ServiceKind = "telnet"        // BusyBox telnetd: IAC negotiation, login
	Redis        ServiceKind = "redis"         // Redis 7.2.4 without a password
	MySQL        ServiceKind = "mysql"         // MySQL 8.0.36 greeting, no TLS offered
	PostgresOpen ServiceKind = "postgres-trust"
	PostgresAuth ServiceKind = "postgres-password" // SCRAM-SHA-256 required
	MongoDB      ServiceKind = "mongodb"           // MongoDB 7.0.5 without auth
	SMB          ServiceKind = "smb"               // SMB 3.1.1, signing required, no SMBv1
	SMB1         ServiceKind = "smb1"              // SMB 3.1.1 + SMBv1, signing optional
	RDPNLA       ServiceKind = "rdp-nla"           // NLA (CredSSP) required
	RDPNoNLA     ServiceKind = "rdp"               // NLA offered but not required
	Tarpit       ServiceKind = "tarpit"            // accepts, never answers
	Firehose     ServiceKind = "firehose"          // streams junk without line ends
)

// kindInfo is a service kind's port, identity and server.
type kindInfo struct {
	port      uint16
	service   string
	product   string
	version   string
	findings  []string
	behaviour string
	tls       *[2]uint16 // TLS versions accepted, for HTTPS kinds
	serve     func(*env, net.Conn)
}

// env is what a handler knows about where it runs.
type env struct {
	spec *Spec
	host hostInfo
	kind ServiceKind
	tls  *[2]uint16 // versions accepted by HTTPS kinds
}

type hostInfo struct {
	name string
	addr netip.Addr
	cert *certPair
}

func (k kindInfo) truth(kind ServiceKind, port uint16) ServiceTruth {
	f := slices.Clone(k.findings)
	slices.Sort(f)
	return ServiceTruth{Port: port, Protocol: "tcp", Kind: kind, Service: k.service,
		Product: k.product,
		Version: k.version, Findings: f, Behaviour: k.behaviour}
}

// kinds is the read-only table of service kinds.
var kinds = map[ServiceKind]kindInfo{
	SSH: {port: 22, service: "ssh", product: "OpenSSH", version: "9.2p1",
		serve: serveSSH("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3")},
	SSHDropbear: {port: 22, service: "ssh", product: "dropbear", version: "2022.83",
		serve: serveSSH("SSH-2.0-dropbear_2022.83")},
	HTTP: {port: 80, service: "http", product: "nginx", version: "1.22.1",
		serve: serveHTTP},
	HTTPRedirect: {port: 80, service: "http", product: "nginx", version: "1.22.1",
		serve: serveHTTP},
	HTTPBasic: {port: 80, service: "http", product: "GoAhead-Webs", version: "2.5.0",
		findings: []string{fp.FindingHTTPBasicCleartext}, serve: serveHTTP},
	HTTPS: {port: 443, service: "https", product: "nginx", version: "1.22.1",
		findings: []string{fp.FindingCertSelfSigned},
		tls:      &[2]uint16{tls.VersionTLS12, tls.VersionTLS13}, serve: serveHTTPS},
	HTTPSLegacy: {port: 443, service: "https", product: "Microsoft-IIS", version: "10.0",
		findings: []string{fp.FindingCertSelfSigned, fp.FindingTLS10Accepted,
			fp.FindingTLS11Accepted},
		tls: &[2]uint16{tls.VersionTLS10, tls.VersionTLS12}, serve: serveHTTPS},
	FTP: {port: 21, service: "ftp", product: "vsftpd", version: "3.0.5",
		findings: []string{fp.FindingFTPOpen}, serve: serveText},
	SMTP: {port: 25, service: "smtp", product: "Exim", version: "4.96", serve: serveText},
	POP3: {port: 110, service: "pop3", product: "Dovecot", serve: serveText},
	IMAP: {port: 143, service: "imap", product: "Dovecot", serve: serveText},
	Telnet: {port: 23, service: "telnet", product: "BusyBox",
		findings: []string{fp.FindingTelnetOpen}, serve: serveTelnet},
	Redis: {port: 6379, service: "redis", product: "Redis", version: "7.2.4",
		findings: []string{fp.FindingRedisNoAuth}, serve: serveRedis},
	MySQL: {port: 3306, service: "mysql", product: "MySQL", version: "8.0.36",
		findings: []string{fp.FindingMySQLNoTLS}, serve: serveMySQL},
	PostgresOpen: {port: 5432, service: "postgresql", product: "PostgreSQL",
		version: "16.2", findings: []string{fp.FindingPostgresNoAuth,
			fp.FindingPostgresNoTLS}, serve: servePostgres},
	PostgresAuth: {port: 5432, service: "postgresql", product: "PostgreSQL",
		findings: []string{fp.FindingPostgresNoTLS}, serve: servePostgres},
	MongoDB: {port: 27017, service: "mongodb", product: "MongoDB", version: "7.0.5",
		findings: []string{fp.FindingMongoDBNoAuth}, serve: serveMongoDB},
	SMB: {port: 445, service: "smb", version: "3.1.1", serve: serveSMB},
	SMB1: {port: 445, service: "smb", version: "3.1.1",
		findings: []string{fp.FindingSMBv1Enabled, fp.FindingSMBSigningOptional},
		serve:    serveSMB},
	RDPNLA: {port: 3389, service: "rdp", serve: serveRDP},
	RDPNoNLA: {port: 3389, service: "rdp", findings: []string{fp.FindingRDPNLANotRequired},
		serve: serveRDP},
	Tarpit:   {port: 22, behaviour: "tarpit", serve: serveTarpit},
	Firehose: {port: 22, behaviour: "firehose", serve: serveFirehose},
}

// Kinds returns every service kind, sorted.
func Kinds() []ServiceKind {
	out := make([]ServiceKind, 0, len(kinds))
	for k := range kinds {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// WellKnownPort returns the port a kind listens on without offset, or 0 for an unknown kind.
func WellKnownPort(k ServiceKind) uint16 { return kinds[k].port }
