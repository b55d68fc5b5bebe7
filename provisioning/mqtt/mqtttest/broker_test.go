package mqtttest

import (
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

func connect(t *testing.T, o *mqtt.ClientOptions) (mqtt.Client, error) {
	t.Helper()
	o.SetConnectTimeout(3 * time.Second).SetAutoReconnect(false).SetConnectRetry(false)
	c := mqtt.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(5 * time.Second) {
		t.Fatal("connect timed out")
	}
	return c, tok.Error()
}

func TestBrokerPlainAndMutualTLS(t *testing.T) {
	b := Start(t)
	c, err := connect(t, mqtt.NewClientOptions().AddBroker(b.URL()).SetClientID("plain"))
	if err != nil {
		t.Fatalf("plain: %v", err)
	}
	got := make(chan string, 1)
	c.Subscribe("t/#", 1, func(_ mqtt.Client, m mqtt.Message) { got <- string(m.Payload()) }).Wait()

	tc, err := connect(t, mqtt.NewClientOptions().AddBroker(b.TLSURL()).SetClientID("tls").SetTLSConfig(b.ClientTLS()))
	if err != nil {
		t.Fatalf("mutual TLS with the test certificate: %v", err)
	}
	tc.Publish("t/x", 1, false, "hello").Wait()
	select {
	case p := <-got:
		if p != "hello" {
			t.Fatalf("got %q", p)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("message from the TLS client did not reach the plain one")
	}
	tc.Disconnect(0)

	noCert := b.ClientTLS()
	noCert.Certificates = nil
	if c2, err := connect(t, mqtt.NewClientOptions().AddBroker(b.TLSURL()).SetClientID("nocert").SetTLSConfig(noCert)); err == nil {
		c2.Disconnect(0)
		t.Fatal("a client without a certificate was let in")
	}
	c.Disconnect(0)
}

func TestBrokerRestartLosesRetained(t *testing.T) {
	b := Start(t)
	c, err := connect(t, mqtt.NewClientOptions().AddBroker(b.URL()).SetClientID("r"))
	if err != nil {
		t.Fatal(err)
	}
	c.Publish("keep", 1, true, "x").Wait()
	c.Disconnect(0)
	b.Restart()
	c, err = connect(t, mqtt.NewClientOptions().AddBroker(b.URL()).SetClientID("r2"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(0)
	got := make(chan []byte, 1)
	c.Subscribe("keep", 1, func(_ mqtt.Client, m mqtt.Message) { got <- m.Payload() }).Wait()
	select {
	case p := <-got:
		t.Fatalf("retained %q survived a restart without persistence", p)
	case <-time.After(300 * time.Millisecond):
	}
}
