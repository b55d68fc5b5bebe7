package whip

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	lksdp "github.com/livekit/protocol/sdp"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// whipServer is a real WHIP endpoint for tests: an httptest server whose
// sessions are pion PeerConnections on loopback. ICE restart PATCHes are
// decoded and answered with LiveKit's sdpfrag code (github.com/livekit/
// protocol/sdp), an implementation independent of this package's.
type whipServer struct {
	t   testing.TB
	srv *httptest.Server
	// mux serves the WHIP endpoint at /whip and the sessions at
	// /resource/{id}; tests may add handlers.
	mux   *http.ServeMux
	api   *webrtc.API
	token string
	// links are sent as Link header fields with the 201.
	links   []string
	discard bool
	// patchStatus, when set, is the status every PATCH gets instead of a
	// restart.
	patchStatus atomic.Int32

	mu       sync.Mutex
	next     int
	sessions map[string]*serverSession
	reqs     []seenRequest
}

// seenRequest is what the server recorded of one request.
type seenRequest struct {
	method, path, auth, contentType, ifMatch, body string
}

// serverSession is one WHIP session on the test server.
type serverSession struct {
	pc      *webrtc.PeerConnection
	etag    string
	packets atomic.Int64
	// got receives the payload, sequence number and timestamp of the
	// packets; the reader drops them when nobody takes them.
	got     chan rtpSeen
	deleted atomic.Bool
	offer   string
	frags   []string // PATCH bodies
}

type rtpSeen struct {
	seq     uint16
	ts      uint32
	payload []byte
}

type serverOptions struct {
	// remoteIPs, if set, is the only remote addresses the server's ICE
	// agent accepts.
	remoteIP net.IP
	links    []string
	// discard: do not read the media (benchmarks: keep the server's
	// allocations out of the client's numbers).
	discard bool
}

func newWHIPServer(t testing.TB, token string, o serverOptions) *whipServer {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	reg := &interceptor.Registry{}
	rr, err := report.NewReceiverInterceptor(report.ReceiverInterval(200 * time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	reg.Add(rr)
	se := webrtc.SettingEngine{}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.Equal(net.IPv4(127, 0, 0, 1)) })
	if o.remoteIP != nil {
		se.SetRemoteIPFilter(func(ip net.IP) bool { return ip.Equal(o.remoteIP) })
	}
	s := &whipServer{
		t:        t,
		api:      webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se)),
		token:    token,
		links:    o.links,
		discard:  o.discard,
		sessions: map[string]*serverSession{},
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("POST /whip", s.post)
	s.mux.HandleFunc("PATCH /resource/{id}", s.patch)
	s.mux.HandleFunc("DELETE /resource/{id}", s.delete)
	s.srv = httptest.NewServer(s.record(s.mux))
	t.Cleanup(s.close)
	return s
}

func (s *whipServer) url() string { return s.srv.URL + "/whip" }

func (s *whipServer) close() {
	s.srv.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ss := range s.sessions {
		ss.pc.Close()
	}
}

func (s *whipServer) record(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		s.mu.Lock()
		s.reqs = append(s.reqs, seenRequest{r.Method, r.URL.Path, r.Header.Get("Authorization"),
			r.Header.Get("Content-Type"), r.Header.Get("If-Match"), string(body)})
		s.mu.Unlock()
		if s.token != "" && r.Header.Get("Authorization") != "Bearer "+s.token {
			http.Error(w, "bad token", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (s *whipServer) requests() []seenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seenRequest(nil), s.reqs...)
}

func (s *whipServer) session(id string) *serverSession {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[id]
}

// only returns the one session the server has.
func (s *whipServer) only() *serverSession {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.sessions) != 1 {
		s.t.Fatalf("server has %d sessions, want 1", len(s.sessions))
	}
	for _, ss := range s.sessions {
		return ss
	}
	return nil
}

func (s *whipServer) post(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Content-Type") != contentTypeSDP {
		http.Error(w, "want application/sdp", http.StatusUnsupportedMediaType)
		return
	}
	offer, _ := io.ReadAll(r.Body)
	pc, err := s.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	ss := &serverSession{pc: pc, got: make(chan rtpSeen, 4096), offer: string(offer)}
	pc.OnTrack(func(tr *webrtc.TrackRemote, rcv *webrtc.RTPReceiver) {
		if s.discard {
			return
		}
		go func() {
			for {
				if _, _, err := rcv.ReadRTCP(); err != nil {
					return
				}
			}
		}()
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			ss.packets.Add(1)
			select {
			case ss.got <- rtpSeen{p.SequenceNumber, p.Timestamp, append([]byte(nil), p.Payload...)}:
			default:
			}
		}
	})
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: string(offer)}); err != nil {
		pc.Close()
		http.Error(w, "bad offer: "+err.Error(), http.StatusBadRequest)
		return
	}
	answer, err := answerGathered(pc)
	if err != nil {
		pc.Close()
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	s.mu.Lock()
	s.next++
	id := fmt.Sprint(s.next)
	ss.etag = fmt.Sprintf(`"ice-%s-1"`, id)
	s.sessions[id] = ss
	s.mu.Unlock()
	for _, l := range s.links {
		w.Header().Add("Link", l)
	}
	w.Header().Set("Location", "/resource/"+id)
	w.Header().Set("ETag", ss.etag)
	w.Header().Set("Content-Type", contentTypeSDP)
	w.WriteHeader(http.StatusCreated)
	io.WriteString(w, answer)
}

func answerGathered(pc *webrtc.PeerConnection) (string, error) {
	a, err := pc.CreateAnswer(nil)
	if err != nil {
		return "", err
	}
	done := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(a); err != nil {
		return "", err
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		return "", fmt.Errorf("gathering timed out")
	}
	return pc.LocalDescription().SDP, nil
}

// patch performs an ICE restart the way LiveKit's WHIP service does:
// patch the fragment into the current offer, set it, answer, and send
// back the answer's fragment.
func (s *whipServer) patch(w http.ResponseWriter, r *http.Request) {
	ss := s.session(r.PathValue("id"))
	if ss == nil || ss.deleted.Load() {
		http.Error(w, "no such session", http.StatusNotFound)
		return
	}
	if st := s.patchStatus.Load(); st != 0 {
		http.Error(w, "patch refused by test", int(st))
		return
	}
	if r.Header.Get("Content-Type") != contentTypeSDPFrag {
		http.Error(w, "want "+contentTypeSDPFrag, http.StatusUnsupportedMediaType)
		return
	}
	if r.Header.Get("If-Match") != "*" {
		http.Error(w, "ice restart needs If-Match: *", http.StatusPreconditionFailed)
		return
	}
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	ss.frags = append(ss.frags, string(body))
	s.mu.Unlock()
	var frag lksdp.SDPFragment
	if err := frag.Unmarshal(string(body)); err != nil {
		http.Error(w, "bad sdpfrag: "+err.Error(), http.StatusBadRequest)
		return
	}
	ufrag, pwd, err := frag.ExtractICECredential()
	if err != nil {
		http.Error(w, "sdpfrag: "+err.Error(), http.StatusBadRequest)
		return
	}
	// Parse a copy: Unmarshal on pion's own description races with it.
	var cur sdp.SessionDescription
	if err := cur.UnmarshalString(ss.pc.CurrentRemoteDescription().SDP); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	oldUfrag, oldPwd, _ := lksdp.ExtractICECredential(&cur)
	if ufrag == oldUfrag || pwd == oldPwd {
		http.Error(w, "ice restart without new credentials", http.StatusBadRequest)
		return
	}
	if len(frag.Candidates()) == 0 {
		http.Error(w, "sdpfrag without candidates", http.StatusBadRequest)
		return
	}
	if err := frag.PatchICECredentialAndCandidatesIntoSDP(&cur); err != nil {
		http.Error(w, "patch: "+err.Error(), http.StatusBadRequest)
		return
	}
	b, _ := cur.Marshal()
	if err := ss.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: string(b)}); err != nil {
		http.Error(w, "set offer: "+err.Error(), http.StatusInternalServerError)
		return
	}
	answer, err := answerGathered(ss.pc)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	var parsed sdp.SessionDescription
	if err := parsed.UnmarshalString(answer); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	out, err := lksdp.ExtractSDPFragment(&parsed)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	fragOut, _ := out.Marshal()
	s.mu.Lock()
	ss.etag = fmt.Sprintf(`"ice-%s-%d"`, r.PathValue("id"), len(ss.frags)+1)
	etag := ss.etag
	s.mu.Unlock()
	w.Header().Set("ETag", etag)
	w.Header().Set("Content-Type", contentTypeSDPFrag)
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, fragOut)
}

func (s *whipServer) delete(w http.ResponseWriter, r *http.Request) {
	ss := s.session(r.PathValue("id"))
	if ss == nil || ss.deleted.Swap(true) {
		http.Error(w, "no such session", http.StatusNotFound)
		return
	}
	ss.pc.Close()
	w.WriteHeader(http.StatusOK)
}

// waitPackets returns the next n packets the session receives, failing
// the test if they do not come within 10 s.
func (ss *serverSession) waitPackets(t *testing.T, n int) []rtpSeen {
	t.Helper()
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	out := make([]rtpSeen, 0, n)
	for len(out) < n {
		select {
		case p := <-ss.got:
			out = append(out, p)
		case <-timeout.C:
			t.Fatalf("server got %d packets, want %d", len(out), n)
		}
	}
	return out
}
