package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/onair-gateway/onair/net/livekit/livekittest"
	"github.com/onair-gateway/onair/provisioning/mqtt"
	"github.com/onair-gateway/onair/provisioning/mqtt/mqtttest"
)

// broker watches every topic under a prefix as an operator's tool would.
type brokerView struct {
	t    *testing.T
	c    paho.Client
	mu   sync.Mutex
	last map[string]string
	at   map[string]time.Time
}

func watchBroker(t *testing.T, url string) *brokerView {
	t.Helper()
	v := &brokerView{t: t, last: map[string]string{}, at: map[string]time.Time{}}
	o := paho.NewClientOptions().AddBroker(url).SetClientID(fmt.Sprintf("op-%d", time.Now().UnixNano())).
		// In order: last is each topic's last payload.
		SetOrderMatters(true).SetConnectRetry(true).SetConnectRetryInterval(100 * time.Millisecond).
		SetAutoReconnect(true).SetMaxReconnectInterval(200 * time.Millisecond)
	o.SetOnConnectHandler(func(c paho.Client) {
		c.Subscribe("#", 1, func(_ paho.Client, m paho.Message) {
			v.mu.Lock()
			v.last[m.Topic()] = string(m.Payload())
			v.at[m.Topic()] = time.Now()
			v.mu.Unlock()
		})
	})
	v.c = paho.NewClient(o)
	if tok := v.c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("operator connect: %v", tok.Error())
	}
	t.Cleanup(func() { v.c.Disconnect(0) })
	return v
}

func (v *brokerView) wait(topic string, d time.Duration, pred func(string) bool) (string, time.Time) {
	v.t.Helper()
	deadline := time.Now().Add(d)
	for {
		v.mu.Lock()
		p, ok := v.last[topic]
		at := v.at[topic]
		v.mu.Unlock()
		if ok && pred(p) {
			return p, at
		}
		if time.Now().After(deadline) {
			v.t.Fatalf("%s: nothing matching within %v (last %q)", topic, d, p)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (v *brokerView) forget(topic string) {
	v.mu.Lock()
	delete(v.last, topic)
	v.mu.Unlock()
}

// request sends payload and returns the result with its id.
func (v *brokerView) request(topic, result, id, payload string) string {
	v.t.Helper()
	v.forget(result)
	v.c.Publish(topic, 1, false, payload).Wait()
	p, _ := v.wait(result, 10*time.Second, func(p string) bool { return strings.Contains(p, `"id":"`+id+`"`) })
	return p
}

// TestMQTTEndToEnd runs the real onaird on the simulated board into a real
// livekit-server, with a real mosquitto: provisioning, commands, the Last
// Will after kill -9, the patch kept across a restart, and retained topics
// back after a broker restart without persistence.
func TestMQTTEndToEnd(t *testing.T) {
	srv := livekittest.Start(t)
	b := mqtttest.Start(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "onair.yaml")
	doc := fmt.Sprintf(`device: {id: mq1, state_dir: %q}
board:
  profile: sim
  sim: {signal: tone, frequency: 1000, keyboard: false}
room: {url: %q, api_key: %q, api_secret: %q, room: a}
mqtt: {broker: %q, keepalive: 5s}
`, filepath.Join(dir, "state"), srv.URL, srv.APIKey, srv.APISecret, b.URL())
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	start := func() *exec.Cmd {
		cmd := exec.Command(onairdBin, "-config", path, "-log-format", "json")
		cmd.Stderr = &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if cmd.ProcessState == nil {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
			}
		})
		return cmd
	}
	tp := mqtt.Topics{Prefix: "onair", ID: "mq1"}
	v := watchBroker(t, b.URL())
	cmd := start()
	v.wait(tp.Status(), 15*time.Second, func(p string) bool { return p == mqtt.Online })
	v.wait(tp.State(), 15*time.Second, func(p string) bool { return strings.Contains(p, `"state":"live"`) })
	cfg, _ := v.wait(tp.Config(), 5*time.Second, func(string) bool { return true })
	if strings.Contains(cfg, srv.APISecret) || !strings.Contains(cfg, `"version":0`) {
		t.Fatalf("config topic: %s", cfg)
	}
	v.wait(mqtt.DiscoveryTopic("homeassistant", "mq1"), 5*time.Second, func(p string) bool { return strings.Contains(p, `"cmps"`) })

	res := v.request(tp.ConfigSet(), tp.ConfigResult(), "p1", `{"id":"p1","config":{"room":{"room":"b"}}}`)
	if !strings.Contains(res, `"ok":true`) || !strings.Contains(res, `"applied":["room"]`) {
		t.Fatalf("config/set: %s", res)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := srv.WaitParticipant(ctx, "b", "mq1"); err != nil {
		t.Fatalf("not in room b after the patch: %v", err)
	}
	res = v.request(tp.ConfigSet(), tp.ConfigResult(), "p2", `{"id":"p2","config":{"opus":{"bitrate":"loud"},"room":{"url":null}}}`)
	if !strings.Contains(res, `"ok":false`) || !strings.Contains(res, `"path":"opus.bitrate"`) || !strings.Contains(res, `"path":"room.url"`) {
		t.Fatalf("bad patch: %s", res)
	}
	res = v.request(tp.Cmd("mute"), tp.CmdResult(), "c1", `{"id":"c1","on":true}`)
	if !strings.Contains(res, `"ok":true`) {
		t.Fatalf("mute: %s", res)
	}
	v.wait(tp.State(), 5*time.Second, func(p string) bool { return strings.Contains(p, `"muted":true`) })

	// kill -9: the broker publishes the Last Will within 1.5 keepalives.
	killed := time.Now()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	_, at := v.wait(tp.Status(), 7500*time.Millisecond, func(p string) bool { return p == mqtt.Offline })
	t.Logf("offline through the Last Will %v after kill -9 (keepalive 5 s)", at.Sub(killed).Round(time.Millisecond))

	// A restart keeps the provisioned patch.
	cmd = start()
	v.wait(tp.Status(), 15*time.Second, func(p string) bool { return p == mqtt.Online })
	st, _ := v.wait(tp.State(), 15*time.Second, func(p string) bool { return strings.Contains(p, `"state":"live"`) })
	var s struct {
		Room          string `json:"room"`
		ConfigVersion int64  `json:"config_version"`
	}
	json.Unmarshal([]byte(st), &s)
	if s.Room != "b" || s.ConfigVersion != 1 {
		t.Fatalf("after restart: room %q config_version %d (state %s)", s.Room, s.ConfigVersion, st)
	}

	// A broker restarted without persistence: everything retained is back.
	b.Kill()
	for _, tpc := range []string{tp.Status(), tp.State(), tp.Config(), mqtt.DiscoveryTopic("homeassistant", "mq1")} {
		v.forget(tpc)
	}
	b.Restart()
	back := time.Now()
	for _, tpc := range []string{tp.Status(), tp.State(), tp.Config(), mqtt.DiscoveryTopic("homeassistant", "mq1")} {
		v.wait(tpc, 5*time.Second, func(p string) bool { return p != "" })
	}
	t.Logf("retained topics back %v after the broker restarted", time.Since(back).Round(time.Millisecond))
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	v.wait(tp.Status(), 5*time.Second, func(p string) bool { return p == mqtt.Offline })
	if strings.Contains(logs.String(), srv.APISecret) {
		t.Error("the API secret is in onaird's log")
	}
}
