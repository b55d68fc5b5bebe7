package main

import (
	"bufio"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/onair-gateway/onair/net/room"
)

func TestParseRelay(t *testing.T) {
	o, err := parseRelay([]string{"-loss", "10%", "-burst-loss", "0.05", "-jitter", "30ms", "-rate", "1.5M", "-reorder", "2%", "-seed", "7"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	f := o.cfg.Faults
	if f.Loss != 0.1 || f.BurstLoss != 0.05 || f.BurstLen != 3 || f.Jitter != 30*time.Millisecond || f.RateBps != 1_500_000 || f.Reorder != 0.02 || o.cfg.Seed != 7 {
		t.Errorf("faults %+v seed %d", f, o.cfg.Seed)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-loss", "120%"}, "-loss"},
		{[]string{"-loss", "ten"}, "-loss"},
		{[]string{"-rate", "fast"}, "-rate"},
		{[]string{"-rate", "100"}, "rate_bps"},
		{[]string{"-burst-loss", "95%"}, "burst_loss"},
		{[]string{"-ip", "localhost"}, "ip"},
	} {
		_, err := parseRelay(tc.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want a usage error naming %s", tc.args, err, tc.want)
		}
	}
}

// TestRunRelay: the command prints a room config that decodes into
// room.ice_servers with policy relay and the relay's live address.
func TestRunRelay(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- runRelay(ctx, []string{"-port", "0", "-loss", "5%", "-stats", "0"}, pw, io.Discard)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	var text strings.Builder
	for sc.Scan() && !strings.Contains(sc.Text(), "ice_transport_policy") {
		text.WriteString(sc.Text() + "\n")
	}
	text.WriteString(sc.Text() + "\n")
	var got struct{ Room room.Config }
	if err := yaml.Unmarshal([]byte(text.String()), &got); err != nil {
		t.Fatalf("%v in:\n%s", err, text.String())
	}
	if got.Room.ICETransportPolicy != room.ICERelay || len(got.Room.ICEServers) != 1 {
		t.Fatalf("room config %+v from:\n%s", got.Room, text.String())
	}
	s := got.Room.ICEServers[0]
	if len(s.URLs) != 2 || !strings.HasPrefix(s.URLs[0], "turn:127.0.0.1:") || s.Username != "onair" || s.Credential.Reveal() != "onair-relay" {
		t.Errorf("ice server %+v", s)
	}
	if !strings.Contains(text.String(), "loss 5%") {
		t.Errorf("header does not state the faults:\n%s", text.String())
	}
	cancel()
	go io.Copy(io.Discard, pr)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
