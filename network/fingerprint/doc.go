// Package fingerprint owns service identification on open ports (ARCHITECTURE §7, the stage
// after port probes): it tells which product and version answers on a port and which risky
// settings it shows, such as SMBv1, TLS 1.0 or a database that needs no login.
//
// Each protocol comes in two halves. ParseX is a pure function over the bytes a server sent;
// it is where all the untrusted input is handled, so it is fuzzed and checked against golden
// files. GrabX is a small active client that writes the protocol's opening request on a
// connection the caller dialled, reads the answer under Limits (bytes and time), and hands
// the captured bytes to ParseX. Grabbers never log in: they learn only what a server tells an
// anonymous client, which is also how unauthenticated access is detected.
//
// A grabber that needs several connections (TLS versions, SMBv1 next to SMB2, RDP with and
// without NLA) takes a Dialer instead of a net.Conn. Every XInfo converts to the common
// Service record with its Service method.
package fingerprint
