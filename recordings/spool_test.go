package recordings

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// spoolWAV writes a canonical 44-byte-header WAV of n samples at rate Hz
// and returns its path and bytes. The samples depend on seed, so that
// messages can be told apart by their audio.
func spoolWAV(t *testing.T, dir string, rate uint32, n int, seed int) (string, []byte) {
	t.Helper()
	data := make([]byte, 2*n)
	for i := range n {
		binary.LittleEndian.PutUint16(data[2*i:], uint16(seed*7919+i*31))
	}
	b := append(headerAt(rate, uint32(len(data))), data...)
	p := filepath.Join(dir, fmt.Sprintf("rec-%d.wav", seed))
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p, b
}

var (
	spoolStarted = time.Date(2026, 11, 22, 3, 58, 5, 0, time.UTC)
	spoolNow     = time.Date(2026, 11, 22, 5, 1, 2, 0, time.UTC)
)

// spoolSetup is a voicemail spool root, the mailbox target below it, and
// a message for that target with a 2.5 s recording.
func spoolSetup(t *testing.T) (mailbox string, m Message, wav []byte) {
	t.Helper()
	root := filepath.Join(t.TempDir(), "voicemail")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	mailbox = filepath.Join(root, "default", "4711")
	p, wav := spoolWAV(t, t.TempDir(), 8000, 20000, 1)
	m = Message{
		ID: "rec1", Room: "2001", Owner: "Kari Nordmann", Target: "spool:" + mailbox, Language: "nb",
		Started: spoolStarted, Ended: spoolStarted.Add(time.Hour),
		Length: 2500 * time.Millisecond, Path: p, Size: int64(len(wav)),
	}
	return mailbox, m, wav
}

func spoolTest() Spool {
	return Spool{Now: func() time.Time { return spoolNow }, Hostname: "bridge1"}
}

// inboxNames lists the INBOX, sorted, hidden files too.
func inboxNames(t *testing.T, mailbox string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(mailbox, "INBOX"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func TestSpoolFirstMessage(t *testing.T) {
	mailbox, m, wav := spoolSetup(t)
	if err := spoolTest().Deliver(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if got, want := inboxNames(t, mailbox), []string{"msg0000.txt", "msg0000.wav"}; !slices.Equal(got, want) {
		t.Fatalf("INBOX holds %q, want %q (no temporary files, no lock)", got, want)
	}
	got, err := os.ReadFile(filepath.Join(mailbox, "INBOX", "msg0000.wav"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, wav) {
		t.Error("msg0000.wav differs from the recording")
	}
	for _, d := range []string{filepath.Dir(mailbox), mailbox, filepath.Join(mailbox, "INBOX")} {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o770 {
			t.Errorf("%s has mode %v, want 0770", d, fi.Mode().Perm())
		}
	}
	for _, f := range []string{"msg0000.wav", "msg0000.txt"} {
		fi, err := os.Stat(filepath.Join(mailbox, "INBOX", f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o660 {
			t.Errorf("%s has mode %v, want 0660", f, fi.Mode().Perm())
		}
	}
}

func TestSpoolMessageInfo(t *testing.T) {
	mailbox, m, _ := spoolSetup(t)
	if err := spoolTest().Deliver(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(mailbox, "INBOX", "msg0000.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if got, want := strings.Join(lines[:4], "\n"), ";\n; Message Information file\n;\n[message]"; got != want {
		t.Fatalf("header is %q, want %q", got, want)
	}
	want := [][2]string{
		{"origmailbox", "4711"},
		{"context", "default"},
		{"macrocontext", ""},
		{"exten", "2001"},
		{"rdnis", "Unknown"},
		{"priority", "1"},
		{"callerchan", "brygga/bridge1-rec1"},
		{"callerid", `"brygga" <2001>`},
		{"origdate", "Sun Nov 22 03:58:05 AM UTC 2026"},
		{"origtime", strconv.FormatInt(spoolStarted.Unix(), 10)},
		{"category", ""},
		{"msg_id", ""}, // checked below
		{"flag", ""},
		{"duration", "2"}, // 2.5 s, whole seconds as Asterisk counts them
	}
	fields := lines[4:]
	if len(fields) != len(want) {
		t.Fatalf("%d fields, want %d:\n%s", len(fields), len(want), b)
	}
	for i, line := range fields {
		k, v, ok := strings.Cut(line, "=")
		if !ok || k != want[i][0] {
			t.Fatalf("field %d is %q, want %s=", i, line, want[i][0])
		}
		if k == "msg_id" {
			if !regexp.MustCompile(`^[0-9]+-[0-9a-f]{8}$`).MatchString(v) {
				t.Errorf("msg_id %q is not generate_msg_id's %%ld-%%08x", v)
			}
			if sec, _, _ := strings.Cut(v, "-"); sec != strconv.FormatInt(spoolNow.Unix(), 10) {
				t.Errorf("msg_id %q does not start with the time of delivery %d", v, spoolNow.Unix())
			}
			continue
		}
		if v != want[i][1] {
			t.Errorf("%s=%q, want %q", k, v, want[i][1])
		}
	}
}

func TestSpoolMsgIDsDiffer(t *testing.T) {
	mailbox, m, _ := spoolSetup(t)
	s := spoolTest()
	for range 2 {
		if err := s.Deliver(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	ids := map[string]bool{}
	for _, f := range []string{"msg0000.txt", "msg0001.txt"} {
		b, err := os.ReadFile(filepath.Join(mailbox, "INBOX", f))
		if err != nil {
			t.Fatal(err)
		}
		id := regexp.MustCompile(`(?m)^msg_id=(.*)$`).FindStringSubmatch(string(b))
		if id == nil {
			t.Fatalf("%s has no msg_id", f)
		}
		ids[id[1]] = true
	}
	if len(ids) != 2 {
		t.Errorf("two messages in the same second share msg_id %v", ids)
	}
}

func TestSpoolDate(t *testing.T) {
	for _, c := range []struct {
		t    time.Time
		want string
	}{
		{spoolStarted, "Sun Nov 22 03:58:05 AM UTC 2026"},
		// %e pads the day with a space; %r is 12-hour with AM/PM.
		{time.Date(2026, 3, 2, 15, 4, 5, 0, time.UTC), "Mon Mar  2 03:04:05 PM UTC 2026"},
		{time.Date(2026, 1, 1, 0, 30, 0, 0, time.UTC), "Thu Jan  1 12:30:00 AM UTC 2026"},
		// Always UTC, whatever the zone of the time given.
		{time.Date(2026, 6, 30, 23, 0, 0, 0, time.FixedZone("CEST", 2*3600)), "Tue Jun 30 09:00:00 PM UTC 2026"},
	} {
		if got := spoolDate(c.t); got != c.want {
			t.Errorf("spoolDate(%v) = %q, want %q", c.t, got, c.want)
		}
	}
}

func TestSpoolNumbering(t *testing.T) {
	for _, c := range []struct {
		name     string
		existing []string
		want     string
	}{
		{"empty", nil, "msg0000"},
		{"after the last", []string{"msg0000.txt", "msg0000.wav", "msg0001.txt", "msg0001.wav", "msg0002.txt", "msg0002.wav"}, "msg0003"},
		// last_message_index returns the highest number; gaps stay.
		{"gap is not filled", []string{"msg0000.txt", "msg0000.wav", "msg0002.txt", "msg0002.wav"}, "msg0003"},
		{"gap at the start", []string{"msg0005.txt", "msg0005.wav"}, "msg0006"},
		// Only .txt files make messages.
		{"audio alone is no message", []string{"msg0000.txt", "msg0007.wav", "msg0008.WAV", "msg0009.gsm"}, "msg0001"},
		{"other files", []string{"greet.wav", ".lock-0badcafe", "msgtmp", "msg.txt", "notmsg0004.txt"}, "msg0000"},
		// sscanf's "msg%30d.%3s" reads these too.
		{"sscanf's reading", []string{"msg12.txt", "msg0013.txt.bak"}, "msg0014"},
		{"beyond MAXMSGLIMIT ignored", []string{"msg0003.txt", "msg10000.txt"}, "msg0004"},
	} {
		t.Run(c.name, func(t *testing.T) {
			mailbox, m, _ := spoolSetup(t)
			inbox := filepath.Join(mailbox, "INBOX")
			if err := os.MkdirAll(inbox, 0o770); err != nil {
				t.Fatal(err)
			}
			for _, f := range c.existing {
				if err := os.WriteFile(filepath.Join(inbox, f), []byte("old"), 0o660); err != nil {
					t.Fatal(err)
				}
			}
			if err := spoolTest().Deliver(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			for _, ext := range []string{".txt", ".wav"} {
				b, err := os.ReadFile(filepath.Join(inbox, c.want+ext))
				if err != nil {
					t.Fatalf("no %s: INBOX holds %q", c.want+ext, inboxNames(t, mailbox))
				}
				if string(b) == "old" {
					t.Errorf("%s was not written", c.want+ext)
				}
			}
			if got, want := len(inboxNames(t, mailbox)), len(c.existing)+2; got != want {
				t.Errorf("INBOX holds %q: want only the old files and the new message", inboxNames(t, mailbox))
			}
		})
	}
}

func TestSpoolFull(t *testing.T) {
	mailbox, m, _ := spoolSetup(t)
	inbox := filepath.Join(mailbox, "INBOX")
	if err := os.MkdirAll(inbox, 0o770); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(inbox, "msg9998.txt"), nil, 0o660); err != nil {
		t.Fatal(err)
	}
	err := spoolTest().Deliver(context.Background(), m)
	if err == nil {
		t.Fatal("delivered past msg9998")
	}
	if IsPermanent(err) {
		t.Errorf("a full mailbox is permanent (%v): the owner may yet empty it", err)
	}
	if got := inboxNames(t, mailbox); !slices.Equal(got, []string{"msg9998.txt"}) {
		t.Errorf("INBOX holds %q after the failure", got)
	}
}

func TestSpoolWaitsForLock(t *testing.T) {
	mailbox, m, _ := spoolSetup(t)
	inbox := filepath.Join(mailbox, "INBOX")
	if err := os.MkdirAll(inbox, 0o770); err != nil {
		t.Fatal(err)
	}
	lock := filepath.Join(inbox, ".lock")
	if err := os.WriteFile(lock, nil, 0o660); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := spoolTest().Deliver(ctx, m)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Deliver with the folder locked = %v, want the context's deadline", err)
	}
	if IsPermanent(err) {
		t.Error("a held lock is permanent")
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("gave up after %v, before the deadline", d)
	}
	if got := inboxNames(t, mailbox); !slices.Equal(got, []string{".lock"}) {
		t.Errorf("INBOX holds %q: want the other's lock alone, nothing written", got)
	}

	// Let go of it while Deliver waits: Deliver goes on.
	go func() {
		time.Sleep(150 * time.Millisecond)
		os.Remove(lock)
	}()
	start = time.Now()
	if err := spoolTest().Deliver(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("delivered after %v, while the folder was locked", d)
	}
	if got, want := inboxNames(t, mailbox), []string{"msg0000.txt", "msg0000.wav"}; !slices.Equal(got, want) {
		t.Errorf("INBOX holds %q, want %q", got, want)
	}
}

// ast_lock_path never breaks a lock, however old: neither does Spool.
func TestSpoolStaleLockIsNotBroken(t *testing.T) {
	mailbox, m, _ := spoolSetup(t)
	inbox := filepath.Join(mailbox, "INBOX")
	if err := os.MkdirAll(inbox, 0o770); err != nil {
		t.Fatal(err)
	}
	lock := filepath.Join(inbox, ".lock")
	if err := os.WriteFile(lock, []byte("asterisk"), 0o660); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(lock, old, old); err != nil {
		t.Fatal(err)
	}

	s := spoolTest()
	s.lockWait = 200 * time.Millisecond
	start := time.Now()
	err := s.Deliver(context.Background(), m)
	if err == nil {
		t.Fatal("delivered through a lock")
	}
	if IsPermanent(err) {
		t.Errorf("a stale lock is permanent (%v): removing it mends it", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("waited %v for the lock, not lockWait as Asterisk does", d)
	}
	if !strings.Contains(err.Error(), "locked 48h0m0s ago") {
		t.Errorf("error %q does not say how long the folder has been locked", err)
	}
	if b, err := os.ReadFile(lock); err != nil || string(b) != "asterisk" {
		t.Errorf("the stale lock was touched: %q, %v", b, err)
	}
	if got := inboxNames(t, mailbox); !slices.Equal(got, []string{".lock"}) {
		t.Errorf("INBOX holds %q: want the lock alone", got)
	}
}

// Concurrent deliveries, in this process or another, number through the
// folder's lock: each gets a number of its own, its audio beside its .txt.
func TestSpoolConcurrent(t *testing.T) {
	mailbox, m, _ := spoolSetup(t)
	const n = 8
	src := t.TempDir()
	wavs := map[string][]byte{} // by room
	msgs := make([]Message, n)
	for i := range n {
		p, b := spoolWAV(t, src, 8000, 4000+i, i+10)
		msgs[i] = m
		msgs[i].Room = strconv.Itoa(3000 + i)
		msgs[i].Path = p
		wavs[msgs[i].Room] = b
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = spoolTest().Deliver(context.Background(), msgs[i]) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("delivery %d: %v", i, err)
		}
	}
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("msg%04d.txt", i), fmt.Sprintf("msg%04d.wav", i))
	}
	if got := inboxNames(t, mailbox); !slices.Equal(got, want) {
		t.Fatalf("INBOX holds %q, want %q", got, want)
	}
	seen := map[string]bool{}
	for i := range n {
		base := filepath.Join(mailbox, "INBOX", fmt.Sprintf("msg%04d", i))
		txt, err := os.ReadFile(base + ".txt")
		if err != nil {
			t.Fatal(err)
		}
		room := regexp.MustCompile(`(?m)^exten=(.*)$`).FindStringSubmatch(string(txt))[1]
		if seen[room] {
			t.Errorf("room %s's recording was delivered twice", room)
		}
		seen[room] = true
		wav, err := os.ReadFile(base + ".wav")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(wav, wavs[room]) {
			t.Errorf("msg%04d.wav is not the recording of room %s its .txt names", i, room)
		}
	}
}

func TestSpoolBadTarget(t *testing.T) {
	root := t.TempDir()
	_, m, _ := spoolSetup(t)
	for _, target := range []string{
		"spool:",
		"spool:var/spool/asterisk/voicemail/default/4711",
		"spool:/var/spool/asterisk/voicemail/default/../4711",
		"spool:/var/spool/asterisk/voicemail/default/4711/",
		"spool://host/voicemail/default/4711",
		"spool:/4711",
		"sip:4711@vm.example.org",
		"/var/spool/asterisk/voicemail/default/4711",
		"spool:" + filepath.Join(root, "no-spool-here", "default", "4711"),
	} {
		m.Target = target
		err := spoolTest().Deliver(context.Background(), m)
		if !IsPermanent(err) {
			t.Errorf("target %q: %v, want a permanent error", target, err)
		}
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("a bad target created %v", entries)
	}
}

func TestSpoolBadRecording(t *testing.T) {
	mailbox, m, _ := spoolSetup(t)
	wide, _ := spoolWAV(t, t.TempDir(), 16000, 100, 2)
	notWAV := filepath.Join(t.TempDir(), "x.wav")
	if err := os.WriteFile(notWAV, []byte("ID3 this is an mp3"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{wide, notWAV, filepath.Join(t.TempDir(), "gone.wav")} {
		m.Path = p
		if err := spoolTest().Deliver(context.Background(), m); !IsPermanent(err) {
			t.Errorf("recording %s: %v, want a permanent error", filepath.Base(p), err)
		}
	}
	if _, err := os.Stat(filepath.Join(mailbox, "INBOX")); err == nil {
		if names := inboxNames(t, mailbox); len(names) != 0 {
			t.Errorf("INBOX holds %q after refused recordings", names)
		}
	}
}

func TestSpoolRemovesStaleTempFiles(t *testing.T) {
	mailbox, m, _ := spoolSetup(t)
	inbox := filepath.Join(mailbox, "INBOX")
	if err := os.MkdirAll(inbox, 0o770); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(inbox, spoolTempName()+".wav")
	fresh := filepath.Join(inbox, spoolTempName()+".wav") // another delivery's, under way
	for _, f := range []string{stale, fresh} {
		if err := os.WriteFile(f, nil, 0o660); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-25 * time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	if err := spoolTest().Deliver(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Error("a crashed delivery's temporary file was left")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("another delivery's temporary file was removed: %v", err)
	}
}

// The temporary names must not be messages to any of app_voicemail's
// folder scans, or Asterisk would count or number a half-written file.
func TestSpoolTempNamesInvisibleToAsterisk(t *testing.T) {
	for range 100 {
		for _, name := range []string{spoolTempName() + ".txt", spoolTempName() + ".wav"} {
			if _, ok := spoolMessageNumber(name); ok {
				t.Errorf("last_message_index would number %q", name)
			}
			if len(name) > 7 && strings.HasPrefix(name[7:], ".txt") {
				t.Errorf("count_messages would count %q", name)
			}
			if len(name) >= 3 && strings.EqualFold(name[:3], "msg") {
				t.Errorf("__has_voicemail would see %q", name)
			}
		}
	}
}

func TestSpoolCallerIDAndValues(t *testing.T) {
	if got, want := spoolCallerID("2001"), `"brygga" <2001>`; got != want {
		t.Errorf("spoolCallerID(2001) = %q, want %q", got, want)
	}
	if got, want := spoolCallerID(""), "brygga"; got != want {
		t.Errorf("spoolCallerID(\"\") = %q, want %q (ast_callerid_merge with a name alone)", got, want)
	}
	if got, want := spoolINIValue("a;b\nflag=Urgent"), `a\;bflag=Urgent`; got != want {
		t.Errorf("spoolINIValue = %q, want %q", got, want)
	}
}
