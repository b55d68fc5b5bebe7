package mqtt

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/jonboulle/clockwork"

	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/provisioning"
)

// Device is what the agent needs of the device. onaird implements it over
// the gateway; the agent never imports the gateway.
type Device interface {
	// State returns the state payload: a JSON object with the fields of
	// GET /status plus uptime_s, version, board and config_version.
	State() ([]byte, error)
	// Config returns the running config as a JSON object, defaults
	// applied and every secret redacted, and its version.
	Config() ([]byte, int64)
	// ApplyConfig applies a config request whose envelope the agent has
	// checked (the patch is a JSON object). It returns the result to
	// publish; it must not block for long (a room join that must succeed
	// is watched afterwards, not waited for).
	ApplyConfig(ctx context.Context, req ConfigSet) ConfigResult
	// Command runs a command (one of Commands) with its whole payload.
	Command(ctx context.Context, name string, payload []byte) error
	// Changed receives a value whenever state or config changed; the
	// agent coalesces and rate-limits what it publishes.
	Changed() <-chan struct{}
}

// Info describes the device to Home Assistant.
type Info struct {
	// Name is the device's human name; Board its board profile; Version
	// onair's version.
	Name, Board, Version string
	// HasDOA is true on array boards, which report the talker direction.
	HasDOA bool
}

// Options configure an Agent. OptionsFrom builds them from the config.
type Options struct {
	// Broker is tcp://, ssl://, mqtt:// or mqtts:// host:port.
	Broker   string
	ClientID string
	Username string
	Password string
	// TLS is used for ssl:// and mqtts:// brokers.
	TLS *tls.Config
	// Keepalive is the MQTT keepalive; the broker publishes the Last Will
	// about 1.5 keepalives after the device vanished.
	Keepalive time.Duration
	// Topics are the device's topics.
	Topics Topics
	// Discovery publishes Home Assistant discovery under DiscoveryPrefix.
	Discovery       bool
	DiscoveryPrefix string
	Info            Info
	// StatePeriod republishes state with no change (default 30 s);
	// StateInterval is the shortest time between two state publishes
	// (default 250 ms: at most 4 per second).
	StatePeriod, StateInterval time.Duration
	// MaxReconnect bounds the reconnect backoff (default 30 s).
	MaxReconnect time.Duration
	Logger       *slog.Logger
	Clock        clockwork.Clock
	// Dial, if set, opens the connection to the broker (tests use it to
	// cut a connection as a crash would).
	Dial paho.OpenConnectionFunc
}

// OptionsFrom builds Options from a validated mqtt section and device id.
// It reads the TLS files, so a missing or bad file is an error naming the
// key.
func OptionsFrom(c provisioning.MQTTConfig, id string, info Info) (Options, error) {
	o := Options{
		Broker:          BrokerURL(c.Broker),
		ClientID:        c.ClientID,
		Username:        c.Username,
		Password:        c.Password.Reveal(),
		Keepalive:       c.Keepalive.D(),
		Topics:          Topics{Prefix: c.TopicPrefix, ID: id},
		Discovery:       c.Discovery == nil || *c.Discovery,
		DiscoveryPrefix: c.DiscoveryPrefix,
		Info:            info,
	}
	if o.ClientID == "" {
		o.ClientID = id
	}
	if o.Topics.Prefix == "" {
		o.Topics.Prefix = "onair"
	}
	if o.DiscoveryPrefix == "" {
		o.DiscoveryPrefix = "homeassistant"
	}
	if IsTLS(o.Broker) || c.CAFile != "" || c.CertFile != "" {
		tc, err := TLSConfig(c.CAFile, c.CertFile, c.KeyFile)
		if err != nil {
			key := "mqtt.ca_file"
			if err.(*TLSFileError).Which == "cert" {
				key = "mqtt.cert_file/key_file"
			}
			return o, conf.Errorf(key, "%v", err)
		}
		o.TLS = tc
	}
	return o, nil
}

// Stats count what the agent did; /metrics exports them.
type Stats struct {
	Connected      bool   `json:"connected"`
	Connects       uint64 `json:"connects"`
	ConnectionLost uint64 `json:"connection_lost"`
	Received       uint64 `json:"received"`
	Ignored        uint64 `json:"ignored"`
	Dropped        uint64 `json:"dropped"`
	ConfigSets     uint64 `json:"config_sets"`
	ConfigRejected uint64 `json:"config_rejected"`
	Commands       uint64 `json:"commands"`
	CommandsFailed uint64 `json:"commands_failed"`
	StatePublishes uint64 `json:"state_publishes"`
}

// Agent connects a device to a broker.
type Agent struct {
	o   Options
	dev Device
	log *slog.Logger

	connected chan struct{}
	inbox     chan message
	work      chan message

	isConnected                                                   atomic.Bool
	connects, lost, received, ignored, dropped                    atomic.Uint64
	configSets, configRejected, commands, commandsFailed, publish atomic.Uint64

	mu     sync.Mutex
	client paho.Client
}

type message struct {
	topic   string
	payload []byte
	tooBig  int
}

// New returns an agent; Run connects it.
func New(o Options, dev Device) *Agent {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.Keepalive <= 0 {
		o.Keepalive = 30 * time.Second
	}
	if o.StatePeriod <= 0 {
		o.StatePeriod = 30 * time.Second
	}
	if o.StateInterval <= 0 {
		o.StateInterval = 250 * time.Millisecond
	}
	if o.MaxReconnect <= 0 {
		o.MaxReconnect = 30 * time.Second
	}
	return &Agent{
		o:         o,
		dev:       dev,
		log:       o.Logger.With("component", "mqtt"),
		connected: make(chan struct{}, 1),
		inbox:     make(chan message, 64),
		work:      make(chan message, 16),
	}
}

// Stats returns the agent's counters.
func (a *Agent) Stats() Stats {
	return Stats{
		Connected:      a.isConnected.Load(),
		Connects:       a.connects.Load(),
		ConnectionLost: a.lost.Load(),
		Received:       a.received.Load(),
		Ignored:        a.ignored.Load(),
		Dropped:        a.dropped.Load(),
		ConfigSets:     a.configSets.Load(),
		ConfigRejected: a.configRejected.Load(),
		Commands:       a.commands.Load(),
		CommandsFailed: a.commandsFailed.Load(),
		StatePublishes: a.publish.Load(),
	}
}

// Run connects and serves until ctx ends, then publishes offline and
// disconnects. The device keeps running whatever the broker does: Run
// reconnects with backoff for as long as ctx lasts.
func (a *Agent) Run(ctx context.Context) error {
	t := a.o.Topics
	po := paho.NewClientOptions().
		AddBroker(a.o.Broker).
		SetClientID(a.o.ClientID).
		SetUsername(a.o.Username).
		SetPassword(a.o.Password).
		SetKeepAlive(a.o.Keepalive).
		SetPingTimeout(min(10*time.Second, a.o.Keepalive)).
		SetConnectTimeout(10*time.Second).
		SetWriteTimeout(10*time.Second).
		SetCleanSession(true).
		SetResumeSubs(false).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).
		SetMaxReconnectInterval(a.o.MaxReconnect).
		SetOrderMatters(false).
		SetBinaryWill(t.Status(), []byte(Offline), 1, true).
		SetOnConnectHandler(func(paho.Client) {
			a.isConnected.Store(true)
			a.connects.Add(1)
			select {
			case a.connected <- struct{}{}:
			default:
			}
		}).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			a.isConnected.Store(false)
			a.lost.Add(1)
			a.log.Warn("broker connection lost; reconnecting", "broker", conf.RedactURL(a.o.Broker), "err", err)
		}).
		SetDefaultPublishHandler(a.onMessage)
	if a.o.TLS != nil {
		po.SetTLSConfig(a.o.TLS)
	}
	if a.o.Dial != nil {
		po.SetCustomOpenConnectionFn(a.o.Dial)
	}
	c := paho.NewClient(po)
	a.mu.Lock()
	a.client = c
	a.mu.Unlock()
	a.log.Info("connecting to broker", "broker", conf.RedactURL(a.o.Broker), "client_id", a.o.ClientID, "prefix", t.Prefix)
	c.Connect() // with ConnectRetry, this retries in the background

	workCtx, stopWork := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.worker(workCtx, c)
	}()
	defer func() {
		stopWork()
		wg.Wait()
	}()

	period := a.o.Clock.NewTicker(a.o.StatePeriod)
	defer period.Stop()
	var (
		lastState   time.Time
		pending     bool
		rate        clockwork.Timer
		rateC       <-chan time.Time
		lastVersion int64 = -1
	)
	publishState := func() {
		pending = false
		lastState = a.o.Clock.Now()
		a.publishState(c)
		if _, v := a.dev.Config(); v != lastVersion {
			lastVersion = v
			a.publishConfig(c)
		}
	}
	for {
		select {
		case <-ctx.Done():
			a.shutdown(c)
			return nil
		case <-a.connected:
			a.onConnect(c)
			lastVersion = -1
			publishState()
		case m := <-a.inbox:
			a.route(c, m)
		case <-a.dev.Changed():
			if pending {
				continue
			}
			wait := a.o.StateInterval - a.o.Clock.Since(lastState)
			if wait <= 0 {
				publishState()
				continue
			}
			pending = true
			if rate == nil {
				rate = a.o.Clock.NewTimer(wait)
			} else {
				rate.Reset(wait)
			}
			rateC = rate.Chan()
		case <-rateC:
			rateC = nil
			publishState()
		case <-period.Chan():
			publishState()
		}
	}
}

// onConnect subscribes and republishes every retained topic: a broker
// restarted without persistence has lost them.
func (a *Agent) onConnect(c paho.Client) {
	t := a.o.Topics
	subs := map[string]byte{t.base() + "/config/+": 1, t.Cmd("+"): 1}
	if a.o.Discovery {
		subs[a.o.DiscoveryPrefix+"/status"] = 1
	}
	tok := c.SubscribeMultiple(subs, a.onMessage)
	if tok.WaitTimeout(10*time.Second) && tok.Error() != nil {
		a.log.Warn("subscribe failed", "err", tok.Error())
	}
	a.pub(c, t.Status(), 1, true, []byte(Online))
	a.publishDiscovery(c)
	a.log.Info("connected to broker", "broker", conf.RedactURL(a.o.Broker), "topics", t.Prefix+"/"+t.ID+"/#")
}

// onMessage runs on paho's goroutines: it only queues (paho's advice: no
// blocking or publishing in handlers).
func (a *Agent) onMessage(_ paho.Client, m paho.Message) {
	a.received.Add(1)
	msg := message{topic: m.Topic()}
	if p := m.Payload(); len(p) > MaxPayload {
		msg.tooBig = len(p)
	} else {
		msg.payload = append([]byte(nil), p...)
	}
	select {
	case a.inbox <- msg:
	default:
		a.dropped.Add(1)
	}
}

// route sends requests to the worker and handles the rest.
func (a *Agent) route(c paho.Client, m message) {
	t := a.o.Topics
	switch {
	case m.topic == a.o.DiscoveryPrefix+"/status" && a.o.Discovery:
		if string(m.payload) == "online" {
			a.log.Info("home assistant came online; republishing discovery")
			a.publishDiscovery(c)
		}
		return
	case m.topic == t.CmdResult() || m.topic == t.ConfigResult():
		return // our own answer, echoed back by the cmd/+ and config/+ subscriptions
	case m.topic == t.ConfigSet() || strings.HasPrefix(m.topic, t.Cmd("")):
		select {
		case a.work <- m:
		default:
			a.dropped.Add(1)
			a.answerBusy(c, m)
		}
		return
	}
	a.ignored.Add(1)
}

// worker runs config changes and commands one at a time, off the loop that
// publishes state.
func (a *Agent) worker(ctx context.Context, c paho.Client) {
	t := a.o.Topics
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-a.work:
			if m.topic == t.ConfigSet() {
				a.configSets.Add(1)
				res := a.handleConfigSet(ctx, m)
				if !res.OK {
					a.configRejected.Add(1)
				}
				a.pubJSON(c, t.ConfigResult(), res)
				continue
			}
			a.commands.Add(1)
			res := a.handleCmd(ctx, strings.TrimPrefix(m.topic, t.Cmd("")), m)
			if !res.OK {
				a.commandsFailed.Add(1)
			}
			a.pubJSON(c, t.CmdResult(), res)
		}
	}
}

func (a *Agent) answerBusy(c paho.Client, m message) {
	t := a.o.Topics
	id := requestID(m.payload)
	if m.topic == t.ConfigSet() {
		_, v := a.dev.Config()
		a.pubJSON(c, t.ConfigResult(), ConfigResult{ID: id, Version: v, Applied: []string{}, Errors: []FieldError{{Message: "device busy: too many requests queued, try again"}}})
		return
	}
	a.pubJSON(c, t.CmdResult(), CmdResult{ID: id, Cmd: strings.TrimPrefix(m.topic, t.Cmd("")), Error: "device busy: too many requests queued, try again"})
}

// requestID digs the id out of a payload that may be otherwise bad.
func requestID(p []byte) string {
	var r struct {
		ID any `json:"id"`
	}
	if json.Unmarshal(p, &r) != nil {
		return ""
	}
	if s, ok := r.ID.(string); ok && len(s) <= 128 {
		return s
	}
	return ""
}

// handleConfigSet checks the envelope, then hands the request to the
// device.
func (a *Agent) handleConfigSet(ctx context.Context, m message) ConfigResult {
	_, version := a.dev.Config()
	fail := func(id, path, msg string) ConfigResult {
		return ConfigResult{ID: id, Version: version, Applied: []string{}, Errors: []FieldError{{Path: path, Message: msg}}}
	}
	if m.tooBig > 0 {
		return fail("", "", fmt.Sprintf("payload is %d bytes, more than %d", m.tooBig, MaxPayload))
	}
	req, errs := DecodeConfigSet(m.payload)
	if len(errs) > 0 {
		return ConfigResult{ID: req.ID, Version: version, Applied: []string{}, Errors: errs}
	}
	if req.Version != nil && *req.Version <= version {
		return fail(req.ID, "version", fmt.Sprintf("%d is stale: the device runs version %d; send a higher version or none", *req.Version, version))
	}
	res := a.dev.ApplyConfig(ctx, req)
	res.ID = req.ID
	if res.Applied == nil {
		res.Applied = []string{}
	}
	if res.Errors == nil {
		res.Errors = []FieldError{}
	}
	return res
}

// DecodeConfigSet checks a config/set payload: a JSON object with a string
// id, an optional integer version, a config that is a valid merge patch,
// an optional boolean force, and nothing else.
func DecodeConfigSet(p []byte) (ConfigSet, []FieldError) {
	var req ConfigSet
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(p, &raw); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) || len(p) == 0 {
			return req, []FieldError{{Message: "payload is not JSON: " + jsonErr(err)}}
		}
		return req, []FieldError{{Message: "payload must be a JSON object"}}
	}
	if raw == nil {
		return req, []FieldError{{Message: "payload must be a JSON object, not null"}}
	}
	req.ID = requestID(p)
	var errs []FieldError
	for k, v := range raw {
		switch k {
		case "id":
			var s string
			if json.Unmarshal(v, &s) != nil || len(s) > 128 {
				errs = append(errs, FieldError{Path: "id", Message: "must be a string of at most 128 bytes"})
			}
		case "version":
			var n int64
			if string(v) != "null" {
				if err := json.Unmarshal(v, &n); err != nil || n < 0 {
					errs = append(errs, FieldError{Path: "version", Message: "must be a non-negative integer"})
				} else {
					req.Version = &n
				}
			}
		case "force":
			if err := json.Unmarshal(v, &req.Force); err != nil {
				errs = append(errs, FieldError{Path: "force", Message: "must be true or false"})
			}
		case "config":
			req.Config = v
		default:
			errs = append(errs, FieldError{Path: k, Message: "unknown key (allowed: id, version, config, force)"})
		}
	}
	if req.Config == nil {
		errs = append(errs, FieldError{Path: "config", Message: "missing: a JSON Merge Patch object over the running config"})
	} else if _, err := provisioning.DecodePatch(req.Config); err != nil {
		for _, e := range provisioning.Problems(err) {
			errs = append(errs, FieldError{Path: "config", Message: e.Error()})
		}
	}
	return req, errs
}

func jsonErr(err error) string {
	s := err.Error()
	if i := strings.Index(s, "invalid character"); i >= 0 {
		return s[i:]
	}
	return s
}

func (a *Agent) handleCmd(ctx context.Context, name string, m message) CmdResult {
	res := CmdResult{Cmd: name}
	if m.tooBig > 0 {
		res.Error = fmt.Sprintf("payload is %d bytes, more than %d", m.tooBig, MaxPayload)
		return res
	}
	res.ID = requestID(m.payload)
	known := false
	for _, c := range Commands {
		known = known || c == name
	}
	if !known {
		res.Error = fmt.Sprintf("unknown command %q (known: %s)", name, strings.Join(Commands, ", "))
		return res
	}
	var obj map[string]json.RawMessage
	if len(m.payload) > 0 {
		if err := json.Unmarshal(m.payload, &obj); err != nil || obj == nil {
			res.Error = "payload must be a JSON object ({\"id\": ...} and the command's arguments)"
			return res
		}
	}
	if err := a.dev.Command(ctx, name, m.payload); err != nil {
		res.Error = err.Error()
		return res
	}
	res.OK = true
	return res
}

func (a *Agent) publishState(c paho.Client) {
	s, err := a.dev.State()
	if err != nil {
		a.log.Warn("state not published", "err", err)
		return
	}
	a.publish.Add(1)
	a.pub(c, a.o.Topics.State(), 0, true, s)
}

func (a *Agent) publishConfig(c paho.Client) {
	cfg, v := a.dev.Config()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(cfg, &m); err != nil {
		a.log.Warn("config not published", "err", err)
		return
	}
	m["version"], _ = json.Marshal(v)
	data, _ := json.Marshal(m)
	a.pub(c, a.o.Topics.Config(), 1, true, data)
}

func (a *Agent) publishDiscovery(c paho.Client) {
	topic := DiscoveryTopic(a.o.DiscoveryPrefix, a.o.Topics.ID)
	if !a.o.Discovery {
		// An empty retained payload removes the device from Home
		// Assistant (and clears what an earlier run announced).
		a.pub(c, topic, 1, true, nil)
		return
	}
	data, err := json.Marshal(Discovery(a.o.Topics, a.o.Info))
	if err != nil {
		a.log.Warn("discovery not published", "err", err)
		return
	}
	a.pub(c, topic, 1, true, data)
}

func (a *Agent) pubJSON(c paho.Client, topic string, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		a.log.Warn("result not published", "topic", topic, "err", err)
		return
	}
	a.pub(c, topic, 1, false, data)
}

// pub publishes without waiting for the broker: while it is away paho
// queues nothing (the retained topics are republished on reconnect).
func (a *Agent) pub(c paho.Client, topic string, qos byte, retained bool, payload []byte) {
	if !c.IsConnectionOpen() {
		return
	}
	c.Publish(topic, qos, retained, payload)
}

// shutdown publishes offline (a clean disconnect sends no Last Will) and
// disconnects within a second.
func (a *Agent) shutdown(c paho.Client) {
	if c.IsConnectionOpen() {
		tok := c.Publish(a.o.Topics.Status(), 1, true, []byte(Offline))
		tok.WaitTimeout(time.Second)
	}
	c.Disconnect(250)
	a.isConnected.Store(false)
	a.log.Info("disconnected from broker", "broker", conf.RedactURL(a.o.Broker))
}

// PublishConfigResult publishes a result that was not asked for at that
// moment: a rollback, after a config that could not join its room. Safe
// from any goroutine; dropped while the broker is away.
func (a *Agent) PublishConfigResult(res ConfigResult) {
	a.mu.Lock()
	c := a.client
	a.mu.Unlock()
	if c == nil {
		return
	}
	if res.Applied == nil {
		res.Applied = []string{}
	}
	if res.Errors == nil {
		res.Errors = []FieldError{}
	}
	a.pubJSON(c, a.o.Topics.ConfigResult(), res)
}
