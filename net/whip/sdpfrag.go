package whip

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pion/ice/v4"
	"github.com/pion/sdp/v3"

	"github.com/onair-gateway/onair/net/room"
)

// iceFrag is the ICE part of an SDP fragment (RFC 8840 §4.4, the
// application/trickle-ice-sdpfrag body of a WHIP PATCH, RFC 9725 §4.3): the
// credentials and candidates of the one bundled m= section.
type iceFrag struct {
	ufrag, pwd string
	// mline is the m= line's value, e.g. "audio 9 UDP/TLS/RTP/SAVPF 111".
	mline string
	mid   string
	// candidates are the values of the a=candidate lines (without the
	// "candidate:" prefix), as RFC 8839 §5.1 writes them.
	candidates      []string
	endOfCandidates bool
}

// maxFragCandidates bounds the candidates taken from a fragment: a host
// with a few interfaces, srflx and relays has well under 32.
const maxFragCandidates = 128

var errFrag = errors.New("whip: bad sdpfrag")

// fragSection is one m= section while parsing.
type fragSection struct {
	mline, mid, ufrag, pwd string
	candidates             []string
	end                    bool
}

// parseICEFrag parses an RFC 8840 SDP fragment. Lines end in CRLF or LF.
// Session-level and media-level ice-ufrag/ice-pwd are both accepted and
// must agree; the section used is the first one named in a=group:BUNDLE,
// or the first m= section. Candidates that do not parse (RFC 8839 §5.1) are
// skipped and counted in skipped.
func parseICEFrag(b []byte) (f iceFrag, skipped int, err error) {
	var (
		sessUfrag, sessPwd, bundle string
		secs                       []fragSection
	)
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimRight(line, "\r \t")
		if line == "" {
			continue
		}
		if len(line) < 2 || line[1] != '=' || line[0] < 'a' || line[0] > 'z' {
			return f, 0, fmt.Errorf("%w: line %d is not <type>=<value>", errFrag, n+1)
		}
		if line[0] == 'm' {
			secs = append(secs, fragSection{mline: line[2:]})
			continue
		}
		if line[0] != 'a' {
			continue // other SDP lines carry nothing for ICE
		}
		key, val, _ := strings.Cut(line[2:], ":")
		var sec *fragSection
		if len(secs) > 0 {
			sec = &secs[len(secs)-1]
		}
		switch {
		case key == "ice-ufrag" && sec == nil:
			sessUfrag = val
		case key == "ice-pwd" && sec == nil:
			sessPwd = val
		case key == "group" && sec == nil:
			bundle = val
		case sec == nil:
		case key == "ice-ufrag":
			sec.ufrag = val
		case key == "ice-pwd":
			sec.pwd = val
		case key == "mid":
			sec.mid = val
		case key == "candidate":
			sec.candidates = append(sec.candidates, val)
		case key == "end-of-candidates":
			sec.end = true
		}
	}
	if len(secs) == 0 {
		return f, 0, fmt.Errorf("%w: no m= section", errFrag)
	}
	sec := &secs[0]
	if mids := strings.Fields(bundle); len(mids) > 1 && strings.EqualFold(mids[0], "BUNDLE") {
		found := false
		for i := range secs {
			if secs[i].mid == mids[1] {
				sec, found = &secs[i], true
				break
			}
		}
		if !found {
			return f, 0, fmt.Errorf("%w: no m= section for bundle mid %q", errFrag, room.Printable(mids[1], ""))
		}
	}
	if f.ufrag, err = pick("ice-ufrag", sessUfrag, sec.ufrag); err != nil {
		return f, 0, err
	}
	if f.pwd, err = pick("ice-pwd", sessPwd, sec.pwd); err != nil {
		return f, 0, err
	}
	if !iceChars(f.ufrag, 4) {
		return f, 0, fmt.Errorf("%w: ice-ufrag is not 4..256 ice-chars (RFC 8839 §5.4)", errFrag)
	}
	if !iceChars(f.pwd, 22) {
		return f, 0, fmt.Errorf("%w: ice-pwd is not 22..256 ice-chars (RFC 8839 §5.4)", errFrag)
	}
	if strings.TrimSpace(sec.mline) == "" {
		return f, 0, fmt.Errorf("%w: empty m= line", errFrag)
	}
	if len(sec.candidates) > maxFragCandidates {
		return f, 0, fmt.Errorf("%w: %d candidates, more than %d", errFrag, len(sec.candidates), maxFragCandidates)
	}
	f.mline, f.mid, f.endOfCandidates = sec.mline, sec.mid, sec.end
	for _, c := range sec.candidates {
		if _, err := ice.UnmarshalCandidate(c); err != nil {
			skipped++
			continue
		}
		f.candidates = append(f.candidates, c)
	}
	return f, skipped, nil
}

// pick returns the media-level value if set, else the session-level one;
// both set and different is an error.
func pick(name, session, media string) (string, error) {
	switch {
	case session != "" && media != "" && session != media:
		return "", fmt.Errorf("%w: session and media %s differ", errFrag, name)
	case media != "":
		return media, nil
	case session != "":
		return session, nil
	}
	return "", fmt.Errorf("%w: no %s", errFrag, name)
}

// iceChars reports whether s is minLen..256 ice-chars: ALPHA / DIGIT /
// "+" / "/" (RFC 8839 §5.4).
func iceChars(s string, minLen int) bool {
	if len(s) < minLen || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '+' || c == '/') {
			return false
		}
	}
	return true
}

// marshal writes f as an RFC 8840 fragment in the layout of RFC 9725
// §4.3.2. The credentials are written at session level and again in the
// m= section: RFC 8840 allows either, and servers differ in which one they
// read (LiveKit patches only the level its own SDP uses, which for pion
// peers is the media level).
func (f iceFrag) marshal() []byte {
	var b strings.Builder
	line := func(s ...string) {
		for _, p := range s {
			b.WriteString(p)
		}
		b.WriteString("\r\n")
	}
	line("a=ice-ufrag:", f.ufrag)
	line("a=ice-pwd:", f.pwd)
	line("m=", f.mline)
	if f.mid != "" {
		line("a=mid:", f.mid)
	}
	line("a=ice-ufrag:", f.ufrag)
	line("a=ice-pwd:", f.pwd)
	for _, c := range f.candidates {
		line("a=candidate:", c)
	}
	if f.endOfCandidates {
		line("a=end-of-candidates")
	}
	return []byte(b.String())
}

// bundleMedia returns the m= section named first in a=group:BUNDLE, or
// the first m= section.
func bundleMedia(d *sdp.SessionDescription) *sdp.MediaDescription {
	if len(d.MediaDescriptions) == 0 {
		return nil
	}
	if g, ok := d.Attribute(sdp.AttrKeyGroup); ok {
		if mids := strings.Fields(g); len(mids) > 1 && strings.EqualFold(mids[0], "BUNDLE") {
			for _, m := range d.MediaDescriptions {
				if mid, _ := m.Attribute(sdp.AttrKeyMID); mid == mids[1] {
					return m
				}
			}
		}
	}
	return d.MediaDescriptions[0]
}

// fragFromSDP extracts the fragment to PATCH from a local description
// (after an ICE restart offer, RFC 9725 §4.3.2).
func fragFromSDP(desc string) (iceFrag, error) {
	var d sdp.SessionDescription
	if err := d.UnmarshalString(desc); err != nil {
		return iceFrag{}, fmt.Errorf("parse local description: %w", err)
	}
	m := bundleMedia(&d)
	if m == nil {
		return iceFrag{}, errors.New("local description has no m= section")
	}
	f := iceFrag{mline: m.MediaName.String()}
	f.mid, _ = m.Attribute(sdp.AttrKeyMID)
	sessUfrag, _ := d.Attribute("ice-ufrag")
	sessPwd, _ := d.Attribute("ice-pwd")
	mUfrag, _ := m.Attribute("ice-ufrag")
	mPwd, _ := m.Attribute("ice-pwd")
	var err error
	if f.ufrag, err = pick("ice-ufrag", sessUfrag, mUfrag); err != nil {
		return iceFrag{}, err
	}
	if f.pwd, err = pick("ice-pwd", sessPwd, mPwd); err != nil {
		return iceFrag{}, err
	}
	for _, a := range m.Attributes {
		switch {
		case a.IsICECandidate():
			f.candidates = append(f.candidates, a.Value)
		case a.Key == sdp.AttrKeyEndOfCandidates:
			f.endOfCandidates = true
		}
	}
	return f, nil
}

// patchSDP returns remote (the current remote description) with the ICE
// credentials and candidates of f in place of the old ones: WHIP does not
// renegotiate anything else on an ICE restart (RFC 9725 §4.3.2), so this is
// the answer to the restart offer.
func patchSDP(remote string, f iceFrag) (string, error) {
	var d sdp.SessionDescription
	if err := d.UnmarshalString(remote); err != nil {
		return "", fmt.Errorf("parse remote description: %w", err)
	}
	if len(d.MediaDescriptions) == 0 {
		return "", errors.New("remote description has no m= section")
	}
	sessionCreds := false
	for i, a := range d.Attributes {
		switch a.Key {
		case "ice-ufrag":
			d.Attributes[i].Value, sessionCreds = f.ufrag, true
		case "ice-pwd":
			d.Attributes[i].Value = f.pwd
		}
	}
	found := f.mid == ""
	for _, m := range d.MediaDescriptions {
		if mid, _ := m.Attribute(sdp.AttrKeyMID); mid == f.mid {
			found = true
		}
		kept := m.Attributes[:0]
		hasCreds := false
		for _, a := range m.Attributes {
			switch {
			case a.IsICECandidate(), a.Key == sdp.AttrKeyEndOfCandidates:
				continue
			case a.Key == "ice-ufrag":
				a.Value, hasCreds = f.ufrag, true
			case a.Key == "ice-pwd":
				a.Value = f.pwd
			}
			kept = append(kept, a)
		}
		if !hasCreds && !sessionCreds {
			kept = append(kept, sdp.Attribute{Key: "ice-ufrag", Value: f.ufrag}, sdp.Attribute{Key: "ice-pwd", Value: f.pwd})
		}
		for _, c := range f.candidates {
			kept = append(kept, sdp.Attribute{Key: sdp.AttrKeyCandidate, Value: c})
		}
		if f.endOfCandidates {
			kept = append(kept, sdp.Attribute{Key: sdp.AttrKeyEndOfCandidates})
		}
		m.Attributes = kept
	}
	if !found {
		return "", fmt.Errorf("%w: answer fragment names mid %q, which the session does not have", errFrag, room.Printable(f.mid, ""))
	}
	out, err := d.Marshal()
	if err != nil {
		return "", fmt.Errorf("marshal patched remote description: %w", err)
	}
	return string(out), nil
}

// checkAnswerSDP checks an SDP answer has an accepted audio m= section
// that receives Opus at 48 kHz (RFC 7587 §7).
func checkAnswerSDP(b []byte) error {
	var d sdp.SessionDescription
	if err := d.Unmarshal(b); err != nil {
		return fmt.Errorf("%w: does not parse: %v", ErrBadAnswer, err)
	}
	var audio *sdp.MediaDescription
	for _, m := range d.MediaDescriptions {
		if m.MediaName.Media == "audio" {
			audio = m
			break
		}
	}
	switch {
	case audio == nil:
		return fmt.Errorf("%w: no audio m= section", ErrBadAnswer)
	case audio.MediaName.Port.Value == 0:
		return fmt.Errorf("%w: the audio m= section was rejected (port 0)", ErrBadAnswer)
	}
	for _, dir := range []string{"sendonly", "inactive"} {
		if _, ok := audio.Attribute(dir); ok {
			return fmt.Errorf("%w: the audio m= section is %s, it must receive", ErrBadAnswer, dir)
		}
	}
	for _, a := range audio.Attributes {
		if a.Key != "rtpmap" {
			continue
		}
		_, enc, _ := strings.Cut(a.Value, " ")
		if strings.HasPrefix(strings.ToLower(enc), "opus/48000") {
			return nil
		}
	}
	return fmt.Errorf("%w: the audio m= section does not accept opus/48000", ErrBadAnswer)
}
