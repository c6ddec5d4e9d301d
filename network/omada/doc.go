// Package omada owns Tenantra's TP-Link Omada collector (ARCHITECTURE §7): it reads an Omada
// controller (software, hardware or cloud-based) through the Omada OpenAPI with an
// application's client credentials — its sites, the devices of each site (access points,
// switches, gateways: model, firmware, MAC, IP, status, serial) and the clients each site
// sees (MAC, IP, name, vendor) — into a typed Inventory whose device fields map onto the
// check fact model's scanner.OmadaDevice, without importing it.
//
// Access tokens come from the client-credentials grant and are refreshed once when the
// controller reports them expired or invalid. Like the FortiGate collector, it verifies
// the controller's certificate against a CA file or a SHA-256 pin, caps every response
// body, retries 429 answers a bounded number of times honouring a capped Retry-After, bounds
// paging, and keeps what it could read when one site's table fails: Collect returns the
// partial Inventory with an error wrapping ErrPartial. The client secret and access tokens
// are never logged, formatted or put into an error.
//
// The package imports nothing of Tenantra above it.
package omada
