package fleet

import (
	"cmp"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/provisioning/mqtt"
)

// DefaultPrefix is the topic prefix devices use unless mqtt.topic_prefix
// says otherwise.
const DefaultPrefix = "onair"

// Options say how the operator reaches the broker. Validation errors name
// each field by onairctl's flag for it (-broker, -ca, -cert, -key, -username, -prefix).
type Options struct {
	// Broker is tcp://host:1883, mqtt://host:1883 (plain), or
	// ssl://host:8883, mqtts://host:8883, tls://host:8883 (TLS). A URL
	// without a port gets 1883 or 8883. Required.
	Broker string
	// CAFile verifies the broker's certificate (PEM). Default: the
	// system's roots. Setting it with a plain broker URL is an error.
	CAFile string
	// CertFile and KeyFile are a client certificate for mutual TLS; they go
	// together. Default: none.
	CertFile, KeyFile string
	// Username and Password authenticate with the broker. Default: none.
	Username string
	Password conf.Secret
	// ClientID is the MQTT client id. Default: "onairctl-" and 8 random hex
	// digits, so two operators never kick each other off.
	ClientID string
	// Prefix is the devices' mqtt.topic_prefix. Default: "onair".
	Prefix string
	// ConnectTimeout bounds the connection. Default: 10 s.
	ConnectTimeout time.Duration
}

// SetDefaults fills the empty fields that have defaults.
func (o *Options) SetDefaults() {
	o.Prefix = cmp.Or(o.Prefix, DefaultPrefix)
	if o.ClientID == "" {
		var b [4]byte
		_, _ = rand.Read(b[:])
		o.ClientID = "onairctl-" + hex.EncodeToString(b[:])
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 10 * time.Second
	}
}

// prefixRE is provisioning's rule for mqtt.topic_prefix.
var prefixRE = regexp.MustCompile(`^[A-Za-z0-9_/-]{1,64}$`)

// Validate reports every problem at once. Secrets never appear in errors.
func (o Options) Validate() error {
	var errs []error
	tlsURL := false
	if o.Broker == "" {
		errs = append(errs, conf.Errorf("-broker", "required, such as tcp://host:1883 or ssl://host:8883"))
	} else if u, err := url.Parse(o.Broker); err != nil || u.Host == "" {
		errs = append(errs, conf.Errorf("-broker", "%q is not a URL such as tcp://host:1883", conf.RedactURL(o.Broker)))
	} else {
		switch u.Scheme {
		case "tcp", "mqtt":
		case "ssl", "mqtts", "tls":
			tlsURL = true
		default:
			errs = append(errs, conf.Errorf("-broker", "scheme %q is not tcp, mqtt, ssl, mqtts or tls", u.Scheme))
		}
	}
	if !tlsURL && o.Broker != "" && (o.CAFile != "" || o.CertFile != "") {
		errs = append(errs, conf.Errorf("-broker", "%q is not a TLS URL (ssl:// or mqtts://) but -ca or -cert is set", conf.RedactURL(o.Broker)))
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		errs = append(errs, conf.Errorf("-key", "-cert and -key go together"))
	}
	if o.Prefix != "" && (!prefixRE.MatchString(o.Prefix) || strings.HasPrefix(o.Prefix, "/")) {
		errs = append(errs, conf.Errorf("-prefix", "%q must be 1..64 of letters, digits, '_', '-', '/' and not start with '/'", o.Prefix))
	}
	if o.Password.IsSet() && o.Username == "" {
		errs = append(errs, conf.Errorf("-username", "required with a password (-password or $ONAIR_MQTT_PASSWORD)"))
	}
	return errors.Join(errs...)
}

// brokerURL is the broker as dialled (mqtt.BrokerURL: the default port
// added when there is none).
func (o Options) brokerURL() string { return mqtt.BrokerURL(o.Broker) }

// tlsConfig returns the TLS settings (mqtt.TLSConfig), or nil for a plain
// URL; errors name the flag.
func (o Options) tlsConfig() (*tls.Config, error) {
	if !mqtt.IsTLS(o.Broker) {
		return nil, nil
	}
	c, err := mqtt.TLSConfig(o.CAFile, o.CertFile, o.KeyFile)
	if err != nil {
		flag := "-ca"
		if err.(*mqtt.TLSFileError).Which == "cert" {
			flag = "-cert"
		}
		return nil, conf.Errorf(flag, "%v", err)
	}
	if u, perr := url.Parse(o.Broker); perr == nil {
		c.ServerName = u.Hostname()
	}
	return c, nil
}
