package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/onair-gateway/onair/gateway"
)

// startHTTP serves the device's status: GET /status (JSON), /healthz (200
// while the device is in its room or joining it, 503 in error), and
// /metrics (Prometheus text exposition).
func startHTTP(addr string, g *gateway.Gateway, log *slog.Logger) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("http.listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(g.Status())
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		s := g.Status()
		if s.State == gateway.StateError || s.State == gateway.StateIdle {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprintf(w, "%s: %s\n", s.State, s.Reason)
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		s := g.Status()
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		b2f := map[bool]float64{false: 0, true: 1}
		metric := func(name, typ, help string, v float64, labels string) {
			fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s%s %g\n", name, help, name, typ, name, labels, v)
		}
		metric("onair_on_air", "gauge", "1 while the device is on air (the gate is open).", b2f[s.OnAir], "")
		metric("onair_encrypted", "gauge", "1 when the room audio is end-to-end encrypted.", b2f[s.Encrypted], "")
		metric("onair_state", "gauge", "The device state, as a label; always 1.", 1, fmt.Sprintf("{state=%q}", s.State))
		for _, m := range []struct {
			name, help string
			v          uint64
		}{
			{"onair_capture_frames_total", "Capture frames read.", s.Pipeline.Frames},
			{"onair_packets_total", "Opus packets encoded.", s.Pipeline.Packets},
			{"onair_capture_drops_total", "Capture frames dropped because processing fell behind.", s.Pipeline.Drops},
			{"onair_capture_xruns_total", "Capture overruns reported by the sound card.", s.Pipeline.Xruns},
			{"onair_late_frames_total", "Times processing found more than one frame waiting.", s.Pipeline.Late},
			{"onair_packets_not_sent_total", "Packets not sent: no session, or not allowed to publish.", s.RoomStats.Dropped},
			{"onair_room_joins_total", "Attempts to join the room.", s.RoomStats.JoinAttempts},
			{"onair_room_join_failures_total", "Joins that failed.", s.RoomStats.JoinFailures},
			{"onair_room_early_joins_total", "Rejoins started as soon as a server that was down answered again.", s.RoomStats.EarlyJoins},
		} {
			metric(m.name, "counter", m.help, float64(m.v), "")
		}
		metric("onair_room_fraction_lost", "gauge", "Loss the room's receiver reports, 0..1.", s.RoomStats.Session.FractionLost, "")
		metric("onair_room_rtt_seconds", "gauge", "Round-trip time from RTCP, 0 until known.", s.RoomStats.Session.RTT.Seconds(), "")
		metric("onair_output_rms_dbfs", "gauge", "RMS level of the processed audio, dBFS.", s.OutLevel.RMSDBFS, "")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
			log.Error("http server stopped", "err", err)
		}
	}()
	log.Info("status server", "addr", ln.Addr().String())
	return srv, nil
}
