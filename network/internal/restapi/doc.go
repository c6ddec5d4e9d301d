// Package restapi owns the protocol-neutral half of Tenantra's HTTPS JSON collectors
// (network/fortigate, network/omada): the device-facing HTTP client and what every REST
// appliance needs from it, so that each collector keeps only its API's envelope, auth and
// tables.
//
// It owns trust (TLS 1.2+, a CA file or PEM and/or a SHA-256 leaf pin, no proxy, no
// redirects), the request loop (a timeout per attempt including the body, bounded 429
// retries honouring a capped Retry-After), the screening of a response (redirect, announced
// size, JSON content type), body caps, the classification of transport and body errors, the
// scrubbing of secrets a device echoes back into an error, and the error joining a partial
// collection. It has no sentinel errors of its own: a collector passes its sentinels in, so
// every error made here wraps the collector's, and callers' errors.Is keeps working.
//
// The package imports nothing of Tenantra.
package restapi
