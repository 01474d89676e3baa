package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"brygga/internal/testcert"
)

// TestAPIOverHTTPS: with api.tls the admin API speaks HTTPS only (TLS 1.2
// at least), and ctl reaches it with --ca.
func TestAPIOverHTTPS(t *testing.T) {
	dir := t.TempDir()
	cert := testcert.New(t)
	certFile, keyFile := cert.Write(t, dir)
	const token = "https-test-token-1234"
	cfg := "api:\n  tls: {cert: " + certFile + ", key: " + keyFile + "}\n  tokens:\n    - {name: ops, token: " + token + ", role: operator}\n" +
		"directory:\n  - {extension: \"4711\", name: Kari, pin: \"2468\"}\n"
	api := serveConfig(t, cfg, "31100-31199").api
	if !strings.HasPrefix(api, "https://") {
		t.Fatalf("the API listens on %s, want https", api)
	}

	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: cert.Client}}
	res, err := client.Get(api + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.TLS == nil || res.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("healthz over https: %d, tls %+v", res.StatusCode, res.TLS)
	}

	// Plain HTTP on the same port is not served.
	plain := "http://" + strings.TrimPrefix(api, "https://")
	if res, err := (&http.Client{Timeout: 5 * time.Second}).Get(plain + "/healthz"); err == nil {
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode == 200 {
			t.Fatalf("plain http answered 200: %s", body)
		}
	}
	// TLS 1.1 is refused.
	tls11 := cert.Client.Clone()
	tls11.MinVersion, tls11.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	old := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tls11}}
	if res, err := old.Get(api + "/healthz"); err == nil {
		res.Body.Close()
		t.Fatal("a TLS 1.1 client was served")
	}

	// ctl with --ca, and without it (the certificate is not trusted).
	env := func(k string) string {
		switch k {
		case "BRYGGA_API":
			return api
		case "BRYGGA_TOKEN":
			return token
		}
		return ""
	}
	var cout, cerr bytes.Buffer
	if code := run(context.Background(), []string{"ctl", "rooms", "--ca", certFile}, env, &cout, &cerr); code != 0 || !strings.Contains(cout.String(), "4711") {
		t.Fatalf("ctl --ca rooms: exit %d, %s %s", code, cout.String(), cerr.String())
	}
	cout.Reset()
	cerr.Reset()
	if code := run(context.Background(), []string{"ctl", "rooms"}, env, &cout, &cerr); code == 0 {
		t.Fatalf("ctl trusted a self-signed API without --ca: %s", cout.String())
	}
}
