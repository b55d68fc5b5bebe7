package room

import (
	"encoding/json"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func validConfig() Config {
	c := Config{URL: "ws://127.0.0.1:7880"}
	c.SetDefaults("dev1")
	return c
}

func TestValidateICE(t *testing.T) {
	turn := ICEServer{URLs: []string{"turn:127.0.0.1:3478?transport=tcp"}, Username: "u", Credential: "p"}
	for _, tc := range []struct {
		name    string
		servers []ICEServer
		policy  ICETransportPolicy
		want    []string // field paths the error names; nil: valid
	}{
		{"none", nil, "", nil},
		{"stun", []ICEServer{{URLs: []string{"stun:stun.example.com:3478"}}}, ICEAll, nil},
		{"turn relay", []ICEServer{turn}, ICERelay, nil},
		{"turns", []ICEServer{{URLs: []string{"turns:turn.example.com:5349?transport=tcp"}, Username: "u", Credential: "p"}}, ICERelay, nil},
		{"bad scheme", []ICEServer{{URLs: []string{"http://turn.example.com"}, Username: "u", Credential: "p"}}, "", []string{"ice_servers[0].urls[0]"}},
		{"no host", []ICEServer{{URLs: []string{"turn:"}, Username: "u", Credential: "p"}}, "", []string{"ice_servers[0].urls[0]"}},
		{"bad transport", []ICEServer{{URLs: []string{"turn:h:3478?transport=sctp"}, Username: "u", Credential: "p"}}, "", []string{"ice_servers[0].urls[0]"}},
		{"no urls", []ICEServer{{}}, "", []string{"ice_servers[0].urls"}},
		{"turn without credential", []ICEServer{{URLs: []string{"turn:h:3478"}, Username: "u"}}, "", []string{"ice_servers[0]"}},
		{"relay without turn", []ICEServer{{URLs: []string{"stun:h:3478"}}}, ICERelay, []string{"ice_transport_policy"}},
		{"relay without servers", nil, ICERelay, []string{"ice_transport_policy"}},
		{"bad policy", nil, "public", []string{"ice_transport_policy"}},
		{"too many", make([]ICEServer, 9), "", []string{"ice_servers"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			c.ICEServers = tc.servers
			if tc.policy != "" {
				c.ICETransportPolicy = tc.policy
			}
			err := c.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want one naming %v", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w+":") {
					t.Errorf("%q does not name %s", err, w)
				}
			}
			if strings.Contains(err.Error(), `"p"`) {
				t.Errorf("error shows the credential: %v", err)
			}
		})
	}
}

func TestSetDefaultsPolicy(t *testing.T) {
	if c := validConfig(); c.ICETransportPolicy != ICEAll {
		t.Errorf("default policy %q, want all", c.ICETransportPolicy)
	}
}

// TestICECredentialRedacted: the TURN credential never leaves in JSON or
// YAML (config show, MQTT state).
func TestICECredentialRedacted(t *testing.T) {
	c := validConfig()
	c.ICEServers = []ICEServer{{URLs: []string{"turn:h:3478"}, Username: "u", Credential: "hunter2"}}
	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	y, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{string(j), string(y)} {
		if strings.Contains(out, "hunter2") || !strings.Contains(out, "ice_servers") {
			t.Errorf("credential shown or servers missing:\n%s", out)
		}
	}
}
