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
		b2i := map[bool]int{false: 0, true: 1}
		fmt.Fprintf(w, "# TYPE onair_on_air gauge\nonair_on_air %d\n", b2i[s.OnAir])
		fmt.Fprintf(w, "# TYPE onair_encrypted gauge\nonair_encrypted %d\n", b2i[s.Encrypted])
		fmt.Fprintf(w, "# TYPE onair_state gauge\nonair_state{state=%q} 1\n", s.State)
		for _, m := range []struct {
			name string
			v    uint64
		}{
			{"onair_capture_frames_total", s.Pipeline.Frames}, {"onair_packets_total", s.Pipeline.Packets},
			{"onair_capture_drops_total", s.Pipeline.Drops}, {"onair_capture_xruns_total", s.Pipeline.Xruns},
			{"onair_late_frames_total", s.Pipeline.Late}, {"onair_packets_not_sent_total", s.RoomStats.Dropped},
			{"onair_room_joins_total", s.RoomStats.JoinAttempts},
			{"onair_room_join_failures_total", s.RoomStats.JoinFailures},
			{"onair_room_early_joins_total", s.RoomStats.EarlyJoins},
		} {
			fmt.Fprintf(w, "# TYPE %s counter\n%s %d\n", m.name, m.name, m.v)
		}
		fmt.Fprintf(w, "# TYPE onair_room_fraction_lost gauge\nonair_room_fraction_lost %g\n", s.RoomStats.Session.FractionLost)
		fmt.Fprintf(w, "# TYPE onair_output_rms_dbfs gauge\nonair_output_rms_dbfs %g\n", s.OutLevel.RMSDBFS)
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
