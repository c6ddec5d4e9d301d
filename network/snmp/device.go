package snmp

import "time"

// Device is what one SNMP agent told us about itself, after vendor identification.
type Device struct {
	Target      string            `json:"target"`
	Credential  string            `json:"credential"` // name of the credential set that answered
	Version     string            `json:"version"`    // "v1", "v2c" or "v3"
	SysName     string            `json:"sys_name"`
	SysDescr    string            `json:"sys_descr"`
	SysObjectID string            `json:"sys_object_id"`
	SysContact  string            `json:"sys_contact,omitempty"`
	SysLocation string            `json:"sys_location,omitempty"`
	SysUpTime   time.Duration     `json:"sys_uptime"`
	Profile     string            `json:"profile,omitempty"` // vendor profile that matched
	Vendor      string            `json:"vendor,omitempty"`
	Type        string            `json:"type,omitempty"`
	Model       string            `json:"model,omitempty"`
	Serial      string            `json:"serial,omitempty"`
	Firmware    string            `json:"firmware,omitempty"`
	OS          string            `json:"os,omitempty"`
	HAMode      string            `json:"ha_mode,omitempty"`
	Chassis     Entity            `json:"chassis"`
	Interfaces  []Interface       `json:"interfaces,omitempty"`
	Neighbours  []Neighbour       `json:"neighbours,omitempty"` // ARP: IP and MAC pairs
	LLDP        []LLDPNeighbour   `json:"lldp,omitempty"`
	Software    []string          `json:"software,omitempty"`
	Storage     []Storage         `json:"storage,omitempty"`
	Evidence    map[string]string `json:"evidence"` // field → where its value came from
	// Partial lists the tables that failed or were truncated; the rest of Device is valid.
	Partial []string `json:"partial,omitempty"`
}

// Interface is one row of ifTable joined with ifXTable.
type Interface struct {
	Index       int    `json:"index"`
	Name        string `json:"name"` // ifName, else ifDescr
	Descr       string `json:"descr"`
	Alias       string `json:"alias,omitempty"`
	Type        int    `json:"type"` // IANAifType
	MAC         string `json:"mac,omitempty"`
	MACVendor   string `json:"mac_vendor,omitempty"`
	SpeedBps    uint64 `json:"speed_bps"` // ifHighSpeed × 10⁶ when set, else ifSpeed
	AdminStatus string `json:"admin_status"`
	OperStatus  string `json:"oper_status"`
}

// Neighbour is one ARP (IP to MAC) entry the agent holds: a discovered address.
type Neighbour struct {
	IfIndex   int    `json:"if_index"`
	IP        string `json:"ip"`
	MAC       string `json:"mac"`
	MACVendor string `json:"mac_vendor,omitempty"`
}

// LLDPNeighbour is one row of the LLDP-MIB remote systems table.
type LLDPNeighbour struct {
	LocalPort   int    `json:"local_port"`
	ChassisID   string `json:"chassis_id"` // MAC form when the subtype is macAddress
	PortID      string `json:"port_id"`
	PortDescr   string `json:"port_descr,omitempty"`
	SysName     string `json:"sys_name,omitempty"`
	SysDescr    string `json:"sys_descr,omitempty"`
	ChassisKind string `json:"chassis_kind,omitempty"` // LldpChassisIdSubtype name
}

// Entity is the chassis row of ENTITY-MIB entPhysicalTable.
type Entity struct {
	Index       int    `json:"index,omitempty"`
	Descr       string `json:"descr,omitempty"`
	Model       string `json:"model,omitempty"`
	Serial      string `json:"serial,omitempty"`
	Mfg         string `json:"mfg,omitempty"`
	HardwareRev string `json:"hardware_rev,omitempty"`
	FirmwareRev string `json:"firmware_rev,omitempty"`
	SoftwareRev string `json:"software_rev,omitempty"`
}

// Storage is one row of HOST-RESOURCES-MIB hrStorageTable, in bytes.
type Storage struct {
	Descr string `json:"descr"`
	Type  string `json:"type"` // hrStorageType leaf name, e.g. "fixedDisk"
	Size  uint64 `json:"size"`
	Used  uint64 `json:"used"`
}
