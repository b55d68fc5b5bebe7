package conf

import "testing"

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"wss://lk.example.org":                            "wss://lk.example.org",
		"wss://admin:hunter2@lk.example.org/x":            "wss://admin:xxxxx@lk.example.org/x",
		"https://h/whip?access_token=abc&room=r":          "https://h/whip?access_token=[redacted]&room=[redacted]",
		"tcp://user:hunter2@broker:1883":                  "tcp://user:xxxxx@broker:1883",
		"ws://admin:hunter2@/x":                           "ws://admin:xxxxx@/x",
		"ws://[bad":                                       "ws://[bad",
		"ws://[bad@host?token=1":                          RedactedQuery,
		"ws://user@host":                                  "ws://user@host",
		"wss://admin:hunter2@h.example/?token=Q&x=y#frag": "wss://admin:xxxxx@h.example/?token=[redacted]&x=[redacted]#frag",
		"wss://h/?a=%ZZ":                                  "wss://h/?a=[redacted]",
		"admin:hunter2@host:7880":                         RedactedQuery,
		"mailto:x":                                        "mailto:x",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestValidPort(t *testing.T) {
	for p, want := range map[string]bool{"1": true, "7880": true, "65535": true, "0": false, "65536": false, "99999": false, "-1": false, "http": false, "": false} {
		if got := ValidPort(p); got != want {
			t.Errorf("ValidPort(%q) = %v", p, got)
		}
	}
}
