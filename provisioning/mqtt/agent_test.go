package mqtt

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/onair-gateway/onair/provisioning/mqtt/mqtttest"
)

// testDevice is the device side of the seam, recording what the agent
// asks of it. The broker is real.
type testDevice struct {
	mu       sync.Mutex
	version  int64
	muted    bool
	applied  []ConfigSet
	cmds     []string
	changed  chan struct{}
	applyErr []FieldError
}

func newTestDevice() *testDevice { return &testDevice{changed: make(chan struct{}, 1), version: 1} }

func (d *testDevice) State() ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return json.Marshal(map[string]any{"device": "dev1", "state": "live", "muted": d.muted, "config_version": d.version})
}

func (d *testDevice) Config() ([]byte, int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return []byte(`{"device":{"id":"dev1"},"room":{"token":"<redacted>"}}`), d.version
}

func (d *testDevice) ApplyConfig(_ context.Context, req ConfigSet) ConfigResult {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.applied = append(d.applied, req)
	if d.applyErr != nil {
		return ConfigResult{Version: d.version, Errors: d.applyErr}
	}
	d.version++
	d.notify()
	return ConfigResult{OK: true, Version: d.version, Applied: []string{"room"}}
}

func (d *testDevice) Command(_ context.Context, name string, payload []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cmds = append(d.cmds, name)
	if name == CmdMute {
		var a struct{ On *bool }
		if json.Unmarshal(payload, &a) != nil || a.On == nil {
			return fmt.Errorf("mute needs \"on\": true or false")
		}
		d.muted = *a.On
		d.notify()
	}
	if name == CmdLeave {
		return fmt.Errorf("not in a room")
	}
	return nil
}

func (d *testDevice) notify() {
	select {
	case d.changed <- struct{}{}:
	default:
	}
}

func (d *testDevice) Changed() <-chan struct{} { return d.changed }

// watcher is an operator's client on the same broker.
type watcher struct {
	t  *testing.T
	c  paho.Client
	mu sync.Mutex
	// last payload per topic, and every payload in order
	last map[string][]byte
	all  []string
	ch   chan paho.Message
}

func newWatcher(t *testing.T, url string, topics ...string) *watcher {
	t.Helper()
	w := &watcher{t: t, last: map[string][]byte{}, ch: make(chan paho.Message, 256)}
	o := paho.NewClientOptions().AddBroker(url).SetClientID(fmt.Sprintf("watch-%d", time.Now().UnixNano())).
		// In order: w.last is the last payload of each topic, and a
		// retained message delivered on subscribe followed at once by a
		// live one (a removal) must not swap places. The handler never
		// blocks.
		SetOrderMatters(true).SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(100 * time.Millisecond).
		SetMaxReconnectInterval(200 * time.Millisecond)
	subscribed := make(chan struct{})
	var once sync.Once
	o.SetOnConnectHandler(func(c paho.Client) {
		defer once.Do(func() { close(subscribed) })
		for _, tp := range topics {
			c.Subscribe(tp, 1, func(_ paho.Client, m paho.Message) {
				w.mu.Lock()
				w.last[m.Topic()] = append([]byte(nil), m.Payload()...)
				w.all = append(w.all, m.Topic())
				w.mu.Unlock()
				select {
				case w.ch <- m:
				default:
				}
			}).WaitTimeout(5 * time.Second) // the handler runs on a goroutine of its own
		}
	})
	w.c = paho.NewClient(o)
	if tok := w.c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("watcher connect: %v", tok.Error())
	}
	t.Cleanup(func() { w.c.Disconnect(0) })
	select {
	case <-subscribed:
	case <-time.After(5 * time.Second):
		t.Fatal("watcher never subscribed")
	}
	return w
}

func (w *watcher) get(topic string) ([]byte, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	p, ok := w.last[topic]
	return p, ok
}

// waitFor waits until pred holds for topic's last payload.
func (w *watcher) waitFor(topic string, d time.Duration, pred func([]byte) bool) []byte {
	w.t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if p, ok := w.get(topic); ok && pred(p) {
			return p
		}
		time.Sleep(5 * time.Millisecond)
	}
	p, _ := w.get(topic)
	w.t.Fatalf("%s: no matching payload within %v (last %q)", topic, d, p)
	return nil
}

func (w *watcher) clear(topic string) {
	w.mu.Lock()
	delete(w.last, topic)
	w.mu.Unlock()
}

// request publishes payload on topic and waits for the answer on result
// whose id is id.
func (w *watcher) request(topic, result, id string, payload []byte) []byte {
	w.t.Helper()
	w.clear(result)
	w.c.Publish(topic, 1, false, payload).Wait()
	return w.waitFor(result, 5*time.Second, func(p []byte) bool { return requestID(p) == id })
}

func startAgent(t *testing.T, url string, dev Device, mod func(*Options)) (*Agent, context.CancelFunc, chan struct{}) {
	t.Helper()
	o := Options{Broker: url, ClientID: "dev1", Topics: Topics{Prefix: "onair", ID: "dev1"}, Discovery: true,
		DiscoveryPrefix: "homeassistant", Keepalive: 5 * time.Second, MaxReconnect: 500 * time.Millisecond,
		Info: Info{Name: "Studio A", Board: "respeaker-4mic", Version: "test", HasDOA: true}}
	if mod != nil {
		mod(&o)
	}
	a := New(o, dev)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := a.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("agent did not stop within 5 s")
		}
	})
	return a, cancel, done
}

func TestAgentPublishesRetainedTopics(t *testing.T) {
	b := mqtttest.Start(t)
	dev := newTestDevice()
	startAgent(t, b.URL(), dev, nil)
	tp := Topics{Prefix: "onair", ID: "dev1"}
	w := newWatcher(t, b.URL(), "onair/#", "homeassistant/#")
	w.waitFor(tp.Status(), 5*time.Second, func(p []byte) bool { return string(p) == Online })
	w.waitFor(tp.State(), 5*time.Second, func(p []byte) bool { return strings.Contains(string(p), `"state":"live"`) })
	cfg := w.waitFor(tp.Config(), 5*time.Second, func(p []byte) bool { return true })
	var c map[string]any
	if err := json.Unmarshal(cfg, &c); err != nil || c["version"] != float64(1) {
		t.Fatalf("config topic: %s (%v)", cfg, err)
	}
	disc := w.waitFor(DiscoveryTopic("homeassistant", "dev1"), 5*time.Second, func(p []byte) bool { return len(p) > 0 })
	var d DiscoveryPayload
	if err := json.Unmarshal(disc, &d); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"on_air", "mute", "identify", "state", "level", "rtt", "loss", "direction"} {
		if _, ok := d.Components[k]; !ok {
			t.Errorf("discovery lacks component %s", k)
		}
	}
	if d.Components["identify"].DeviceClass != "identify" || d.Components["rtt"].EntityCategory != "diagnostic" || d.Avail != tp.Status() || d.Origin.Name == "" {
		t.Errorf("discovery: %s", disc)
	}
	if strings.Contains(string(disc), "object_id") || !strings.Contains(string(disc), `"default_entity_id":"switch.onair_dev1_on_air"`) {
		t.Errorf("discovery must use default_entity_id, not object_id: %s", disc)
	}
}

func TestAgentConfigAndCommands(t *testing.T) {
	b := mqtttest.Start(t)
	dev := newTestDevice()
	a, _, _ := startAgent(t, b.URL(), dev, nil)
	tp := Topics{Prefix: "onair", ID: "dev1"}
	w := newWatcher(t, b.URL(), "onair/dev1/#")
	w.waitFor(tp.Status(), 5*time.Second, func(p []byte) bool { return string(p) == Online })

	res := w.request(tp.ConfigSet(), tp.ConfigResult(), "r1", []byte(`{"id":"r1","version":5,"config":{"room":{"room":"b"}}}`))
	var cr ConfigResult
	json.Unmarshal(res, &cr)
	if !cr.OK || cr.Version != 2 || len(cr.Applied) != 1 {
		t.Fatalf("good patch: %s", res)
	}
	w.waitFor(tp.Config(), 5*time.Second, func(p []byte) bool { return strings.Contains(string(p), `"version":2`) })

	bad := []struct{ payload, want string }{
		{`{"id":"b1","config":`, "not JSON"},
		{`[1,2]`, "must be a JSON object"},
		{`{"id":"b3","config":[1]}`, "must be a JSON object, not an array"},
		{`{"id":"b4"}`, "missing"},
		{`{"id":"b5","config":{},"colour":"red"}`, "unknown key"},
		{`{"id":"b6","version":"x","config":{}}`, "non-negative integer"},
		{`{"id":"b7","version":1,"config":{}}`, "stale"},
		{`{"id":"b8","config":{"a":1,"a":2}}`, "duplicate key"},
		{`{"id":"b9","config":null}`, "must be a JSON object, not null"},
	}
	for i, c := range bad {
		id := fmt.Sprintf("b%d", i+1)
		if i == 0 || i == 1 {
			id = ""
		}
		w.clear(tp.ConfigResult())
		w.c.Publish(tp.ConfigSet(), 1, false, c.payload).Wait()
		p := w.waitFor(tp.ConfigResult(), 5*time.Second, func(p []byte) bool { return requestID(p) == id })
		var r ConfigResult
		json.Unmarshal(p, &r)
		if r.OK || len(r.Errors) == 0 || !strings.Contains(string(p), c.want) || r.Version != 2 {
			t.Errorf("payload %s: result %s, want an error with %q at version 2", c.payload, p, c.want)
		}
	}
	big := `{"id":"big","config":{"device":{"name":"` + strings.Repeat("x", MaxPayload) + `"}}}`
	w.clear(tp.ConfigResult())
	w.c.Publish(tp.ConfigSet(), 1, false, big).Wait()
	if p := w.waitFor(tp.ConfigResult(), 5*time.Second, func([]byte) bool { return true }); !strings.Contains(string(p), "more than 65536") {
		t.Errorf("oversized payload: %s", p)
	}
	dev.mu.Lock()
	if len(dev.applied) != 1 {
		t.Errorf("the device saw %d config requests, want only the good one", len(dev.applied))
	}
	dev.mu.Unlock()

	res = w.request(tp.Cmd(CmdMute), tp.CmdResult(), "c1", []byte(`{"id":"c1","on":true}`))
	if !strings.Contains(string(res), `"ok":true`) || !strings.Contains(string(res), `"cmd":"mute"`) {
		t.Fatalf("mute: %s", res)
	}
	w.waitFor(tp.State(), 5*time.Second, func(p []byte) bool { return strings.Contains(string(p), `"muted":true`) })
	for _, c := range []struct{ topic, payload, want string }{
		{tp.Cmd("dance"), `{"id":"c2"}`, "unknown command"},
		{tp.Cmd(CmdMute), `{"id":"c3"}`, "mute needs"},
		{tp.Cmd(CmdLeave), `{"id":"c4"}`, "not in a room"},
		{tp.Cmd(CmdIdentify), `{"id":"c5"`, "must be a JSON object"},
	} {
		id := requestID([]byte(c.payload))
		if id == "" {
			w.clear(tp.CmdResult())
			w.c.Publish(c.topic, 1, false, c.payload).Wait()
			p := w.waitFor(tp.CmdResult(), 5*time.Second, func([]byte) bool { return true })
			if !strings.Contains(string(p), c.want) {
				t.Errorf("%s %s: %s", c.topic, c.payload, p)
			}
			continue
		}
		p := w.request(c.topic, tp.CmdResult(), id, []byte(c.payload))
		if strings.Contains(string(p), `"ok":true`) || !strings.Contains(string(p), c.want) {
			t.Errorf("%s %s: %s, want an error with %q", c.topic, c.payload, p, c.want)
		}
	}
	w.c.Publish("onair/dev1/config/colour", 1, false, "x").Wait()
	deadline := time.Now().Add(5 * time.Second)
	for a.Stats().Ignored == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if a.Stats().Ignored != 1 {
		t.Errorf("a payload on an unknown topic: ignored count %d, want 1", a.Stats().Ignored)
	}
}

// A broker restarted without persistence has lost every retained topic:
// the agent republishes them all when it reconnects.
func TestAgentRepublishesAfterBrokerRestart(t *testing.T) {
	b := mqtttest.Start(t)
	startAgent(t, b.URL(), newTestDevice(), nil)
	tp := Topics{Prefix: "onair", ID: "dev1"}
	w := newWatcher(t, b.URL(), "onair/#", "homeassistant/#")
	w.waitFor(tp.Status(), 5*time.Second, func(p []byte) bool { return string(p) == Online })
	w.waitFor(DiscoveryTopic("homeassistant", "dev1"), 5*time.Second, func(p []byte) bool { return len(p) > 0 })
	b.Kill()
	for _, tpc := range []string{tp.Status(), tp.State(), tp.Config(), DiscoveryTopic("homeassistant", "dev1")} {
		w.clear(tpc)
	}
	b.Restart()
	back := time.Now()
	for _, tpc := range []string{tp.Status(), tp.State(), tp.Config(), DiscoveryTopic("homeassistant", "dev1")} {
		w.waitFor(tpc, 5*time.Second, func(p []byte) bool { return len(p) > 0 })
	}
	t.Logf("every retained topic back %v after the broker", time.Since(back).Round(time.Millisecond))
}

func TestAgentOfflineOnStopAndHomeAssistantBirth(t *testing.T) {
	b := mqtttest.Start(t)
	_, cancel, done := startAgent(t, b.URL(), newTestDevice(), nil)
	tp := Topics{Prefix: "onair", ID: "dev1"}
	w := newWatcher(t, b.URL(), "onair/#", "homeassistant/device/#")
	w.waitFor(tp.Status(), 5*time.Second, func(p []byte) bool { return string(p) == Online })
	disc := DiscoveryTopic("homeassistant", "dev1")
	w.waitFor(disc, 5*time.Second, func(p []byte) bool { return len(p) > 0 })
	w.clear(disc)
	w.c.Publish("homeassistant/status", 1, false, "online").Wait()
	w.waitFor(disc, 5*time.Second, func(p []byte) bool { return len(p) > 0 })
	cancel()
	<-done
	w.waitFor(tp.Status(), 5*time.Second, func(p []byte) bool { return string(p) == Offline })
}

func TestAgentDiscoveryOffRemovesDevice(t *testing.T) {
	b := mqtttest.Start(t)
	w := newWatcher(t, b.URL(), "homeassistant/device/#")
	disc := DiscoveryTopic("homeassistant", "dev1")
	w.c.Publish(disc, 1, true, `{"dev":{}}`).Wait()
	startAgent(t, b.URL(), newTestDevice(), func(o *Options) { o.Discovery = false })
	w.waitFor(disc, 5*time.Second, func(p []byte) bool { return len(p) == 0 })
}

func TestAgentMutualTLS(t *testing.T) {
	b := mqtttest.Start(t)
	a, _, _ := startAgent(t, b.TLSURL(), newTestDevice(), func(o *Options) {
		tc, err := TLSConfig(b.CAFile, b.CertFile, b.KeyFile)
		if err != nil {
			t.Fatal(err)
		}
		o.TLS = tc
	})
	w := newWatcher(t, b.URL(), "onair/#")
	w.waitFor("onair/dev1/status", 5*time.Second, func(p []byte) bool { return string(p) == Online })
	if !a.Stats().Connected {
		t.Error("Stats says not connected")
	}
	// Without a client certificate the broker refuses the device; it
	// keeps trying and never gets in.
	a2, _, _ := startAgent(t, b.TLSURL(), newTestDevice(), func(o *Options) {
		tc, _ := TLSConfig(b.CAFile, "", "")
		o.TLS = tc
		o.ClientID = "nocert"
		o.Topics.ID = "nocert"
	})
	time.Sleep(500 * time.Millisecond)
	if a2.Stats().Connects != 0 {
		t.Error("a device without a client certificate got in")
	}
}

func FuzzDecodeConfigSet(f *testing.F) {
	for _, s := range []string{`{"id":"a","config":{}}`, `{"id":"a","version":3,"config":{"room":{"url":null}},"force":true}`, `[]`, `null`, `{"config":"x"}`, `{"id":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		req, errs := DecodeConfigSet(p)
		if len(errs) == 0 && req.Config == nil {
			t.Fatalf("%q: accepted without a config", p)
		}
	})
}
