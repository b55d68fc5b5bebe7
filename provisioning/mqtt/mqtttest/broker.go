// Package mqtttest starts a real mosquitto broker on 127.0.0.1 for tests:
// a plain listener and a mutual-TLS listener (a client without a
// certificate signed by the test CA is refused), on free ports, without
// persistence, so a restart loses every retained message as a broker
// restarted without persistence does in the field.
//
// mosquitto comes from Debian (apt-get install mosquitto; make deps
// installs it). In CI a missing broker fails the test; elsewhere the test
// is skipped with a message saying how to get it.
package mqtttest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Broker is a running mosquitto.
type Broker struct {
	// Addr and TLSAddr are host:port of the plain and mutual-TLS listeners.
	Addr, TLSAddr string
	// CAFile signs the server and client certificates; CertFile/KeyFile
	// are a client certificate the TLS listener accepts (CN "onair-test").
	CAFile, CertFile, KeyFile string

	t    testing.TB
	bin  string
	dir  string
	conf string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	log  *lockedBuffer
}

// Bin finds mosquitto, or fails (CI) or skips (elsewhere) the test.
func Bin(t testing.TB) string {
	t.Helper()
	for _, p := range []string{os.Getenv("ONAIR_MOSQUITTO"), "/usr/sbin/mosquitto"} {
		if p != "" {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p
	}
	msg := "mosquitto not found: apt-get install mosquitto (make deps does), or set ONAIR_MOSQUITTO"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// Start runs a broker for the test's lifetime.
func Start(t testing.TB) *Broker {
	t.Helper()
	b := &Broker{t: t, bin: Bin(t), dir: t.TempDir()}
	b.Addr = freePort(t)
	b.TLSAddr = freePort(t)
	b.writePKI()
	b.conf = filepath.Join(b.dir, "mosquitto.conf")
	_, port, _ := net.SplitHostPort(b.Addr)
	_, tport, _ := net.SplitHostPort(b.TLSAddr)
	conf := strings.Join([]string{
		"per_listener_settings true",
		"persistence false",
		"user root",
		"log_dest stderr",
		"log_type error",
		"log_type warning",
		"log_type notice",
		"listener " + port + " 127.0.0.1",
		"allow_anonymous true",
		"listener " + tport + " 127.0.0.1",
		"allow_anonymous true",
		"cafile " + filepath.Join(b.dir, "ca.pem"),
		"certfile " + filepath.Join(b.dir, "server.pem"),
		"keyfile " + filepath.Join(b.dir, "server.key"),
		"require_certificate true",
		"use_identity_as_username true",
		"",
	}, "\n")
	if err := os.WriteFile(b.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	b.start()
	t.Cleanup(b.Stop)
	return b
}

// URL is the plain listener as a client URL.
func (b *Broker) URL() string { return "tcp://" + b.Addr }

// TLSURL is the mutual-TLS listener as a client URL.
func (b *Broker) TLSURL() string { return "ssl://" + b.TLSAddr }

// ClientTLS is a tls.Config that the TLS listener accepts.
func (b *Broker) ClientTLS() *tls.Config {
	cert, err := tls.LoadX509KeyPair(b.CertFile, b.KeyFile)
	if err != nil {
		b.t.Fatal(err)
	}
	pool := x509.NewCertPool()
	ca, _ := os.ReadFile(b.CAFile)
	pool.AppendCertsFromPEM(ca)
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

func (b *Broker) start() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	cmd := exec.Command(b.bin, "-c", b.conf)
	b.log = &lockedBuffer{}
	cmd.Stdout = b.log
	cmd.Stderr = b.log
	if err := cmd.Start(); err != nil {
		b.t.Fatalf("start mosquitto: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	b.cmd, b.done = cmd, done
	deadline := time.Now().Add(10 * time.Second)
	for _, a := range []string{b.Addr, b.TLSAddr} {
		for {
			c, err := net.DialTimeout("tcp", a, 200*time.Millisecond)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-done:
				b.t.Fatalf("mosquitto exited at start:\n%s", b.log.String())
			default:
			}
			if time.Now().After(deadline) {
				b.t.Fatalf("mosquitto not listening on %s after 10 s:\n%s", a, b.log.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// Stop ends the broker (SIGTERM, then SIGKILL after 3 s).
func (b *Broker) Stop() {
	b.mu.Lock()
	cmd, done := b.cmd, b.done
	b.cmd = nil
	b.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(os.Interrupt)
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// Kill ends the broker at once, as a crash would.
func (b *Broker) Kill() {
	b.mu.Lock()
	cmd, done := b.cmd, b.done
	b.cmd = nil
	b.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	<-done
}

// Restart starts the broker again on the same ports, with nothing retained.
func (b *Broker) Restart() {
	b.t.Helper()
	b.Stop()
	b.start()
}

// Log is what the broker printed since its last start.
func (b *Broker) Log() string { return b.log.String() }

func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// writePKI makes a CA, a server certificate for 127.0.0.1 and a client
// certificate, all ECDSA P-256, valid for a day.
func (b *Broker) writePKI() {
	t := b.t
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now().Add(-time.Hour)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "onair test CA"},
		NotBefore:             now,
		NotAfter:              now.Add(25 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage, name string) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    now,
			NotAfter:     now.Add(25 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		}
		if usage == x509.ExtKeyUsageServerAuth {
			tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
			tmpl.DNSNames = []string{"localhost"}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, _ := x509.MarshalECPrivateKey(key)
		writePEM(t, filepath.Join(b.dir, name+".pem"), "CERTIFICATE", der)
		writePEM(t, filepath.Join(b.dir, name+".key"), "EC PRIVATE KEY", kder)
	}
	writePEM(t, filepath.Join(b.dir, "ca.pem"), "CERTIFICATE", caDER)
	leaf(2, "127.0.0.1", x509.ExtKeyUsageServerAuth, "server")
	leaf(3, "onair-test", x509.ExtKeyUsageClientAuth, "client")
	b.CAFile = filepath.Join(b.dir, "ca.pem")
	b.CertFile = filepath.Join(b.dir, "client.pem")
	b.KeyFile = filepath.Join(b.dir, "client.key")
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	sb strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sb.Len() < 1<<20 {
		l.sb.Write(p)
	}
	return len(p), nil
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sb.String()
}
