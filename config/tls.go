package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"

	"gopkg.in/yaml.v3"
)

// tlsField decodes {cert: FILE, key: FILE}; both or neither.
func tlsField(dst *TLS) func(*yaml.Node, string) error {
	return func(n *yaml.Node, p string) error {
		var t TLS
		err := decodeMap(n, p, []field{
			{"cert", textField(&t.Cert, func(s string) error { return checkText(s, false) })},
			{"key", textField(&t.Key, func(s string) error { return checkText(s, false) })},
		})
		if err != nil {
			return err
		}
		switch {
		case t.Cert != "" && t.Key == "":
			return nodeErr(join(p, "key"), n, "missing: a certificate needs its private key")
		case t.Key != "" && t.Cert == "":
			return nodeErr(join(p, "cert"), n, "missing: a private key needs its certificate")
		}
		*dst = t
		return nil
	}
}

// loadCertificates reads the certificates the config names, once every
// source of settings has been applied, and checks that a tls: listener
// has one.
func (c *Config) loadCertificates(readFile func(string) ([]byte, error)) error {
	hasTLS := false
	for _, l := range c.SIP.Listen {
		hasTLS = hasTLS || l.Transport == "tls"
	}
	if hasTLS && c.SIP.TLS.Cert == "" {
		return &Error{Key: "sip.tls.cert", Msg: "a tls: listener in sip.listen needs a certificate (sip.tls: {cert: FILE, key: FILE})"}
	}
	for _, t := range []struct {
		key string
		tls *TLS
	}{{"sip.tls", &c.SIP.TLS}, {"api.tls", &c.API.TLS}} {
		if t.tls.Cert == "" {
			continue
		}
		cert, err := loadKeyPair(readFile, t.tls.Cert, t.tls.Key)
		if err != nil {
			return &Error{Key: t.key + "." + err.key, Msg: err.msg}
		}
		t.tls.Certificate = cert
	}
	return nil
}

type certError struct{ key, msg string }

func loadKeyPair(readFile func(string) ([]byte, error), certFile, keyFile string) (*tls.Certificate, *certError) {
	certPEM, err := readFile(certFile)
	if err != nil {
		return nil, &certError{"cert", err.Error()}
	}
	keyPEM, err := readFile(keyFile)
	if err != nil {
		return nil, &certError{"key", err.Error()}
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// Blame the half that is wrong: a readable certificate leaves the
		// key (unreadable, or not the certificate's).
		which := "cert"
		if b, _ := pem.Decode(certPEM); b != nil && b.Type == "CERTIFICATE" {
			if _, perr := x509.ParseCertificate(b.Bytes); perr == nil {
				which = "key"
			}
		}
		return nil, &certError{which, fmt.Sprintf("%s and %s: %v", certFile, keyFile, err)}
	}
	return &cert, nil
}
