package provisioning

import (
	"errors"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/aec"
	"github.com/onair-gateway/onair/audio/dsp"
	"github.com/onair-gateway/onair/audio/opus"
	"github.com/onair-gateway/onair/audio/pipeline"
	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/hw"
	"github.com/onair-gateway/onair/hw/alsa/alsaconf"
	"github.com/onair-gateway/onair/hw/gpio"
	"github.com/onair-gateway/onair/hw/sim"
	"github.com/onair-gateway/onair/net/e2ee"
	"github.com/onair-gateway/onair/net/livekit/lkauth"
	"github.com/onair-gateway/onair/net/room"
)

// Config is onaird's whole configuration: one section per subsystem. Each
// section is that subsystem's own plain Config type, so a change to one
// section restarts only that subsystem.
type Config struct {
	Device   DeviceConfig `yaml:"device" json:"device"`
	Board    BoardConfig  `yaml:"board" json:"board"`
	Audio    AudioConfig  `yaml:"audio" json:"audio"`
	Opus     opus.Config  `yaml:"opus" json:"opus"`
	Room     room.Config  `yaml:"room" json:"room"`
	Controls *gpio.Config `yaml:"controls" json:"controls"`
	MQTT     MQTTConfig   `yaml:"mqtt" json:"mqtt"`
	E2EE     e2ee.Config  `yaml:"e2ee" json:"e2ee"`
	HTTP     HTTPConfig   `yaml:"http" json:"http"`
}

// DeviceConfig names the device.
type DeviceConfig struct {
	// ID is the device's stable identifier: lowercase letters, digits, '-'
	// and '_', at most 64. It is the MQTT topic segment and the default room
	// identity. Default: "onair-" + the host name.
	ID string `yaml:"id" json:"id"`
	// Name is a human name: the participant name listeners see when the
	// device mints its own LiveKit tokens (api_key), and "name" in /status.
	// Default: the ID.
	Name string `yaml:"name" json:"name"`
	// StateDir holds what the device keeps between runs: the provisioned
	// config pushed over MQTT (provisioned.json, mode 0600) and the
	// previous good one. An absolute path. Default: /var/lib/onair (the
	// systemd unit's StateDirectory).
	StateDir string `yaml:"state_dir" json:"state_dir"`
}

// DefaultStateDir is device.state_dir's default.
const DefaultStateDir = "/var/lib/onair"

// BoardConfig picks a board profile and overrides parts of it.
type BoardConfig struct {
	// Profile is one of hw.ProfileNames(): sim, respeaker-2mic,
	// respeaker-4mic, respeaker-6mic, i2s-stereo-mems, hifiberry-dacplusadc.
	// Default: sim.
	Profile string `yaml:"profile" json:"profile"`
	// Geometry overrides the profile's microphone geometry field by field.
	Geometry audio.Geometry `yaml:"geometry" json:"geometry"`
	// Sim configures the simulated board (profile sim only).
	Sim sim.Config `yaml:"sim" json:"sim"`
}

// AudioConfig is the capture device and the processing chain. Capture fields
// left empty come from the board profile.
type AudioConfig struct {
	// Capture is the capture device and format; empty fields come from
	// the board profile.
	Capture alsaconf.Config `yaml:"capture" json:"capture"`
	// Processing is the voice chain between capture and encoder.
	Processing dsp.Config `yaml:"processing" json:"processing"`
	// Playback plays the room: the listen path's output (playback.go).
	Playback PlaybackConfig `yaml:"playback" json:"playback"`
	// AEC is echo cancellation in front of the chain; enabled and
	// loopback default from the board profile (on for mic arrays with an
	// output, off for a line input).
	AEC aec.Config `yaml:"aec" json:"aec"`
}

// MQTTConfig connects the device to a broker for provisioning and status
// (provisioning/mqtt; README "Provisioning over MQTT").
type MQTTConfig struct {
	// Broker is tcp://host:1883, ssl://host:8883 (or mqtt://, mqtts://).
	// Empty disables MQTT. Default: empty.
	Broker string `yaml:"broker" json:"broker"`
	// ClientID defaults to the device id.
	ClientID string `yaml:"client_id" json:"client_id"`
	// Username and Password authenticate with the broker, if it asks.
	Username string      `yaml:"username" json:"username"`
	Password conf.Secret `yaml:"password" json:"password"`
	// CAFile verifies the broker's certificate; CertFile and KeyFile are
	// the device's client certificate for mutual TLS.
	CAFile   string `yaml:"ca_file" json:"ca_file"`
	CertFile string `yaml:"cert_file" json:"cert_file"`
	KeyFile  string `yaml:"key_file" json:"key_file"`
	// TopicPrefix is the root of the device's topics. Default: "onair".
	TopicPrefix string `yaml:"topic_prefix" json:"topic_prefix"`
	// Discovery publishes Home Assistant discovery. Default: true.
	Discovery *bool `yaml:"discovery" json:"discovery"`
	// DiscoveryPrefix is Home Assistant's. Default: "homeassistant".
	DiscoveryPrefix string `yaml:"discovery_prefix" json:"discovery_prefix"`
	// Keepalive, 5s..10m. Default: 30s.
	Keepalive conf.Duration `yaml:"keepalive" json:"keepalive"`
}

// HTTPConfig serves status, metrics and the web page.
type HTTPConfig struct {
	// Listen is host:port for the status and metrics server and the web
	// page; empty disables it. Default: empty. Keep it on loopback unless
	// a firewall guards it.
	Listen string `yaml:"listen" json:"listen"`
	// PasswordHash is the bcrypt hash of the web page's password (made
	// by `onairctl passwd`). Without it the page only shows the device:
	// every change is refused. Redacted like a secret: it never reaches a
	// browser.
	PasswordHash conf.Secret `yaml:"password_hash" json:"password_hash"`
	// TLSCert and TLSKey are PEM files; set both to serve HTTPS.
	TLSCert string `yaml:"tls_cert" json:"tls_cert"`
	TLSKey  string `yaml:"tls_key" json:"tls_key"`
	// OpenMetrics serves /healthz, /status and /metrics without a login
	// when a password is set (monitoring systems do not log in).
	// Default: true.
	OpenMetrics *bool `yaml:"open_metrics" json:"open_metrics"`
}

// Resolved is a validated config with the board profile applied.
type Resolved struct {
	Config
}

var idRE = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)

// defaultID derives a device id from the host name.
func defaultID() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "device"
	}
	h = strings.ToLower(h)
	h = regexp.MustCompile(`[^a-z0-9_-]+`).ReplaceAllString(h, "-")
	id := "onair-" + strings.Trim(h, "-")
	if len(id) > 64 {
		id = id[:64]
	}
	return id
}

// applyDefaults fills every unset field: first from the board profile, then
// from each subsystem's own defaults. It returns the profile (zero if the
// name is unknown; Validate reports that).
func (c *Config) applyDefaults() hw.Profile {
	if c.Device.ID == "" {
		c.Device.ID = defaultID()
	}
	if c.Device.StateDir == "" {
		c.Device.StateDir = DefaultStateDir
	}
	if c.Device.Name == "" {
		c.Device.Name = c.Device.ID
	}
	if c.Board.Profile == "" {
		c.Board.Profile = "sim"
	}
	p, err := hw.Lookup(c.Board.Profile)
	aecDefault := false
	if err == nil {
		fillCapture(&c.Audio.Capture, p.Capture)
		g := &c.Board.Geometry
		if g.Shape == "" {
			g.Shape = p.Geometry.Shape
		}
		if g.Mics == 0 {
			g.Mics = p.Geometry.Mics
		}
		if g.Spacing == 0 {
			g.Spacing = p.Geometry.Spacing
		}
		if g.Radius == 0 {
			g.Radius = p.Geometry.Radius
		}
		if c.Audio.Processing.Beam == "" {
			c.Audio.Processing.Beam = p.Beam
		}
		aecDefault = p.EchoCancel && c.Audio.Processing.Beam != dsp.BeamStereo
		if c.Audio.AEC.Loopback == nil && len(p.Loopback) > 0 {
			c.Audio.AEC.Loopback = append([]int(nil), p.Loopback...)
		}
		if c.Controls == nil {
			ctl := p.Controls
			c.Controls = &ctl
		}
		if p.Music {
			if c.Opus.Channels == 0 {
				c.Opus.Channels = 2
			}
			if c.Opus.Application == "" {
				c.Opus.Application = opus.AppAudio
			}
			if c.Opus.Bitrate == 0 {
				c.Opus.Bitrate = 128000
			}
		}
	}
	if c.Controls == nil {
		c.Controls = &gpio.Config{}
	}
	c.Audio.Capture.SetDefaults()
	c.Audio.Playback.setDefaults(p, simSpeaker(c.Board.Sim))
	c.Audio.Processing.SetDefaults(c.Board.Geometry.Mics, c.Board.Geometry.Shape == audio.ShapeCircular)
	if c.Audio.AEC.Enabled == nil {
		// On for a mic array that plays the room: with nothing played
		// there is no echo to cancel.
		c.Audio.AEC.Enabled = conf.Ptr(aecDefault && c.Audio.Playback.On())
	}
	c.Audio.AEC.SetDefaults()
	c.Opus.SetDefaults()
	c.Room.SetDefaults(c.Device.ID)
	lkauth.SetDefaults(&c.Room)
	c.Controls.SetDefaults()
	c.Board.Sim.SetDefaults()
	if c.MQTT.ClientID == "" {
		c.MQTT.ClientID = c.Device.ID
	}
	if c.MQTT.TopicPrefix == "" {
		c.MQTT.TopicPrefix = "onair"
	}
	if c.MQTT.Discovery == nil {
		c.MQTT.Discovery = conf.Ptr(true)
	}
	if c.HTTP.OpenMetrics == nil {
		c.HTTP.OpenMetrics = conf.Ptr(true)
	}
	if c.MQTT.DiscoveryPrefix == "" {
		c.MQTT.DiscoveryPrefix = "homeassistant"
	}
	if c.MQTT.Keepalive == 0 {
		c.MQTT.Keepalive = conf.Duration(30 * time.Second)
	}
	p.Capture = c.Audio.Capture
	p.Geometry = c.Board.Geometry
	p.Controls = *c.Controls
	return p
}

func fillCapture(c *alsaconf.Config, p alsaconf.Config) {
	if c.Device == "" {
		c.Device = p.Device
	}
	if c.Channels == 0 {
		c.Channels = p.Channels
	}
	if c.Format == "" {
		c.Format = p.Format
	}
	if c.Rate == 0 {
		c.Rate = p.Rate
	}
	if c.Period == 0 {
		c.Period = p.Period
	}
	if c.BufferPeriods == 0 {
		c.BufferPeriods = p.BufferPeriods
	}
}

// validate reports every problem with a defaulted config, each with its full
// path. It is pure: it touches no file, device or network.
func (c *Config) validate() error {
	var errs []error
	add := func(prefix string, err error) {
		if err != nil {
			errs = append(errs, conf.Prefix(prefix, err))
		}
	}
	if !idRE.MatchString(c.Device.ID) {
		errs = append(errs, conf.Errorf("device.id", "%q must be 1..64 of a-z, 0-9, '-' and '_'", c.Device.ID))
	}
	if !strings.HasPrefix(c.Device.StateDir, "/") {
		errs = append(errs, conf.Errorf("device.state_dir", "%q must be an absolute path", c.Device.StateDir))
	}
	if err := conf.CheckText("device.name", c.Device.Name); err != nil {
		errs = append(errs, err)
	}
	for i, b := range c.Controls.Buttons {
		add("controls.buttons["+strconv.Itoa(i)+"].name", conf.CheckText("", b.Name))
	}
	for i, l := range c.Controls.LEDs {
		add("controls.leds["+strconv.Itoa(i)+"].name", conf.CheckText("", l.Name))
	}
	if _, err := hw.Lookup(c.Board.Profile); err != nil {
		errs = append(errs, conf.Errorf("board.profile", "%v", err))
	}
	add("board.geometry", c.Board.Geometry.Validate())
	if c.Board.Geometry.Mics > c.Audio.Capture.Channels {
		errs = append(errs, conf.Errorf("board.geometry.mics", "%d mics but audio.capture.channels is %d", c.Board.Geometry.Mics, c.Audio.Capture.Channels))
	}
	if c.Board.Profile == "sim" {
		add("board.sim", c.Board.Sim.Validate())
	}
	add("audio.capture", c.Audio.Capture.Validate())
	add("audio.processing", c.Audio.Processing.Validate(c.Board.Geometry.Mics))
	add("audio.playback", c.Audio.Playback.validate())
	add("audio.aec", c.Audio.AEC.Validate(c.Audio.Capture.Channels, c.Board.Geometry.Mics))
	if c.Audio.AEC.On() && len(c.Audio.AEC.Loopback) == 0 && c.Audio.Playback.On() &&
		c.Audio.Playback.ALSA().Rate != c.Audio.Capture.Rate {
		errs = append(errs, conf.Errorf("audio.aec.enabled", "true, but audio.playback.rate %d differs from audio.capture.rate %d: the echo canceller needs what is played at the capture's rate",
			c.Audio.Playback.ALSA().Rate, c.Audio.Capture.Rate))
	}
	add("opus", c.Opus.Validate())
	if c.Opus.Frame > 0 && c.Audio.Capture.Period > 0 {
		if err := pipeline.FrameFits(c.Opus.Frame.D(), c.Audio.Capture.Period.D()); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Audio.Processing.Beam != dsp.BeamStereo && c.Opus.Channels == 2 {
		errs = append(errs, conf.Errorf("opus.channels", "2 (stereo) needs audio.processing.beam stereo, have %q", c.Audio.Processing.Beam))
	}
	add("room", c.Room.Validate())
	if c.Room.Backend == room.BackendLiveKit {
		add("room", lkauth.Validate(c.Room))
	}
	add("controls", c.Controls.Validate())
	add("mqtt", c.MQTT.validate())
	add("e2ee", c.E2EE.Validate())
	if c.E2EE.Required && c.Room.Backend == room.BackendWHIP {
		errs = append(errs, conf.Errorf("e2ee.required", "is true but room.backend whip cannot carry LiveKit end-to-end encryption"))
	}
	if c.HTTP.Listen != "" {
		errs = append(errs, validListen(c.HTTP.Listen)...)
	}
	errs = append(errs, c.HTTP.validate()...)
	if c.Board.Profile == "sim" {
		names := map[string]bool{}
		for _, b := range c.Controls.Buttons {
			names[b.Name] = true
		}
		for i, st := range c.Board.Sim.Script {
			if !names[st.Button] {
				errs = append(errs, conf.Errorf("board.sim.script["+strconv.Itoa(i)+"].button", "%q is not a button in controls.buttons", st.Button))
			}
		}
	}
	return errors.Join(errs...)
}

// validListen checks http.listen: an IP address (or localhost, or nothing
// for every interface) and a port 1..65535, which is what the status server
// can bind.
func validListen(addr string) []error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return []error{conf.Errorf("http.listen", "%q is not host:port", addr)}
	}
	var errs []error
	if host != "" && host != "localhost" && net.ParseIP(host) == nil {
		errs = append(errs, conf.Errorf("http.listen", "host %q is not an IP address or localhost", host))
	}
	if !conf.ValidPort(port) {
		errs = append(errs, conf.Errorf("http.listen", "port %q is not a number 1..65535", port))
	}
	return errs
}

// validate checks the password hash and the TLS pair; the listen address
// is checked by validListen.
func (h HTTPConfig) validate() []error {
	var errs []error
	if h.PasswordHash.IsSet() {
		if _, err := bcrypt.Cost([]byte(h.PasswordHash.Reveal())); err != nil {
			errs = append(errs, conf.Errorf("http.password_hash", "is not a bcrypt hash (make one with `onairctl passwd`): %v", err))
		}
	}
	if (h.TLSCert == "") != (h.TLSKey == "") {
		errs = append(errs, conf.Errorf("http.tls_key", "tls_cert and tls_key go together"))
	}
	return errs
}

func (m MQTTConfig) validate() error {
	var errs []error
	if m.Broker != "" {
		u, err := url.Parse(m.Broker)
		switch {
		case err != nil || u.Host == "":
			errs = append(errs, conf.Errorf("broker", "%q is not a URL such as tcp://host:1883", conf.RedactURL(m.Broker)))
		case u.Scheme != "tcp" && u.Scheme != "ssl" && u.Scheme != "mqtt" && u.Scheme != "mqtts" && u.Scheme != "tls":
			errs = append(errs, conf.Errorf("broker", "scheme %q is not tcp, ssl, tls, mqtt or mqtts", u.Scheme))
		}
	}
	if err := conf.CheckText("client_id", m.ClientID); err != nil {
		errs = append(errs, err)
	}
	if err := conf.CheckText("username", m.Username); err != nil {
		errs = append(errs, err)
	}
	if (m.CertFile == "") != (m.KeyFile == "") {
		errs = append(errs, conf.Errorf("key_file", "cert_file and key_file go together"))
	}
	if !regexp.MustCompile(`^[A-Za-z0-9_/-]{1,64}$`).MatchString(m.TopicPrefix) || strings.HasPrefix(m.TopicPrefix, "/") {
		errs = append(errs, conf.Errorf("topic_prefix", "%q must be 1..64 of letters, digits, '_', '-', '/' and not start with '/'", m.TopicPrefix))
	}
	if k := m.Keepalive.D(); k < 5*time.Second || k > 10*time.Minute {
		errs = append(errs, conf.Errorf("keepalive", "%v is out of range 5s..10m", k))
	}
	return errors.Join(errs...)
}

// ForBoard returns the built-in defaults for a board profile, for tools that
// run the speak path offline (onairctl encode): no room, MQTT or controls
// are needed, so only the board, audio and opus sections are validated.
func ForBoard(profile string) (*Resolved, error) {
	c := Config{Board: BoardConfig{Profile: profile}}
	c.applyDefaults()
	var errs []error
	for _, e := range conf.Flatten(c.validate()) {
		var fe *conf.FieldError
		if errors.As(e, &fe) && (strings.HasPrefix(fe.Path, "board") || strings.HasPrefix(fe.Path, "audio") || strings.HasPrefix(fe.Path, "opus")) {
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		return nil, invalid(errs)
	}
	return &Resolved{Config: c}, nil
}
