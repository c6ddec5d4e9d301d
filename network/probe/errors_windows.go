//go:build windows

package probe

import (
	"errors"

	"golang.org/x/sys/windows"
)

// classifyErrno sorts a dial or read error by its WSAE* code.
func classifyErrno(err error) errClass {
	switch {
	case errors.Is(err, windows.WSAECONNREFUSED), errors.Is(err, windows.WSAECONNRESET):
		// A connected UDP socket sees the ICMP port unreachable as WSAECONNRESET.
		return errRefused
	case errors.Is(err, windows.WSAEMFILE), errors.Is(err, windows.WSAEADDRNOTAVAIL),
		errors.Is(err, windows.WSAENOBUFS):
		return errBackPressure
	case errors.Is(err, windows.WSAEHOSTUNREACH), errors.Is(err, windows.WSAENETUNREACH):
		return errUnreachable
	}
	return errOther
}
