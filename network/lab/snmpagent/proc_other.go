//go:build !linux

package snmpagent

import "syscall"

// agentProcAttr: the lab agents (Debian's snmpd and snmpsim) run on Linux only; elsewhere
// the default attributes keep the package compiling.
func agentProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
