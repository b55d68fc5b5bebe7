package whip

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pion/turn/v5"
	"github.com/pion/webrtc/v4"
)

// startTURN runs a pion TURN server on 127.0.0.1 whose relayed addresses
// are on relayIP, with one user "dev" / "pw". It returns its host:port.
func startTURN(t *testing.T, relayIP net.IP) string {
	t.Helper()
	const realm = "onair.test"
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	key := turn.GenerateAuthKey("dev", realm, "pw")
	srv, err := turn.NewServer(turn.ServerConfig{
		Realm: realm,
		AuthHandler: func(ra *turn.RequestAttributes) (string, []byte, bool) {
			return ra.Username, key, ra.Username == "dev"
		},
		PacketConnConfigs: []turn.PacketConnConfig{{
			PacketConn:            conn,
			RelayAddressGenerator: &turn.RelayAddressGeneratorStatic{RelayAddress: relayIP, Address: relayIP.String()},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return conn.LocalAddr().String()
}

func selectedLocal(t *testing.T, s *Session) webrtc.ICECandidateType {
	t.Helper()
	pair, err := s.pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil {
		t.Fatalf("no selected candidate pair: %v", err)
	}
	return pair.Local.Typ
}

// TestLinkTURN: the server accepts ICE only from the TURN relay's address,
// so the first offer (host candidates) cannot connect; the TURN server
// comes in the 201's Link header, and Join restarts ICE with it (RFC 9725
// §4.6). The Room remembers it, so the next Join offers a relay candidate
// at once and needs no restart.
func TestLinkTURN(t *testing.T) {
	relayIP := net.IPv4(127, 0, 0, 2)
	turnAddr := startTURN(t, relayIP)
	link := fmt.Sprintf(`<turn:%s?transport=udp>; rel="ice-server"; username="dev"; credential="pw"; credential-type="password"`, turnAddr)
	srv := newWHIPServer(t, token, serverOptions{remoteIP: relayIP, links: []string{`<stun:127.0.0.1:9>; rel="other"`, link}})

	r, s := joinTest(t, srv.url(), token, Options{LinkRestartAfter: 500 * time.Millisecond})
	patches := func() (n int) {
		for _, q := range srv.requests() {
			if q.method == http.MethodPatch {
				n++
			}
		}
		return n
	}
	if n := patches(); n != 1 {
		t.Fatalf("%d PATCHes during join, want 1 ICE restart with the TURN server", n)
	}
	if typ := selectedLocal(t, s); typ != webrtc.ICECandidateTypeRelay {
		t.Errorf("connected through a %s candidate, want relay", typ)
	}
	frames := toneFrames(t, 440, 1, 10, 20*time.Millisecond)
	for _, f := range frames {
		if err := s.WriteOpus(f, 20*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	srv.session("1").waitPackets(t, len(frames))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	js, err := r.Join(testContext(t))
	if err != nil {
		t.Fatalf("second join: %v", err)
	}
	s2 := js.(*Session)
	defer s2.Close()
	if n := patches(); n != 1 {
		t.Errorf("second join restarted ICE (%d PATCHes in all)", n)
	}
	if offer := srv.session("2").offer; !strings.Contains(offer, "typ relay") {
		t.Errorf("second offer has no relay candidate:\n%s", offer)
	}
	if typ := selectedLocal(t, s2); typ != webrtc.ICECandidateTypeRelay {
		t.Errorf("second session connected through a %s candidate, want relay", typ)
	}
}
