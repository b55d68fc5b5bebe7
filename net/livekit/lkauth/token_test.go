package lkauth

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

func jwtWith(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc([]byte(payload)) + ".c2ln"
}

func TestRead(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	good := jwtWith(`{"exp":1700000000,"sub":"dev","video":{"room":"studio"}}`)
	cases := []struct {
		name    string
		tok     string
		want    Claims
		wantErr string // substring of the error; "" for none
	}{
		{"integer exp", good, Claims{Expires: time.Unix(1700000000, 0), Identity: "dev", Room: "studio"}, ""},
		{"fractional exp", jwtWith(`{"exp":1700000000.5}`), Claims{Expires: time.Unix(1700000000, 5e8)}, ""},
		{"no exp", jwtWith(`{"sub":"dev"}`), Claims{Identity: "dev"}, ""},
		{"padded parts", base64.URLEncoding.EncodeToString([]byte(`{"alg":"HS256"}`)) + "." +
			base64.URLEncoding.EncodeToString([]byte(`{"exp":5}`)) + ".c2ln", Claims{Expires: time.Unix(5, 0)}, ""},
		{"two parts", "abc.def", Claims{}, "2 dot-separated parts"},
		{"bearer prefix", "Bearer " + good, Claims{}, `starts with "Bearer ": drop that prefix`},
		{"lowercase bearer", "bearer " + good, Claims{}, "drop that prefix"},
		{"space inside", good[:10] + " " + good[10:], Claims{}, "space or control character at byte 10"},
		{"garbage header", "!!garbage!!." + enc([]byte(`{"exp":5}`)) + ".c2ln", Claims{}, "header"},
		{"header not JSON", enc([]byte("hello")) + "." + enc([]byte(`{"exp":5}`)) + ".c2ln", Claims{}, "header is not a JSON object"},
		{"garbage signature", jwtWith(`{"exp":5}`)[:len(jwtWith(`{"exp":5}`))-4] + "%%%%", Claims{}, "signature"},
		{"empty signature", strings.TrimSuffix(jwtWith(`{"exp":5}`), "c2ln"), Claims{}, "signature"},
		{"not base64", enc([]byte(`{}`)) + ".!!!.c2ln", Claims{}, "payload"},
		{"not json", jwtWith(`exp=5`), Claims{}, "claims are not a JSON object"},
		{"exp is a string", jwtWith(`{"exp":"soon"}`), Claims{}, "claims are not"},
		{"negative exp", jwtWith(`{"exp":-1}`), Claims{}, "is not a date"},
		{"huge exp", jwtWith(`{"exp":1e300}`), Claims{}, "is not a date"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Read(c.tok)
			if c.wantErr == "" {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
			} else {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, c.wantErr)
				}
				if !errors.Is(err, ErrBadToken) {
					t.Errorf("error %v does not wrap ErrBadToken", err)
				}
				if len(c.tok) > 8 && strings.Contains(err.Error(), c.tok[7:]) {
					t.Errorf("error quotes the token: %v", err)
				}
			}
			if !got.Expires.Equal(c.want.Expires) || got.Identity != c.want.Identity || got.Room != c.want.Room {
				t.Errorf("claims = %+v, want %+v", got, c.want)
			}
		})
	}
}

func FuzzRead(f *testing.F) {
	f.Add(jwtWith(`{"exp":1700000000}`))
	f.Add(jwtWith(`{"exp":1e300}`))
	f.Add("Bearer " + jwtWith(`{}`))
	f.Add("a.b.c")
	f.Add("")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := Read(tok)
		if err == nil && c.Expires.Before(time.Unix(0, 0)) {
			t.Errorf("accepted exp before 1970: %v", c.Expires)
		}
		if err != nil && !errors.Is(err, ErrBadToken) {
			t.Errorf("error %v does not wrap ErrBadToken", err)
		}
	})
}
