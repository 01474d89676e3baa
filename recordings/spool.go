package recordings

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Spool delivers a recording straight into a mailbox folder of Asterisk's
// app_voicemail file storage (spool:/var/spool/asterisk/voicemail/<context>/<mailbox>),
// writing the files exactly as app_voicemail's own VoiceMail() and
// msg_create_from_file() do, so that VoiceMailMain plays it like any other
// message. Asterisk learns of it when it next reads the folder (or polls,
// with pollmailboxes=yes in voicemail.conf, for the waiting light).
//
// The zero value is ready to use.
type Spool struct {
	Now      func() time.Time // default time.Now
	Hostname string           // names the bridge in callerchan; default os.Hostname

	lockWait time.Duration // default spoolLockWait; tests shorten it
}

const (
	// spoolMaxMsg is app_voicemail's MAXMSGLIMIT: message numbers run
	// 0..9998 whatever maxmsg says.
	spoolMaxMsg = 9999

	// spoolLockWait is how long ast_lock_path keeps trying for a held lock
	// (main/app.c: "time(NULL) - start < 5") before it gives up. Giving up
	// as soon as Asterisk would keeps a stuck lock from holding a queue
	// worker for the whole attempt; the queue retries later.
	spoolLockWait = 5 * time.Second
	spoolLockPoll = 10 * time.Millisecond

	// Temporary files start with a dot so that none of app_voicemail's
	// folder scans takes them for a message (see spoolTempName).
	spoolTempPrefix = ".brygga-"

	// A temporary file this old was left by a crash: no delivery copies
	// for a day.
	spoolTempMaxAge = 24 * time.Hour

	spoolDirMode  = 0o770
	spoolFileMode = 0o660
)

// spoolMsgBase and spoolMsgSeq make msg_id's counter part. app_voicemail's
// generate_msg_id counts from 0 in each Asterisk process; starting at a
// random point makes it unlikely that a message of ours shares an id with
// one Asterisk records in the same second.
var (
	spoolMsgBase = rand.Uint32()
	spoolMsgSeq  atomic.Uint32
)

func (s Spool) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s Spool) hostname() string {
	if s.Hostname != "" {
		return s.Hostname
	}
	h, _ := os.Hostname()
	return h
}

// Deliver puts the recording into the mailbox's INBOX as the next message.
// Both files are written under temporary names first and renamed into
// place under the folder's lock, the .wav before the .txt: app_voicemail
// counts and numbers messages by their .txt files, so a message exists
// for it only once its audio is complete.
func (s Spool) Deliver(ctx context.Context, m Message) error {
	mailbox, err := spoolMailbox(m.Target)
	if err != nil {
		return Permanent(err)
	}
	src, err := os.Open(m.Path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Permanent(fmt.Errorf("voicemail spool: the recording's file is gone: %w", err))
		}
		return fmt.Errorf("voicemail spool: %w", err)
	}
	defer src.Close()
	if err := checkSpoolWAV(src); err != nil {
		return Permanent(fmt.Errorf("voicemail spool: %s: %w", m.Path, err))
	}

	inbox, err := spoolFolders(mailbox)
	if err != nil {
		return err
	}
	removeStaleSpoolTemps(inbox)

	tmp := filepath.Join(inbox, spoolTempName())
	tmpWAV, tmpTXT := tmp+".wav", tmp+".txt"
	// After the renames these name nothing; before, they are ours alone.
	defer os.Remove(tmpWAV)
	defer os.Remove(tmpTXT)
	if err := writeSpoolFile(tmpWAV, func(w io.Writer) error {
		_, err := io.Copy(w, ctxReader{ctx, src})
		return err
	}); err != nil {
		return fmt.Errorf("voicemail spool: copying the recording: %w", err)
	}
	info := s.messageInfo(m, filepath.Base(filepath.Dir(mailbox)), filepath.Base(mailbox))
	if err := writeSpoolFile(tmpTXT, func(w io.Writer) error {
		_, err := io.WriteString(w, info)
		return err
	}); err != nil {
		return fmt.Errorf("voicemail spool: writing the message information: %w", err)
	}

	// Everything slow is done: Asterisk waits only 5 s for this lock
	// before it drops the caller's message, so it is held for the
	// numbering and the two renames only.
	unlock, err := lockSpoolFolder(ctx, inbox, s.lockWait)
	if err != nil {
		return err
	}
	msg, err := placeSpoolMessage(inbox, tmpWAV, tmpTXT)
	if uerr := unlock(); uerr != nil {
		if err != nil {
			return errors.Join(err, uerr)
		}
		// The message is in: another attempt would only add a copy
		// of it, and time out on the lock left behind besides.
		return Permanent(fmt.Errorf("voicemail spool: delivered as %s, but %w", msg, uerr))
	}
	if err != nil {
		return err
	}
	// Renames are durable only once the folder itself is synced.
	if err := syncDir(inbox); err != nil {
		return fmt.Errorf("voicemail spool: delivered as %s, but syncing the folder: %w", msg, err)
	}
	return nil
}

// spoolMailbox is the mailbox folder a spool: target names: absolute and
// clean, as config accepts it, and at least /<context>/<mailbox>.
func spoolMailbox(target string) (string, error) {
	scheme, p, ok := strings.Cut(target, ":")
	if !ok || !strings.EqualFold(scheme, "spool") {
		return "", fmt.Errorf("voicemail spool: %q is not a spool: target", target)
	}
	if !strings.HasPrefix(p, "/") || path.Clean(p) != p {
		return "", fmt.Errorf("voicemail spool: %q: the folder must be an absolute, clean path", target)
	}
	if path.Dir(p) == "/" {
		return "", fmt.Errorf("voicemail spool: %q: the folder must be <spool>/<context>/<mailbox>", target)
	}
	return filepath.FromSlash(p), nil
}

// spoolFolders makes the mailbox's context, mailbox and INBOX folders as
// app_voicemail's create_dirpath does, but only below an existing spool:
// a mistyped or missing spool root is not something retrying mends.
func spoolFolders(mailbox string) (string, error) {
	root := filepath.Dir(filepath.Dir(mailbox))
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			return "", Permanent(fmt.Errorf("voicemail spool: no voicemail spool folder %s", root))
		}
		return "", fmt.Errorf("voicemail spool: %w", err)
	}
	inbox := filepath.Join(mailbox, "INBOX")
	for _, d := range []string{filepath.Dir(mailbox), mailbox, inbox} {
		err := os.Mkdir(d, spoolDirMode)
		switch {
		case err == nil:
			// Past the umask: Asterisk, in the group, must be able
			// to delete and move messages.
			if err := os.Chmod(d, spoolDirMode); err != nil {
				return "", fmt.Errorf("voicemail spool: %w", err)
			}
		case !errors.Is(err, fs.ErrExist):
			return "", fmt.Errorf("voicemail spool: %w", err)
		}
	}
	return inbox, nil
}

// spoolTempName is a fresh name for a delivery's temporary files. It must
// not look like a message to any of app_voicemail's folder scans:
// last_message_index (sscanf "msg%30d.%3s" with extension "txt"),
// count_messages (".txt" at offset 7) and __has_voicemail (a name
// starting "msg", any case). ".brygga-" has '-' at offset 7.
func spoolTempName() string {
	return fmt.Sprintf("%s%016x", spoolTempPrefix, rand.Uint64())
}

// removeStaleSpoolTemps removes temporary files a crashed delivery left.
// Their age is by the real clock, the one that stamped them.
func removeStaleSpoolTemps(inbox string) {
	entries, err := os.ReadDir(inbox)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), spoolTempPrefix) {
			continue
		}
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > spoolTempMaxAge {
			os.Remove(filepath.Join(inbox, e.Name()))
		}
	}
}

// writeSpoolFile creates name and fills it with write, synced to the disk
// before it can be renamed into the mailbox.
func writeSpoolFile(name string, write func(io.Writer) error) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, spoolFileMode)
	if err != nil {
		return err
	}
	err = write(f)
	if err == nil {
		// Past the umask, as app_voicemail chmods its .txt files.
		err = f.Chmod(spoolFileMode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// lockSpoolFolder takes app_voicemail's lock on dir the way ast_lock_path
// does in its default "lockfile" mode (main/app.c,
// ast_lock_path_lockfile): create dir/.lock-<random>, hard-link it to
// dir/.lock until the link no longer fails with EEXIST, then remove the
// temporary name. Unlocking removes .lock. Like ast_lock_path it never
// breaks a lock, however old: it cannot tell a stale lock from a live one
// either, and Asterisk's own deliveries fail on it just the same.
// (Asterisk's "flock" lock mode, lockmode=flock in asterisk.conf, is not
// honoured.)
func lockSpoolFolder(ctx context.Context, dir string, wait time.Duration) (unlock func() error, err error) {
	if wait <= 0 {
		wait = spoolLockWait
	}
	var tmp string
	for range 10 {
		tmp = filepath.Join(dir, fmt.Sprintf(".lock-%08x", rand.Uint32()))
		var f *os.File
		if f, err = os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, spoolFileMode); err == nil {
			f.Close()
			break
		}
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("voicemail spool: creating a lock file: %w", err)
	}
	defer os.Remove(tmp)

	lock := filepath.Join(dir, ".lock")
	giveUp := time.NewTimer(wait)
	defer giveUp.Stop()
	poll := time.NewTicker(spoolLockPoll)
	defer poll.Stop()
	for {
		err := os.Link(tmp, lock)
		if err == nil {
			return func() error {
				if err := os.Remove(lock); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("removing the folder's lock %s failed, and Asterisk cannot leave messages there until it is gone: %w", lock, err)
				}
				return nil
			}, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("voicemail spool: locking %s: %w", dir, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("voicemail spool: waiting for the lock %s: %w", lock, ctx.Err())
		case <-giveUp.C:
			held := ""
			if fi, err := os.Lstat(lock); err == nil {
				held = fmt.Sprintf(", locked %s ago", time.Since(fi.ModTime()).Round(time.Second))
			}
			return nil, fmt.Errorf("voicemail spool: %s is locked%s; gave up after %s as Asterisk does "+
				"(Asterisk never breaks a stale lock: remove it by hand if nothing holds it)", dir, held, wait)
		case <-poll.C:
		}
	}
}

// placeSpoolMessage renames the temporary files to the next message
// number. It must be called holding the folder's lock.
func placeSpoolMessage(inbox, tmpWAV, tmpTXT string) (string, error) {
	n, err := nextSpoolMessage(inbox)
	if err != nil {
		return "", err
	}
	base := filepath.Join(inbox, fmt.Sprintf("msg%04d", n))
	if err := os.Rename(tmpWAV, base+".wav"); err != nil {
		return "", fmt.Errorf("voicemail spool: %w", err)
	}
	if err := os.Rename(tmpTXT, base+".txt"); err != nil {
		// Audio without a .txt is no message to app_voicemail, but
		// it would be in the way of the next one's number.
		os.Remove(base + ".wav")
		return "", fmt.Errorf("voicemail spool: %w", err)
	}
	return filepath.Base(base), nil
}

// nextSpoolMessage is the number app_voicemail gives the next message in
// dir: last_message_index(dir) + 1, as leave_voicemail and
// msg_create_from_file use it. last_message_index maps the msgNNNN.txt
// files and walks up from 0 until it has passed all of them, so it
// returns the highest number in use: the next message goes after the
// last one, and gaps left by deleted messages are not filled
// (VoiceMailMain closes them by resequencing when it opens the folder).
func nextSpoolMessage(dir string) (int, error) {
	d, err := os.Open(dir)
	if err != nil {
		return 0, fmt.Errorf("voicemail spool: %w", err)
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return 0, fmt.Errorf("voicemail spool: %w", err)
	}
	last := -1
	for _, name := range names {
		if n, ok := spoolMessageNumber(name); ok && n < spoolMaxMsg && n > last {
			last = n
		}
	}
	if last+1 >= spoolMaxMsg {
		return 0, fmt.Errorf("voicemail spool: %s is full: msg%04d is in use", dir, last)
	}
	return last + 1, nil
}

// spoolMessageNumber reads a name the way last_message_index's
// sscanf(name, "msg%30d.%3s") with extension "txt" does: so msg12.txt is
// message 12, and msg0001.txt.bak counts as message 1 too.
func spoolMessageNumber(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, "msg")
	if !ok {
		return 0, false
	}
	i := 0
	for i < len(rest) && i < 30 && rest[i] >= '0' && rest[i] <= '9' {
		i++
	}
	if i == 0 || !strings.HasPrefix(rest[i:], ".txt") {
		return 0, false
	}
	n, err := strconv.Atoi(rest[:i])
	return n, err == nil
}

// messageInfo is the message's .txt file: the fields, order and formats
// of leave_voicemail's (apps/app_voicemail.c), with flag= and duration=
// last as it appends them after recording.
func (s Spool) messageInfo(m Message, vmContext, mailbox string) string {
	now := s.now()
	orig := m.Started
	if orig.IsZero() {
		orig = now
	}
	callerchan := "brygga/" + m.ID
	if h := s.hostname(); h != "" {
		callerchan = "brygga/" + h + "-" + m.ID
	}
	duration := max(m.Length/time.Second, 0)

	var b strings.Builder
	b.WriteString(";\n; Message Information file\n;\n[message]\n")
	for _, f := range [...][2]string{
		{"origmailbox", mailbox},
		// In Asterisk this is the caller's dialplan context; the
		// voicemail context is what we know, and app_voicemail reads
		// context only when macrocontext names a macro.
		{"context", vmContext},
		{"macrocontext", ""},
		{"exten", m.Room},
		{"rdnis", "Unknown"}, // as msg_create_from_file writes it
		{"priority", "1"},
		{"callerchan", callerchan},
		{"callerid", spoolCallerID(m.Room)},
		{"origdate", spoolDate(orig)},
		{"origtime", strconv.FormatInt(orig.Unix(), 10)},
		{"category", ""},
		{"msg_id", spoolMsgID(now)},
		{"flag", ""},
		{"duration", strconv.FormatInt(int64(duration), 10)},
	} {
		b.WriteString(f[0])
		b.WriteByte('=')
		b.WriteString(spoolINIValue(f[1]))
		b.WriteByte('\n')
	}
	return b.String()
}

// spoolCallerID is the message's sender as ast_callerid_merge formats it:
// "brygga" as the name, so the owner hears and sees where it came from,
// and the room's extension as the number, so that VoiceMailMain's "call
// back" (and saycid) leads back to the meeting room.
func spoolCallerID(room string) string {
	room = strings.Map(func(r rune) rune {
		if r == '<' || r == '>' || r == '"' {
			return -1
		}
		return r
	}, room)
	if room == "" {
		return "brygga"
	}
	return `"brygga" <` + room + ">"
}

// spoolDate is app_voicemail's get_date: strftime "%a %b %e %r UTC %Y" in
// UTC, in the C locale.
func spoolDate(t time.Time) string {
	return t.UTC().Format("Mon Jan _2 03:04:05 PM UTC 2006")
}

// spoolMsgID is generate_msg_id's "%ld-%08x": the time, and a counter.
func spoolMsgID(now time.Time) string {
	return fmt.Sprintf("%d-%08x", now.Unix(), spoolMsgBase+spoolMsgSeq.Add(1)-1)
}

// spoolINIValue keeps a value on its line in Asterisk's config syntax: a
// line break would start a new field, and an unescaped ';' a comment.
func spoolINIValue(v string) string {
	v = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, v)
	return strings.ReplaceAll(v, ";", `\;`)
}

// checkSpoolWAV checks the file is what Asterisk's "wav" format
// (formats/format_wav.c, check_header) plays: PCM, mono, 8000 Hz, two
// bytes a sample. Anything else would be a message that cannot be played,
// delivered as if it were fine.
func checkSpoolWAV(f *os.File) error {
	_, _, err := findWAVData(f)
	return err
}

// ctxReader ends a copy when its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
