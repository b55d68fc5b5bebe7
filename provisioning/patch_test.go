package provisioning

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

func jv(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return v
}

// RFC 7396 Appendix A, every example.
func TestMergePatchRFC7396(t *testing.T) {
	cases := [][3]string{
		{`{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
		{`{"a":"b"}`, `{"a":null}`, `{}`},
		{`{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`},
		{`{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"c"}`, `{"a":["b"]}`, `{"a":["b"]}`},
		{`{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
		{`{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`},
		{`["a","b"]`, `["c","d"]`, `["c","d"]`},
		{`{"a":"b"}`, `["c"]`, `["c"]`},
		{`{"a":"foo"}`, `null`, `null`},
		{`{"a":"foo"}`, `"bar"`, `"bar"`},
		{`{"e":null}`, `{"a":1}`, `{"e":null,"a":1}`},
		{`[1,2]`, `{"a":"b","c":null}`, `{"a":"b"}`},
		{`{}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
	}
	for _, c := range cases {
		target := jv(t, c[0])
		got := MergePatch(target, jv(t, c[1]))
		if !reflect.DeepEqual(got, jv(t, c[2])) {
			t.Errorf("MergePatch(%s, %s) = %v, want %s", c[0], c[1], got, c[2])
		}
		if !reflect.DeepEqual(target, jv(t, c[0])) {
			t.Errorf("MergePatch modified its target %s", c[0])
		}
	}
}

func randTree(r *rand.Rand, d int) any {
	if d == 0 || r.IntN(3) == 0 {
		switch r.IntN(4) {
		case 0:
			return "s" + string(rune('a'+r.IntN(3)))
		case 1:
			return float64(r.IntN(3))
		case 2:
			return []any{float64(r.IntN(2))}
		}
		return r.IntN(2) == 0
	}
	m := map[string]any{}
	for i := r.IntN(4); i > 0; i-- {
		m[string(rune('a'+r.IntN(4)))] = randTree(r, d-1)
	}
	return m
}

// The diff is exact: applying it gives the target, and patches applied one
// after another equal the diff of the end result, whatever they did
// (deleting a section and setting part of it again included).
func TestDiffPatchProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for i := 0; i < 20000; i++ {
		from, _ := randTree(r, 4).(map[string]any)
		to, _ := randTree(r, 4).(map[string]any)
		if from == nil || to == nil {
			continue
		}
		d := DiffPatch(from, to)
		got := MergePatch(from, d)
		if d == nil {
			got = from
		}
		if !reflect.DeepEqual(got, to) {
			t.Fatalf("MergePatch(%v, DiffPatch) = %v, want %v (diff %v)", from, got, to, d)
		}
	}
	base := jv(t, `{"room":{"url":"ws://a","room":"x"},"opus":{"bitrate":32000}}`)
	p1 := jv(t, `{"room":null}`)
	p2 := jv(t, `{"room":{"url":"ws://b"}}`)
	end := MergePatch(MergePatch(base, p1), p2)
	want := jv(t, `{"room":{"url":"ws://b"},"opus":{"bitrate":32000}}`)
	if !reflect.DeepEqual(MergePatch(base, DiffPatch(base, end)), want) {
		t.Fatalf("delete-then-set did not compose: %v", MergePatch(base, DiffPatch(base, end)))
	}
}

func TestDecodePatchRefuses(t *testing.T) {
	cases := map[string]string{
		`[1]`:            "must be a JSON object, not an array",
		`"x"`:            "not a string",
		`null`:           "not null",
		`{"a":`:          "",
		`{"a":1}{"b":2}`: "after its object",
		`{"a":1,"a":2}`:  "",
		strings.Repeat(`{"a":`, 20) + `1` + strings.Repeat(`}`, 20):         "nests",
		`{"room":{"token":"` + strings.Repeat("x", MaxDocumentSize) + `"}}`: "bytes, more than",
	}
	for in, want := range cases {
		_, err := DecodePatch([]byte(in))
		if err == nil {
			t.Errorf("DecodePatch(%.40q) succeeded", in)
			continue
		}
		if want != "" && !strings.Contains(err.Error(), strings.TrimPrefix(want, "not ")) {
			t.Errorf("DecodePatch(%.40q) = %v, want %q", in, err, want)
		}
	}
	p, err := DecodePatch([]byte(`{"room":{"token":"<redacted>","room":"b"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, has := p["room"].(map[string]any)["token"]; has {
		t.Error("a redacted secret was not dropped from the patch")
	}
}

const patchBase = `device: {id: dev1}
room:
  url: ws://127.0.0.1:7880
  room: studio
  api_key: k
  api_secret: s
`

func TestPatchedValidatesLikeAFile(t *testing.T) {
	r, err := Patched([]byte(patchBase), YAML, map[string]any{"room": map[string]any{"room": "b"}, "opus": map[string]any{"bitrate": json.Number("48000")}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Room.Room != "b" || r.Opus.Bitrate != 48000 || r.Room.URL != "ws://127.0.0.1:7880" {
		t.Fatalf("patched config: room %q bitrate %d url %q", r.Room.Room, r.Opus.Bitrate, r.Room.URL)
	}
	_, err = Patched([]byte(patchBase), YAML, map[string]any{
		"room": map[string]any{"url": nil, "nope": true},
		"opus": map[string]any{"bitrate": "loud"},
	})
	if err == nil {
		t.Fatal("a bad patch passed")
	}
	var paths []string
	for _, e := range Problems(err) {
		paths = append(paths, e.Error())
	}
	all := strings.Join(paths, "\n")
	for _, want := range []string{"room.url", "room.nope", "opus.bitrate"} {
		if !strings.Contains(all, want) {
			t.Errorf("problems do not name %s:\n%s", want, all)
		}
	}
}
