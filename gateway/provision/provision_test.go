package provision

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/onair-gateway/onair/gateway"
	"github.com/onair-gateway/onair/net/livekit/livekittest"
	"github.com/onair-gateway/onair/net/room"
	"github.com/onair-gateway/onair/provisioning/mqtt"
	"github.com/onair-gateway/onair/provisioning/store"
)

func testLog(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.DiscardHandler)
}

type fixture struct {
	srv   *livekittest.Server
	path  string
	dir   string
	clock *clockwork.FakeClock
}

func newFixture(t *testing.T) *fixture {
	srv := livekittest.Start(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "onair.yaml")
	doc := fmt.Sprintf(`device: {id: dev1}
board:
  profile: sim
  sim: {signal: tone, frequency: 1000, level: -12}
room: {url: %q, api_key: %q, api_secret: %q, room: a}
mqtt: {broker: "tcp://127.0.0.1:1883"}
`, srv.URL, srv.APIKey, srv.APISecret)
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return &fixture{srv: srv, path: path, dir: filepath.Join(dir, "state"), clock: clockwork.NewFakeClock()}
}

func (f *fixture) manager(t *testing.T, onRollback func(mqtt.ConfigResult)) (*Manager, *gateway.Gateway) {
	t.Helper()
	st, err := store.Open(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Load(Options{Path: f.path, Store: st, Log: testLog(t), Clock: f.clock, OnRollback: onRollback})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := m.Running()
	g, err := gateway.New(r, gateway.Options{Hardware: gateway.NewHardware(r, testLog(t)), Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	m.Attach(g)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); g.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	waitJoined(t, g)
	return m, g
}

func waitJoined(t *testing.T, g *gateway.Gateway) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for g.Status().RoomStats.State != room.StateConnected {
		if time.Now().After(deadline) {
			t.Fatalf("gateway did not join: %+v", g.Status().RoomStats)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func set(id string, version int64, patch string) mqtt.ConfigSet {
	req := mqtt.ConfigSet{ID: id, Config: json.RawMessage(patch)}
	if version > 0 {
		req.Version = &version
	}
	return req
}

func TestPatchPersistsAcrossRestart(t *testing.T) {
	f := newFixture(t)
	m, g := f.manager(t, nil)
	res := m.ApplyPatch(context.Background(), set("r1", 0, `{"room":{"room":"b"},"device":{"name":"Studio B"}}`))
	if !res.OK || res.Version != 1 || strings.Join(res.Applied, ",") != "device,room" {
		t.Fatalf("result %+v", res)
	}
	if st := g.Status(); st.Room != "b" || st.Name != "Studio B" {
		t.Fatalf("gateway runs room %q name %q", st.Room, st.Name)
	}
	waitJoined(t, g)
	if _, err := f.srv.WaitParticipant(context.Background(), "b", "dev1"); err != nil {
		t.Fatalf("device not in room b: %v", err)
	}
	// A second patch composes with the first.
	if res := m.ApplyPatch(context.Background(), set("r2", 7, `{"device":{"name":null}}`)); !res.OK || res.Version != 2 {
		t.Fatalf("second patch: %+v", res)
	}
	// A restart loads the file and the stored patch over it.
	st, _ := store.Open(f.dir)
	m2, err := Load(Options{Path: f.path, Store: st, Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	r, v := m2.Running()
	if r.Room.Room != "b" || r.Device.Name != "dev1" || v != 2 {
		t.Fatalf("after restart: room %q name %q version %d", r.Room.Room, r.Device.Name, v)
	}
	cfg, _ := m2.RedactedJSON()
	if strings.Contains(string(cfg), f.srv.APISecret) {
		t.Fatal("the running config's JSON carries the API secret")
	}
}

func TestBadPatchChangesNothing(t *testing.T) {
	f := newFixture(t)
	m, g := f.manager(t, nil)
	before, _ := m.RedactedJSON()
	cases := []struct{ patch, path string }{
		{`{"room":{"url":null}}`, "room.url"},
		{`{"opus":{"bitrate":"loud"}}`, "opus.bitrate"},
		{`{"room":{"colour":"red"}}`, "room.colour"},
		{`{"opus":{"bitrate":999999999}}`, "opus.bitrate"},
		{`{"device":{"id":"Bad Id"}}`, "device.id"},
		{`[1]`, "config"},
		{`{"mqtt":{"broker":"tcp://elsewhere:1883"}}`, "mqtt"},
	}
	for _, c := range cases {
		res := m.ApplyPatch(context.Background(), set("x", 0, c.patch))
		if res.OK || len(res.Errors) == 0 {
			t.Errorf("%s: accepted", c.patch)
			continue
		}
		found := false
		for _, e := range res.Errors {
			found = found || strings.HasPrefix(e.Path, c.path)
		}
		if !found {
			t.Errorf("%s: errors %+v do not name %s", c.patch, res.Errors, c.path)
		}
	}
	if res := m.ApplyPatch(context.Background(), set("x", 0, `{"room":{"url":null,"room":"z"},"opus":{"bitrate":-1}}`)); len(res.Errors) < 2 {
		t.Errorf("two problems, %d reported: %+v", len(res.Errors), res.Errors)
	}
	after, v := m.RedactedJSON()
	if string(before) != string(after) || v != 0 || g.Status().Room != "a" {
		t.Fatalf("a refused patch changed the device (version %d, room %q)", v, g.Status().Room)
	}
	if rec, _ := store.Open(f.dir); rec != nil {
		if r, _ := rec.Load(); r != nil {
			t.Fatalf("a refused patch was stored: %+v", r)
		}
	}
	// With force, a broker change is accepted.
	if res := m.ApplyPatch(context.Background(), mqtt.ConfigSet{ID: "f", Force: true, Config: json.RawMessage(`{"mqtt":{"broker":"tcp://elsewhere:1883"}}`)}); !res.OK {
		t.Fatalf("forced broker change: %+v", res)
	}
}

func TestRollbackWhenRoomCannotJoin(t *testing.T) {
	f := newFixture(t)
	rolled := make(chan mqtt.ConfigResult, 1)
	m, g := f.manager(t, func(r mqtt.ConfigResult) { rolled <- r })
	if res := m.ApplyPatch(context.Background(), set("good", 0, `{"room":{"room":"b"}}`)); !res.OK {
		t.Fatalf("%+v", res)
	}
	waitJoined(t, g)
	res := m.ApplyPatch(context.Background(), set("bad", 0, `{"room":{"url":"ws://127.0.0.1:1"}}`))
	if !res.OK || res.Version != 2 {
		t.Fatalf("a valid but unjoinable room is applied first: %+v", res)
	}
	// The watch waits on the fake clock: 30 s pass without a join.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.clock.BlockUntilContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(JoinTimeout + time.Second)
	select {
	case r := <-rolled:
		if r.ID != "bad" || r.OK || r.Version != 3 || len(r.Errors) != 1 || r.Errors[0].Path != "room" {
			t.Fatalf("rollback result %+v", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no rollback")
	}
	run, v := m.Running()
	if run.Room.URL != f.srv.URL || run.Room.Room != "b" || v != 3 {
		t.Fatalf("after rollback: url %q room %q version %d", run.Room.URL, run.Room.Room, v)
	}
	waitJoined(t, g)
	st, _ := store.Open(f.dir)
	if rec, err := st.Load(); err != nil || !strings.Contains(string(rec.Patch), `"room":"b"`) || strings.Contains(string(rec.Patch), "127.0.0.1:1") {
		t.Fatalf("stored after rollback: %s %v", rec.Patch, err)
	}
	if err := m.Forget(context.Background()); err != nil {
		t.Fatal(err)
	}
	if run, _ := m.Running(); run.Room.Room != "a" || g.Status().Room != "a" {
		t.Fatalf("after forget the device runs room %q", run.Room.Room)
	}
	if rec, _ := st.Load(); rec != nil {
		t.Fatal("forget left a stored patch")
	}
}

// A pushed token replaces the API key the file gave the device, as
// onairctl token does for a fleet: the secret leaves the device.
func TestTokenPatchDropsAPIKey(t *testing.T) {
	f := newFixture(t)
	m, g := f.manager(t, nil)
	tok := f.srv.Token("dev1", "a", true)
	res := m.ApplyPatch(context.Background(), set("t1", 0, `{"room":{"token":"`+tok+`"}}`))
	if !res.OK {
		t.Fatalf("token patch: %+v", res)
	}
	r, _ := m.Running()
	if r.Room.APIKey != "" || r.Room.APISecret.IsSet() || r.Room.Token.Reveal() != tok {
		t.Fatalf("after the token patch: api_key %q, secret set %v", r.Room.APIKey, r.Room.APISecret.IsSet())
	}
	waitJoined(t, g)
	st, _ := store.Open(f.dir)
	rec, _ := st.Load()
	if !strings.Contains(string(rec.Patch), `"api_secret":null`) {
		t.Fatalf("stored patch does not drop the secret: %s", rec.Patch)
	}
}

// TestCheckPatchChangesNothing: CheckPatch answers as ApplyPatch would
// (every problem with its path, or the sections a valid patch changes)
// and neither applies nor stores anything.
func TestCheckPatchChangesNothing(t *testing.T) {
	f := newFixture(t)
	m, g := f.manager(t, nil)
	before, _ := m.RedactedJSON()
	res := m.CheckPatch(set("c1", 0, `{"room":{"url":null},"opus":{"bitrate":"loud"}}`))
	var paths []string
	for _, e := range res.Errors {
		paths = append(paths, e.Path)
	}
	if res.OK || !strings.Contains(strings.Join(paths, ","), "room.url") || !strings.Contains(strings.Join(paths, ","), "opus.bitrate") {
		t.Errorf("invalid patch: %+v", res)
	}
	res = m.CheckPatch(set("c2", 0, `{"device":{"name":"Studio C"}}`))
	if !res.OK || strings.Join(res.Applied, ",") != "device" || res.Version != 0 {
		t.Errorf("valid patch: %+v", res)
	}
	after, v := m.RedactedJSON()
	if string(before) != string(after) || v != 0 || g.Status().Name == "Studio C" {
		t.Fatalf("a check changed the device (version %d, name %q)", v, g.Status().Name)
	}
	st, _ := store.Open(f.dir)
	if r, _ := st.Load(); r != nil {
		t.Fatalf("a check was stored: %+v", r)
	}
	// The same valid patch applies.
	if res := m.ApplyPatch(context.Background(), set("c3", 0, `{"device":{"name":"Studio C"}}`)); !res.OK || res.Version != 1 || g.Status().Name != "Studio C" {
		t.Fatalf("apply after check: %+v, name %q", res, g.Status().Name)
	}
}
