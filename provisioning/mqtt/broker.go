package mqtt

import (
	"crypto/tls"
	"crypto/x509"
	"net/url"

	"github.com/onair-gateway/onair/conf"
)

// BrokerURL returns a broker URL as it is dialled: with the default port
// (1883, or 8883 over TLS) when it has none. paho knows every scheme the
// config allows (tcp, mqtt, ssl, tls, mqtts). The device's agent and
// onairctl's fleet commands both use it.
func BrokerURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Port() != "" {
		return raw
	}
	port := "1883"
	if IsTLS(raw) {
		port = "8883"
	}
	u.Host += ":" + port
	return u.String()
}

// IsTLS reports whether a broker URL connects over TLS.
func IsTLS(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "ssl", "tls", "mqtts":
		return true
	}
	return false
}

// TLSFileError says which TLS file could not be used: Which is "ca" or
// "cert" (the certificate and key pair). Callers name their own setting
// (mqtt.ca_file, -ca) in front of it.
type TLSFileError struct {
	Which string
	Msg   string
}

func (e *TLSFileError) Error() string { return e.Msg }

// TLSConfig builds a client TLS config: the broker verified against caFile
// (or the system roots when empty), and a client certificate for mutual
// TLS when certFile and keyFile are set. Errors are *TLSFileError and name
// files, never key material.
func TLSConfig(caFile, certFile, keyFile string) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := conf.ReadFile(caFile, 1<<20)
		if err != nil {
			return nil, &TLSFileError{Which: "ca", Msg: err.Error()}
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, &TLSFileError{Which: "ca", Msg: caFile + " holds no PEM certificate"}
		}
	}
	if (certFile == "") != (keyFile == "") {
		return nil, &TLSFileError{Which: "cert", Msg: "the certificate and its key go together: set both or neither"}
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, &TLSFileError{Which: "cert", Msg: "load " + certFile + " and " + keyFile + ": " + err.Error()}
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
