package config

import (
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"brygga/internal/testcert"
)

// writeCert writes a self-signed certificate and its key for 127.0.0.1.
func writeCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	return testcert.New(t).Write(t, dir)
}

func parseFile(t *testing.T, yaml string) (*Config, error) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "brygga.yaml")
	if err := os.WriteFile(f, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return Parse([]string{"--config", f}, nil)
}

func TestTLSCertificates(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir)
	c, err := parseFile(t, "sip: {listen: [\"tls:127.0.0.1:5061\"], tls: {cert: "+cert+", key: "+key+"}}\napi: {tls: {cert: "+cert+", key: "+key+"}}\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.SIP.Listen) != 1 || c.SIP.Listen[0].Transport != "tls" {
		t.Fatalf("listen %+v", c.SIP.Listen)
	}
	for _, tc := range []*tls.Config{c.SIP.TLS.Config(), c.API.TLS.Config()} {
		if tc == nil || len(tc.Certificates) != 1 || tc.MinVersion != tls.VersionTLS12 {
			t.Fatalf("tls config %+v", tc)
		}
	}

	bad := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(bad, []byte("not a pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ yaml, key, msg string }{
		{"sip: {listen: [\"tls:127.0.0.1:5061\"]}\n", "sip.tls.cert", "needs a certificate"},
		{"sip: {tls: {cert: " + dir + "/none.pem, key: " + key + "}}\n", "sip.tls.cert", "no such file"},
		{"sip: {tls: {cert: " + cert + ", key: " + dir + "/none.pem}}\n", "sip.tls.key", "no such file"},
		{"api: {tls: {cert: " + bad + ", key: " + key + "}}\n", "api.tls.cert", "certificate"},
		{"api: {tls: {cert: " + cert + ", key: " + bad + "}}\n", "api.tls.key", "key"},
		{"api: {tls: {cert: " + cert + ", key: " + cert + "}}\n", "api.tls.key", "private key"},
	} {
		_, err := parseFile(t, tc.yaml)
		var ce *Error
		if !errors.As(err, &ce) || ce.Key != tc.key || !strings.Contains(ce.Msg, tc.msg) {
			t.Errorf("%s: got %v, want key %s and %q", tc.yaml, err, tc.key, tc.msg)
		}
	}
	// A tls: listener from the flag needs the file's certificate too.
	if _, err := Parse([]string{"--sip", "tls:127.0.0.1:5061"}, nil); err == nil || !strings.Contains(err.Error(), "sip.tls.cert") {
		t.Errorf("--sip tls: without a certificate: %v", err)
	}
}
