//go:build unix

package probe

import (
	"errors"
	"syscall"
)

// classifyErrno sorts a dial or read error by its errno. Kept per platform because Windows
// reports the same conditions as WSAE* codes.
func classifyErrno(err error) errClass {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return errRefused
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE),
		errors.Is(err, syscall.EADDRNOTAVAIL), errors.Is(err, syscall.ENOBUFS),
		errors.Is(err, syscall.ENOMEM), errors.Is(err, syscall.EAGAIN):
		return errBackPressure
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH),
		errors.Is(err, syscall.EHOSTDOWN):
		return errUnreachable
	}
	return errOther
}
