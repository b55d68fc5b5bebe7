package provisioning

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// mergeBomb returns the "merge bomb": each level merges the one
// below ten times, so the room section expands to 10^levels merges.
func mergeBomb(levels int) string {
	var b strings.Builder
	b.WriteString("x-m0: &m0 {room: probe}\n")
	for n := 1; n <= levels; n++ {
		refs := strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*m%d, ", n-1), 10), ", ")
		fmt.Fprintf(&b, "x-m%d: &m%d {<<: [%s]}\n", n, n, refs)
	}
	fmt.Fprintf(&b, "room: {<<: *m%d, url: \"ws://127.0.0.1:7880\", api_key: k, api_secret: s}\n", levels)
	return b.String()
}

// TestMergeBombIsOneError: nested << merges are bounded like yaml.v3's
// aliases. The 7-level bomb (10^7 merges, 531 bytes in the issue) took
// 25.8 s and was then accepted; now it is refused at once, with one
// problem, whatever its depth.
func TestMergeBombIsOneError(t *testing.T) {
	for _, levels := range []int{5, 7, 9} {
		t.Run(fmt.Sprint(levels), func(t *testing.T) {
			_, err := Decode([]byte(mergeBomb(levels)), YAML)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			ps := Problems(err)
			if len(ps) != 1 || !strings.Contains(ps[0].Error(), "<< merges expand the document past") {
				t.Fatalf("problems = %q, want one about the expansion", ps)
			}
		})
	}
}

// TestAliasesWithinBudget: a config that shares a base section through an
// anchor a few times is not mistaken for a bomb.
func TestAliasesWithinBudget(t *testing.T) {
	doc := mergeBomb(2) + "device: {name: shared}\n"
	r, err := Decode([]byte(doc), YAML)
	if err != nil {
		t.Fatal(err)
	}
	if r.Room.Room != "probe" {
		t.Errorf("room.room = %q, want the merged %q", r.Room.Room, "probe")
	}
}

// TestProblemsCapped: a document with a thousand problems reports the first
// MaxProblems and one line that counts the rest (a bomb with an unknown leaf
// key once logged 1,000,000 lines for one SIGHUP).
func TestProblemsCapped(t *testing.T) {
	var b strings.Builder
	b.WriteString("opus:\n")
	for i := range 1000 {
		fmt.Fprintf(&b, "  unknown%d: 1\n", i)
	}
	_, err := Decode([]byte(b.String()+minimal), YAML)
	ps := Problems(err)
	if len(ps) != MaxProblems+1 {
		t.Fatalf("%d problems, want %d", len(ps), MaxProblems+1)
	}
	if got, want := ps[MaxProblems].Error(), "and 900 more problems"; got != want {
		t.Errorf("last problem = %q, want %q", got, want)
	}
	if !strings.HasPrefix(ps[0].Error(), "opus.unknown") {
		t.Errorf("first problem = %q", ps[0])
	}
}

// TestDecodeContextCancelled: a decode whose context is done returns the
// context's error, not a verdict on the document, so a shutdown that
// overtakes a reload does not wait for it.
func TestDecodeContextCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, doc := range []string{minimal, mergeBomb(4)} {
		if _, err := DecodeContext(ctx, []byte(doc), YAML); !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	}
}

// TestNoDoubledYAMLPrefix: an error from yaml.v3's own decode (here its
// alias-ratio check, which a 3-level merge bomb trips while staying within
// the walk's budget) has one "yaml:" prefix, not two.
func TestNoDoubledYAMLPrefix(t *testing.T) {
	_, err := Decode([]byte(mergeBomb(3)), YAML)
	if err == nil {
		t.Fatal("a document that yaml.v3 refuses was accepted")
	}
	if strings.Contains(err.Error(), "yaml: yaml:") || !strings.Contains(err.Error(), "yaml: document contains excessive aliasing") {
		t.Errorf("want yaml.v3's alias error with one prefix, got: %v", err)
	}
}

// TestDuplicateExtensionKey: an extension key written twice is a duplicate
// key with its path, like any other.
func TestDuplicateExtensionKey(t *testing.T) {
	_, err := Decode([]byte("x-base: 1\nx-base: 2\n"+minimal), YAML)
	ps := Problems(err)
	if len(ps) != 1 || !strings.HasPrefix(ps[0].Error(), "x-base: duplicate key (line 2)") {
		t.Errorf("problems = %q, want one duplicate key at x-base", ps)
	}
}

// TestControlCharactersRefused: names, rooms and identities reach
// terminals, logs and pages, so a control character (an escape sequence
// that clears the screen, a CR/LF that forges a line) is refused, with the
// field named and the value quoted, and unknown keys are quoted too.
func TestControlCharactersRefused(t *testing.T) {
	const forged = `probe\e[2J\e]0;pwned\a\r\nFAKE: ok`
	for _, tc := range []struct{ doc, path string }{
		{"room: {url: \"ws://127.0.0.1:7880\", token: t, room: \"" + forged + "\"}\n", "room.room"},
		{"room: {url: \"ws://127.0.0.1:7880\", token: t, identity: \"dev\\u0085x\"}\n", "room.identity"},
		{"device: {name: \"Studio\\e[31mA\"}\n" + minimal, "device.name"},
		{"device: {name: \"a\\u202eb\"}\n" + minimal, "device.name"}, // a bidi override
		{"mqtt: {broker: \"tcp://h:1883\", client_id: \"c\\td\"}\n" + minimal, "mqtt.client_id"},
		{"controls: {buttons: [{pin: GPIO4, name: \"b\\nx\"}]}\n" + minimal, "controls.buttons[0].name"},
		{"opus: {\"bit\\e[2Jrate\": 1}\n" + minimal, `opus."bit\x1b[2Jrate"`},
	} {
		_, err := Decode([]byte(tc.doc), YAML)
		if err == nil {
			t.Errorf("%s: accepted", tc.path)
			continue
		}
		found := false
		for _, p := range Problems(err) {
			found = found || strings.HasPrefix(p.Error(), tc.path+": ")
		}
		if !found {
			t.Errorf("%s: not named in %v", tc.path, err)
		}
		if strings.ContainsAny(err.Error(), "\x1b\a\r\t\u0085\u202e") || strings.Count(err.Error(), "\n") != len(Problems(err)) {
			t.Errorf("%s: the error carries a raw control character: %q", tc.path, err.Error())
		}
	}
	// Printable non-ASCII names stay allowed.
	if _, err := Decode([]byte("device: {name: \"Studio Café 2\"}\n"+minimal), YAML); err != nil {
		t.Errorf("a printable name was refused: %v", err)
	}
}

// BenchmarkDecodeMergeBomb measures refusing the 7-level merge
// bomb: the walk stops at its node budget.
func BenchmarkDecodeMergeBomb(b *testing.B) {
	doc := []byte(mergeBomb(7))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(doc, YAML); err == nil {
			b.Fatal("accepted")
		}
	}
}
