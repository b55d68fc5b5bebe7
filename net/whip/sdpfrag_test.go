package whip

import (
	"reflect"
	"strings"
	"testing"

	lksdp "github.com/livekit/protocol/sdp"
)

const (
	cand1 = "1387637174 1 udp 2122260223 192.0.2.1 61764 typ host generation 0 ufrag EsAw network-id 1"
	cand2 = "3471623853 1 udp 2122194687 198.51.100.2 61765 typ host generation 0 ufrag EsAw network-id 2"
	cand3 = "473322822 1 tcp 1518280447 192.0.2.1 9 typ host tcptype active generation 0 ufrag EsAw network-id 1"
	pwd   = "bP+XJMM09aR8AiX1jdukzR6Y"
)

// fragCases are sdpfrag bodies and what parseICEFrag makes of them. They
// seed FuzzParseICEFrag.
var fragCases = []struct {
	name    string
	in      string
	want    iceFrag
	skipped int
	err     string
}{
	{name: "RFC 9725 §4.3.2 restart body", in: "a=ice-ufrag:ysXw\r\na=ice-pwd:vw5LmwG4y/e6dPP/zAP9Gp5k\r\na=group:BUNDLE 0\r\n" +
		"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=candidate:" + cand1 + "\r\na=candidate:" + cand2 + "\r\n" +
		"a=candidate:" + cand3 + "\r\na=end-of-candidates\r\n",
		want: iceFrag{ufrag: "ysXw", pwd: "vw5LmwG4y/e6dPP/zAP9Gp5k", mline: "audio 9 UDP/TLS/RTP/SAVPF 111", mid: "0",
			candidates: []string{cand1, cand2, cand3}, endOfCandidates: true}},
	{name: "media-level credentials, LF only", in: "a=group:BUNDLE 0\nm=audio 9 UDP/TLS/RTP/SAVPF 111\na=mid:0\n" +
		"a=ice-ufrag:EsAw\na=ice-pwd:" + pwd + "\na=candidate:" + cand1 + "\n",
		want: iceFrag{ufrag: "EsAw", pwd: pwd, mline: "audio 9 UDP/TLS/RTP/SAVPF 111", mid: "0", candidates: []string{cand1}}},
	{name: "both levels agree", in: "a=ice-ufrag:EsAw\r\na=ice-pwd:" + pwd + "\r\nm=audio 9 RTP/AVP 0\r\na=ice-ufrag:EsAw\r\na=ice-pwd:" + pwd + "\r\n",
		want: iceFrag{ufrag: "EsAw", pwd: pwd, mline: "audio 9 RTP/AVP 0"}},
	{name: "bundle picks its section", in: "a=group:BUNDLE 1 0\r\nm=video 9 RTP/AVP 96\r\na=mid:0\r\na=ice-ufrag:AAAA\r\na=ice-pwd:" + pwd +
		"\r\nm=audio 9 RTP/AVP 111\r\na=mid:1\r\na=ice-ufrag:BBBB\r\na=ice-pwd:" + pwd + "\r\na=candidate:" + cand2 + "\r\n",
		want: iceFrag{ufrag: "BBBB", pwd: pwd, mline: "audio 9 RTP/AVP 111", mid: "1", candidates: []string{cand2}}},
	{name: "bad candidate skipped", in: "a=ice-ufrag:EsAw\na=ice-pwd:" + pwd + "\nm=audio 9 RTP/AVP 111\na=candidate:not a candidate\na=candidate:" + cand1 + "\n",
		want: iceFrag{ufrag: "EsAw", pwd: pwd, mline: "audio 9 RTP/AVP 111", candidates: []string{cand1}}, skipped: 1},
	{name: "other lines ignored", in: "v=0\r\na=ice-options:trickle\r\na=ice-ufrag:EsAw\r\na=ice-pwd:" + pwd + "\r\n\r\nm=audio 9 RTP/AVP 111\r\nc=IN IP4 0.0.0.0\r\na=rtcp-mux\r\n",
		want: iceFrag{ufrag: "EsAw", pwd: pwd, mline: "audio 9 RTP/AVP 111"}},
	{name: "credentials conflict", in: "a=ice-ufrag:EsAw\na=ice-pwd:" + pwd + "\nm=audio 9 RTP/AVP 111\na=ice-ufrag:Other\n", err: "differ"},
	{name: "no m= section", in: "a=ice-ufrag:EsAw\na=ice-pwd:" + pwd + "\n", err: "no m= section"},
	{name: "no pwd", in: "a=ice-ufrag:EsAw\nm=audio 9 RTP/AVP 111\n", err: "no ice-pwd"},
	{name: "short pwd", in: "a=ice-ufrag:EsAw\na=ice-pwd:short\nm=audio 9 RTP/AVP 111\n", err: "ice-pwd is not"},
	{name: "bad ufrag chars", in: "a=ice-ufrag:Es:Aw\na=ice-pwd:" + pwd + "\nm=audio 9 RTP/AVP 111\n", err: "ice-ufrag is not"},
	{name: "bundle mid missing", in: "a=group:BUNDLE 7\na=ice-ufrag:EsAw\na=ice-pwd:" + pwd + "\nm=audio 9 RTP/AVP 111\na=mid:0\n", err: "bundle mid"},
	{name: "not SDP", in: "hello\n", err: "not <type>=<value>"},
	{name: "empty m line", in: "a=ice-ufrag:EsAw\na=ice-pwd:" + pwd + "\nm=\n", err: "empty m= line"},
	{name: "too many candidates", in: "a=ice-ufrag:EsAw\na=ice-pwd:" + pwd + "\nm=audio 9 RTP/AVP 111\n" +
		strings.Repeat("a=candidate:"+cand1+"\n", maxFragCandidates+1), err: "more than"},
}

func TestParseICEFrag(t *testing.T) {
	for _, c := range fragCases {
		t.Run(c.name, func(t *testing.T) {
			got, skipped, err := parseICEFrag([]byte(c.in))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) || skipped != c.skipped {
				t.Errorf("got %+v skipped %d\nwant %+v skipped %d", got, skipped, c.want, c.skipped)
			}
		})
	}
}

// TestFragInteropLiveKit checks this package's fragments against
// LiveKit's independent sdpfrag code, in both directions.
func TestFragInteropLiveKit(t *testing.T) {
	for _, c := range fragCases {
		if c.err != "" || c.skipped != 0 {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			var lk lksdp.SDPFragment
			if err := lk.Unmarshal(string(c.want.marshal())); err != nil {
				t.Fatalf("LiveKit cannot read our fragment: %v", err)
			}
			u, p, err := lk.ExtractICECredential()
			if err != nil || u != c.want.ufrag || p != c.want.pwd || lk.Mid() != c.want.mid {
				t.Errorf("LiveKit read ufrag %q pwd %q mid %q (%v)", u, p, lk.Mid(), err)
			}
			if !reflect.DeepEqual(lk.Candidates(), c.want.candidates) && len(c.want.candidates) > 0 {
				t.Errorf("LiveKit read candidates %q", lk.Candidates())
			}
			back, _ := lk.Marshal()
			got, _, err := parseICEFrag([]byte(back))
			if err != nil {
				t.Fatalf("cannot read LiveKit's fragment %q: %v", back, err)
			}
			// LiveKit's parser drops a=end-of-candidates (it only keeps
			// value-less attributes named ice-lite), so its output has none.
			got.endOfCandidates = c.want.endOfCandidates
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("LiveKit's fragment read as %+v, want %+v", got, c.want)
			}
		})
	}
}

func FuzzParseICEFrag(f *testing.F) {
	for _, c := range fragCases {
		f.Add([]byte(c.in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, _, err := parseICEFrag(b)
		if err != nil {
			return
		}
		again, skipped, err := parseICEFrag(fr.marshal())
		if err != nil {
			t.Fatalf("reparse of %q: %v", fr.marshal(), err)
		}
		if skipped != 0 || !reflect.DeepEqual(fr, again) {
			t.Fatalf("round trip: got %+v (skipped %d), want %+v", again, skipped, fr)
		}
	})
}

const remoteSDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\na=msid-semantic:WMS *\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=setup:active\r\na=mid:0\r\na=ice-ufrag:oldU\r\n" +
	"a=ice-pwd:oldpasswordoldpassword00\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\na=recvonly\r\n" +
	"a=candidate:" + cand2 + "\r\na=end-of-candidates\r\n"

func TestPatchSDP(t *testing.T) {
	f := iceFrag{ufrag: "NewU", pwd: pwd, mline: "audio 9 UDP/TLS/RTP/SAVPF 111", mid: "0", candidates: []string{cand1, cand3}, endOfCandidates: true}
	out, err := patchSDP(remoteSDP, f)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"a=ice-ufrag:NewU\r\n", "a=ice-pwd:" + pwd + "\r\n", "a=candidate:" + cand1 + "\r\n",
		"a=candidate:" + cand3 + "\r\n", "a=end-of-candidates\r\n", "a=setup:active\r\n", "a=rtpmap:111 opus/48000/2\r\n", "a=recvonly\r\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("patched SDP lacks %q:\n%s", want, out)
		}
	}
	for _, gone := range []string{"oldU", "oldpassword", cand2} {
		if strings.Contains(out, gone) {
			t.Errorf("patched SDP still has %q", gone)
		}
	}
	if _, err := patchSDP(remoteSDP, iceFrag{ufrag: "NewU", pwd: pwd, mid: "5"}); err == nil {
		t.Error("patch with an unknown mid succeeded")
	}
	// The fragment of the patched description is f again.
	back, err := fragFromSDP(out)
	if err != nil {
		t.Fatal(err)
	}
	f.mline = back.mline
	if !reflect.DeepEqual(back, f) {
		t.Errorf("fragFromSDP = %+v, want %+v", back, f)
	}
}

func TestCheckAnswerSDP(t *testing.T) {
	if err := checkAnswerSDP([]byte(remoteSDP)); err != nil {
		t.Errorf("good answer: %v", err)
	}
	for _, c := range []struct{ name, sdp, want string }{
		{"sendonly", strings.Replace(remoteSDP, "a=recvonly", "a=sendonly", 1), "sendonly"},
		{"inactive", strings.Replace(remoteSDP, "a=recvonly", "a=inactive", 1), "inactive"},
		{"no opus", strings.Replace(remoteSDP, "opus/48000/2", "PCMU/8000", 1), "opus"},
		{"rejected", strings.Replace(remoteSDP, "m=audio 9", "m=audio 0", 1), "port 0"},
	} {
		if err := checkAnswerSDP([]byte(c.sdp)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
}
