package appliance

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gofrs/flock"

	"github.com/tenantra/tenantra/store"
	"github.com/tenantra/tenantra/store/keys"
)

// dirLock is the data dir's exclusive lock. The lock file itself carries no data (on Windows a
// locked range cannot be read); who holds it is written beside it, so that the process that
// finds the dir busy can name the holder.
type dirLock struct {
	fl        *flock.Flock
	ownerPath string
	owner     lockOwner
}

type lockOwner struct {
	PID     int       `json:"pid"`
	Role    string    `json:"role"`
	Listen  string    `json:"listen,omitempty"`
	Started time.Time `json:"started"`
}

func lockDir(dir, role string) (*dirLock, error) {
	fl := flock.New(filepath.Join(dir, "tenantra.lock"))
	l := &dirLock{fl: fl, ownerPath: filepath.Join(dir, "tenantra.owner"),
		owner: lockOwner{PID: os.Getpid(), Role: role, Started: time.Now().UTC()}}
	// An admin command waits a little for another one to finish; a server never waits.
	deadline := time.Now().Add(5 * time.Second)
	for {
		ok, err := fl.TryLock()
		if err != nil {
			return nil, fmt.Errorf("lock data dir %s: %w; check that it is writable", dir,
				unwrapPath(err))
		}
		if ok {
			break
		}
		holder := readOwner(l.ownerPath)
		if role == "serve" || holder.Role == "serve" || time.Now().After(deadline) {
			return nil, busyError(dir, holder)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := l.write(); err != nil {
		_ = fl.Unlock()
		return nil, err
	}
	return l, nil
}

func busyError(dir string, o lockOwner) error {
	switch {
	case o.PID == 0:
		return store.Errorf(store.ErrLocked, "data dir %s is in use by another tenantra "+
			"process; stop it first or use another --data-dir", dir)
	case o.Role == "serve":
		return store.Errorf(store.ErrLocked, "data dir %s is in use by tenantra serve "+
			"(pid %d, listening on %s); stop it first or use another --data-dir",
			dir, o.PID, o.Listen)
	default:
		return store.Errorf(store.ErrLocked, "data dir %s is in use by tenantra %s (pid %d); "+
			"retry when it has finished", dir, o.Role, o.PID)
	}
}

func readOwner(path string) lockOwner {
	var o lockOwner
	if data, err := os.ReadFile(path); err == nil {
		_ = json.Unmarshal(data, &o)
	}
	return o
}

func (l *dirLock) write() error {
	data, _ := json.Marshal(l.owner)
	if err := keys.WriteFileAtomic(l.ownerPath, data, 0o600); err != nil {
		return fmt.Errorf("record lock owner: %w", err)
	}
	return nil
}

// setListen records the server's address, so that a second server can say where it runs.
func (l *dirLock) setListen(addr string) error {
	l.owner.Listen = addr
	return l.write()
}

func (l *dirLock) release() error {
	_ = os.Remove(l.ownerPath)
	return l.fl.Unlock()
}
