package interop

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// APICall makes one admin API request with a bearer token and decodes a
// JSON answer into out (when not nil).
func APICall(t *testing.T, b *Bridge, token, method, path, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, b.API+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
	}
	return res.StatusCode
}
