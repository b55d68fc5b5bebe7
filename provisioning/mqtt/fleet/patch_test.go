package fleet

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var yamlCases = []struct {
	name, in, want, err string
}{
	{"object", "room:\n  room: news\n  token_ttl: 6h\naudio:\n  gain_db: 3.5\n", `{"audio":{"gain_db":3.5},"room":{"room":"news","token_ttl":"6h"}}`, ""},
	{"null deletes", "room:\n  token: null\n  api_key: ~\n  api_secret:\n", `{"room":{"api_key":null,"api_secret":null,"token":null}}`, ""},
	{"list", "hw:\n  leds: [1, two]\n", `{"hw":{"leds":[1,"two"]}}`, ""},
	{"int key", "room:\n  1: x\n", "", "room: key 1 is not a string"},
	{"inf", "audio:\n  gain_db: .inf\n", "", "audio.gain_db: +Inf is not a JSON number"},
	{"empty", "", "", "empty document"},
	{"two documents", "a: 1\n---\nb: 2\n", "", "more than one document"},
	{"syntax", "a: [\n", "", "YAML:"},
}

func TestYAMLToJSON(t *testing.T) {
	for _, tc := range yamlCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := YAMLToJSON([]byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || string(got) != tc.want {
				t.Fatalf("got %s %v, want %s", got, err, tc.want)
			}
		})
	}
}

func FuzzYAMLToJSON(f *testing.F) {
	for _, tc := range yamlCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := YAMLToJSON(in)
		if err == nil && !json.Valid(out) {
			t.Fatalf("invalid JSON %q from %q", out, in)
		}
	})
}

func TestReadPatch(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if p, err := ReadPatch(write("p.yaml", "room:\n  room: a\n")); err != nil || string(p) != `{"room":{"room":"a"}}` {
		t.Errorf("yaml: %s %v", p, err)
	}
	if p, err := ReadPatch(write("p.JSON", ` {"room": {"room": "a"}} `)); err != nil || string(p) != ` {"room": {"room": "a"}} ` {
		t.Errorf("json: %s %v", p, err)
	}
	for _, tc := range []struct{ name, body, want string }{
		{"a.json", `[1]`, "-set: a patch is a JSON object (RFC 7396), not an array"},
		{"b.yaml", "- 1\n", "not an array"},
		{"c.json", `{"a":`, "-set: not valid JSON"},
		{"d.yml", "a: [", "-set: "},
		{"e.json", `{"a":"` + strings.Repeat("x", 64<<10) + `"}`, "larger than"},
	} {
		if _, err := ReadPatch(write(tc.name, tc.body)); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%s: %v, want %q and the file name", tc.name, err, tc.want)
		}
	}
	if _, err := ReadPatch(filepath.Join(dir, "missing.json")); err == nil || !strings.HasPrefix(err.Error(), "-set: ") {
		t.Errorf("missing file: %v", err)
	}
}
