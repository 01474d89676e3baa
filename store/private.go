package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Modes of what brygga keeps in its data folder. The database holds PIN
// hashes (a hash of a few digits is as good as the PIN to whoever can
// read it), organizers' addresses and the recordings' whereabouts, and
// recordings are meetings: nothing there is for other local users.
const (
	DirMode  fs.FileMode = 0o700
	FileMode fs.FileMode = 0o600
)

// Tightened is a file or folder whose permissions were narrowed because
// they granted group or others access.
type Tightened struct {
	Path     string
	Was, Now fs.FileMode
}

// LogAttrs are t as attributes of the log line that reports it.
func (t Tightened) LogAttrs() []any {
	return []any{"path", t.Path, "was", fmt.Sprintf("%04o", uint32(t.Was)), "now", fmt.Sprintf("%04o", uint32(t.Now))}
}

// PrivateDir makes dir (with its missing parents) with DirMode, or narrows
// an existing dir to DirMode when group or others have any access to it.
// It returns the narrowing, if there was one, for the caller to log.
func PrivateDir(dir string) (*Tightened, error) {
	if err := os.MkdirAll(dir, DirMode); err != nil {
		return nil, err
	}
	return narrow(dir, DirMode)
}

// PrivateFile narrows an existing file to FileMode as PrivateDir does a
// folder; a file that is not there is no error.
func PrivateFile(path string) (*Tightened, error) {
	t, err := narrow(path, FileMode)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return t, err
}

// narrow clears group and other bits of path, leaving the owner's alone
// (an owner who made the file read-only meant it). It follows a symbolic
// link, as Open does: the mode that matters is the target's.
func narrow(path string, mode fs.FileMode) (*Tightened, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	was := st.Mode().Perm()
	if was&0o077 == 0 {
		return nil, nil
	}
	now := was & mode
	if err := os.Chmod(path, now); err != nil {
		return nil, fmt.Errorf("narrowing the permissions of %s (mode %04o): %w", path, was, err)
	}
	return &Tightened{Path: path, Was: was, Now: now}, nil
}
