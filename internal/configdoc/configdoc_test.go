package configdoc

import (
	"os"
	"strings"
	"testing"
)

func TestReferenceIsCurrent(t *testing.T) {
	want, err := Generate("../..")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatal("docs/config.md is stale: run `go run ./internal/configdoc/gen` and commit it")
	}
	for _, key := range []string{"`audio.capture.rate`", "`room.token` (secret)", "`controls.buttons[].debounce`", "`opus.frame` (duration)"} {
		if !strings.Contains(string(want), key) {
			t.Errorf("reference lacks %s", key)
		}
	}
	if strings.Contains(string(want), "(undocumented)") {
		t.Errorf("a config field has no doc comment:\n%s", want)
	}
}
