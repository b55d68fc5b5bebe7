package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/onair-gateway/onair/provisioning"
)

// TestPasswd: the printed line is a config fragment onaird accepts, and
// its hash matches the password read from stdin and no other.
func TestPasswd(t *testing.T) {
	run := func(in string, args ...string) (string, string, error) {
		stdin = strings.NewReader(in)
		t.Cleanup(func() { stdin = nil })
		var out, errOut bytes.Buffer
		err := runPasswd(context.Background(), args, &out, &errOut)
		return out.String(), errOut.String(), err
	}
	out, errOut, err := run("correct horse\n")
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	r, err := provisioning.Decode([]byte(out+"room: {url: \"ws://127.0.0.1:7880\", token: t}\n"), provisioning.YAML)
	if err != nil {
		t.Fatalf("the printed config does not decode: %v\n%s", err, out)
	}
	h := []byte(r.HTTP.PasswordHash.Reveal())
	if bcrypt.CompareHashAndPassword(h, []byte("correct horse")) != nil {
		t.Errorf("the hash does not match the password: %s", out)
	}
	if bcrypt.CompareHashAndPassword(h, []byte("correct horse\n")) == nil || bcrypt.CompareHashAndPassword(h, []byte("wrong")) == nil {
		t.Error("the hash matches another password")
	}
	for _, c := range []struct {
		in   string
		args []string
		want string
	}{
		{"", nil, "no password on stdin"},
		{"short\n", nil, "shorter than 8"},
		{strings.Repeat("x", 73) + "\n", nil, "longer than 72"},
		{"long enough\n", []string{"-cost", "4"}, "-cost 4 is out of range"},
	} {
		if _, _, err := run(c.in, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q %v: %v, want %q", c.in, c.args, err, c.want)
		}
	}
}
