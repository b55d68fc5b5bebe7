package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onair-gateway/onair/net/livekit/lkauth"
	"github.com/onair-gateway/onair/provisioning/mqtt"
	"github.com/onair-gateway/onair/provisioning/mqtt/fleet"
	"github.com/onair-gateway/onair/provisioning/mqtt/fleet/fleettest"
	"github.com/onair-gateway/onair/provisioning/mqtt/mqtttest"
)

// onairctl runs the command line and returns the exit code, stdout and
// stderr.
func onairctl(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	code := mainErr(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestWatchOnce(t *testing.T) {
	b := mqtttest.Start(t)
	fleettest.Start(t, fleettest.Config{Broker: b.URL(), ID: "dev1", Name: "Studio A", Room: "news", Version: "1.2.3"})
	fleettest.Start(t, fleettest.Config{Broker: b.URL(), ID: "dev2"})

	code, out, errs := onairctl(t, "watch", "-once", "-json", "-broker", b.URL(), "-settle", "300ms")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var devs []fleet.Device
	if err := json.Unmarshal([]byte(out), &devs); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(devs) != 2 || devs[0].ID != "dev1" || devs[0].Name != "Studio A" || devs[0].Status != "online" ||
		devs[0].Room != "news" || devs[0].Version != "1.2.3" || devs[0].RTT != 23*time.Millisecond || devs[1].ID != "dev2" {
		t.Errorf("devices %+v", devs)
	}

	code, out, errs = onairctl(t, "watch", "-once", "-broker", b.URL(), "-settle", "300ms")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID ") {
		t.Fatalf("table:\n%s", out)
	}
	for _, want := range []string{"dev1", "Studio A", "online", "live", "news", "-20.5 dBFS", "1.5%", "23ms", "1.2.3"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("row %q lacks %q", lines[1], want)
		}
	}
}

// The live watch on a pipe prints a header, then one line per change.
func TestWatchLive(t *testing.T) {
	b := mqtttest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 1)
	go func() {
		var errb bytes.Buffer
		done <- mainErr(ctx, []string{"watch", "-broker", b.URL()}, w, &errb)
		w.Close()
	}()
	fleettest.Start(t, fleettest.Config{Broker: b.URL(), ID: "dev1", Room: "news"})
	var got strings.Builder
	buf := make([]byte, 4096)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(got.String(), "news") && time.Now().Before(deadline) {
		n, err := r.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			break
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit %d", code)
	}
	if s := got.String(); !strings.HasPrefix(s, "ID\tNAME\tSTATUS") || !strings.Contains(s, "dev1\t") || !strings.Contains(s, "\tnews\t") {
		t.Errorf("output %q", s)
	}
}

func TestProvisionCommand(t *testing.T) {
	b := mqtttest.Start(t)
	dev1 := fleettest.Start(t, fleettest.Config{Broker: b.URL(), ID: "dev1"})
	fleettest.Start(t, fleettest.Config{Broker: b.URL(), ID: "dev2"})
	fleettest.Start(t, fleettest.Config{Broker: b.URL(), ID: "dev3", Refuse: []mqtt.FieldError{
		{Path: "room.url", Message: `"x" is not a URL`}, {Path: "", Message: "version 1 is stale"}}})
	fleettest.Start(t, fleettest.Config{Broker: b.URL(), ID: "dev4", Silent: true})
	yamlPatch := writeFile(t, "patch.yaml", "room:\n  room: news\n  token: null\n")
	jsonPatch := writeFile(t, "patch.json", `{"audio":{"gain_db":3}}`)

	code, out, errs := onairctl(t, "provision", "-broker", b.URL(), "-device", "dev1", "-set", yamlPatch)
	if code != 0 || out != "dev1: ok, config version 2, restarted room\n" {
		t.Fatalf("exit %d, out %q, err %q", code, out, errs)
	}
	if got := string(dev1.WaitSets(t, 1)[0].Config); got != `{"room":{"room":"news","token":null}}` {
		t.Errorf("device got patch %s", got)
	}

	code, out, errs = onairctl(t, "provision", "-broker", b.URL(), "-device", "dev1,dev2", "-set", jsonPatch, "-version", "5")
	if code != 0 || !strings.Contains(out, "dev1: ok") || !strings.Contains(out, "dev2: ok") {
		t.Fatalf("list: exit %d, out %q, err %q", code, out, errs)
	}
	if v := dev1.WaitSets(t, 2)[1].Version; v == nil || *v != 5 {
		t.Errorf("version %v, want 5", v)
	}

	code, out, errs = onairctl(t, "provision", "-broker", b.URL(), "-all", "-settle", "300ms", "-set", jsonPatch, "-timeout", "1500ms")
	if code != 1 {
		t.Errorf("-all with a refusing and a silent device: exit %d, want 1", code)
	}
	for _, want := range []string{"dev1: ok", "dev2: ok", "dev3: refused", `  room.url: "x" is not a URL`, "  (request): version 1 is stale",
		"dev4: no answer within 1.5s"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errs, "2 of 4 devices did not apply the patch") {
		t.Errorf("stderr %q", errs)
	}

	// cmd: a round trip, and a failure.
	code, out, errs = onairctl(t, "cmd", "-broker", b.URL(), "-device", "dev1", "mute", "on")
	if code != 0 || out != "dev1: mute ok\n" {
		t.Fatalf("cmd mute: exit %d, out %q, err %q", code, out, errs)
	}
	cmds := dev1.Commands()
	if len(cmds) != 1 || cmds[0].Name != "mute" || cmds[0].Args["on"] != true {
		t.Errorf("device got %+v", cmds)
	}
	code, out, _ = onairctl(t, "cmd", "-broker", b.URL(), "-device", "dev1", "rotate_key", "-index", "2", "-passphrase", "correct horse")
	if code != 0 || !strings.Contains(out, "dev1: rotate_key ok") {
		t.Errorf("rotate_key: exit %d, out %q", code, out)
	}
	if c := dev1.Commands(); len(c) != 2 || c[1].Args["index"] != 2.0 || c[1].Args["passphrase"] != "correct horse" {
		t.Errorf("device got %+v", c)
	}
	code, out, _ = onairctl(t, "cmd", "-broker", b.URL(), "-device", "dev4", "-timeout", "500ms", "identify")
	if code != 1 || !strings.Contains(out, "dev4: identify: no answer within 500ms") {
		t.Errorf("silent device: exit %d, out %q", code, out)
	}
}

func TestFleetUsageErrors(t *testing.T) {
	patch := writeFile(t, "p.json", `{}`)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"provision", "-set", patch}, "-device: required"},
		{[]string{"provision", "-device", "a", "-all", "-set", patch}, "not both"},
		{[]string{"provision", "-device", "a"}, "-set: required"},
		{[]string{"provision", "-device", "a", "-set", writeFile(t, "p.yaml", "- 1\n")}, "not an array"},
		{[]string{"provision", "-device", "a", "-set", patch, "-broker", "http://h"}, `-broker: scheme "http"`},
		{[]string{"provision", "-device", "a", "-set", patch, "-cert", "c.pem", "-broker", "ssl://h"}, "-key: -cert and -key go together"},
		{[]string{"provision", "-device", "a", "-set", patch, "-version", "x"}, `"x" is not a positive integer`},
		{[]string{"watch", "-password", "hunter2"}, "-username: required with a password"},
		{[]string{"cmd", "-device", "a"}, "a command is required"},
		{[]string{"cmd", "-device", "a", "mute"}, "mute takes one argument"},
		{[]string{"cmd", "-device", "a", "onair", "maybe"}, `onair "maybe": want on or off`},
		{[]string{"cmd", "-device", "a", "reboot"}, `unknown command "reboot"`},
		{[]string{"cmd", "-device", "a", "join", "now"}, "join takes no argument"},
		{[]string{"cmd", "-device", "a", "rotate_key", "-passphrase", "long enough"}, "-index is required"},
		{[]string{"cmd", "-device", "a", "rotate_key", "-index", "1", "-key", "c2VjcmV0"}, "-key: decodes to 6 bytes"},
		{[]string{"token", "-device", "a", "-api-key", "k"}, "-api-secret: required"},
		{[]string{"token", "-device", "a", "-api-key", "k", "-api-secret", "s", "-ttl", "30s"}, "-ttl: 30s is out of range 1m..24h"},
	} {
		t.Setenv("ONAIR_API_SECRET", "")
		t.Setenv("ONAIR_MQTT_PASSWORD", "")
		t.Setenv("ONAIR_E2EE_PASSPHRASE", "")
		t.Setenv("ONAIR_E2EE_KEY", "")
		code, out, errs := onairctl(t, tc.args...)
		if code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want 2 and %q", tc.args, code, errs, tc.want)
		}
		if strings.Contains(out+errs, "hunter2") || strings.Contains(out+errs, "c2VjcmV0") {
			t.Errorf("%v: a secret was printed", tc.args)
		}
	}
}

func TestTokenCommand(t *testing.T) {
	b := mqtttest.Start(t)
	dev := fleettest.Start(t, fleettest.Config{Broker: b.TLSURL(), TLS: b.ClientTLS(), ID: "dev1", Room: "news"})
	const secret = "a-secret-of-at-least-thirty-two-characters"
	t.Setenv("ONAIR_API_SECRET", secret)
	code, out, errs := onairctl(t, "token", "-broker", b.TLSURL(), "-ca", b.CAFile, "-cert", b.CertFile, "-key", b.KeyFile,
		"-device", "dev1", "-api-key", "APIkey", "-ttl", "1h")
	if code != 0 || !strings.HasPrefix(out, "dev1: token for room news, valid until ") || !strings.Contains(out, "applied (config version 2)") {
		t.Fatalf("exit %d, out %q, err %q", code, out, errs)
	}
	if strings.Contains(out+errs, "eyJ") || strings.Contains(out+errs, secret) {
		t.Errorf("a token or the secret was printed: %q %q", out, errs)
	}
	var patch struct {
		Room struct {
			Token string `json:"token"`
		} `json:"room"`
	}
	if err := json.Unmarshal(dev.WaitSets(t, 1)[0].Config, &patch); err != nil {
		t.Fatal(err)
	}
	c, err := lkauth.Read(patch.Room.Token)
	if err != nil || c.Identity != "dev1" || c.Room != "news" || time.Until(c.Expires) > time.Hour || time.Until(c.Expires) < 59*time.Minute {
		t.Errorf("claims %+v %v", c, err)
	}
}
