package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onair-gateway/onair/provisioning/store"
)

func TestConfigCheckAndShow(t *testing.T) {
	dir := t.TempDir()
	write := func(name, doc string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const secret = "s3cret-never-printed"
	good := write("good.yaml", "room: {url: \"ws://127.0.0.1:7880\", api_key: k, api_secret: "+secret+"}\n")
	typo := write("typo.yaml", "room: {url: \"ws://127.0.0.1:7880\", token: t, romo: x}\n")
	nowav := write("nowav.yaml", "board: {profile: sim, sim: {file: "+filepath.Join(dir, "gone.wav")+"}}\nroom: {url: \"ws://127.0.0.1:7880\", token: t}\n")

	run := func(args ...string) (string, string, error) {
		var out, errOut bytes.Buffer
		err := runConfig(context.Background(), args, &out, &errOut)
		return out.String(), errOut.String(), err
	}
	if out, errOut, err := run("check", "-config", good); err != nil || !strings.Contains(out, "ok") {
		t.Errorf("check good: %v\n%s%s", err, out, errOut)
	}
	if _, errOut, err := run("check", "-config", typo); err == nil || !strings.Contains(errOut, "room.romo") {
		t.Errorf("check typo: %v\n%s", err, errOut)
	}
	if _, errOut, err := run("check", "-config", nowav); err == nil || !strings.Contains(errOut, "board.sim.file") || !strings.Contains(errOut, "no such file") {
		t.Errorf("check missing wav: %v\n%s", err, errOut)
	}
	out, errOut, err := run("show", "-config", good)
	if err != nil || !strings.Contains(out, "api_secret: <redacted>") {
		t.Errorf("show: %v\n%s%s", err, out, errOut)
	}
	if strings.Contains(out+errOut, secret) {
		t.Errorf("show printed the secret:\n%s%s", out, errOut)
	}
	if _, _, err := run("frob"); err == nil {
		t.Error("unknown subcommand accepted")
	}
	// Exit codes as onaird -check-config: 2 for a bad config, 0 for a good one.
	var mo, me bytes.Buffer
	if code := mainErr(context.Background(), []string{"config", "check", "-config", typo}, &mo, &me); code != 2 {
		t.Errorf("config check of an invalid file: exit %d, want 2", code)
	}
	if code := mainErr(context.Background(), []string{"config", "check", "-config", nowav}, &mo, &me); code != 2 {
		t.Errorf("config check of an unusable file: exit %d, want 2", code)
	}
	if code := mainErr(context.Background(), []string{"config", "check", "-config", good}, &mo, &me); code != 0 {
		t.Errorf("config check of a good file: exit %d\n%s", code, me.String())
	}
	mo.Reset()
	if code := mainErr(context.Background(), []string{"-version"}, &mo, &me); code != 0 || !strings.HasPrefix(mo.String(), "onairctl ") {
		t.Errorf("-version: exit %d, %q", code, mo.String())
	}
}

func TestConfigForget(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	cfg := filepath.Join(dir, "onair.yaml")
	doc := "device: {state_dir: " + state + "}\nroom: {url: \"ws://127.0.0.1:7880\", token: t}\n"
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if err := runConfig(context.Background(), []string{"forget", "-config", cfg}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "nothing provisioned") {
		t.Fatalf("forget with no state: %q", out.String())
	}
	s, err := store.Open(state)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Save(store.Record{Version: 4, Patch: []byte(`{"room":{"room":"x"}}`)}); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := runConfig(context.Background(), []string{"forget", "-config", cfg}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "version 4") {
		t.Fatalf("forget: %q", out.String())
	}
	if r, _ := s.Load(); r != nil {
		t.Fatal("the stored patch survived forget")
	}
}
