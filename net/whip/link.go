package whip

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/pion/stun/v4"
	"github.com/pion/webrtc/v4"

	"github.com/onair-gateway/onair/net/room"
)

// link is one link-value of a Link header field (RFC 8288 §3).
type link struct {
	target string
	params []linkParam
}

// linkParam is one link-param; name is lowercased. An ext-value parameter
// (name ending in "*", RFC 8187) keeps its "*" and holds the decoded
// value.
type linkParam struct {
	name  string
	value string
}

// param returns the value of the first parameter called name, preferring
// the RFC 8187 form name* when present (RFC 8288 §3).
func (l link) param(name string) (string, bool) {
	for _, p := range l.params {
		if p.name == name+"*" {
			return p.value, true
		}
	}
	for _, p := range l.params {
		if p.name == name {
			return p.value, true
		}
	}
	return "", false
}

// hasRel reports whether the link's first rel parameter lists rel
// (relation types compare case-insensitively, RFC 8288 §2.1).
func (l link) hasRel(rel string) bool {
	v, ok := l.param("rel")
	if !ok {
		return false
	}
	for _, f := range strings.Fields(v) {
		if strings.EqualFold(f, rel) {
			return true
		}
	}
	return false
}

var errLinkSyntax = errors.New("malformed Link header")

// parseLinks parses one Link field value: a comma-separated list of
//
//	"<" URI-Reference ">" *( OWS ";" OWS link-param )
//	link-param = token BWS [ "=" BWS ( token / quoted-string ) ]
//
// (RFC 8288 §3). Quoted strings may hold commas and semicolons and use
// backslash escapes. Unquoted values are accepted up to the next ";" or
// "," even when they hold characters outside token (servers send base64
// credentials unquoted). Empty list elements are skipped (RFC 9110 §5.6.1).
func parseLinks(v string) ([]link, error) {
	var out []link
	p := linkParser{s: v}
	for {
		p.ows()
		if p.eof() {
			return out, nil
		}
		if p.peek() == ',' {
			p.i++
			continue
		}
		l, err := p.link()
		if err != nil {
			return out, fmt.Errorf("%w at byte %d: %v", errLinkSyntax, p.i, err)
		}
		out = append(out, l)
		p.ows()
		if p.eof() {
			return out, nil
		}
		if p.peek() != ',' {
			return out, fmt.Errorf("%w at byte %d: want ',' between links", errLinkSyntax, p.i)
		}
		p.i++
	}
}

type linkParser struct {
	s string
	i int
}

func (p *linkParser) eof() bool  { return p.i >= len(p.s) }
func (p *linkParser) peek() byte { return p.s[p.i] }

func (p *linkParser) ows() {
	for !p.eof() && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *linkParser) link() (link, error) {
	var l link
	if p.peek() != '<' {
		return l, errors.New("want '<'")
	}
	end := strings.IndexByte(p.s[p.i+1:], '>')
	if end < 0 {
		return l, errors.New("no '>' after the link target")
	}
	l.target = strings.TrimSpace(p.s[p.i+1 : p.i+1+end])
	p.i += end + 2
	for {
		p.ows()
		if p.eof() || p.peek() == ',' {
			return l, nil
		}
		if p.peek() != ';' {
			return l, errors.New("want ';' before a parameter")
		}
		p.i++
		p.ows()
		if p.eof() || p.peek() == ',' || p.peek() == ';' {
			continue // empty parameter, as in "<x>;;rel=a"
		}
		name := p.token()
		if name == "" {
			return l, errors.New("want a parameter name")
		}
		prm := linkParam{name: strings.ToLower(name)}
		p.ows()
		if !p.eof() && p.peek() == '=' {
			p.i++
			p.ows()
			v, err := p.value()
			if err != nil {
				return l, err
			}
			prm.value = v
			if strings.HasSuffix(prm.name, "*") {
				if prm.value, err = decodeExtValue(v); err != nil {
					return l, err
				}
			}
		}
		l.params = append(l.params, prm)
	}
}

func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func (p *linkParser) token() string {
	j := p.i
	for j < len(p.s) && isTchar(p.s[j]) {
		j++
	}
	t := p.s[p.i:j]
	p.i = j
	return t
}

func (p *linkParser) value() (string, error) {
	if p.eof() {
		return "", nil
	}
	if p.peek() != '"' {
		j := p.i
		for j < len(p.s) && p.s[j] != ';' && p.s[j] != ',' && p.s[j] != ' ' && p.s[j] != '\t' {
			if p.s[j] < 0x21 || p.s[j] == 0x7f || p.s[j] == '"' {
				return "", fmt.Errorf("byte %#x in an unquoted value", p.s[j])
			}
			j++
		}
		v := p.s[p.i:j]
		p.i = j
		return v, nil
	}
	var b strings.Builder
	for p.i++; !p.eof(); p.i++ {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return b.String(), nil
		case c == '\\':
			p.i++
			if p.eof() {
				return "", errors.New("backslash at the end")
			}
			if c := p.s[p.i]; c < 0x20 && c != '\t' || c == 0x7f {
				return "", fmt.Errorf("control byte %#x in a quoted-pair", c)
			}
			b.WriteByte(p.s[p.i])
		case c < 0x20 && c != '\t', c == 0x7f:
			return "", fmt.Errorf("control byte %#x in a quoted string", c)
		default:
			b.WriteByte(c)
		}
	}
	return "", errors.New("unterminated quoted string")
}

// decodeExtValue decodes an RFC 8187 ext-value: charset "'" [ language ]
// "'" value-chars. Only UTF-8 is accepted (the only charset RFC 8187
// requires).
func decodeExtValue(v string) (string, error) {
	parts := strings.SplitN(v, "'", 3)
	if len(parts) != 3 || !strings.EqualFold(parts[0], "utf-8") {
		return "", fmt.Errorf("ext-value %q is not UTF-8''value", v)
	}
	d, err := url.PathUnescape(parts[2])
	if err != nil {
		return "", fmt.Errorf("ext-value: %v", err)
	}
	return d, nil
}

// iceServersFromLinks collects the rel="ice-server" links of every Link
// field value (RFC 9725 §4.6) as pion ICE servers. The target is the
// STUN/TURN URI (RFC 7064, RFC 7065), percent-decoded because endpoints
// escape the "?transport=" part; username and credential come from the
// parameters; a credential-type other than "password" (the default) is
// skipped, as are malformed values and unusable URIs: each skip is
// described in the returned notes, to be logged.
func iceServersFromLinks(values []string) (servers []webrtc.ICEServer, notes []string) {
	for _, v := range values {
		links, err := parseLinks(v)
		if err != nil {
			notes = append(notes, err.Error())
		}
		for _, l := range links {
			if !l.hasRel("ice-server") {
				continue
			}
			s, err := linkICEServer(l)
			if err != nil {
				notes = append(notes, err.Error())
				continue
			}
			servers = mergeICEServers(servers, []webrtc.ICEServer{s})
		}
	}
	return servers, notes
}

func linkICEServer(l link) (webrtc.ICEServer, error) {
	target := l.target
	if d, err := url.PathUnescape(target); err == nil {
		target = d
	}
	if err := validICEURL(target); err != nil {
		return webrtc.ICEServer{}, err
	}
	if ct, ok := l.param("credential-type"); ok && !strings.EqualFold(ct, "password") {
		return webrtc.ICEServer{}, fmt.Errorf("ice server %s: credential-type %q is not supported", schemeHost(target), ct)
	}
	s := webrtc.ICEServer{URLs: []string{target}, CredentialType: webrtc.ICECredentialTypePassword}
	user, hasUser := l.param("username")
	cred, hasCred := l.param("credential")
	if strings.HasPrefix(target, "turn") && (!hasUser || !hasCred) {
		return webrtc.ICEServer{}, fmt.Errorf("ice server %s: TURN without username and credential", schemeHost(target))
	}
	if hasUser {
		s.Username = user
	}
	if hasCred {
		s.Credential = cred
	}
	return s, nil
}

// validICEURL checks a STUN/TURN URI the way pion will parse it.
func validICEURL(u string) error {
	if _, err := stun.ParseURI(u); err != nil {
		return fmt.Errorf("ice server %q: %v", schemeHost(u), err)
	}
	return nil
}

// schemeHost is a STUN/TURN URI without its query, for messages.
func schemeHost(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		u = u[:i]
	}
	return room.Printable(u, "")
}

// mergeICEServers returns a followed by the servers of b that are not
// already in a.
func mergeICEServers(a, b []webrtc.ICEServer) []webrtc.ICEServer {
	out := append([]webrtc.ICEServer(nil), a...)
	for _, s := range b {
		if !containsICEServer(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// containsICEServer reports whether list has a server with the same URLs,
// username and password credential as s.
func containsICEServer(list []webrtc.ICEServer, s webrtc.ICEServer) bool {
	sc, sok := s.Credential.(string)
	for _, t := range list {
		tc, tok := t.Credential.(string)
		credSame := (s.Credential == nil && t.Credential == nil) || (sok && tok && sc == tc)
		if credSame && s.Username == t.Username && sameURLs(s.URLs, t.URLs) {
			return true
		}
	}
	return false
}

func sameURLs(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
