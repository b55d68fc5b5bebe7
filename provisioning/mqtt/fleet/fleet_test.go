package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/livekit/protocol/auth"

	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/net/livekit/lkauth"
	"github.com/onair-gateway/onair/provisioning/mqtt"
	"github.com/onair-gateway/onair/provisioning/mqtt/fleet/fleettest"
	"github.com/onair-gateway/onair/provisioning/mqtt/mqtttest"
)

// settle is short on loopback, where a retained burst takes milliseconds.
const settle = 300 * time.Millisecond

func connect(t *testing.T, o Options, clock clockwork.Clock) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := Connect(ctx, o, nil, clock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestSnapshotTable(t *testing.T) {
	b := mqtttest.Start(t)
	fleettest.Start(t, fleettest.Config{Broker: b.URL(), ID: "dev1", Name: "Studio A", Room: "news", Version: "1.2.3"})
	fleettest.Start(t, fleettest.Config{Broker: b.URL(), ID: "dev2", Name: "Studio B"})
	// Another prefix's device is not this fleet's.
	fleettest.Start(t, fleettest.Config{Broker: b.URL(), ID: "other", Prefix: "elsewhere"})
	c := connect(t, Options{Broker: b.URL()}, nil)
	tab, err := c.Snapshot(testCtx(t), settle)
	if err != nil {
		t.Fatal(err)
	}
	devs := tab.Devices()
	if len(devs) != 2 || devs[0].ID != "dev1" || devs[1].ID != "dev2" {
		t.Fatalf("devices %+v, want dev1 and dev2", devs)
	}
	d := devs[0]
	want := Device{ID: "dev1", Name: "Studio A", Status: "online", State: "live", Room: "news", LevelDBFS: -20.5,
		Loss: 0.015, RTT: 23 * time.Millisecond, Version: "1.2.3", ConfigVersion: 1, LastSeen: d.LastSeen}
	if d != want {
		t.Errorf("row\n got %+v\nwant %+v", d, want)
	}
	if d.LastSeen.IsZero() || time.Since(d.LastSeen) > time.Minute {
		t.Errorf("last seen %v", d.LastSeen)
	}
}

func TestWatchSeesChanges(t *testing.T) {
	b := mqtttest.Start(t)
	c := connect(t, Options{Broker: b.URL()}, nil)
	ctx, cancel := context.WithCancel(testCtx(t))
	rows := make(chan Device, 100)
	done := make(chan error, 1)
	go func() {
		done <- c.Watch(ctx, func(changed []string, tab *Table) {
			for _, id := range changed {
				d, _ := tab.Device(id)
				rows <- d
			}
		})
	}()
	// The watch subscribes asynchronously; the device's retained topics
	// reach it whether it starts before or after.
	fleettest.Start(t, fleettest.Config{Broker: b.URL(), ID: "dev1"})
	waitRow(t, rows, func(d Device) bool { return d.Status == mqtt.Online && d.State == "live" })
	cmdClient := connect(t, Options{Broker: b.URL()}, nil)
	res, err := cmdClient.Command(ctx, Target{IDs: []string{"dev1"}}, mqtt.CmdMute, map[string]any{"on": true}, 0)
	if err != nil || !res[0].OK() {
		t.Fatalf("mute: %+v %v", res, err)
	}
	waitRow(t, rows, func(d Device) bool { return d.Muted })
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Watch returned %v after cancel, want nil", err)
	}
}

func waitRow(t *testing.T, rows <-chan Device, ok func(Device) bool) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case d := <-rows:
			if ok(d) {
				return
			}
		case <-deadline:
			t.Fatal("watch never showed the expected row")
		}
	}
}

func TestProvision(t *testing.T) {
	b := mqtttest.Start(t)
	dev1 := fleettest.Start(t, fleettest.Config{Broker: b.URL(), ID: "dev1"})
	dev2 := fleettest.Start(t, fleettest.Config{Broker: b.URL(), ID: "dev2"})
	refusing := fleettest.Start(t, fleettest.Config{Broker: b.URL(), ID: "dev3", Refuse: []mqtt.FieldError{
		{Path: "room.url", Message: `"x" is not a URL`}, {Path: "audio.gain_db", Message: "99 is out of range"}}})
	silent := fleettest.Start(t, fleettest.Config{Broker: b.URL(), ID: "dev4", Silent: true})
	c := connect(t, Options{Broker: b.URL()}, nil)
	ctx := testCtx(t)
	patch := json.RawMessage(`{"audio":{"gain_db":3},"room":{"room":"news"}}`)

	t.Run("one", func(t *testing.T) {
		res, err := c.Provision(ctx, Target{IDs: []string{"dev1"}}, patch, ProvisionOptions{Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 1 || !res[0].OK() || res[0].Result.Version != 2 || strings.Join(res[0].Result.Applied, ",") != "audio,room" {
			t.Fatalf("result %+v", res)
		}
		sets := dev1.WaitSets(t, 1)
		if string(sets[0].Config) != string(patch) || sets[0].ID != res[0].Result.ID || len(sets[0].ID) != 16 {
			t.Errorf("device got %+v", sets[0])
		}
	})
	t.Run("list", func(t *testing.T) {
		v := int64(7)
		res, err := c.Provision(ctx, Target{IDs: []string{"dev2", "dev1"}}, patch, ProvisionOptions{Version: &v, Force: true, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 2 || res[0].Device != "dev2" || res[1].Device != "dev1" || !res[0].OK() || !res[1].OK() {
			t.Fatalf("results %+v", res)
		}
		s1, s2 := dev1.Sets(), dev2.WaitSets(t, 1)
		last1, last2 := s1[len(s1)-1], s2[len(s2)-1]
		if last1.ID == last2.ID {
			t.Errorf("both devices got request id %s: want one per device", last1.ID)
		}
		if last2.Version == nil || *last2.Version != 7 || !last2.Force {
			t.Errorf("device got %+v, want version 7 and force", last2)
		}
	})
	t.Run("all", func(t *testing.T) {
		// A device gone offline (its Last Will) is asked too, and its
		// silence is explained.
		if err := wait(ctx, c.mc.Publish("onair/dev5/status", 1, true, mqtt.Offline), 5*time.Second); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		res, err := c.Provision(ctx, Target{All: true, Settle: settle}, patch, ProvisionOptions{Timeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]ProvisionResult{}
		for _, r := range res {
			got[r.Device] = r
		}
		if len(res) != 5 || !got["dev1"].OK() || !got["dev2"].OK() {
			t.Fatalf("results %+v", res)
		}
		if r := got["dev3"]; r.OK() || r.Err != nil || len(r.Result.Errors) != 2 || r.Result.Errors[0].Path != "room.url" {
			t.Errorf("refusing device: %+v", r)
		}
		if r := got["dev4"]; r.OK() || !errors.Is(r.Err, ErrNoAnswer) || strings.Contains(r.Err.Error(), "offline") {
			t.Errorf("silent device: %+v, want ErrNoAnswer", r)
		}
		if r := got["dev5"]; !errors.Is(r.Err, ErrNoAnswer) || !strings.HasSuffix(r.Err.Error(), "(its status is offline)") {
			t.Errorf("offline device: %+v, want ErrNoAnswer saying it is offline", r)
		}
		if len(refusing.Sets()) != 1 || len(silent.WaitSets(t, 1)) != 1 {
			t.Errorf("refusing and silent devices got %d and %d requests, want 1 each", len(refusing.Sets()), len(silent.Sets()))
		}
		if el := time.Since(start); el > 20*time.Second {
			t.Errorf("took %v", el)
		}
	})
	t.Run("bad", func(t *testing.T) {
		for _, tc := range []struct {
			target Target
			patch  string
			want   string
		}{
			{Target{}, `{}`, "-device: required"},
			{Target{IDs: []string{"a"}, All: true}, `{}`, "not both"},
			{Target{IDs: []string{"a/b"}}, `{}`, `"a/b" is not a device id`},
			{Target{IDs: []string{"a", "a"}}, `{}`, "listed twice"},
			{Target{IDs: []string{"a"}}, `[1]`, "not an array"},
			{Target{IDs: []string{"a"}}, `{`, "not valid JSON"},
		} {
			_, err := c.Provision(ctx, tc.target, json.RawMessage(tc.patch), ProvisionOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%+v %s: error %v, want %q", tc.target, tc.patch, err, tc.want)
			}
		}
	})
}

// A result with another request's id is not the answer: a device that
// never answers this request times out even though results arrive.
func TestProvisionMatchesRequestID(t *testing.T) {
	b := mqtttest.Start(t)
	fleettest.Start(t, fleettest.Config{Broker: b.URL(), ID: "dev1", Silent: true})
	c := connect(t, Options{Broker: b.URL()}, nil)
	other := connect(t, Options{Broker: b.URL()}, nil)
	ctx := testCtx(t)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				_ = other.publish(ctx, "onair/dev1/config/result", []byte(`{"id":"someone-else","ok":true,"version":9}`))
			}
		}
	}()
	res, err := c.Provision(ctx, Target{IDs: []string{"dev1"}}, json.RawMessage(`{}`), ProvisionOptions{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(res[0].Err, ErrNoAnswer) {
		t.Fatalf("result %+v, want ErrNoAnswer", res[0])
	}
}

func TestAllFindsNoDevice(t *testing.T) {
	b := mqtttest.Start(t)
	c := connect(t, Options{Broker: b.URL(), Prefix: "empty"}, nil)
	_, err := c.Provision(testCtx(t), Target{All: true, Settle: settle}, json.RawMessage(`{}`), ProvisionOptions{})
	if !errors.Is(err, ErrNoDevices) || !strings.Contains(err.Error(), `"empty"`) {
		t.Fatalf("error %v, want ErrNoDevices naming the prefix", err)
	}
}

func TestCommand(t *testing.T) {
	b := mqtttest.Start(t)
	dev := fleettest.Start(t, fleettest.Config{Broker: b.URL(), ID: "dev1"})
	failing := fleettest.Start(t, fleettest.Config{Broker: b.URL(), ID: "dev2", CmdError: "not in a room"})
	c := connect(t, Options{Broker: b.URL()}, nil)
	ctx := testCtx(t)
	res, err := c.Command(ctx, Target{IDs: []string{"dev1", "dev2"}}, mqtt.CmdRotateKey, map[string]any{"index": 3, "passphrase": "pass phrase"}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !res[0].OK() || res[0].Result.Cmd != mqtt.CmdRotateKey {
		t.Errorf("dev1: %+v", res[0])
	}
	if res[1].OK() || res[1].Result.Error != "not in a room" {
		t.Errorf("dev2: %+v, want the device's error", res[1])
	}
	cmds := dev.Commands()
	if len(cmds) != 1 || cmds[0].Name != "rotate_key" || cmds[0].Args["index"] != 3.0 || cmds[0].Args["passphrase"] != "pass phrase" {
		t.Errorf("device got %+v", cmds)
	}
	if len(failing.Commands()) != 1 {
		t.Errorf("failing device got %+v", failing.Commands())
	}
	if _, err := c.Command(ctx, Target{IDs: []string{"dev1"}}, "reboot", nil, 0); err == nil || !strings.Contains(err.Error(), `unknown command "reboot"`) {
		t.Errorf("unknown command: %v", err)
	}
}

func TestMutualTLS(t *testing.T) {
	b := mqtttest.Start(t)
	dev := fleettest.Start(t, fleettest.Config{Broker: b.TLSURL(), TLS: b.ClientTLS(), ID: "dev1"})
	c := connect(t, Options{Broker: "mqtts://" + b.TLSAddr, CAFile: b.CAFile, CertFile: b.CertFile, KeyFile: b.KeyFile}, nil)
	res, err := c.Provision(testCtx(t), Target{IDs: []string{"dev1"}}, json.RawMessage(`{"room":{"room":"a"}}`), ProvisionOptions{Timeout: 5 * time.Second})
	if err != nil || !res[0].OK() || len(dev.Sets()) != 1 {
		t.Fatalf("provision over mutual TLS: %+v %v", res, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := Connect(ctx, Options{Broker: b.TLSURL(), CAFile: b.CAFile}, nil, nil); err == nil {
		t.Error("a client without a certificate connected to the mutual-TLS listener")
	} else if !strings.Contains(err.Error(), "connect to ssl://"+b.TLSAddr) {
		t.Errorf("error %v does not name the broker", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{}, "-broker: required"},
		{Options{Broker: "host:1883"}, "-broker"},
		{Options{Broker: "ws://h:1"}, `scheme "ws"`},
		{Options{Broker: "tcp://h", CAFile: "ca.pem"}, "not a TLS URL"},
		{Options{Broker: "ssl://h", CertFile: "c.pem"}, "-key: -cert and -key go together"},
		{Options{Broker: "tcp://h", Prefix: "/x"}, "-prefix"},
		{Options{Broker: "tcp://u:hunter2@h", Password: conf.Secret("hunter2")}, "-username: required with a password"},
	} {
		err := tc.o.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.o, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error %q shows the password", err)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"tcp://h", "tcp://h:1883"}, {"mqtts://h", "mqtts://h:8883"}, {"ssl://h:1", "ssl://h:1"},
	} {
		if got := (Options{Broker: tc.in}).brokerURL(); got != tc.want {
			t.Errorf("brokerURL(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
	if err := (Options{Broker: "ssl://h:8883", CAFile: "/nonexistent/ca.pem"}).Validate(); err != nil {
		t.Errorf("valid options: %v", err)
	}
	if _, err := (Options{Broker: "ssl://h:8883", CAFile: "/nonexistent/ca.pem"}).tlsConfig(); err == nil || !strings.HasPrefix(err.Error(), "-ca: ") {
		t.Errorf("missing CA file: %v, want an error naming -ca", err)
	}
}

func TestToken(t *testing.T) {
	b := mqtttest.Start(t)
	dev := fleettest.Start(t, fleettest.Config{Broker: b.URL(), ID: "dev1", Room: "news"})
	c := connect(t, Options{Broker: b.URL()}, nil)
	const key, secret = "APIkey", "a-secret-of-at-least-thirty-two-characters"
	var pushes []TokenPush
	err := c.Token(testCtx(t), Target{IDs: []string{"dev1"}}, TokenOptions{APIKey: key, APISecret: secret, TTL: 2 * time.Hour, Settle: settle},
		func(p []TokenPush) { pushes = append(pushes, p...) })
	if err != nil {
		t.Fatal(err)
	}
	if len(pushes) != 1 || !pushes[0].OK() || pushes[0].Room != "news" {
		t.Fatalf("pushes %+v", pushes)
	}
	claims := pushedClaims(t, dev.WaitSets(t, 1)[0], key, secret)
	if claims.Identity != "dev1" || claims.Room != "news" {
		t.Errorf("claims %+v, want identity dev1, room news", claims)
	}
	if ttl := time.Until(claims.Expires); ttl < 2*time.Hour-time.Minute || ttl > 2*time.Hour {
		t.Errorf("token expires in %v, want 2h", ttl)
	}

	// -room wins over the device's config; the TTL range is room.token_ttl's.
	pushes = nil
	if err := c.Token(testCtx(t), Target{IDs: []string{"dev1"}}, TokenOptions{APIKey: key, APISecret: secret, Room: "sport"}, func(p []TokenPush) { pushes = append(pushes, p...) }); err != nil {
		t.Fatal(err)
	}
	if claims := pushedClaims(t, dev.WaitSets(t, 2)[1], key, secret); claims.Room != "sport" || time.Until(claims.Expires) < 5*time.Hour {
		t.Errorf("claims %+v, want room sport and the default TTL 6h", claims)
	}
	err = c.Token(testCtx(t), Target{IDs: []string{"dev1"}}, TokenOptions{APIKey: key, TTL: 25 * time.Hour}, nil)
	if err == nil || !strings.Contains(err.Error(), "-api-secret: required") || !strings.Contains(err.Error(), "-ttl: 25h0m0s is out of range") {
		t.Errorf("bad options: %v", err)
	}
}

// pushedClaims checks that a pushed patch is exactly a room.token and
// returns the token's verified claims.
func pushedClaims(t *testing.T, set mqtt.ConfigSet, key, secret string) lkauth.Claims {
	t.Helper()
	var patch map[string]map[string]string
	if err := json.Unmarshal(set.Config, &patch); err != nil || len(patch) != 1 || len(patch["room"]) != 1 {
		t.Fatalf("patch %s, want {\"room\":{\"token\":...}}", set.Config)
	}
	tok := patch["room"]["token"]
	v, err := auth.ParseAPIToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	if _, grants, err := v.Verify(secret); err != nil || v.APIKey() != key || !grants.Video.RoomJoin || grants.Video.GetCanSubscribe() {
		t.Fatalf("token does not verify with the API secret or has the wrong grants: %v %+v", err, grants)
	}
	claims, err := lkauth.Read(tok)
	if err != nil {
		t.Fatal(err)
	}
	return claims
}

func TestTokenRefresh(t *testing.T) {
	b := mqtttest.Start(t)
	dev := fleettest.Start(t, fleettest.Config{Broker: b.URL(), ID: "dev1"})
	clock := clockwork.NewFakeClock()
	c := connect(t, Options{Broker: b.URL()}, clock)
	ctx, cancel := context.WithCancel(testCtx(t))
	rounds := make(chan []TokenPush, 10)
	done := make(chan error, 1)
	const ttl = 30 * time.Minute
	go func() {
		done <- c.Token(ctx, Target{IDs: []string{"dev1"}}, TokenOptions{APIKey: "k", APISecret: "s", TTL: ttl, Refresh: true, Settle: settle},
			func(p []TokenPush) { rounds <- p })
	}()
	first := <-rounds
	if !first[0].OK() || !first[0].Next.Equal(clock.Now().Add(20*time.Minute)) {
		t.Fatalf("first push %+v, want ok and the next at 2/3 of the TTL", first[0])
	}
	if err := clock.BlockUntilContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	clock.Advance(20*time.Minute - time.Second)
	select {
	case p := <-rounds:
		t.Fatalf("pushed again %v before 2/3 of the TTL: %+v", 20*time.Minute-time.Second, p)
	case <-time.After(200 * time.Millisecond):
	}
	clock.Advance(time.Second)
	second := <-rounds
	if !second[0].OK() {
		t.Fatalf("second push %+v", second[0])
	}
	sets := dev.WaitSets(t, 2)
	for _, s := range sets {
		if c := pushedClaims(t, s, "k", "s"); c.Identity != "dev1" || c.Room != "studio" {
			t.Errorf("claims %+v", c)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Token returned %v after cancel, want nil", err)
	}
}

// A broker restarted without persistence forgets the watch's
// subscription; the client restores it on reconnect.
func TestWatchSurvivesBrokerRestart(t *testing.T) {
	b := mqtttest.Start(t)
	c := connect(t, Options{Broker: b.URL()}, nil)
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	rows := make(chan Device, 100)
	go func() {
		_ = c.Watch(ctx, func(changed []string, tab *Table) {
			for _, id := range changed {
				d, _ := tab.Device(id)
				rows <- d
			}
		})
	}()
	pub := connect(t, Options{Broker: b.URL()}, nil)
	if err := wait(ctx, pub.mc.Publish("onair/dev1/status", 1, true, mqtt.Online), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	waitRow(t, rows, func(d Device) bool { return d.ID == "dev1" && d.Status == mqtt.Online })
	b.Restart()
	// Publish until the watch sees it: both clients reconnect on their own
	// schedule, and the broker keeps nothing from before.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_ = wait(ctx, pub.mc.Publish("onair/dev2/status", 1, true, mqtt.Online), time.Second)
		select {
		case d := <-rows:
			if d.ID == "dev2" {
				return
			}
		case <-time.After(500 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the watch saw nothing 30 s after the broker restarted")
		}
	}
}

// With -all, a refreshing Token finds a device that appeared after it
// started and gives it a token at once, without waiting for the others'
// refresh.
func TestTokenRefreshFindsNewDevices(t *testing.T) {
	b := mqtttest.Start(t)
	fleettest.Start(t, fleettest.Config{Broker: b.URL(), ID: "dev1"})
	clock := clockwork.NewFakeClock()
	c := connect(t, Options{Broker: b.URL()}, clock)
	ctx, cancel := context.WithCancel(testCtx(t))
	rounds := make(chan []TokenPush, 10)
	done := make(chan error, 1)
	go func() {
		done <- c.Token(ctx, Target{All: true, Settle: settle}, TokenOptions{APIKey: "k", APISecret: "s", TTL: time.Hour, Refresh: true, Settle: settle},
			func(p []TokenPush) { rounds <- p })
	}()
	if first := <-rounds; len(first) != 1 || first[0].Device != "dev1" || !first[0].OK() {
		t.Fatalf("first round %+v", first)
	}
	dev2 := fleettest.Start(t, fleettest.Config{Broker: b.URL(), ID: "dev2"})
	if err := clock.BlockUntilContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	clock.Advance(Rediscover)
	var second []TokenPush
	select {
	case second = <-rounds:
	case <-time.After(20 * time.Second):
		t.Fatal("no token round for the new device after Rediscover")
	}
	if len(second) != 1 || second[0].Device != "dev2" || !second[0].OK() {
		t.Fatalf("second round %+v, want dev2 alone", second)
	}
	if c := pushedClaims(t, dev2.WaitSets(t, 1)[0], "k", "s"); c.Identity != "dev2" {
		t.Errorf("claims %+v", c)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Token returned %v after cancel", err)
	}
}
