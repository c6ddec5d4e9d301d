package inventory

// Device classification: deciding what a device is (type, OS, OS version, vendor) from what
// discovery saw of it, and saying which evidence decided each field, so that an operator can
// check a classification instead of trusting it.
//
// Evidence is ranked in tiers, strongest first: an explicit SNMP vendor profile or Active
// Directory's operatingSystem; the SNMP sysDescr; service banners, titles and port sets; the
// MAC address vendor; host names. A field is decided by the strongest tier that says
// anything about it, then by confidence, then by rule order, so the result does not depend
// on the order evidence arrived in. Types that only follow from the OS ("Windows Server" is
// a server) come last. The rules are data: ordered tables below, each row with a confidence.

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Device types.
const (
	TypeServer         = "server"
	TypeWorkstation    = "workstation"
	TypeFirewall       = "firewall"
	TypeRouter         = "router"
	TypeSwitch         = "switch"
	TypeAccessPoint    = "access-point"
	TypePrinter        = "printer"
	TypeNAS            = "nas"
	TypeUPS            = "ups"
	TypeHypervisor     = "hypervisor"
	TypeBMC            = "bmc"
	TypeIoT            = "iot"
	TypePhone          = "phone"
	TypeVirtualMachine = "virtual-machine"
	TypeUnknown        = "unknown"
)

// DeviceTypes lists every type Classify returns.
var DeviceTypes = []string{TypeServer, TypeWorkstation, TypeFirewall, TypeRouter, TypeSwitch,
	TypeAccessPoint, TypePrinter, TypeNAS, TypeUPS, TypeHypervisor, TypeBMC, TypeIoT,
	TypePhone, TypeVirtualMachine, TypeUnknown}

// Evidence is everything discovery knows about one device that can tell what it is.
type Evidence struct {
	Services   []ServiceEvidence `json:"services,omitempty"`
	SNMP       *SNMPEvidence     `json:"snmp,omitempty"`
	MACVendors []string          `json:"mac_vendors,omitempty"` // OUI lookups
	Hostnames  []string          `json:"hostnames,omitempty"`
	AD         *ADEvidence       `json:"ad,omitempty"`
}

// ServiceEvidence is one fingerprinted open port; Evidence holds what the fingerprint read
// (banner, server, title, os_hint, cert_subject, …).
type ServiceEvidence struct {
	Port     int               `json:"port"`
	Protocol string            `json:"protocol,omitempty"` // "tcp" (the default) or "udp"
	Name     string            `json:"name,omitempty"`
	Product  string            `json:"product,omitempty"`
	Version  string            `json:"version,omitempty"`
	Evidence map[string]string `json:"evidence,omitempty"`
}

// SNMPEvidence is what an SNMP poll returned, with the vendor profile that matched the
// sysObjectID (empty when none did).
type SNMPEvidence struct {
	SysDescr    string `json:"sys_descr,omitempty"`
	SysObjectID string `json:"sys_object_id,omitempty"`
	Profile     string `json:"profile,omitempty"`
	Vendor      string `json:"vendor,omitempty"`
	Type        string `json:"type,omitempty"`
	Model       string `json:"model,omitempty"`
	OS          string `json:"os,omitempty"`
	Firmware    string `json:"firmware,omitempty"`
}

// ADEvidence is the device's Active Directory computer object.
type ADEvidence struct {
	OS               string `json:"os,omitempty"`         // operatingSystem
	OSVersion        string `json:"os_version,omitempty"` // operatingSystemVersion
	DomainController bool   `json:"domain_controller,omitempty"`
}

// Classification is what a device is. Type is TypeUnknown, and the other fields empty, when
// no evidence says; Evidence has one Reason per decided field, in the order type, os,
// os_version, vendor. Confidence (0–1) is the type's, or the OS's when the type is unknown.
type Classification struct {
	Type       string   `json:"type"`
	OS         string   `json:"os,omitempty"`
	OSVersion  string   `json:"os_version,omitempty"`
	Vendor     string   `json:"vendor,omitempty"`
	Confidence float64  `json:"confidence"`
	Evidence   []Reason `json:"evidence,omitempty"`
}

// Reason says which evidence decided one field: Source names where it was seen ("snmp
// sysDescr", "tcp/445 smb", "mac vendor", …) and Detail what in it decided.
type Reason struct {
	Field  string `json:"field"` // "type", "os", "os_version" or "vendor"
	Value  string `json:"value"`
	Source string `json:"source"`
	Detail string `json:"detail"`
}

// evidenceTier ranks evidence; a lower tier always wins over a higher one.
type evidenceTier int

const (
	tierExplicit evidenceTier = iota // SNMP vendor profile, AD operatingSystem
	tierSysDescr
	tierService
	tierMAC
	tierHostname
	tierInferred // a type that only follows from the OS
)

// deviceClaim is one piece of evidence's say on one field.
type deviceClaim struct {
	field   string // "type", "os" or "vendor"
	value   string
	version string // with an "os" claim
	conf    float64
	tier    evidenceTier
	order   int // position among all claims, the last tie-breaker
	source  string
	detail  string
}

// deviceRule is one row of a rule table: when re matches, the device is typ, runs os
// (version from the version func, if any) and is made by vendor; empty fields say nothing.
type deviceRule struct {
	name    string
	re      *regexp.Regexp
	typ     string
	os      string
	vendor  string
	version func(m []string) string
	conf    float64
}

var rx = regexp.MustCompile

// group returns the first non-empty of the given capture groups.
func group(idx ...int) func([]string) string {
	return func(m []string) string {
		for _, i := range idx {
			if i < len(m) && m[i] != "" {
				return m[i]
			}
		}
		return ""
	}
}

// Names several tables share.
const (
	vendorCisco    = "Cisco"
	vendorFortinet = "Fortinet"
	vendorTPLink   = "TP-Link"
	vendorMikroTik = "MikroTik"
	osUbuntu       = "Ubuntu"
	osDebian       = "Debian"
	osWindows      = "Windows"
)

// sysDescrRules parse SNMPv2-MIB sysDescr; the first matching row wins, so specific rows
// (a Synology box is also "Linux …") come before general ones.
var sysDescrRules = []deviceRule{
	{"Cisco ASA", rx(`Cisco Adaptive Security Appliance Version (\S+)`),
		TypeFirewall, "Cisco ASA", vendorCisco, group(1), 0.95},
	{"Cisco NX-OS", rx(`(?s)Cisco NX-OS.*?Version ([^,\s]+)`),
		TypeSwitch, "Cisco NX-OS", vendorCisco, group(1), 0.9},
	{"Cisco IOS XE switch", rx(`(?s)Cisco IOS[ -]XE Software.*?(?:CAT[0-9]K|C9[2-6]00|` +
		`Catalyst).*?Version ([^,\s]+)`), TypeSwitch, "Cisco IOS XE", vendorCisco, group(1), 0.9},
	{"Cisco IOS XE", rx(`(?s)Cisco IOS[ -]XE Software.*?Version ([^,\s]+)`),
		TypeRouter, "Cisco IOS XE", vendorCisco, group(1), 0.85},
	{"Cisco IOS switch", rx(`(?s)Cisco IOS Software.*?(?:C29[0-9]{2}|C3[5-8][0-9]{2}|` +
		`CAT[0-9]|Catalyst|IE[0-9]{4}).*?Version ([^,\s]+)`),
		TypeSwitch, "Cisco IOS", vendorCisco, group(1), 0.9},
	{"Cisco IOS", rx(`(?s)(?:Cisco IOS Software|Cisco Internetwork Operating System)` +
		`.*?Version ([^,\s]+)`), TypeRouter, "Cisco IOS", vendorCisco, group(1), 0.85},
	{"FortiGate", rx(`^Forti(?:Gate|WiFi)-\S+(?: v([0-9]+\.[0-9]+\.[0-9]+))?`),
		TypeFirewall, "FortiOS", vendorFortinet, group(1), 0.9},
	{"FortiSwitch", rx(`^FortiSwitch-\S+(?: v([0-9]+\.[0-9]+\.[0-9]+))?`),
		TypeSwitch, "FortiSwitchOS", vendorFortinet, group(1), 0.9},
	{"FortiAP", rx(`^FortiAP-\S+(?: v([0-9]+\.[0-9]+\.[0-9]+))?`),
		TypeAccessPoint, "FortiAP", vendorFortinet, group(1), 0.9},
	{"TP-Link JetStream", rx(`JetStream|^(?:TL-SG|T[0-9]{4}G-|SG[0-9]{4})[0-9A-Z-]*`),
		TypeSwitch, "", vendorTPLink, nil, 0.9},
	{"TP-Link Omada EAP", rx(`^EAP[0-9]{3}`), TypeAccessPoint, "", vendorTPLink, nil, 0.85},
	{"HPE/Aruba switch", rx(`^(?:HP|HPE|Aruba|ProCurve) .*Switch.*revision ([A-Z]{2}\.[0-9.]+)`),
		TypeSwitch, "ArubaOS-Switch", "HPE", group(1), 0.9},
	{"Juniper EX/QFX", rx(`(?i)^Juniper Networks, Inc\. (?:ex|qfx)[0-9]\S* .*?JUNOS ` +
		`([0-9][^\s,]*)`), TypeSwitch, "Junos", "Juniper", group(1), 0.9},
	{"Juniper SRX", rx(`(?i)^Juniper Networks, Inc\. srx[0-9]\S* .*?JUNOS ([0-9][^\s,]*)`),
		TypeFirewall, "Junos", "Juniper", group(1), 0.9},
	{"Juniper", rx(`(?i)^Juniper Networks, Inc\. .*?JUNOS ([0-9][^\s,]*)`),
		TypeRouter, "Junos", "Juniper", group(1), 0.85},
	{"MikroTik RouterOS", rx(`^RouterOS\b`), TypeRouter, "RouterOS", vendorMikroTik, nil, 0.9},
	{"Ubiquiti EdgeOS", rx(`EdgeOS|EdgeRouter`), TypeRouter, "EdgeOS", "Ubiquiti", nil, 0.85},
	{"Ubiquiti UniFi AP", rx(`^Linux (?:UAP|U6|U7)\S* `), TypeAccessPoint, "", "Ubiquiti",
		nil, 0.8},
	{"pfSense", rx(`^pfSense \S+ ([0-9][0-9.]*)`), TypeFirewall, "pfSense", "Netgate",
		group(1), 0.9},
	{"OPNsense", rx(`^OPNsense \S+ ([0-9][0-9.]*)`), TypeFirewall, "OPNsense", "Deciso",
		group(1), 0.9},
	{"HP JetDirect", rx(`HP ETHERNET MULTI-ENVIRONMENT|JETDIRECT|^HP (?:Color )?LaserJet|` +
		`OfficeJet|PageWide`), TypePrinter, "", "HP", nil, 0.9},
	{"Brother printer", rx(`^Brother (?:NC-|HL-|MFC-|DCP-)`), TypePrinter, "", "Brother",
		nil, 0.9},
	{"Canon printer", rx(`^Canon (?:iR|MF|LBP|imageRUNNER|i-SENSYS)`), TypePrinter, "",
		"Canon", nil, 0.9},
	{"Epson printer", rx(`^EPSON `), TypePrinter, "", "Epson", nil, 0.85},
	{"Xerox printer", rx(`^(?:Xerox|FUJI XEROX|FUJIFILM) `), TypePrinter, "", "Xerox", nil,
		0.85},
	{"Lexmark printer", rx(`^Lexmark `), TypePrinter, "", "Lexmark", nil, 0.85},
	{"Kyocera printer", rx(`(?i)^KYOCERA `), TypePrinter, "", "Kyocera", nil, 0.85},
	{"APC UPS", rx(`^APC (?:Web/SNMP Management Card|Embedded PowerNet)(?:.*?PF:v([0-9.]+))?`),
		TypeUPS, "APC AOS", "APC", group(1), 0.9},
	{"Eaton UPS", rx(`(?i)^Eaton .*(?:UPS|Network-M|Network Management)`), TypeUPS, "",
		"Eaton", nil, 0.85},
	{"Synology NAS", rx(`^Linux (?:DiskStation|RackStation|\S*[Ss]ynology)`), TypeNAS, "DSM",
		"Synology", nil, 0.9},
	{"QNAP NAS", rx(`(?i)^Linux \S+ \S+-qnap\b|\bQNAP\b`), TypeNAS, "QTS", "QNAP", nil, 0.9},
	{"VMware ESXi", rx(`VMware ESXi ([0-9][0-9.]*)`), TypeHypervisor, "ESXi", "VMware",
		group(1), 0.95},
	{"Windows", rx(`Software: Windows (?:Version ([0-9]+\.[0-9]+) \(Build ([0-9]+)|` +
		`(2000) Version)`), "", "Windows", "", windowsVersion, 0.9},
	{"Linux kernel", rx(`^Linux \S+ ([0-9]+\.[0-9]+[^\s]*)`), "", "Linux", "", group(1), 0.85},
	{"FreeBSD", rx(`^FreeBSD \S+ ([0-9]+\.[0-9]+-[A-Z0-9-]+)`), "", "FreeBSD", "", group(1),
		0.85},
	{"Darwin", rx(`^Darwin \S+ [0-9]`), TypeWorkstation, "macOS", "Apple", nil, 0.7},
	{"Cisco", rx(`\bCisco\b`), "", "", vendorCisco, nil, 0.6},
}

// windowsBuilds names the Windows releases behind a build number; where one build is both a
// client and a server release, the name says so and the type stays undecided.
var windowsBuilds = map[string]string{
	"2195": "2000", "2600": "XP", "3790": "Server 2003", "6001": "Vista / Server 2008",
	"6002": "Vista / Server 2008", "7600": "7 / Server 2008 R2",
	"7601": "7 SP1 / Server 2008 R2 SP1", "9200": "8 / Server 2012",
	"9600": "8.1 / Server 2012 R2", "10240": "10 1507", "14393": "10 1607 / Server 2016",
	"17763": "10 1809 / Server 2019", "19044": "10 21H2", "19045": "10 22H2",
	"20348": "Server 2022", "22000": "11 21H2", "22621": "11 22H2", "22631": "11 23H2",
	"26100": "11 24H2 / Server 2025",
}

// windowsVersion turns "Windows Version 6.3 (Build 17763" into a release name: Windows
// reports 6.3 for every release since 8.1, so only the build tells them apart.
func windowsVersion(m []string) string {
	if len(m) > 3 && m[3] != "" {
		return m[3]
	}
	if len(m) < 3 {
		return ""
	}
	if name, ok := windowsBuilds[m[2]]; ok {
		return name + " (build " + m[2] + ")"
	}
	return m[1] + " build " + m[2]
}

// serviceRule is a deviceRule matched against one kind of service evidence: "banner",
// "server", "title", "location", "cert" (subject and issuer), "product" (product and
// version) or "os_hint".
type serviceRule struct {
	key string
	deviceRule
}

// serviceRules read banners, HTTP headers and titles, certificates and fingerprint OS
// hints.
var serviceRules = []serviceRule{
	{"banner", deviceRule{"OpenSSH Ubuntu package", rx(`OpenSSH_([0-9][^\s_]*) Ubuntu-(\S+)`),
		"", osUbuntu, "", ubuntuRelease, 0.8}},
	{"banner", deviceRule{"OpenSSH Debian package", rx(`OpenSSH_([0-9][^\s_]*) Debian-(\S+)`),
		"", osDebian, "", debianRelease, 0.8}},
	{"banner", deviceRule{"OpenSSH Raspbian package",
		rx(`OpenSSH_([0-9][^\s_]*) Raspbian-(\S+)`), TypeIoT, "Raspbian", "Raspberry Pi",
		debianRelease, 0.75}},
	{"banner", deviceRule{"OpenSSH FreeBSD", rx(`OpenSSH_\S+ FreeBSD`), "", "FreeBSD", "", nil,
		0.8}},
	{"banner", deviceRule{"OpenSSH for Windows", rx(`OpenSSH_for_Windows_([0-9][^\s]*)`), "",
		osWindows, "", nil, 0.75}},
	{"banner", deviceRule{"MikroTik SSH", rx(`^SSH-[0-9.]+-ROSSSH`), TypeRouter, "RouterOS",
		vendorMikroTik, nil, 0.85}},
	{"banner", deviceRule{"MikroTik banner", rx(`MikroTik v?([0-9]+\.[0-9][0-9.]*)`),
		TypeRouter, "RouterOS", vendorMikroTik, group(1), 0.85}},
	{"banner", deviceRule{"Cisco SSH", rx(`^SSH-[0-9.]+-Cisco-`), "", "Cisco IOS", vendorCisco, nil,
		0.6}},
	{"server", deviceRule{"Microsoft IIS", rx(`Microsoft-IIS/([0-9]+\.[0-9]+)`), TypeServer,
		osWindows, "", iisWindows, 0.75}},
	{"server", deviceRule{"Microsoft HTTP API", rx(`Microsoft-HTTPAPI/`), "", osWindows, "", nil,
		0.6}},
	{"server", deviceRule{"Apache on Ubuntu", rx(`\(Ubuntu\)`), "", osUbuntu, "", nil, 0.6}},
	{"server", deviceRule{"Apache on Debian", rx(`\(Debian\)`), "", osDebian, "", nil, 0.6}},
	{"server", deviceRule{"Apache on Windows", rx(`\(Win(?:32|64)\)`), "", osWindows, "", nil,
		0.5}},
	{"server", deviceRule{"Apache on RHEL", rx(`\(Red Hat(?: Enterprise Linux)?\)`), "",
		"Red Hat Enterprise Linux", "", nil, 0.55}},
	{"server", deviceRule{"Apache on CentOS", rx(`\(CentOS\)`), "", "CentOS", "", nil, 0.55}},
	{"server", deviceRule{"Cisco IOS HTTP server", rx(`^cisco-IOS`), "", "Cisco IOS", vendorCisco,
		nil, 0.7}},
	{"title", deviceRule{"FortiGate login page", rx(`(?i)FortiGate`), TypeFirewall, "FortiOS",
		vendorFortinet, nil, 0.85}},
	{"server", deviceRule{"FortiGate web server", rx(`^xxxxxxxx-xxxxx$`), TypeFirewall,
		"FortiOS", vendorFortinet, nil, 0.8}},
	{"location", deviceRule{"FortiGate SSL VPN", rx(`^/remote/login`), TypeFirewall, "FortiOS",
		vendorFortinet, nil, 0.75}},
	{"cert", deviceRule{"FortiGate certificate", rx(`\bFGT[0-9A-Z]{4,}|Fortinet|FortiGate`),
		TypeFirewall, "FortiOS", vendorFortinet, nil, 0.75}},
	{"title", deviceRule{"RouterOS web page", rx(`(?i)RouterOS(?: v?([0-9]+\.[0-9][0-9.]*))?`),
		TypeRouter, "RouterOS", vendorMikroTik, group(1), 0.85}},
	{"title", deviceRule{"VMware ESXi web page", rx(`VMware ESXi(?: ([0-9][0-9.]*))?`),
		TypeHypervisor, "ESXi", "VMware", group(1), 0.85}},
	{"title", deviceRule{"Dell iDRAC", rx(`iDRAC ?([0-9]+)?|Integrated Dell Remote Access ` +
		`Controller ?([0-9]+)?`), TypeBMC, "iDRAC", "Dell", group(1, 2), 0.85}},
	{"title", deviceRule{"HPE iLO", rx(`\biLO ?([0-9]+)\b|Integrated Lights-Out ?([0-9]+)?`),
		TypeBMC, "iLO", "HPE", group(1, 2), 0.85}},
	{"title", deviceRule{"Lenovo XClarity", rx(`XClarity Controller`), TypeBMC, "XCC",
		"Lenovo", nil, 0.85}},
	{"title", deviceRule{"Synology DSM", rx(`(?i)Synology|DiskStation|RackStation`), TypeNAS,
		"DSM", "Synology", nil, 0.8}},
	{"title", deviceRule{"QNAP QTS", rx(`\bQNAP\b|\bQTS\b`), TypeNAS, "QTS", "QNAP", nil,
		0.8}},
	{"title", deviceRule{"HP printer page", rx(`\bHP (?:Color )?LaserJet|OfficeJet|PageWide|` +
		`DeskJet`), TypePrinter, "", "HP", nil, 0.8}},
	{"server", deviceRule{"HP printer web server", rx(`HP HTTP Server|HP-ChaiSOE|` +
		`Virata-EmWeb`), TypePrinter, "", "HP", nil, 0.75}},
	{"title", deviceRule{"Brother printer page", rx(`Brother (?:HL|MFC|DCP)-`), TypePrinter,
		"", "Brother", nil, 0.8}},
	{"server", deviceRule{"Brother web server", rx(`^debut/`), TypePrinter, "", "Brother", nil,
		0.75}},
	{"server", deviceRule{"Canon web server", rx(`(?i)CANON HTTP Server`), TypePrinter, "",
		"Canon", nil, 0.75}},
	{"title", deviceRule{"Canon Remote UI", rx(`Remote UI`), TypePrinter, "", "Canon", nil,
		0.7}},
	{"server", deviceRule{"Kyocera web server", rx(`KM-MFP-http`), TypePrinter, "",
		"Kyocera", nil, 0.75}},
	{"server", deviceRule{"Epson web server", rx(`EPSON_Linux|EPSON-HTTP`), TypePrinter, "",
		"Epson", nil, 0.75}},
	{"title", deviceRule{"Xerox printer page", rx(`(?i)\bXerox\b`), TypePrinter, "", "Xerox",
		nil, 0.75}},
	{"title", deviceRule{"Lexmark printer page", rx(`\bLexmark\b`), TypePrinter, "",
		"Lexmark", nil, 0.75}},
	{"title", deviceRule{"APC management card", rx(`^APC \||Network Management Card`),
		TypeUPS, "APC AOS", "APC", nil, 0.8}},
	{"title", deviceRule{"TP-Link switch page", rx(`JetStream|TL-SG[0-9]|T[0-9]{4}G-`),
		TypeSwitch, "", vendorTPLink, nil, 0.7}},
	{"title", deviceRule{"TP-Link Omada EAP page", rx(`^EAP[0-9]{3}`), TypeAccessPoint, "",
		vendorTPLink, nil, 0.7}},
	{"title", deviceRule{"Ubiquiti EdgeOS", rx(`EdgeOS`), TypeRouter, "EdgeOS", "Ubiquiti",
		nil, 0.8}},
	{"title", deviceRule{"pfSense login", rx(`pfSense`), TypeFirewall, "pfSense", "Netgate",
		nil, 0.8}},
	{"title", deviceRule{"OPNsense login", rx(`OPNsense`), TypeFirewall, "OPNsense", "Deciso",
		nil, 0.8}},
	{"os_hint", deviceRule{"fingerprint OS hint", rx(`^windows$`), "", osWindows, "", nil, 0.55}},
	{"os_hint", deviceRule{"fingerprint OS hint", rx(`^ubuntu$`), "", osUbuntu, "", nil, 0.6}},
	{"os_hint", deviceRule{"fingerprint OS hint", rx(`^debian$`), "", osDebian, "", nil, 0.6}},
	{"os_hint", deviceRule{"fingerprint OS hint", rx(`^raspbian$`), "", "Raspbian", "", nil,
		0.6}},
	{"os_hint", deviceRule{"fingerprint OS hint", rx(`^rhel$`), "", "Red Hat Enterprise Linux",
		"", nil, 0.55}},
	{"os_hint", deviceRule{"fingerprint OS hint", rx(`^centos$`), "", "CentOS", "", nil, 0.55}},
	{"os_hint", deviceRule{"fingerprint OS hint", rx(`^fedora$`), "", "Fedora", "", nil, 0.55}},
	{"os_hint", deviceRule{"fingerprint OS hint", rx(`^suse$`), "", "SUSE Linux", "", nil,
		0.55}},
	{"os_hint", deviceRule{"fingerprint OS hint", rx(`^alpine$`), "", "Alpine Linux", "", nil,
		0.55}},
	{"os_hint", deviceRule{"fingerprint OS hint", rx(`^freebsd$`), "", "FreeBSD", "", nil,
		0.6}},
	{"os_hint", deviceRule{"fingerprint OS hint", rx(`^openbsd$`), "", "OpenBSD", "", nil,
		0.6}},
	{"os_hint", deviceRule{"fingerprint OS hint", rx(`^netbsd$`), "", "NetBSD", "", nil, 0.6}},
}

// ubuntuOpenSSH maps the OpenSSH version and the Ubuntu package revision in an SSH banner
// ("OpenSSH_8.2p1 Ubuntu-4ubuntu0.5") to the Ubuntu release that shipped them. A row with a
// revision prefix only matches revisions starting with it.
var ubuntuOpenSSH = []struct{ openssh, revision, release string }{
	{"6.6p1", "", "14.04"}, {"6.6.1p1", "", "14.04"}, {"7.2p2", "", "16.04"},
	{"7.6p1", "", "18.04"}, {"7.7p1", "", "18.10"}, {"7.9p1", "", "19.04"},
	{"8.0p1", "", "19.10"}, {"8.2p1", "", "20.04"}, {"8.3p1", "", "20.10"},
	{"8.4p1", "5ubuntu", "21.04"}, {"8.4p1", "6ubuntu", "21.10"}, {"8.9p1", "", "22.04"},
	{"9.0p1", "1ubuntu7", "22.10"}, {"9.0p1", "1ubuntu8", "23.04"}, {"9.3p1", "", "23.10"},
	{"9.6p1", "", "24.04"}, {"9.7p1", "", "24.10"}, {"9.9p1", "", "25.04"},
}

func ubuntuRelease(m []string) string {
	if len(m) < 3 {
		return ""
	}
	for _, r := range ubuntuOpenSSH {
		if m[1] == r.openssh && strings.HasPrefix(m[2], r.revision) {
			return r.release
		}
	}
	return ""
}

// debianOpenSSH maps OpenSSH versions to the Debian release that shipped them, for banners
// without a "+debNNu" security-update marker.
var debianOpenSSH = map[string]string{"6.0p1": "7", "6.7p1": "8", "7.4p1": "9",
	"7.9p1": "10", "8.4p1": "11", "9.2p1": "12", "10.0p1": "13"}

var debianUpdate = rx(`\+deb([0-9]{1,2})u`)

func debianRelease(m []string) string {
	if len(m) < 3 {
		return ""
	}
	if u := debianUpdate.FindStringSubmatch(m[2]); u != nil {
		return u[1]
	}
	return debianOpenSSH[m[1]]
}

// iisReleases maps an IIS version to the Windows Server release that ships it.
var iisReleases = map[string]string{"5.0": "2000", "6.0": "Server 2003", "7.0": "Server 2008",
	"7.5": "Server 2008 R2", "8.0": "Server 2012", "8.5": "Server 2012 R2",
	"10.0": "Server 2016 or later"}

func iisWindows(m []string) string { return iisReleases[group(1)(m)] }

// portRule classifies by a set of open TCP ports: all of all, and one of any when given,
// unless a service's product or banner matches unless.
type portRule struct {
	name   string
	all    []int
	any    []int
	unless *regexp.Regexp
	deviceRule
}

var portRules = []portRule{
	{"SMB + RDP 3389", []int{445, 3389}, nil, rx(`(?i)samba|xrdp`),
		deviceRule{os: osWindows, conf: 0.85}},
	{"MSRPC 135 + SMB", []int{445, 135}, nil, rx(`(?i)samba`),
		deviceRule{os: osWindows, conf: 0.8}},
	{"RDP 3389", []int{3389}, nil, rx(`(?i)xrdp`), deviceRule{os: osWindows, conf: 0.6}},
	{"JetDirect 9100 + LPD/IPP", []int{9100}, []int{515, 631}, nil,
		deviceRule{typ: TypePrinter, conf: 0.85}},
	{"JetDirect 9100", []int{9100}, nil, nil, deviceRule{typ: TypePrinter, conf: 0.6}},
	{"LPD 515 + IPP 631", []int{515, 631}, nil, nil, deviceRule{typ: TypePrinter, conf: 0.55}},
	{"VMware authd 902", []int{902}, []int{443}, nil,
		deviceRule{typ: TypeHypervisor, os: "ESXi", vendor: "VMware", conf: 0.7}},
	{"Winbox 8291", []int{8291}, nil, nil,
		deviceRule{typ: TypeRouter, os: "RouterOS", vendor: vendorMikroTik, conf: 0.75}},
}

// macRules read the OUI vendor of the device's MAC addresses. A vendor no row matches is
// still reported as the vendor, unless it only makes network chips (nicMakers).
var macRules = []deviceRule{
	{"Fortinet OUI", rx(`(?i)fortinet`), TypeFirewall, "", vendorFortinet, nil, 0.6},
	{"TP-Link OUI", rx(`(?i)tp-?link`), TypeSwitch, "", vendorTPLink, nil, 0.3},
	{"Ubiquiti OUI", rx(`(?i)ubiquiti`), TypeAccessPoint, "", "Ubiquiti", nil, 0.4},
	{"MikroTik OUI", rx(`(?i)mikrotik|routerboard`), TypeRouter, "", vendorMikroTik, nil, 0.5},
	{"Aruba OUI", rx(`(?i)aruba`), TypeAccessPoint, "", "Aruba", nil, 0.4},
	{"Raspberry Pi OUI", rx(`(?i)raspberry`), TypeIoT, "", "Raspberry Pi", nil, 0.5},
	{"VMware OUI", rx(`(?i)vmware`), TypeVirtualMachine, "", "VMware", nil, 0.6},
	{"Hyper-V OUI", rx(`(?i)hyper-v`), TypeVirtualMachine, "", "Microsoft", nil, 0.6},
	{"VirtualBox OUI", rx(`(?i)virtualbox`), TypeVirtualMachine, "", "Oracle", nil, 0.6},
	{"Xen OUI", rx(`(?i)\bxen\b`), TypeVirtualMachine, "", "Xen", nil, 0.6},
	{"QEMU OUI", rx(`(?i)qemu`), TypeVirtualMachine, "", "QEMU", nil, 0.5},
	{"Synology OUI", rx(`(?i)synology`), TypeNAS, "", "Synology", nil, 0.6},
	{"QNAP OUI", rx(`(?i)qnap`), TypeNAS, "", "QNAP", nil, 0.6},
	{"Brother OUI", rx(`(?i)brother`), TypePrinter, "", "Brother", nil, 0.55},
	{"Canon OUI", rx(`(?i)canon`), TypePrinter, "", "Canon", nil, 0.55},
	{"Epson OUI", rx(`(?i)epson`), TypePrinter, "", "Epson", nil, 0.55},
	{"Lexmark OUI", rx(`(?i)lexmark`), TypePrinter, "", "Lexmark", nil, 0.55},
	{"Xerox OUI", rx(`(?i)xerox`), TypePrinter, "", "Xerox", nil, 0.55},
	{"Kyocera OUI", rx(`(?i)kyocera`), TypePrinter, "", "Kyocera", nil, 0.55},
	{"APC OUI", rx(`(?i)american power conversion|\bapc\b|schneider`), TypeUPS, "", "APC",
		nil, 0.55},
	{"IP phone OUI", rx(`(?i)yealink|polycom|grandstream|snom|avaya`), TypePhone, "", "",
		nil, 0.6},
	{"IoT module OUI", rx(`(?i)espressif|tuya|shelly|sonos|signify|philips lighting`),
		TypeIoT, "", "", nil, 0.5},
	{"camera OUI", rx(`(?i)hikvision|dahua|axis communications`), TypeIoT, "", "", nil, 0.5},
	{"Apple OUI", rx(`(?i)\bapple\b`), "", "", "Apple", nil, 0.5},
	{"Cisco OUI", rx(`(?i)\bcisco\b`), "", "", vendorCisco, nil, 0.5},
}

var nicMakers = rx(`(?i)\b(?:intel|realtek|broadcom|qualcomm|mediatek|marvell|atheros|` +
	`murata|azurewave|liteon|hon hai|foxconn)\b`)

// hostnameRules read naming conventions and vendors' default host names. They match the
// whole lowercased name.
var hostnameRules = []deviceRule{
	{"Windows default desktop name", rx(`^desktop-[0-9a-z]{7}(?:\.|$)`), TypeWorkstation,
		osWindows, "", nil, 0.6},
	{"Windows default laptop name", rx(`^laptop-[0-9a-z]{8}(?:\.|$)`), TypeWorkstation,
		osWindows, "", nil, 0.6},
	{"Windows Server default name", rx(`^win-[0-9a-z]{11}(?:\.|$)`), TypeServer, osWindows, "",
		nil, 0.55},
	{"iPhone/iPad name", rx(`(?:^|-)(?:iphone|ipad)(?:[-.]|$)`), TypePhone, "iOS", "Apple",
		nil, 0.6},
	{"Android phone name", rx(`(?:^|-)(?:android|galaxy|pixel)(?:[-.0-9]|$)`), TypePhone,
		"Android", "", nil, 0.5},
	{"Mac name", rx(`(?:^|-)(?:macbook|imac|mac-?mini|mbp)(?:[-.0-9]|$)`), TypeWorkstation,
		"macOS", "Apple", nil, 0.55},
	{"Raspberry Pi default name", rx(`^raspberrypi(?:\.|$)`), TypeIoT, "", "Raspberry Pi",
		nil, 0.5},
	{"HP printer default name", rx(`^npi[0-9a-f]{6}(?:\.|$)`), TypePrinter, "", "HP", nil,
		0.55},
	{"Brother printer default name", rx(`^brw[0-9a-f]{12}(?:\.|$)`), TypePrinter, "",
		"Brother", nil, 0.55},
	{"Cisco IP phone default name", rx(`^sep[0-9a-f]{12}(?:\.|$)`), TypePhone, "", vendorCisco,
		nil, 0.6},
	{"firewall naming", rx(`^(?:fw|fgt|firewall|pfsense|opnsense)(?:[-_.0-9]|$)|` +
		`-(?:fw|fgt)(?:[-.0-9]|$)`), TypeFirewall, "", "", nil, 0.4},
	{"switch naming", rx(`^(?:sw|switch|core-?sw)(?:[-_.0-9]|$)|-sw(?:[-.0-9]|$)`),
		TypeSwitch, "", "", nil, 0.4},
	{"router naming", rx(`^(?:rtr|router|gw)(?:[-_.0-9]|$)|-(?:rtr|gw)(?:[-.0-9]|$)`),
		TypeRouter, "", "", nil, 0.35},
	{"access point naming", rx(`^(?:ap|wap)(?:[-_.0-9]|$)|-ap(?:[-.0-9]|$)`),
		TypeAccessPoint, "", "", nil, 0.35},
	{"printer naming", rx(`^(?:prn|printer|print|mfp|copier)(?:[-_.0-9]|$)|` +
		`-(?:prn|mfp)(?:[-.0-9]|$)`), TypePrinter, "", "", nil, 0.45},
	{"NAS naming", rx(`^(?:nas|diskstation|rackstation)(?:[-_.0-9]|$)|-nas(?:[-.0-9]|$)`),
		TypeNAS, "", "", nil, 0.4},
	{"UPS naming", rx(`^ups(?:[-_.0-9]|$)|-ups(?:[-.0-9]|$)`), TypeUPS, "", "", nil, 0.45},
	{"hypervisor naming", rx(`^(?:esx|esxi|vmhost|hv|hyperv|pve|proxmox|xen)(?:[-_.0-9]|$)`),
		TypeHypervisor, "", "", nil, 0.45},
	{"BMC naming", rx(`(?:^|-)(?:idrac|ilo|ipmi|bmc|xcc)(?:[-_.0-9]|$)`), TypeBMC, "", "",
		nil, 0.5},
	{"server naming", rx(`^(?:dc|srv|svr|server|sql|db|web|app|mail|exch|file|fs)` +
		`(?:[-_.0-9]|$)`), TypeServer, "", "", nil, 0.35},
	{"workstation naming", rx(`^(?:pc|ws|wks|desktop|laptop|lt|nb)(?:[-_.0-9]|$)`),
		TypeWorkstation, "", "", nil, 0.35},
	{"camera naming", rx(`^(?:cam|camera|nvr|dvr|ipcam)(?:[-_.0-9]|$)`), TypeIoT, "", "",
		nil, 0.4},
	{"phone naming", rx(`^(?:phone|sip|voip)(?:[-_.0-9]|$)`), TypePhone, "", "", nil, 0.4},
}

// linuxFamily lists OS names that refine "Linux": a kernel version in sysDescr and an
// "Ubuntu" SSH banner describe the same box, and the distribution says more.
var linuxFamily = map[string]bool{osUbuntu: true, osDebian: true, "Raspbian": true,
	"Red Hat Enterprise Linux": true, "CentOS": true, "Fedora": true, "SUSE Linux": true,
	"Alpine Linux": true}

// softwareProfiles are SNMP profiles of agent software rather than of a device maker: their
// vendor is the agent's, and their type a default, so they count as inferred evidence.
var softwareProfiles = map[string]bool{"net-snmp-linux": true, "microsoft-windows": true}

// Bounds on untrusted input: evidence texts are cut before matching, and values taken from
// them are cut before they are stored.
const (
	maxEvidenceText = 2048
	maxValueRunes   = 64
	maxDetailRunes  = 160
	maxListItems    = 256
)

// Classify decides what a device is from the evidence. It is pure: the same evidence gives
// the same classification.
func Classify(e Evidence) Classification {
	var cs claimSet
	cs.fromAD(e.AD)
	cs.fromSNMP(e.SNMP)
	cs.fromServices(e.Services)
	cs.fromMACVendors(e.MACVendors)
	cs.fromHostnames(e.Hostnames)

	out := Classification{Type: TypeUnknown}
	osClaim, osOK := cs.decideOS()
	if osOK {
		out.OS = osClaim.value
		out.Evidence = append(out.Evidence, reason("os", osClaim))
		if v, ok := cs.decideVersion(osClaim); ok {
			out.OSVersion = v.version
			out.Evidence = append(out.Evidence, Reason{Field: "os_version", Value: v.version,
				Source: v.source, Detail: v.detail})
		}
		cs.inferType(out.OS, out.OSVersion, osClaim)
	}
	typeClaim, typeOK := cs.decide("type")
	if typeOK {
		out.Type = typeClaim.value
		out.Confidence = cs.confidence(typeClaim)
		out.Evidence = slices.Insert(out.Evidence, 0, reason("type", typeClaim))
	} else if osOK {
		out.Confidence = cs.confidence(osClaim)
	}
	if v, ok := cs.decide("vendor"); ok {
		out.Vendor = v.value
		out.Evidence = append(out.Evidence, reason("vendor", v))
	}
	return out
}

func reason(field string, c deviceClaim) Reason {
	return Reason{Field: field, Value: c.value, Source: c.source, Detail: c.detail}
}

// claimSet collects every claim the evidence makes.
type claimSet struct{ claims []deviceClaim }

func (cs *claimSet) add(c deviceClaim) {
	c.value = cleanValue(c.value)
	c.version = cleanValue(c.version)
	if c.value == "" || c.field == "type" && c.value == TypeUnknown {
		return
	}
	c.order = len(cs.claims)
	cs.claims = append(cs.claims, c)
}

// apply records what rule r says, having matched m.
func (cs *claimSet) apply(r deviceRule, m []string, tier evidenceTier, source, detail string) {
	if r.typ != "" {
		cs.add(deviceClaim{field: "type", value: r.typ, conf: r.conf, tier: tier,
			source: source, detail: detail})
	}
	if r.os != "" {
		var v string
		if r.version != nil {
			v = r.version(m)
		}
		cs.add(deviceClaim{field: "os", value: r.os, version: v, conf: r.conf, tier: tier,
			source: source, detail: detail})
	}
	if r.vendor != "" {
		cs.add(deviceClaim{field: "vendor", value: r.vendor, conf: r.conf, tier: tier,
			source: source, detail: detail})
	}
}

func (cs *claimSet) fromAD(ad *ADEvidence) {
	if ad == nil {
		return
	}
	const src = "active directory"
	osName := strings.TrimSpace(cut(ad.OS))
	detail := "operatingSystem " + quote(osName)
	if ad.OSVersion != "" {
		detail += ", operatingSystemVersion " + quote(ad.OSVersion)
	}
	switch rest, isWin := strings.CutPrefix(osName, "Windows "); {
	case isWin:
		v := strings.TrimSpace(rest + " " + cut(ad.OSVersion))
		cs.add(deviceClaim{field: "os", value: osWindows, version: v, conf: 0.95,
			tier: tierExplicit, source: src, detail: detail})
	case adMac.MatchString(osName):
		cs.add(deviceClaim{field: "os", value: "macOS", version: ad.OSVersion, conf: 0.95,
			tier: tierExplicit, source: src, detail: detail})
	case osName != "":
		cs.add(deviceClaim{field: "os", value: osName, version: ad.OSVersion, conf: 0.9,
			tier: tierExplicit, source: src, detail: detail})
	}
	switch {
	case ad.DomainController:
		cs.add(deviceClaim{field: "type", value: TypeServer, conf: 0.95, tier: tierExplicit,
			source: src, detail: "domain controller"})
	case strings.Contains(osName, "Server"):
		cs.add(deviceClaim{field: "type", value: TypeServer, conf: 0.9, tier: tierExplicit,
			source: src, detail: detail})
	case adClient.MatchString(osName) || adMac.MatchString(osName):
		cs.add(deviceClaim{field: "type", value: TypeWorkstation, conf: 0.9,
			tier: tierExplicit, source: src, detail: detail})
	}
}

var (
	adClient = rx(`^Windows (?:XP|Vista|7|8|8\.1|10|11)\b`)
	adMac    = rx(`(?i)^mac ?os`)
)

func (cs *claimSet) fromSNMP(s *SNMPEvidence) {
	if s == nil {
		return
	}
	if s.Profile != "" {
		src := "snmp profile " + cut(s.Profile)
		detail := "sysObjectID " + quote(s.SysObjectID)
		if s.Model != "" {
			detail += ", model " + quote(s.Model)
		}
		if softwareProfiles[s.Profile] {
			if slices.Contains(DeviceTypes, s.Type) {
				cs.add(deviceClaim{field: "type", value: s.Type, conf: 0.4, tier: tierInferred,
					source: src, detail: detail + " (agent profile default)"})
			}
		} else {
			if slices.Contains(DeviceTypes, s.Type) && s.Type != TypeUnknown {
				cs.add(deviceClaim{field: "type", value: s.Type, conf: 0.9,
					tier: tierExplicit, source: src, detail: detail})
			}
			// A profile's "TP-Link firmware" names no operating system.
			if s.OS != "" && !strings.HasSuffix(s.OS, " firmware") {
				cs.add(deviceClaim{field: "os", value: s.OS, version: s.Firmware, conf: 0.9,
					tier: tierExplicit, source: src, detail: detail})
			}
			if s.Vendor != "" {
				cs.add(deviceClaim{field: "vendor", value: s.Vendor, conf: 0.95,
					tier: tierExplicit, source: src, detail: detail})
			}
		}
	}
	if d := cut(s.SysDescr); d != "" {
		if r, m := matchSysDescr(d); m != nil {
			cs.apply(r, m, tierSysDescr, "snmp sysDescr", r.name+": "+quote(d))
		}
	}
}

// matchSysDescr returns the first sysDescr rule that matches, with its match.
func matchSysDescr(d string) (deviceRule, []string) {
	for _, r := range sysDescrRules {
		if m := r.re.FindStringSubmatch(d); m != nil {
			return r, m
		}
	}
	return deviceRule{}, nil
}

// serviceTexts returns a service's evidence by rule key.
func serviceTexts(s ServiceEvidence) map[string]string {
	ev := func(k string) string { return cut(s.Evidence[k]) }
	return map[string]string{
		"banner": ev("banner"), "server": ev("server"), "title": ev("title"),
		"location": ev("location"), "os_hint": strings.ToLower(ev("os_hint")),
		"cert":    strings.TrimSpace(ev("cert_subject") + " " + ev("cert_issuer")),
		"product": strings.TrimSpace(cut(s.Product) + " " + cut(s.Version)),
	}
}

func serviceSource(s ServiceEvidence) string {
	proto := strings.ToLower(cut(s.Protocol))
	if proto == "" {
		proto = "tcp"
	}
	src := proto + "/" + strconv.Itoa(s.Port)
	if s.Name != "" {
		src += " " + cut(s.Name)
	}
	return cleanText(src, maxValueRunes)
}

func (cs *claimSet) fromServices(services []ServiceEvidence) {
	services = services[:min(len(services), maxListItems)]
	open := map[int]ServiceEvidence{}
	for _, s := range services {
		if p := strings.ToLower(s.Protocol); p == "" || p == "tcp" {
			if _, seen := open[s.Port]; !seen {
				open[s.Port] = s
			}
		}
		texts := serviceTexts(s)
		for _, r := range serviceRules {
			t := texts[r.key]
			if t == "" {
				continue
			}
			if m := r.re.FindStringSubmatch(t); m != nil {
				cs.apply(r.deviceRule, m, tierService, serviceSource(s),
					r.name+": "+r.key+" "+quote(t))
			}
		}
	}
	for _, r := range portRules {
		if !portsMatch(open, r) {
			continue
		}
		first := open[r.all[0]]
		detail := r.name
		if d := first.Evidence["dialect"]; d != "" {
			detail += " (dialect " + d + ")"
		}
		cs.apply(r.deviceRule, nil, tierService, serviceSource(first), cleanText(detail,
			maxDetailRunes))
	}
}

func portsMatch(open map[int]ServiceEvidence, r portRule) bool {
	for _, p := range r.all {
		if _, ok := open[p]; !ok {
			return false
		}
	}
	if len(r.any) > 0 && !slices.ContainsFunc(r.any, func(p int) bool {
		_, ok := open[p]
		return ok
	}) {
		return false
	}
	if r.unless != nil {
		for _, s := range open {
			t := serviceTexts(s)
			if r.unless.MatchString(t["product"]) || r.unless.MatchString(t["banner"]) {
				return false
			}
		}
	}
	return true
}

func (cs *claimSet) fromMACVendors(vendors []string) {
	for _, v := range vendors[:min(len(vendors), maxListItems)] {
		v = strings.TrimSpace(cut(v))
		if v == "" {
			continue
		}
		detail := "OUI vendor " + quote(v)
		r := deviceRule{conf: 0.5}
		if i := slices.IndexFunc(macRules, func(r deviceRule) bool {
			return r.re.MatchString(v)
		}); i >= 0 {
			r = macRules[i]
		}
		// A row without a vendor name (phones, cameras, …) reports the OUI's own.
		if r.vendor == "" && !nicMakers.MatchString(v) {
			r.vendor = v
		}
		cs.apply(r, nil, tierMAC, "mac vendor", detail)
	}
}

func (cs *claimSet) fromHostnames(names []string) {
	for _, h := range names[:min(len(names), maxListItems)] {
		h = NormalizeHostname(cut(h))
		if h == "" {
			continue
		}
		for _, r := range hostnameRules {
			if m := r.re.FindStringSubmatch(h); m != nil {
				cs.apply(r, m, tierHostname, "hostname", r.name+": "+quote(h))
				break
			}
		}
	}
}

// inferType adds the type that follows from the decided OS alone, as the weakest evidence.
func (cs *claimSet) inferType(osName, version string, from deviceClaim) {
	typ, conf := "", 0.0
	switch {
	case osName == osWindows && strings.Contains(version, "/"):
		// a build shared by a client and a server release says neither
	case osName == osWindows && strings.Contains(version, "Server"):
		typ, conf = TypeServer, 0.6
	case osName == osWindows && winClient.MatchString(version):
		typ, conf = TypeWorkstation, 0.6
	case osName == "macOS":
		typ, conf = TypeWorkstation, 0.5
	case osName == "iOS" || osName == "Android":
		typ, conf = TypePhone, 0.5
	case osName == "Linux" || linuxFamily[osName] || osName == "FreeBSD" ||
		osName == "OpenBSD" || osName == "NetBSD":
		typ, conf = TypeServer, 0.3
	}
	if typ != "" {
		cs.add(deviceClaim{field: "type", value: typ, conf: conf, tier: tierInferred,
			source: from.source, detail: "inferred from the OS: " + strings.TrimSpace(
				osName+" "+version)})
	}
}

var winClient = rx(`^(?:XP|Vista|7|8|8\.1|10|11)\b`)

// better tells whether claim a outranks b: lower tier, then higher confidence, then earlier.
func better(a, b deviceClaim) bool {
	if a.tier != b.tier {
		return a.tier < b.tier
	}
	if a.conf != b.conf {
		return a.conf > b.conf
	}
	return a.order < b.order
}

func (cs *claimSet) decide(field string) (deviceClaim, bool) {
	var best deviceClaim
	found := false
	for _, c := range cs.claims {
		if c.field == field && (!found || better(c, best)) {
			best, found = c, true
		}
	}
	return best, found
}

// decideOS picks the OS, letting a distribution refine a bare "Linux".
func (cs *claimSet) decideOS() (deviceClaim, bool) {
	best, ok := cs.decide("os")
	if !ok || best.value != "Linux" {
		return best, ok
	}
	var refined deviceClaim
	found := false
	for _, c := range cs.claims {
		if c.field == "os" && linuxFamily[c.value] && (!found || better(c, refined)) {
			refined, found = c, true
		}
	}
	if found {
		return refined, true
	}
	return best, true
}

// decideVersion takes the version from the claim that decided the OS, or else from the best
// other claim of the same OS that has one.
func (cs *claimSet) decideVersion(osClaim deviceClaim) (deviceClaim, bool) {
	if osClaim.version != "" {
		return osClaim, true
	}
	var best deviceClaim
	found := false
	for _, c := range cs.claims {
		if c.field == "os" && c.value == osClaim.value && c.version != "" &&
			(!found || better(c, best)) {
			best, found = c, true
		}
	}
	return best, found
}

// confidence combines the deciding claim with every other source that agrees (as
// independent evidence: 1 − Π(1 − c)), capped below certainty and rounded to two places.
func (cs *claimSet) confidence(decided deviceClaim) float64 {
	miss := 1 - decided.conf
	seen := map[string]bool{decided.source: true}
	for _, c := range cs.claims {
		if c.field == decided.field && c.value == decided.value && !seen[c.source] {
			seen[c.source] = true
			miss *= 1 - c.conf
		}
	}
	return math.Round(math.Min(0.99, 1-miss)*100) / 100
}

// cut bounds an evidence text before it is matched.
func cut(s string) string {
	if len(s) > maxEvidenceText {
		s = s[:maxEvidenceText]
	}
	return s
}

// cleanValue makes a value taken from evidence fit for display and storage: valid UTF-8,
// no control characters, trimmed, at most maxValueRunes long.
func cleanValue(s string) string { return cleanText(s, maxValueRunes) }

func cleanText(s string, limit int) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsControl(r):
			return ' '
		case unicode.Is(unicode.Cf, r): // bidi overrides and other invisible formatting
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > limit {
		s = strings.TrimSpace(string([]rune(s)[:limit])) + "…"
	}
	return s
}

// quote shows an evidence text in a reason's detail, bounded and escaped.
func quote(s string) string {
	return fmt.Sprintf("%q", cleanText(s, maxDetailRunes))
}
