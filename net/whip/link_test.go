package whip

import (
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/pion/webrtc/v4"
)

func turnServer(u, user, cred string) webrtc.ICEServer {
	return webrtc.ICEServer{URLs: []string{u}, Username: user, Credential: cred, CredentialType: webrtc.ICECredentialTypePassword}
}

func stunServer(u string) webrtc.ICEServer {
	return webrtc.ICEServer{URLs: []string{u}, CredentialType: webrtc.ICECredentialTypePassword}
}

// linkCases are Link field values (each case may have several fields)
// and the ICE servers they carry. They seed FuzzParseLinks.
var linkCases = []struct {
	name   string
	fields []string
	want   []webrtc.ICEServer
	notes  int
}{
	{"RFC 9725 §4.6 example", []string{
		`<stun:stun.example.net>; rel="ice-server"`,
		`<turn:turn.example.net?transport=udp>; rel="ice-server"; username="user"; credential="myPassword"; credential-type="password"`,
		`<turn:turn.example.net?transport=tcp>; rel="ice-server"; username="user"; credential="myPassword"; credential-type="password"`,
		`<turns:turn.example.net?transport=tcp>; rel="ice-server"; username="user"; credential="myPassword"; credential-type="password"`,
	}, []webrtc.ICEServer{
		stunServer("stun:stun.example.net"),
		turnServer("turn:turn.example.net?transport=udp", "user", "myPassword"),
		turnServer("turn:turn.example.net?transport=tcp", "user", "myPassword"),
		turnServer("turns:turn.example.net?transport=tcp", "user", "myPassword"),
	}, 0},
	{"several links in one field", []string{
		`<stun:a.example:3478>; rel="ice-server", <turn:b.example:3478>; rel="ice-server"; username="u"; credential="p",<https://x.example/>; rel=next`,
	}, []webrtc.ICEServer{stunServer("stun:a.example:3478"), turnServer("turn:b.example:3478", "u", "p")}, 0},
	{"LiveKit escapes the query", []string{
		`<turn:127.0.0.1:3478%3Ftransport=udp>; rel="ice-server"; credential="c"; username="u"`,
	}, []webrtc.ICEServer{turnServer("turn:127.0.0.1:3478?transport=udp", "u", "c")}, 0},
	{"unquoted base64 credential and token rel", []string{
		`<turn:t.example>;rel=ice-server;username=1700000000:dev;credential=q5/Ab+c==`,
	}, []webrtc.ICEServer{turnServer("turn:t.example", "1700000000:dev", "q5/Ab+c==")}, 0},
	{"quoted string with comma, semicolon and escapes", []string{
		`<turn:t.example>; rel="ice-server"; username="a,b;c"; credential="x\"y\\z"`,
	}, []webrtc.ICEServer{turnServer("turn:t.example", "a,b;c", `x"y\z`)}, 0},
	{"rel list and case", []string{
		`<stun:s1.example>; REL="preload ICE-Server"`, `<stun:s2.example>; rel=other`,
	}, []webrtc.ICEServer{stunServer("stun:s1.example")}, 0},
	{"first rel wins", []string{`<stun:s.example>; rel=other; rel=ice-server`}, nil, 0},
	{"RFC 8187 ext-value", []string{
		`<turn:t.example>; rel=ice-server; username*=UTF-8''J%C3%BCrgen; username="ignored"; credential=p`,
	}, []webrtc.ICEServer{turnServer("turn:t.example", "Jürgen", "p")}, 0},
	{"empty elements and whitespace", []string{" , ,\t<stun:s.example> ;  rel = \"ice-server\" , ,"},
		[]webrtc.ICEServer{stunServer("stun:s.example")}, 0},
	{"duplicates across fields", []string{`<stun:s.example>; rel=ice-server`, `<stun:s.example>; rel="ice-server"`},
		[]webrtc.ICEServer{stunServer("stun:s.example")}, 0},
	{"oauth credential type is skipped", []string{
		`<turn:t.example>; rel=ice-server; username=u; credential=tok; credential-type="oauth"`, `<stun:s.example>; rel=ice-server`,
	}, []webrtc.ICEServer{stunServer("stun:s.example")}, 1},
	{"turn without credentials is skipped", []string{`<turn:t.example>; rel=ice-server; username=u`}, nil, 1},
	{"not a stun/turn uri", []string{`<https://t.example/>; rel=ice-server`}, nil, 1},
	{"unterminated target keeps earlier links", []string{`<stun:a.example>; rel=ice-server, <stun:b.example; rel=ice-server`},
		[]webrtc.ICEServer{stunServer("stun:a.example")}, 1},
	{"unterminated quote", []string{`<stun:a.example>; rel="ice-server`}, nil, 1},
	{"garbage after a link drops it", []string{`<stun:a.example>; rel=ice-server junk, <stun:b.example>; rel=ice-server`}, nil, 1},
	{"bad ext-value charset", []string{`<turn:t.example>; rel=ice-server; username*=ISO-8859-1''x; credential=p`}, nil, 1},
}

func TestIceServersFromLinks(t *testing.T) {
	for _, c := range linkCases {
		t.Run(c.name, func(t *testing.T) {
			got, notes := iceServersFromLinks(c.fields)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("servers\n got %+v\nwant %+v", got, c.want)
			}
			if len(notes) != c.notes {
				t.Errorf("notes %q, want %d", notes, c.notes)
			}
		})
	}
}

// formatLinks writes links back as a Link field value: every value
// quoted, ext-values re-encoded.
func formatLinks(ls []link) string {
	var b strings.Builder
	for i, l := range ls {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("<" + l.target + ">")
		for _, p := range l.params {
			v := p.value
			if strings.HasSuffix(p.name, "*") {
				v = "UTF-8''" + url.PathEscape(v)
			}
			v = strings.ReplaceAll(strings.ReplaceAll(v, `\`, `\\`), `"`, `\"`)
			b.WriteString("; " + p.name + `="` + v + `"`)
		}
	}
	return b.String()
}

func FuzzParseLinks(f *testing.F) {
	for _, c := range linkCases {
		for _, v := range c.fields {
			f.Add(v)
		}
	}
	f.Fuzz(func(t *testing.T, v string) {
		ls, err := parseLinks(v)
		iceServersFromLinks([]string{v}) // must not panic either
		if err != nil {
			return
		}
		again, err := parseLinks(formatLinks(ls))
		if err != nil {
			t.Fatalf("reparse of %q: %v", formatLinks(ls), err)
		}
		if len(ls) == 0 && len(again) == 0 {
			return
		}
		if !reflect.DeepEqual(ls, again) {
			t.Fatalf("round trip of %q\n got %+v\nwant %+v", v, again, ls)
		}
	})
}
