package interop

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"brygga/mailer/mailertest"
	"brygga/media/tone"
	"brygga/prompts/prompttest"
	"brygga/recordings"
)

// TestRecordingDeliveredBySpool: the host presses *9, talks, hangs up; the
// meeting's recording lands in the owner's Asterisk voicemail spool.
func TestRecordingDeliveredBySpool(t *testing.T) {
	dir := t.TempDir()
	mailbox := filepath.Join(dir, "spool", "default", "4713")
	os.MkdirAll(filepath.Join(dir, "spool"), 0o750)
	b := StartBridgeIn(t, dir, deliveryConfig("spool:"+mailbox, ""))
	id := hostRecords(t, b)
	WaitDelivered(t, b, id)
	msgs := SpoolMessages(t, mailbox)
	if len(msgs) != 1 || filepath.Base(msgs[0]) != "msg0000.txt" {
		t.Fatalf("spool INBOX: %v", msgs)
	}
	wav, err := os.ReadFile(strings.TrimSuffix(msgs[0], ".txt") + ".wav")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(wav, download(t, b, id)) {
		t.Error("the spooled message differs from the recording")
	}
	checkRecorded(t, wav)
	res, err := http.Get(b.API + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	m, _ := io.ReadAll(res.Body)
	if !strings.Contains(string(m), `brygga_recording_deliveries_total{result="delivered"} 1`) {
		t.Error("/metrics does not count the delivery")
	}
}

// TestRecordingDeliveredByMail: the same meeting with a mailto: voicemail
// reaches an SMTP server with the WAV attached, byte for byte, and a
// Norwegian subject (the room's language).
func TestRecordingDeliveredByMail(t *testing.T) {
	out := mailertest.Start(t, mailertest.Options{})
	extra := fmt.Sprintf("mail:\n  smtp: \"smtp://%s\"\n  from: \"Konferanse <brygga@example.org>\"\n", out.Addr)
	b := StartBridgeIn(t, t.TempDir(), deliveryConfig("mailto:kari.nordmann@example.org", extra))
	id := hostRecords(t, b)
	WaitDelivered(t, b, id)
	got, _ := out.Received()
	if len(got) != 1 {
		t.Fatalf("%d mails arrived, want 1", len(got))
	}
	if to := got[0].To; len(to) != 1 || to[0] != "kari.nordmann@example.org" {
		t.Errorf("mail to %v", to)
	}
	raw := got[0].Data
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if !strings.Contains(subject, "4713") || !strings.Contains(subject, "Opptak") {
		t.Errorf("subject %q: want the room and Norwegian", subject)
	}
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var wav []byte
	for {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		if strings.HasPrefix(p.Header.Get("Content-Type"), "audio/wav") {
			wav, _ = io.ReadAll(base64.NewDecoder(base64.StdEncoding, p))
		}
	}
	if wav == nil {
		t.Fatalf("no audio/wav attachment in:\n%.2000s", raw)
	}
	if !bytes.Equal(wav, download(t, b, id)) {
		t.Error("the attachment differs from the recording")
	}
	checkRecorded(t, wav)
}

// TestRecordingDeliveredBySIPToBaresip: the owner's voicemail is a real SIP
// peer, baresip answering automatically with a greeting that ends in a
// 1000 Hz beep and recording what it is sent. The bridge calls it after the
// meeting, waits for the beep, plays the recording and hangs up: baresip
// has the host's 700 Hz, after the beep, as long as in the recording.
func TestRecordingDeliveredBySIPToBaresip(t *testing.T) {
	baresip := RequirePeer(t, "baresip", "baresip-core")
	modules := baresipModulePath(t)
	dir, cfgDir, dumpDir := baresipDirs(t)
	// The greeting: a second of quiet, the beep, then silence that
	// outlasts the deposit (aufile ends the source at the end of the file).
	greeting := make([]int16, SampleRate)
	greeting = append(greeting, tone.Generate(1000, SampleRate, toneAmp, 2*SampleRate/5)...)
	greeting = append(greeting, make([]int16, 90*SampleRate)...)
	greetingWAV := filepath.Join(cfgDir, "greeting.wav")
	if err := writeWAV(greetingWAV, greeting, SampleRate); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	vm := startBaresip(ctx, t, baresip, modules, dir, cfgDir, dumpDir, greetingWAV,
		"<sip:vm@127.0.0.1>;regint=0;audio_codecs=PCMU;answermode=auto")
	defer vm.cons.Close()

	target := fmt.Sprintf("sip:vm@127.0.0.1:%d", vm.sip)
	b := StartBridgeIn(t, t.TempDir(), deliveryConfig(target, ""))
	id := hostRecords(t, b)
	WaitDelivered(t, b, id)
	vm.waitLog(t, "terminated", 10*time.Second)
	if !strings.Contains(b.Log(), "recording delivered") {
		t.Error("the bridge did not log the delivery")
	}
	vm.command(t, "/quit")
	select {
	case <-vm.Exited:
	case <-time.After(10 * time.Second):
		t.Error("baresip did not exit within 10 s of /quit")
	}

	heard := baresipDump(t, dumpDir)
	wav := download(t, b, id)
	path := filepath.Join(t.TempDir(), "rec.wav")
	os.WriteFile(path, wav, 0o600)
	rec, err := recordings.ReadWAV(path)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := toneSpan(rec, 700)
	got, at := toneSpan(heard, 700)
	t.Logf("700 Hz: %v in the recording, %v in the voicemail from %.1f s", want, got, float64(at)/SampleRate)
	if at < SampleRate+2*SampleRate/5 {
		t.Errorf("the recording started %.2f s into the call, before the greeting's beep had ended (1.4 s)", float64(at)/SampleRate)
	}
	if d := got - want; d < -400*time.Millisecond || d > 400*time.Millisecond {
		t.Errorf("700 Hz for %v in the voicemail, %v in the recording", got, want)
	}
}

// deliveryConfig has room 4713 whose owner's voicemail is target.
func deliveryConfig(target, extra string) string {
	return opsConfig + extra + fmt.Sprintf(`directory:
  - {extension: "4713", name: "Kari Nordmann", language: nb, pin: "%s", host_pin: "%s", voicemail: "%s"}
`, RoomPIN, RoomHostPIN, target)
}

// hostRecords dials room 4713 as its host, starts recording with *9, says
// 700 Hz for three seconds and hangs up, which ends the meeting. It returns
// the recording's ID.
func hostRecords(t *testing.T, b *Bridge) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	call := DialIn(ctx, t, b, "4713", "host", RoomHostPIN+"#", 0)
	var conf Conference
	deadline := time.Now().Add(30 * time.Second)
	for len(conf.Members) == 0 && time.Now().Before(deadline) {
		time.Sleep(300 * time.Millisecond)
		conf, _ = GetConference(t, b, OpsToken, "4713")
	}
	if len(conf.Members) == 0 {
		t.Fatal("the host never got into the room")
	}
	time.Sleep(time.Second) // past the joining prompt, into the mix
	if err := call.SendDigits("*9"); err != nil {
		t.Fatal(err)
	}
	var recs []map[string]any
	for len(recs) == 0 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		APICall(t, b, OpsToken, "GET", "/api/v1/recordings", "", &recs)
	}
	if len(recs) != 1 || recs[0]["state"] != "recording" {
		t.Fatalf("after *9: recordings %v", recs)
	}
	call.SetSource(Sine(700))
	time.Sleep(3 * time.Second)
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	return recs[0]["id"].(string)
}

// download fetches a recording's WAV through the API.
func download(t *testing.T, b *Bridge, id string) []byte {
	t.Helper()
	req, _ := http.NewRequest("GET", b.API+"/api/v1/recordings/"+id+"/audio", nil)
	req.Header.Set("Authorization", "Bearer "+OpsToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("audio: %d %s", res.StatusCode, body)
	}
	return body
}

// checkRecorded checks a delivered WAV: the host's three seconds of 700 Hz
// and the room's "now recording" announcement before them.
func checkRecorded(t *testing.T, wav []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "got.wav")
	os.WriteFile(path, wav, 0o600)
	pcm, err := recordings.ReadWAV(path)
	if err != nil {
		t.Fatalf("delivered audio: %v", err)
	}
	if s := float64(len(pcm)) / SampleRate; s < 3 || s > 15 {
		t.Errorf("delivered %.1f s for about 3 s of talk after *9", s)
	}
	if !prompttest.HeardTone(pcm, 700) {
		t.Error("the host's 700 Hz is not in the delivered recording")
	}
}

// toneSpan is how long freq is present in pcm, in 200 ms windows, and
// where it is first heard (-1: never).
func toneSpan(pcm []int16, freq float64) (span time.Duration, first int) {
	first = -1
	n := 0
	for i := 0; i+AnalysisWindow <= len(pcm); i += AnalysisWindow {
		if prompttest.HeardTone(pcm[i:i+AnalysisWindow], freq) {
			if first < 0 {
				first = i
			}
			n++
		}
	}
	return time.Duration(n) * time.Second / 5, first
}
