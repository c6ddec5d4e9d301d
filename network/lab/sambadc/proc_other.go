//go:build !linux

package sambadc

import (
	"os"
	"syscall"
)

// procAttr: the lab DC (Debian's samba) runs on Linux only; elsewhere the defaults keep the
// package compiling.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }

// signalGroup ends the process itself where process groups are not available.
func signalGroup(pid int, _ syscall.Signal) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}
