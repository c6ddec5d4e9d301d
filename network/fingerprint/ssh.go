package fingerprint

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
)

// SSHInfo is what an SSH server's identification string (RFC 4253 §4.2) tells.
type SSHInfo struct {
	Banner          string `json:"banner"`
	ProtoVersion    string `json:"proto_version"`
	SoftwareVersion string `json:"software_version"`
	Comments        string `json:"comments,omitempty"`
	Product         string `json:"product,omitempty"`
	Version         string `json:"version,omitempty"`
	OSHint          string `json:"os_hint,omitempty"`
}

// ParseSSH reads the identification line from the bytes an SSH server sent first. RFC 4253
// lets a server send other lines before it, so lines not starting with "SSH-" are skipped.
func ParseSSH(captured []byte) (SSHInfo, error) {
	for len(captured) > 0 {
		line := captured
		if i := bytes.IndexByte(captured, '\n'); i >= 0 {
			line, captured = captured[:i], captured[i+1:]
		} else {
			captured = nil
		}
		line = bytes.TrimRight(line, "\r")
		if bytes.HasPrefix(line, []byte("SSH-")) {
			return parseSSHIdent(clean(line))
		}
	}
	return SSHInfo{}, fmt.Errorf("%w: no SSH identification line", ErrMalformed)
}

func parseSSHIdent(line string) (SSHInfo, error) {
	info := SSHInfo{Banner: line}
	rest := strings.TrimPrefix(line, "SSH-")
	proto, rest, ok := strings.Cut(rest, "-")
	if !ok || proto == "" {
		return info, fmt.Errorf("%w: SSH identification without a version", ErrMalformed)
	}
	info.ProtoVersion = proto
	info.SoftwareVersion, info.Comments, _ = strings.Cut(rest, " ")
	info.Product, info.Version = splitSoftware(info.SoftwareVersion)
	info.OSHint = osHint(info.SoftwareVersion + " " + info.Comments)
	return info, nil
}

// splitSoftware splits "OpenSSH_9.2p1", "dropbear_2022.83", "OpenSSH_for_Windows_8.1" or
// "Cisco-1.25" at the last '_' or '-' that is followed by a digit.
func splitSoftware(sw string) (product, version string) {
	for i := len(sw) - 2; i > 0; i-- {
		if (sw[i] == '_' || sw[i] == '-') && sw[i+1] >= '0' && sw[i+1] <= '9' {
			return strings.ReplaceAll(sw[:i], "_", " "), sw[i+1:]
		}
	}
	return sw, ""
}

// GrabSSH reads the server's identification line; SSH servers speak first, so nothing is
// sent.
func GrabSSH(ctx context.Context, conn net.Conn, lim Limits) (SSHInfo, error) {
	s := begin(ctx, conn, lim)
	defer s.end()
	for {
		line, err := s.read(lineFrame)
		if err != nil {
			return SSHInfo{}, fmt.Errorf("ssh: %w", err)
		}
		if bytes.HasPrefix(line, []byte("SSH-")) {
			info, err := ParseSSH(line)
			return named("ssh", info, err)
		}
	}
}

// Service converts the result for the asset record.
func (i SSHInfo) Service(port int) Service {
	s := newService(port, "ssh")
	s.Product, s.Version = i.Product, i.Version
	setEvidence(&s, "banner", i.Banner)
	setEvidence(&s, "os_hint", i.OSHint)
	if i.ProtoVersion == "1.99" || strings.HasPrefix(i.ProtoVersion, "1.") {
		addFinding(&s, FindingSSHProtocol1)
	}
	return s
}
