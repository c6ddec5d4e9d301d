// Package lab owns the lab network used by discovery tests and demos (issue 4 part 8): a set
// of fake hosts, each on its own loopback address, each serving a chosen set of services that
// speak just enough of their protocol for network/fingerprint to identify them, plus
// optional real SNMP agents from network/lab/snmpagent. Every host comes with its ground
// truth (HostTruth), so a scan of the lab can be checked port by port and service by service.
//
// Rules the package keeps:
//   - it binds only addresses in 127.0.0.0/8 (all of it is loopback on Linux), by default
//     from 127.77.0.1 up, and looks nothing up outside the machine;
//   - a port that is not in a host's truth refuses: nothing of the lab listens there, and
//     Start fails if something else does (a wildcard listener would answer for every host);
//   - resources are bounded: connections per listener, bytes read per connection, and the
//     lifetime and output of each connection;
//   - Close stops every listener, connection, goroutine and agent the lab started.
//
// Two hosts exist to test bad input: a tarpit accepts connections and never answers, and a
// firehose streams junk at whoever connects.
package lab
