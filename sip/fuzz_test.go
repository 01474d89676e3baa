package sip

// FuzzHandleMessage feeds arbitrary bytes through what a UDP datagram meets
// on its way in: the read filter (msglimit.go), sipgo's parser, sipgo's
// transaction-key check, and then the Server's guard and handlers, in
// process with a fake server transaction instead of sockets. The seed
// corpus (testdata/fuzz/FuzzHandleMessage) holds the RFC 4475 messages and
// ordinary INVITE, OPTIONS, BYE, INFO, UPDATE and CANCEL requests.

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"

	"github.com/emiago/sipgo"
	ssip "github.com/emiago/sipgo/sip"

	"brygga/config"
	"brygga/media"
)

// fakeTx is a server transaction that records the responses it is given.
// A 2xx to an INVITE fails as if the transport had failed: the call is
// then torn down at once, instead of waiting half a minute for an ACK.
type fakeTx struct {
	req *ssip.Request

	mu      sync.Mutex
	finals  []int
	done    chan struct{}
	endOnce sync.Once
	err     error
}

var errFakeTransport = errors.New("fake transport: not sent")

func newFakeTx(req *ssip.Request) *fakeTx { return &fakeTx{req: req, done: make(chan struct{})} }

func (tx *fakeTx) Respond(res *ssip.Response) error {
	if res.StatusCode < 200 {
		return nil
	}
	tx.mu.Lock()
	tx.finals = append(tx.finals, res.StatusCode)
	tx.mu.Unlock()
	if tx.req.IsInvite() && res.StatusCode < 300 {
		tx.end(errFakeTransport)
		return errFakeTransport
	}
	tx.end(nil)
	return nil
}

func (tx *fakeTx) end(err error) {
	tx.endOnce.Do(func() {
		tx.mu.Lock()
		tx.err = err
		tx.mu.Unlock()
		close(tx.done)
	})
}

func (tx *fakeTx) Terminate()                          { tx.end(ssip.ErrTransactionTerminated) }
func (tx *fakeTx) OnTerminate(ssip.FnTxTerminate) bool { return true }
func (tx *fakeTx) Done() <-chan struct{}               { return tx.done }
func (tx *fakeTx) Acks() <-chan *ssip.Request          { return nil }
func (tx *fakeTx) OnCancel(ssip.FnTxCancel) bool       { return true }
func (tx *fakeTx) Err() error                          { tx.mu.Lock(); defer tx.mu.Unlock(); return tx.err }
func (tx *fakeTx) responses() []int                    { tx.mu.Lock(); defer tx.mu.Unlock(); return tx.finals }

var _ ssip.ServerTransaction = (*fakeTx)(nil)

// fuzzDirectory knows one room, 4711.
type fuzzDirectory struct{}

func (fuzzDirectory) Room(ext string) (config.Room, bool) {
	if ext == "4711" {
		return config.Room{Extension: ext}, true
	}
	return config.Room{}, false
}

// panicLog counts the panics the guard caught: the guard keeps the server
// up, but a panic is a bug all the same.
type panicLog struct {
	mu     sync.Mutex
	panics []string
}

func (l *panicLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *panicLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *panicLog) WithGroup(string) slog.Handler            { return l }
func (l *panicLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "panic in SIP handler" {
		var p string
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "panic" {
				p = a.Value.String()
			}
			return true
		})
		l.mu.Lock()
		l.panics = append(l.panics, p)
		l.mu.Unlock()
	}
	return nil
}

func (l *panicLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.panics
	l.panics = nil
	return p
}

// handlerFor is the Server's handler for a method, as New registers it
// with sipgo (sipgo keeps its table private); keep the two in step.
func (s *Server) handlerFor(m ssip.RequestMethod) sipgo.RequestHandler {
	h := map[ssip.RequestMethod]sipgo.RequestHandler{
		ssip.INVITE:  s.onInvite,
		ssip.ACK:     s.onAck,
		ssip.BYE:     s.onBye,
		ssip.CANCEL:  s.onCancel,
		ssip.OPTIONS: s.onOptions,
		ssip.INFO:    s.onInfo,
		ssip.UPDATE:  s.onUpdate,
	}[m]
	if h == nil {
		h = s.notAllowed
	}
	return s.guard(h)
}

func FuzzHandleMessage(f *testing.F) {
	logs := &panicLog{}
	lo := 40000 + (os.Getpid()%500)*20
	ports := media.NewPortPool(net.IPv4(127, 0, 0, 1), lo, lo+19)
	s, err := New(Options{
		MediaIP:   netip.MustParseAddr("127.0.0.1"),
		Ports:     ports,
		Directory: fuzzDirectory{},
		MaxCalls:  10,
		Logger:    slog.New(logs),
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(s.Close)
	parser := ssip.NewParser()

	f.Fuzz(func(t *testing.T, data []byte) {
		// What sipgo's UDP transport does with a datagram.
		if out, err := udpReadFilter(ssip.TransportReadProps{Transport: "UDP"}, data); err != nil {
			t.Fatal("the read filter must never fail: sipgo would stop reading UDP")
		} else if len(out) > 0 {
			data = out
		}
		msg, err := parser.ParseSIP(data)
		if err != nil {
			return
		}
		req, ok := msg.(*ssip.Request)
		if !ok {
			return // a response without a transaction: sipgo drops it
		}
		// What the transaction layer insists on before any handler.
		if _, err := ssip.ServerTxKeyMake(req); err != nil {
			return
		}
		req.SetTransport("UDP")
		req.SetSource("127.0.0.1:5062")
		tx := newFakeTx(req)
		s.handlerFor(req.Method)(req, tx)

		if p := logs.take(); len(p) > 0 {
			t.Fatalf("a handler panicked on %s: %v", req.Method, p)
		}
		finals := tx.responses()
		switch {
		case req.IsAck() && len(finals) > 0:
			t.Errorf("an ACK was answered: %v", finals)
		case len(finals) > 1:
			t.Errorf("%s got %d final responses: %v", req.Method, len(finals), finals)
		}
		if n := s.Calls(); n != 0 {
			t.Errorf("%d calls left tracked", n)
		}
		s.mu.Lock()
		answering := s.answering
		s.mu.Unlock()
		if answering != 0 {
			t.Errorf("%d INVITEs left reserved", answering)
		}
		if n := ports.InUse(); n != 0 {
			t.Errorf("%d media ports left in use", n)
		}
	})
}
