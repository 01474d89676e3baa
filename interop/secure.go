package interop

import (
	"crypto/tls"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"

	"brygga/internal/testcert"
)

// selfSigned writes a certificate for 127.0.0.1 and its key into dir and
// returns a client configuration that trusts it and nothing else.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, client *tls.Config) {
	t.Helper()
	p := testcert.New(t)
	certFile, keyFile = p.Write(t, dir)
	return certFile, keyFile, p.Client
}

// MetricValue reads one sample of the bridge's /metrics ("" labels: the
// unlabelled one); 0 when absent.
func MetricValue(t *testing.T, b *Bridge, name, labels string) float64 {
	t.Helper()
	res, err := http.Get(b.API + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name+labels) + ` (\S+)$`)
	m := re.FindSubmatch(body)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}
