package store

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
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

// Tightened is a file or folder whose permissions granted group or others
// access: narrowed, or, when Err is set, left as they were because they
// could not be changed (a file of another user). Start-up goes on either
// way: refusing to start over a mode would take the bridge down for what
// a warning lets the operator fix.
type Tightened struct {
	Path     string
	Was, Now fs.FileMode
	Err      error
}

// Log writes t as a warning.
func (t Tightened) Log(log *slog.Logger) {
	attrs := []any{"path", t.Path, "was", fmt.Sprintf("%04o", uint32(t.Was)), "now", fmt.Sprintf("%04o", uint32(t.Now))}
	if t.Err != nil {
		log.Warn("data: permissions too open and could not be narrowed", append(attrs, "err", t.Err)...)
		return
	}
	log.Warn("data: permissions narrowed", attrs...)
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
		return &Tightened{Path: path, Was: was, Now: was, Err: err}, nil
	}
	return &Tightened{Path: path, Was: was, Now: now}, nil
}
