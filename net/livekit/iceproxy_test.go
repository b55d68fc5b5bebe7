package livekit

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/onair-gateway/onair/net/room"
)

func testProxy() *signalProxy {
	return &signalProxy{
		servers: protoICEServers([]room.ICEServer{{URLs: []string{"turn:127.0.0.1:3478?transport=tcp"}, Username: "u", Credential: "p"}}),
		log:     slog.New(slog.DiscardHandler),
	}
}

var serverICE = &livekit.ICEServer{Urls: []string{"stun:stun.example.com:3478"}}

func rewriteCases(t testing.TB) map[string][]byte {
	join, err := proto.Marshal(&livekit.SignalResponse{Message: &livekit.SignalResponse_Join{Join: &livekit.JoinResponse{IceServers: []*livekit.ICEServer{serverICE}}}})
	if err != nil {
		t.Fatal(err)
	}
	reconnect, err := proto.Marshal(&livekit.SignalResponse{Message: &livekit.SignalResponse_Reconnect{Reconnect: &livekit.ReconnectResponse{IceServers: []*livekit.ICEServer{serverICE}}}})
	if err != nil {
		t.Fatal(err)
	}
	pong, err := proto.Marshal(&livekit.SignalResponse{Message: &livekit.SignalResponse_PongResp{PongResp: &livekit.Pong{LastPingTimestamp: 5}}})
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{"join": join, "reconnect": reconnect, "pong": pong}
}

// TestRewrite: the configured servers follow the server's in a join and a
// reconnect response, binary or JSON; other messages and garbage pass
// unchanged.
func TestRewrite(t *testing.T) {
	p := testProxy()
	cases := rewriteCases(t)
	servers := func(typ int, b []byte) []*livekit.ICEServer {
		var res livekit.SignalResponse
		var err error
		if typ == websocket.BinaryMessage {
			err = proto.Unmarshal(b, &res)
		} else {
			err = protojson.Unmarshal(b, &res)
		}
		if err != nil {
			t.Fatal(err)
		}
		if j := res.GetJoin(); j != nil {
			return j.IceServers
		}
		return res.GetReconnect().GetIceServers()
	}
	for _, name := range []string{"join", "reconnect"} {
		got := servers(websocket.BinaryMessage, p.rewrite(websocket.BinaryMessage, cases[name]))
		if len(got) != 2 || got[0].Urls[0] != serverICE.Urls[0] || got[1].Urls[0] != "turn:127.0.0.1:3478?transport=tcp" || got[1].Credential != "p" {
			t.Errorf("%s: ice servers %v", name, got)
		}
	}
	var res livekit.SignalResponse
	if err := proto.Unmarshal(cases["join"], &res); err != nil {
		t.Fatal(err)
	}
	js, err := protojson.Marshal(&res)
	if err != nil {
		t.Fatal(err)
	}
	if got := servers(websocket.TextMessage, p.rewrite(websocket.TextMessage, js)); len(got) != 2 {
		t.Errorf("json join: ice servers %v", got)
	}
	for name, msg := range map[string][]byte{"pong": cases["pong"], "garbage": []byte("\xff\x00not proto")} {
		if out := p.rewrite(websocket.BinaryMessage, msg); !bytes.Equal(out, msg) {
			t.Errorf("%s changed", name)
		}
	}
}

// FuzzRewrite: any message from the server is forwarded, never dropped,
// and never makes the proxy panic.
func FuzzRewrite(f *testing.F) {
	for _, b := range rewriteCases(f) {
		f.Add(b, true)
	}
	f.Add([]byte(`{"join":{"iceServers":[{"urls":["stun:x"]}]}}`), false)
	p := testProxy()
	f.Fuzz(func(t *testing.T, msg []byte, binary bool) {
		typ := websocket.TextMessage
		if binary {
			typ = websocket.BinaryMessage
		}
		if out := p.rewrite(typ, msg); out == nil && msg != nil {
			t.Fatal("message dropped")
		}
	})
}
