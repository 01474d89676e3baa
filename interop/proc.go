package interop

import (
	"fmt"
	"os/exec"
	"testing"
	"time"
)

// Proc is a process a test started (the bridge, a peer): Exited is closed
// once it has exited, and Err is then what Wait returned.
type Proc struct {
	Cmd    *exec.Cmd
	Exited chan struct{}
	Err    error
}

// StartProc starts cmd, called name in failures, and watches for its exit.
func StartProc(t *testing.T, name string, cmd *exec.Cmd) *Proc {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &Proc{Cmd: cmd, Exited: make(chan struct{})}
	go func() {
		p.Err = cmd.Wait()
		close(p.Exited)
	}()
	return p
}

// WaitOptions waits until the process answers OPTIONS at addr with 200 and
// ready (when not nil) has nothing against it. It fails when the process
// exits first or after limit.
func (p *Proc) WaitOptions(t *testing.T, name, addr string, limit time.Duration, ready func() error) {
	t.Helper()
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-p.Exited:
			t.Fatalf("%s exited before answering OPTIONS: %v", name, p.Err)
		default:
		}
		code, err := SIPOptions(addr, 300*time.Millisecond)
		if err == nil && code == 200 {
			if ready == nil {
				return
			}
			if err = ready(); err == nil {
				return
			}
		}
		if err == nil {
			err = fmt.Errorf("OPTIONS answered %d", code)
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s did not answer OPTIONS with 200 within %v: %v", name, limit, last)
}
