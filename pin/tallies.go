package pin

import "time"

// Tallies keeps a Lockout's failure counts and locks outside the process,
// where all bridges sharing one database see them. Keys are a room's
// extension or a source's address in netip.Addr's form (IPv4 unmapped).
// Times are the store's clock, not the bridge's, so that nodes whose
// clocks disagree count one window and end one lock at the same moment.
type Tallies interface {
	// Locked reports whether source or room is locked; source "" is
	// none (an exempt source).
	Locked(source, room string) (bool, error)
	// Fail counts a failure against scope's key. When it is the
	// threshold'th within window, the key is locked for lock, its
	// failures are forgotten and locked is true with the count that
	// locked: for exactly one of any number of concurrent callers, so
	// the lock is logged once. A failure against a key already locked
	// is not counted.
	Fail(scope, key string, threshold int, window, lock time.Duration) (failures int, locked bool, err error)
	// Forget drops the failures of a source (not its lock) after a right PIN.
	Forget(source string) error
	// Locks lists the locks in force, in no particular order.
	Locks() ([]Lock, error)
	// Lift ends a lock in force now and forgets its failures; false when
	// there is none.
	Lift(scope, key string) (bool, error)
}
