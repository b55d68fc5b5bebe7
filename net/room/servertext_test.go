package room

import (
	"strings"
	"testing"
)

func TestPrintable(t *testing.T) {
	for _, c := range []struct{ in, token, want string }{
		{"plain text", "", "plain text"},
		{"  line1\r\n\tline2  ", "", "line1 line2"},
		{"tab\x00\x01nul", "", "tab nul"},
		{"caf\xc3\xa9 ok", "", "caf ok"},
		{"key=abc123 rest", "abc123", "key=[redacted] rest"},
		{strings.Repeat("a", 500), "", strings.Repeat("a", 197) + "..."},
		{strings.Repeat("a", 200), "", strings.Repeat("a", 200)},
	} {
		if got := Printable(c.in, c.token); got != c.want {
			t.Errorf("Printable(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestServerText(t *testing.T) {
	for in, want := range map[string]string{
		`{"error":"room full"}`:                          "room full",
		`{"message":"nope\nreally"}`:                     "nope really",
		"<!DOCTYPE html>\n<html><body>404</body></html>": "an HTML page",
		"  invalid token: tok-1 \n":                      "invalid token: [redacted]",
	} {
		if got := ServerText([]byte(in), "tok-1"); got != want {
			t.Errorf("ServerText(%q) = %q, want %q", in, got, want)
		}
	}
}
