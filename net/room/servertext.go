package room

import (
	"bytes"
	"encoding/json"
	"strings"
)

// MaxServerText is the longest server text ServerText and Printable return.
const MaxServerText = 200

// ServerText extracts a short printable message from a server's error body,
// for a JoinError, a log line and the device status: the "error" or
// "message" member of a JSON object if there is one, else the body; an
// HTML page (a web server that is not the room server) is named rather than
// quoted. secret, if it appears, is redacted.
func ServerText(body []byte, secret string) string {
	t := bytes.TrimSpace(body)
	if len(t) > 0 && t[0] == '<' {
		return "an HTML page"
	}
	if len(t) > 0 && t[0] == '{' {
		var j struct {
			Error   string `json:"error"`
			Message string `json:"message"`
		}
		if json.Unmarshal(t, &j) == nil {
			switch {
			case j.Error != "":
				return Printable(j.Error, secret)
			case j.Message != "":
				return Printable(j.Message, secret)
			}
		}
	}
	return Printable(string(t), secret)
}

// Printable keeps printable ASCII, folds every other run of bytes and
// whitespace into one space, redacts secret, and cuts to MaxServerText
// bytes, so a server's text can go into an error message and a log line.
func Printable(s, secret string) string {
	if secret != "" {
		s = strings.ReplaceAll(s, secret, "[redacted]")
	}
	var b strings.Builder
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c > ' ' && c < 0x7f {
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteByte(c)
		} else {
			space = true
		}
		if b.Len() > MaxServerText {
			return b.String()[:MaxServerText-3] + "..."
		}
	}
	return b.String()
}
