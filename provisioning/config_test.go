package provisioning

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/crypto/bcrypt"

	"github.com/onair-gateway/onair/audio/dsp"
	"github.com/onair-gateway/onair/conf"
)

const minimal = `
room:
  url: ws://127.0.0.1:7880
  token: tok-123
`

// brokenCases are configs that must fail, each with every path it must name.
var brokenCases = []struct {
	name  string
	doc   string
	paths []string
}{
	{"issue example: typo, bad rate, empty url", `
audio:
  capture:
    chanels: 4
    rate: 12345
room:
  url: ""
  token: SECRETTOKEN
`, []string{"audio.capture.chanels: unknown key", "audio.capture.rate: 12345", "room.url: must not be empty"}},
	{"unknown top-level section", "roomz: {}\n" + minimal, []string{"roomz: unknown key"}},
	{"wrong scalar type", "opus:\n  bitrate: lots\n" + minimal, []string{`opus.bitrate: "lots" is not a whole number`}},
	{"mapping where a scalar goes", "opus:\n  bitrate: {a: 1}\n" + minimal, []string{"opus.bitrate: expected a whole number"}},
	{"bad duration", "opus:\n  frame: 20\n" + minimal, []string{"opus.frame:"}},
	{"bad opus frame", "opus:\n  frame: 30ms\n" + minimal, []string{"opus.frame: 30ms is not 10ms, 20ms or 40ms"}},
	{"opus frame shorter than the capture period", "opus:\n  frame: 10ms\naudio:\n  capture:\n    period: 20ms\n" + minimal, []string{"opus.frame: 10ms is not a whole number of capture periods (audio.capture.period 20ms)"}},
	{"bitrate range", "opus:\n  bitrate: 1000\n" + minimal, []string{"opus.bitrate: 1000 bit/s is out of range"}},
	{"unknown board", "board:\n  profile: toaster\n" + minimal, []string{`board.profile: unknown board profile "toaster"`}},
	{"channels out of range", "audio:\n  capture:\n    channels: 12\n" + minimal, []string{"audio.capture.channels: 12 is out of range 1..8"}},
	{"bad format", "audio:\n  capture:\n    format: U8\n" + minimal, []string{`audio.capture.format: "U8" is not supported`}},
	{"period range", "audio:\n  capture:\n    period: 50ms\n" + minimal, []string{"audio.capture.period: 50ms is out of range"}},
	{"bad beam", "audio:\n  processing:\n    beam: laser\n" + minimal, []string{`audio.processing.beam: "laser"`}},
	{"gains count", "audio:\n  processing:\n    gains: [1, 2]\n" + minimal, []string{"audio.processing.gains: has 2 entries for 4"}},
	{"no token", "room:\n  url: ws://127.0.0.1:7880\n", []string{"room.token: required"}},
	{"token and key", minimal + "  api_key: k\n  api_secret: s\n", []string{"room.token: set either token or api_key/api_secret"}},
	{"bad backend", minimal + "  backend: sip\n", []string{`room.backend: "sip" is not livekit or whip`}},
	{"ftp url", "room:\n  url: ftp://x\n  token: t\n", []string{`room.url: scheme "ftp"`}},
	{"e2ee required without key", "e2ee:\n  required: true\n" + minimal, []string{"e2ee.required: is true but neither"}},
	{"e2ee bad key", "e2ee:\n  key: '!!!'\n" + minimal, []string{"e2ee.key: is not valid base64"}},
	{"e2ee whip", "e2ee:\n  required: true\n  passphrase: longenough\nroom:\n  backend: whip\n  url: http://h/whip\n  token: t\n", []string{"e2ee.required: is true but room.backend whip"}},
	{"button pin clash", "controls:\n  buttons:\n    - {pin: GPIO17}\n  leds:\n    - {pin: GPIO17, role: onair}\n" + minimal, []string{"controls.leds[0].pin: GPIO17 is already used by buttons[0].pin"}},
	{"led role", "controls:\n  leds:\n    - {pin: GPIO4, role: disco}\n" + minimal, []string{`controls.leds[0].role: "disco"`}},
	{"list where mapping", "controls:\n  buttons: {pin: GPIO4}\n" + minimal, []string{"controls.buttons: expected a list"}},
	{"nested unknown in list", "controls:\n  buttons:\n    - {pin: GPIO4, debounse: 5ms}\n" + minimal, []string{"controls.buttons[0].debounse: unknown key"}},
	{"device id", "device:\n  id: Bad Id!\n" + minimal, []string{`device.id: "Bad Id!"`}},
	{"mqtt scheme", "mqtt:\n  broker: http://x:1883\n" + minimal, []string{`mqtt.broker: scheme "http"`}},
	{"mqtt cert without key", "mqtt:\n  broker: ssl://x:8883\n  cert_file: /c\n" + minimal, []string{"mqtt.key_file: cert_file and key_file go together"}},
	{"http listen", "http:\n  listen: nonsense\n" + minimal, []string{`http.listen: "nonsense" is not host:port`}},
	{"http password hash", "http:\n  password_hash: hunter2\n" + minimal, []string{"http.password_hash: is not a bcrypt hash"}},
	{"http tls pair", "http:\n  tls_cert: /c.pem\n" + minimal, []string{"http.tls_key: tls_cert and tls_key go together"}},
	{"stereo opus on array", "opus:\n  channels: 2\n" + minimal, []string{"opus.channels: 2 (stereo) needs audio.processing.beam stereo"}},
	{"sim script order", "board:\n  sim:\n    script:\n      - {at: 2s, action: press}\n      - {at: 1s, action: jump}\n" + minimal,
		[]string{"board.sim.script[1].at: 1s is earlier", `board.sim.script[1].action: "jump"`}},
	{"aec fields", "audio:\n  aec: {enabled: true, engine: webrtc, tail: 5s, suppress: 3, loopback: [1]}\n" + minimal,
		[]string{`audio.aec.engine: "webrtc" is not speex`, "audio.aec.tail: 5s is out of range", "audio.aec.suppress: 3 dB", "audio.aec.loopback[0]: channel 1: the capture has no channels beyond its 4 mics"}},
	{"sim echo", "board:\n  sim:\n    skew_ppm: 2000\n    echo: {delay: 2s, level: 30}\n" + minimal,
		[]string{"board.sim.skew_ppm: 2000 is out of range", "board.sim.echo.delay: 2s is out of range", "board.sim.echo.level: 30 dB"}},
	{"duplicate key", "opus:\n  bitrate: 32000\n  bitrate: 64000\n" + minimal, []string{"opus.bitrate: duplicate key"}},
	{"two documents", minimal + "---\n" + minimal, []string{"more than one document"}},
	{"syntax error", "room: [\n", []string{"yaml syntax: line 1"}},
	{"control character", "device: {name: \"a\x01b\"}\n" + minimal, []string{"yaml syntax: control characters are not allowed"}},
}

func TestDecodeBroken(t *testing.T) {
	for _, tc := range brokenCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode([]byte(tc.doc), YAML)
			if err == nil {
				t.Fatal("Decode accepted a broken config")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v is not ErrInvalid", err)
			}
			msg := err.Error()
			for _, p := range tc.paths {
				if !strings.Contains(msg, p) {
					t.Errorf("error does not name %q:\n%s", p, msg)
				}
			}
			if strings.Contains(msg, "SECRETTOKEN") {
				t.Errorf("error leaks the token:\n%s", msg)
			}
		})
	}
}

func TestIssueExampleOnePerLine(t *testing.T) {
	_, err := Decode([]byte(brokenCases[0].doc), YAML)
	probs := Problems(err)
	if len(probs) != 3 {
		t.Fatalf("want exactly 3 problems, got %d: %v", len(probs), probs)
	}
	for _, p := range probs {
		if strings.Contains(p.Error(), "\n") {
			t.Errorf("problem spans lines: %q", p)
		}
	}
}

func TestDecodeMinimalDefaults(t *testing.T) {
	r, err := Decode([]byte(minimal), YAML)
	if err != nil {
		t.Fatal(err)
	}
	if r.Board.Profile != "sim" || r.Audio.Capture.Channels != 4 || r.Audio.Capture.Rate != 48000 {
		t.Errorf("profile defaults not applied: %+v", r.Audio.Capture)
	}
	if r.Audio.Processing.Beam != dsp.BeamDOA {
		t.Errorf("beam = %q, want doa for the sim's circular array", r.Audio.Processing.Beam)
	}
	if r.Opus.Bitrate != 32000 || r.Opus.Frame.D().String() != "20ms" || !conf.Bool(r.Opus.FEC, false) {
		t.Errorf("opus defaults: %+v", r.Opus)
	}
	if r.Room.Identity != r.Device.ID || !strings.HasPrefix(r.Device.ID, "onair-") {
		t.Errorf("identity %q, id %q", r.Room.Identity, r.Device.ID)
	}
	if r.Controls == nil || len(r.Controls.Buttons) != 1 || r.Controls.Buttons[0].Debounce.D().String() != "20ms" {
		t.Errorf("controls from profile: %+v", r.Controls)
	}
}

// TestAECProfileDefaults checks that echo cancellation is on by default
// for the mic arrays with an output (with the 6-mic board's loopback
// channels as its reference), and off for the others and a line input.
func TestAECProfileDefaults(t *testing.T) {
	cases := []struct {
		profile  string
		on       bool
		loopback []int
	}{
		{"sim", false, nil}, // no speaker: nothing played, no echo
		{"respeaker-2mic", true, nil},
		{"respeaker-4mic", false, nil},
		{"respeaker-6mic", true, []int{6, 7}},
		{"i2s-stereo-mems", false, nil},
		{"hifiberry-dacplusadc", false, nil},
	}
	for _, c := range cases {
		r, err := ForBoard(c.profile)
		if err != nil {
			t.Fatalf("%s: %v", c.profile, err)
		}
		a := r.Audio.AEC
		if a.On() != c.on || !slices.Equal(a.Loopback, c.loopback) {
			t.Errorf("%s: aec enabled %v loopback %v, want %v %v", c.profile, a.On(), a.Loopback, c.on, c.loopback)
		}
		if a.Tail == 0 || a.Suppress == nil {
			t.Errorf("%s: aec defaults not filled: %+v", c.profile, a)
		}
	}
}

// TestAECFollowsPlayback: the canceller is on by default only where the
// device plays the room, and refuses a playback rate other than the
// capture's.
func TestAECFollowsPlayback(t *testing.T) {
	r, err := Decode([]byte("board: {sim: {echo: {delay: 30ms}}}\n"+minimal), YAML)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Audio.Playback.On() || !r.Audio.AEC.On() {
		t.Errorf("sim with echo: playback %v aec %v, want both on", r.Audio.Playback.On(), r.Audio.AEC.On())
	}
	r, err = Decode([]byte("board: {profile: respeaker-2mic}\naudio: {playback: {enabled: false}}\n"+minimal), YAML)
	if err != nil {
		t.Fatal(err)
	}
	if r.Audio.AEC.On() {
		t.Error("respeaker-2mic with playback off: aec on")
	}
	_, err = Decode([]byte("board: {profile: respeaker-2mic}\naudio: {playback: {rate: 44100}}\n"+minimal), YAML)
	if err == nil || !strings.Contains(err.Error(), "audio.aec.enabled") || !strings.Contains(err.Error(), "44100") {
		t.Errorf("playback at 44.1 kHz with aec on: %v, want an audio.aec.enabled error naming the rate", err)
	}
}

func TestMusicProfileDefaults(t *testing.T) {
	r, err := Decode([]byte("board: {profile: hifiberry-dacplusadc}\n"+minimal), YAML)
	if err != nil {
		t.Fatal(err)
	}
	if r.Opus.Channels != 2 || r.Opus.Bitrate != 128000 || r.Opus.Application != "audio" || r.Audio.Processing.Beam != dsp.BeamStereo {
		t.Errorf("music defaults not applied: %+v %q", r.Opus, r.Audio.Processing.Beam)
	}
}

// TestJSONMatchesYAML decodes every example as YAML, converts it to JSON and
// decodes that: the same Go types must give the same config, and JSON must
// reject unknown keys with their path too.
func TestJSONMatchesYAML(t *testing.T) {
	files, _ := filepath.Glob("../examples/*.yaml")
	if len(files) < 6 {
		t.Fatalf("found %d examples, want at least 6", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			ry, err := Decode(data, YAML)
			if err != nil {
				t.Fatalf("yaml: %v", err)
			}
			var tree any
			if err := yaml.Unmarshal(data, &tree); err != nil {
				t.Fatal(err)
			}
			js, err := json.Marshal(tree)
			if err != nil {
				t.Fatal(err)
			}
			rj, err := Decode(js, JSON)
			if err != nil {
				t.Fatalf("json: %v\n%s", err, js)
			}
			a, _ := yaml.Marshal(ry.Config)
			b, _ := yaml.Marshal(rj.Config)
			if string(a) != string(b) {
				t.Errorf("YAML and JSON decode differently:\n%s\n---\n%s", a, b)
			}
		})
	}
	_, err := Decode([]byte(`{"room":{"url":"ws://h:1","token":"t"},"audio":{"capture":{"chanels":4,"rate":12345}}}`), JSON)
	for _, want := range []string{"audio.capture.chanels: unknown key", "audio.capture.rate: 12345"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("JSON error %v does not name %q", err, want)
		}
	}
	_, err = Decode([]byte(`{"room":{"url":"ws://h:1","token":"t"},"opus":{"bitrate":"x"}}`), JSON)
	if err == nil || !strings.Contains(err.Error(), `opus.bitrate: "x" is not a whole number`) {
		t.Errorf("JSON type error: %v", err)
	}
}

// TestSecretsNeverPrinted checks that no secret value reaches an error, a
// marshalled config or a formatted value.
func TestSecretsNeverPrinted(t *testing.T) {
	const tok, pass, sec, mq = "TOKEN-d7f1e2", "PASSPHRASE-a81c", "APISECRET-77aa", "MQTTPASS-19bc"
	doc := `
room: {url: "ws://h:1", api_key: k, api_secret: ` + sec + `}
e2ee: {passphrase: ` + pass + `}
mqtt: {broker: "tcp://h:1883", password: ` + mq + `}
`
	r, err := Decode([]byte(doc), YAML)
	if err != nil {
		t.Fatal(err)
	}
	y, _ := yaml.Marshal(r.Config)
	j, _ := json.Marshal(r.Config)
	outs := []string{string(y), string(j)}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		outs = append(outs, sprintf(verb, r.Config), sprintf(verb, r.Room.APISecret))
	}
	bad := doc + "room:\n  token: " + tok + "\n"
	_, err = Decode([]byte(bad), YAML)
	if err == nil {
		t.Fatal("duplicate room section accepted")
	}
	outs = append(outs, err.Error())
	_, err = Decode([]byte(`{"room":{"url":"ws://h:1","token":["`+tok+`"]}}`), JSON)
	outs = append(outs, err.Error())
	for _, o := range outs {
		for _, s := range []string{tok, pass, sec, mq} {
			if strings.Contains(o, s) {
				t.Errorf("secret %s printed in:\n%s", s, o)
			}
		}
	}
	if r.Room.APISecret.Reveal() != sec || r.E2EE.Passphrase.Reveal() != pass {
		t.Error("Reveal lost the secret value")
	}
}

// TestSyntaxErrorAlone: a document that does not parse is reported as that,
// not followed by complaints about fields it never reached.
func TestSyntaxErrorAlone(t *testing.T) {
	for _, tc := range []struct {
		doc string
		syn Syntax
	}{{"room: [\n", YAML}, {`{"room": {"url": `, JSON}, {"{} {}", JSON}} {
		_, err := Decode([]byte(tc.doc), tc.syn)
		if p := Problems(err); len(p) != 1 || strings.Contains(err.Error(), "room.url") {
			t.Errorf("%q: %v", tc.doc, err)
		}
	}
}

func TestJSONDuplicateKeys(t *testing.T) {
	doc := `{"room":{"url":"ws://h:1","token":"t","url":"ws://other:1"},"opus":{"bitrate":32000},"opus":{"bitrate":64000}}`
	_, err := Decode([]byte(doc), JSON)
	for _, want := range []string{"room.url: duplicate key", "opus: duplicate key"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %q", err, want)
		}
	}
}

func TestEmptyDocumentNeedsRoom(t *testing.T) {
	for _, doc := range []string{"", "# only a comment\n", "{}"} {
		_, err := Decode([]byte(doc), YAML)
		if err == nil || !strings.Contains(err.Error(), "room.url: must not be empty") {
			t.Errorf("%q: %v", doc, err)
		}
	}
}

func TestOversizedDocument(t *testing.T) {
	_, err := Decode(make([]byte, MaxDocumentSize+1), JSON)
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("got %v", err)
	}
}

func TestWarnings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte(minimal), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	w := strings.Join(Warnings(path, r), "\n")
	if !strings.Contains(w, "chmod 600") || !strings.Contains(w, "e2ee") {
		t.Errorf("warnings: %s", w)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.Join(Warnings(path, r), "\n"), "chmod") {
		t.Error("warns about a 0600 file")
	}
	if strings.Contains(strings.Join(Warnings(path, r), "\n"), "mqtt") {
		t.Error("warns about mqtt with no broker set")
	}
	r.MQTT.Broker = "tcp://127.0.0.1:1883"
	if w := strings.Join(Warnings(path, r), "\n"); strings.Contains(w, "mqtt") {
		t.Errorf("warns about a loopback broker: %s", w)
	}
	r.MQTT.Broker = "tcp://broker.example:1883"
	if w := strings.Join(Warnings(path, r), "\n"); !strings.Contains(w, "not encrypted") {
		t.Errorf("no warning that a plain broker on the network is not encrypted: %s", w)
	}
}

func FuzzDecode(f *testing.F) {
	for _, tc := range brokenCases {
		f.Add([]byte(tc.doc), false)
	}
	f.Add([]byte(minimal), false)
	f.Add([]byte(mergeBomb(7)), false) // issue 15: 10^7 merges in 531 bytes
	f.Add([]byte(`{"room":{"url":"ws://h:1","token":"t"}}`), true)
	if files, _ := filepath.Glob("../examples/*.yaml"); len(files) > 0 {
		for _, fn := range files {
			if b, err := os.ReadFile(fn); err == nil {
				f.Add(b, false)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, isJSON bool) {
		syn := YAML
		if isJSON {
			syn = JSON
		}
		r, err := Decode(data, syn)
		if err != nil {
			ps := Problems(err)
			if len(ps) == 0 || len(ps) > MaxProblems+1 {
				t.Fatalf("%d problems", len(ps))
			}
			for _, p := range ps {
				if m := p.Error(); strings.Contains(m, "yaml: yaml:") || strings.Contains(m, "json: json:") {
					t.Fatalf("doubled prefix: %q", m)
				}
			}
			return
		}
		// A config that passed must pass again after a round trip of its
		// own YAML (secrets aside, which marshal redacted).
		if r.Room.Identity == "" || r.Audio.Capture.Rate == 0 {
			t.Fatalf("accepted config lacks defaults: %+v", r.Config)
		}
	})
}

// TestLoadRefusesWhatIsNotAConfigFile: a mistaken path fails at once with
// a plain reason, instead of blocking on a FIFO or reading /dev/zero until
// memory runs out.
func TestLoadRefusesWhatIsNotAConfigFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, []byte("# "+strings.Repeat("x", MaxDocumentSize)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"/dev/zero":                     "is a device, not a regular file",
		fifo:                            "is a named pipe, not a regular file",
		dir:                             "is a directory, not a regular file",
		big:                             "larger than 256 KiB",
		filepath.Join(dir, "none.yaml"): "no such file",
	} {
		done := make(chan error, 1)
		go func() { _, err := Load(path); done <- err }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Load(%s) = %v, want %q", path, err, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("Load(%s) did not return", path)
		}
	}
}

func TestTokenWarnings(t *testing.T) {
	jwt := func(payload string) string {
		enc := base64.RawURLEncoding.EncodeToString
		return enc([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc([]byte(payload)) + ".c2ln"
	}
	now := time.Unix(1_800_000_000, 0)
	base := "device: {id: dev1}\nroom:\n  url: ws://127.0.0.1:7880\n  room: studio\n  token: "
	cases := []struct {
		name, tok string
		want      []string // substrings, one warning each; none when empty
	}{
		{"good", jwt(`{"exp":1800086400,"sub":"dev1","video":{"room":"studio","roomJoin":true}}`), nil},
		{"no exp", jwt(`{"sub":"dev1","video":{"room":"studio"}}`), nil},
		{"placeholder", "paste-a-livekit-join-token-here", []string{"not a LiveKit join token (1 dot-separated parts, want 3)"}},
		{"expired", jwt(`{"exp":1799996400,"sub":"dev1","video":{"room":"studio"}}`), []string{"expired at 2027-01-15T07:00:00Z (1h0m0s ago)"}},
		{"expiring", jwt(`{"exp":1800007200,"sub":"dev1","video":{"room":"studio"}}`), []string{"expires at 2027-01-15T10:00:00Z (in 2h0m0s)"}},
		{"other room", jwt(`{"sub":"dev1","video":{"room":"lobby"}}`), []string{`for room "lobby" but room.room is "studio"`}},
		{"other identity", jwt(`{"sub":"someone","video":{"room":"studio"}}`), []string{`for identity "someone" but room.identity is "dev1"`}},
		{"bearer prefix", "Bearer " + jwt(`{"sub":"dev1","video":{"room":"studio"}}`), []string{`starts with "Bearer ": drop that prefix`}},
		{"garbage around JSON", "x!x." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"dev1"}`)) + ".#", []string{"not a LiveKit join token (header"}},
	}
	for _, c := range cases {
		r, err := Decode([]byte(base+c.tok+"\n"), YAML)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got := tokenWarnings(r, now)
		if len(got) != len(c.want) {
			t.Errorf("%s: warnings %q, want %d", c.name, got, len(c.want))
			continue
		}
		for i, w := range c.want {
			if !strings.Contains(got[i], w) {
				t.Errorf("%s: warning %q, want it to say %q", c.name, got[i], w)
			}
		}
		for _, g := range got {
			if strings.Contains(g, c.tok) {
				t.Errorf("%s: warning quotes the token", c.name)
			}
		}
	}
	// WHIP bearer tokens are opaque: no warning.
	r, err := Decode([]byte("room: {backend: whip, url: http://127.0.0.1/whip, token: opaque}\n"), YAML)
	if err != nil {
		t.Fatal(err)
	}
	if got := tokenWarnings(r, now); len(got) != 0 {
		t.Errorf("whip token: %q", got)
	}
}

// TestDuplicateKeyAlone: a duplicated section is reported by itself; the
// sections around it still decode, so no false "must not be empty"
// complaints follow.
func TestDuplicateKeyAlone(t *testing.T) {
	doc := minimal + "audio:\n  capture: {rate: 48000}\naudio:\n  capture: {rate: 16000}\n"
	_, err := Decode([]byte(doc), YAML)
	problems := Problems(err)
	if len(problems) != 1 || !strings.Contains(problems[0].Error(), "audio: duplicate key (line ") {
		t.Errorf("problems %q, want the duplicate alone", problems)
	}
}

func TestExposedListen(t *testing.T) {
	for addr, want := range map[string]bool{
		"":               false,
		"127.0.0.1:9110": false,
		"[::1]:9110":     false,
		"localhost:9110": false,
		":9110":          true,
		"0.0.0.0:9110":   true,
		"[::]:9110":      true,
		"10.0.0.5:9110":  true,
		"studio.lan:80":  true,
	} {
		if got := exposed(addr); got != want {
			t.Errorf("exposed(%q) = %v, want %v", addr, got, want)
		}
	}
	r, err := Decode([]byte(minimal+"http: {listen: \"0.0.0.0:9110\"}\n"), YAML)
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(Warnings("", r), "\n"); !strings.Contains(w, "http.listen 0.0.0.0:9110 is reachable from other hosts") {
		t.Errorf("no warning for a wildcard listen address:\n%s", w)
	}
}

// TestHostileValues: values that pass naive range checks (NaN fails every
// comparison), decimals meant for integers, a bad value that yaml.v3 would
// stop decoding at, and credentials in URLs. Each is named by its path,
// every other problem is still found, no false complaint is added, and no
// credential is printed.
func TestHostileValues(t *testing.T) {
	doc := `opus:
  frame: 20
  complexity: 3.5
board: {profile: sim, geometry: {radius: .nan}, sim: {level: .inf, azimuth: 720, script: [{at: 1s, button: talk, action: press}]}}
audio:
  capture: {period: -10ms}
  processing: {agc: {max_gain: .nan}}
e2ee: {key_index: 1.9, passphrase: abcdefghij}
room: {url: "ws://127.0.0.1:1", token: SECRETTOKEN}
mqtt: {broker: "ws://admin:hunter2@/x"}
http: {listen: "999.1.1.1:99999"}
`
	_, err := Decode([]byte(doc), YAML)
	got := map[string]bool{}
	for _, p := range Problems(err) {
		var fe *conf.FieldError
		if !errors.As(p, &fe) {
			t.Errorf("problem without a path: %v", p)
			continue
		}
		got[fe.Path] = true
		if strings.Contains(p.Error(), "hunter2") || strings.Contains(p.Error(), "SECRETTOKEN") {
			t.Errorf("a credential is printed: %v", p)
		}
	}
	for _, want := range []string{"opus.frame", "opus.complexity", "board.geometry.radius", "board.sim.level", "board.sim.azimuth",
		"board.sim.script[0].button", "audio.capture.period", "audio.processing.agc.max_gain", "e2ee.key_index", "mqtt.broker", "http.listen"} {
		if !got[want] {
			t.Errorf("%s not reported; got %v", want, got)
		}
	}
	for _, never := range []string{"room.url", "room.token"} {
		if got[never] {
			t.Errorf("false complaint about %s", never)
		}
	}
	if t.Failed() {
		t.Logf("%v", err)
	}
}

// TestMergeKeysAndExtensions: YAML anchors kept under a top-level x- key
// and merged with << decode as if written in place, with their keys checked;
// a mapping used as a key is refused; a JSON file may start with a BOM.
func TestMergeKeysAndExtensions(t *testing.T) {
	doc := "x-server: &lk {url: \"ws://127.0.0.1:7880\", api_key: k, api_secret: s}\nroom:\n  <<: *lk\n  room: studio\n"
	r, err := Decode([]byte(doc), YAML)
	if err != nil {
		t.Fatal(err)
	}
	if r.Room.URL != "ws://127.0.0.1:7880" || r.Room.APIKey != "k" || r.Room.Room != "studio" {
		t.Errorf("merged room %+v", r.Room)
	}
	_, err = Decode([]byte("x-bad: &b {url: \"ws://h:1\", tokn: t}\nroom: {<<: *b}\n"), YAML)
	if err == nil || !strings.Contains(err.Error(), "room.tokn: unknown key") {
		t.Errorf("a typo inside a merged anchor: %v", err)
	}
	_, err = Decode([]byte(minimal+"  ? {a: 1}\n  : 2\n"), YAML)
	if err == nil || !strings.Contains(err.Error(), "room: a key must be a plain name, not a mapping") {
		t.Errorf("a mapping as a key: %v", err)
	}
	if _, err := Decode([]byte("\xef\xbb\xbf{\"x-note\": 1, \"room\": {\"url\": \"ws://h:1\", \"token\": \"t\"}}"), JSON); err != nil {
		t.Errorf("JSON with a BOM and an x- key: %v", err)
	}
}

// TestJSONBadValueAlone: in JSON too, a value of the wrong type is reported
// without hiding later problems or inventing empty fields.
func TestJSONBadValueAlone(t *testing.T) {
	doc := `{"board":{"profile":"sim"},"opus":{"frame":20},"room":{"url":"ws://127.0.0.1:7880","api_key":"k","api_secret":"s"},"http":{"listen":"1.2.3.4:99999"}}`
	_, err := Decode([]byte(doc), JSON)
	var paths []string
	for _, p := range Problems(err) {
		var fe *conf.FieldError
		if errors.As(p, &fe) {
			paths = append(paths, fe.Path)
		}
	}
	if got := strings.Join(paths, ","); got != "opus.frame,http.listen" {
		t.Errorf("problems at %q, want opus.frame,http.listen:\n%v", got, err)
	}
	_, err = Decode([]byte("x-lk: &lk {url: \"ws://h:1\", token: t}\nroom: {<<: *lk, <<: *lk}\n"), YAML)
	if ps := Problems(err); len(ps) != 1 || !strings.Contains(ps[0].Error(), "room.<<: duplicate key") {
		t.Errorf("two merge keys: %v", err)
	}
}

// TestHTTPPassword: a bcrypt hash is accepted, kept out of every printed
// form like the other secrets, and the monitoring endpoints stay open by
// default. An exposed page with a password but no TLS is warned about.
func TestHTTPPassword(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Decode([]byte(minimal+"http: {listen: \"0.0.0.0:9110\", password_hash: '"+string(hash)+"', open_metrics: false}\n"), YAML)
	if err != nil {
		t.Fatal(err)
	}
	if r.HTTP.PasswordHash.Reveal() != string(hash) {
		t.Errorf("password_hash = %q", r.HTTP.PasswordHash.Reveal())
	}
	j, _ := json.Marshal(r.Config)
	y, _ := yaml.Marshal(r.Config)
	if strings.Contains(string(j)+string(y)+sprintf("%+v", r.Config), string(hash)) {
		t.Error("the password hash is printed")
	}
	if w := strings.Join(Warnings("", r), "\n"); !strings.Contains(w, "without TLS: the web page's password") {
		t.Errorf("no warning for a password over plain HTTP on a wildcard address:\n%s", w)
	}
	r, err = Decode([]byte(minimal), YAML)
	if err != nil {
		t.Fatal(err)
	}
	if !*r.HTTP.OpenMetrics {
		t.Error("http.open_metrics defaults to false")
	}
}
