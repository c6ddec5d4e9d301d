package snmpagent

import "syscall"

// agentProcAttr puts the agent in its own process group and has the kernel stop it when the
// test process dies, so no agent outlives its test.
func agentProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
