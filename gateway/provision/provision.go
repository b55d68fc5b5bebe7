// Package provision owns what the device runs: its config file with the
// provisioned patch over it (a JSON Merge Patch pushed over MQTT or from
// the web page, stored crash-safe by provisioning/store), the config
// version, and the last good patch to roll back to. Every path that
// changes the config goes through a Manager: a patch, a SIGHUP reload of
// the file, a rollback, "forget provisioning".
package provision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/gateway"
	"github.com/onair-gateway/onair/provisioning"
	"github.com/onair-gateway/onair/provisioning/mqtt"
	"github.com/onair-gateway/onair/provisioning/store"
)

// Gateway is what the Manager needs of the running device.
type Gateway interface {
	Apply(ctx context.Context, r *provisioning.Resolved) error
	Status() gateway.Status
}

// ErrNotApplied marks a valid config that the gateway could not apply (a
// capture or controls that would not open): the previous config runs on.
var ErrNotApplied = errors.New("not applied")

// JoinTimeout is how long a changed room has to join before the Manager
// rolls back to the previous good config.
const JoinTimeout = 30 * time.Second

// Options configure a Manager.
type Options struct {
	// Path is the config file.
	Path string
	// Store keeps the provisioned patch; nil: patches are refused.
	Store *store.Store
	Log   *slog.Logger
	Clock clockwork.Clock
	// JoinTimeout overrides JoinTimeout (tests).
	JoinTimeout time.Duration
	// OnRollback is called (from the Manager's goroutine) with the result
	// that tells why a config was rolled back; the MQTT agent publishes it.
	OnRollback func(mqtt.ConfigResult)
}

// Manager holds the running config and changes it.
type Manager struct {
	o   Options
	log *slog.Logger

	mu      sync.Mutex
	gw      Gateway
	file    []byte
	syn     provisioning.Syntax
	patch   map[string]any // the stored patch: DiffPatch(file, running)
	running *provisioning.Resolved
	version int64
	watch   context.CancelFunc
	changed chan struct{}
}

// Load reads the config file and the stored patch. A stored patch that no
// longer fits the file (the file changed under it) is logged and left
// unapplied, and the file runs alone.
func Load(o Options) (*Manager, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.JoinTimeout <= 0 {
		o.JoinTimeout = JoinTimeout
	}
	m := &Manager{o: o, log: o.Log, changed: make(chan struct{}, 1)}
	data, syn, r, err := readFile(context.Background(), o.Path)
	if err != nil {
		return nil, err
	}
	m.file, m.syn, m.running = data, syn, r
	if o.Store == nil {
		return m, nil
	}
	rec, err := o.Store.Load()
	if err != nil {
		m.log.Error("provisioned config", "err", err)
	}
	if rec == nil {
		return m, nil
	}
	m.version = rec.Version
	patch, perr := provisioning.DecodePatch(rec.Patch)
	if perr == nil {
		var pr *provisioning.Resolved
		if pr, perr = provisioning.Patched(data, syn, patch); perr == nil {
			m.patch, m.running = patch, pr
			m.log.Info("provisioned config applied over the file", "version", rec.Version, "dir", o.Store.Dir())
			return m, nil
		}
	}
	for _, p := range provisioning.Problems(perr) {
		m.log.Error("stored provisioned config does not fit the config file; running the file alone", "version", rec.Version, "problem", p.Error())
	}
	return m, nil
}

func readFile(ctx context.Context, path string) ([]byte, provisioning.Syntax, *provisioning.Resolved, error) {
	data, err := conf.ReadFile(path, provisioning.MaxDocumentSize)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("read config: %w", err)
	}
	syn := provisioning.YAML
	if strings.HasSuffix(strings.ToLower(path), ".json") {
		syn = provisioning.JSON
	}
	r, err := provisioning.DecodeContext(ctx, data, syn)
	if err != nil {
		return nil, 0, nil, err
	}
	return data, syn, r, nil
}

// Attach gives the Manager the gateway it applies configs to.
func (m *Manager) Attach(g Gateway) {
	m.mu.Lock()
	m.gw = g
	m.mu.Unlock()
}

// SetOnRollback sets Options.OnRollback (the MQTT agent starts after the
// Manager).
func (m *Manager) SetOnRollback(f func(mqtt.ConfigResult)) {
	m.mu.Lock()
	m.o.OnRollback = f
	m.mu.Unlock()
}

// Running returns the running config and its version.
func (m *Manager) Running() (*provisioning.Resolved, int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.running, m.version
}

// Changed receives a value whenever the running config changed.
func (m *Manager) Changed() <-chan struct{} { return m.changed }

func (m *Manager) notify() {
	select {
	case m.changed <- struct{}{}:
	default:
	}
}

// RedactedJSON is the running config as a JSON object, defaults applied,
// secrets replaced by conf.Redacted.
func (m *Manager) RedactedJSON() ([]byte, int64) {
	r, v := m.Running()
	data, err := json.Marshal(r.Config)
	if err != nil {
		return []byte("{}"), v
	}
	return data, v
}

// Sections names the config's top-level sections that differ.
func Sections(a, b *provisioning.Config) []string {
	out := []string{}
	va, vb := reflect.ValueOf(*a), reflect.ValueOf(*b)
	t := va.Type()
	for i := 0; i < t.NumField(); i++ {
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			out = append(out, name)
		}
	}
	return out
}

// brokerFields is what the device needs to reach its broker.
func brokerFields(c provisioning.MQTTConfig) provisioning.MQTTConfig {
	return provisioning.MQTTConfig{Broker: c.Broker, ClientID: c.ClientID, Username: c.Username, Password: c.Password,
		CAFile: c.CAFile, CertFile: c.CertFile, KeyFile: c.KeyFile}
}

// ApplyPatch merges req's patch over the running config, validates the
// result as a config file, applies it, stores it, and watches a changed
// room for JoinTimeout. Any problem rejects the whole patch and nothing
// running changes.
func (m *Manager) ApplyPatch(ctx context.Context, req mqtt.ConfigSet) mqtt.ConfigResult {
	m.mu.Lock()
	defer m.mu.Unlock()
	res, next, diff := m.check(req)
	if !res.OK || len(res.Applied) == 0 {
		return res
	}
	applied := res.Applied
	if err := m.apply(ctx, next, diff, m.version+1); err != nil {
		res.OK, res.Applied = false, []string{}
		res.Errors = append(res.Errors, mqtt.FieldError{Message: err.Error()})
		return res
	}
	res.Version = m.version
	m.log.Info("provisioned config applied", "version", m.version, "sections", strings.Join(applied, ","), "request", req.ID)
	if contains(applied, "room") || contains(applied, "e2ee") {
		m.watchJoin(req.ID)
	}
	return res
}

// CheckPatch validates req as ApplyPatch would and changes nothing: OK
// with Applied naming the sections the patch would change, or every
// problem with its path.
func (m *Manager) CheckPatch(req mqtt.ConfigSet) mqtt.ConfigResult {
	m.mu.Lock()
	defer m.mu.Unlock()
	res, _, _ := m.check(req)
	return res
}

// check is ApplyPatch up to applying: the result (OK when the patch is
// valid, Applied the sections it changes), the config it makes, and the
// patch over the file to store. m.mu is held.
func (m *Manager) check(req mqtt.ConfigSet) (mqtt.ConfigResult, *provisioning.Resolved, map[string]any) {
	res := mqtt.ConfigResult{ID: req.ID, Version: m.version, Applied: []string{}, Errors: []mqtt.FieldError{}}
	fail := func(path, msg string) (mqtt.ConfigResult, *provisioning.Resolved, map[string]any) {
		res.Errors = append(res.Errors, mqtt.FieldError{Path: path, Message: msg})
		return res, nil, nil
	}
	if m.o.Store == nil {
		return fail("", "this device has no state directory (device.state_dir): provisioned config cannot be stored")
	}
	if req.Version != nil && *req.Version <= m.version {
		return fail("version", fmt.Sprintf("%d is stale: the device runs version %d", *req.Version, m.version))
	}
	patch, err := provisioning.DecodePatch(req.Config)
	if err != nil {
		for _, p := range provisioning.Problems(err) {
			res.Errors = append(res.Errors, mqtt.FieldError{Path: "config", Message: p.Error()})
		}
		return res, nil, nil
	}
	tokenReplacesKey(patch)
	base, err := provisioning.Tree(m.file, m.syn)
	if err != nil {
		return fail("", "config file: "+err.Error())
	}
	target := provisioning.MergePatch(provisioning.MergePatch(base, m.patch), patch)
	diff, _ := provisioning.DiffPatch(base, target).(map[string]any)
	next, err := provisioning.Patched(m.file, m.syn, diff)
	if err != nil {
		res.Errors = FieldErrors(err)
		return res, nil, nil
	}
	if !req.Force && !reflect.DeepEqual(brokerFields(m.running.MQTT), brokerFields(next.MQTT)) {
		return fail("mqtt", "this patch changes how the device reaches its broker (broker, credentials or TLS files) and could cut it off: send \"force\": true to apply it anyway")
	}
	res.OK, res.Applied = true, Sections(&m.running.Config, &next.Config)
	return res, next, diff
}

func contains(s []string, v string) bool {
	for _, e := range s {
		if e == v {
			return true
		}
	}
	return false
}

// tokenReplacesKey makes a patch that sets room.token also drop
// room.api_key and room.api_secret, unless it sets them itself: a pushed
// token replaces minting on the device (onairctl token), so a fleet's
// devices never keep the API secret, and a config may not have both.
func tokenReplacesKey(patch map[string]any) {
	rm, ok := patch["room"].(map[string]any)
	if !ok {
		return
	}
	if tok, ok := rm["token"].(string); !ok || tok == "" {
		return
	}
	for _, k := range []string{"api_key", "api_secret"} {
		if _, set := rm[k]; !set {
			rm[k] = nil
		}
	}
}

// apply stores diff as the new patch, applies next, and on failure puts
// the store back. m.mu is held.
func (m *Manager) apply(ctx context.Context, next *provisioning.Resolved, diff map[string]any, version int64) error {
	data, err := json.Marshal(diff)
	if diff == nil {
		data = []byte("{}")
	}
	if err != nil {
		return err
	}
	if err := m.o.Store.Save(store.Record{Version: version, Patch: data, SavedAt: m.o.Clock.Now().UTC()}); err != nil {
		return fmt.Errorf("not applied: %w", err)
	}
	if m.gw != nil {
		if err := m.gw.Apply(ctx, next); err != nil {
			if _, rerr := m.o.Store.Rollback(); rerr != nil {
				m.log.Error("provisioned config: cannot restore the stored patch", "err", rerr)
			}
			return fmt.Errorf("not applied, still running version %d: %w", m.version, err)
		}
	}
	m.patch, m.running, m.version = diff, next, version
	m.notify()
	return nil
}

// watchJoin rolls back to the previous stored patch when the room has not
// joined within JoinTimeout. m.mu is held.
func (m *Manager) watchJoin(reqID string) {
	if m.watch != nil {
		m.watch()
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.watch = cancel
	version := m.version
	deadline := m.o.Clock.Now().Add(m.o.JoinTimeout)
	go func() {
		tick := m.o.Clock.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			m.mu.Lock()
			gw := m.gw
			m.mu.Unlock()
			if gw != nil && joined(gw.Status().State) {
				return
			}
			if !m.o.Clock.Now().Before(deadline) {
				m.rollback(ctx, reqID, version)
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.Chan():
			}
		}
	}()
}

// joined reports whether the gateway is in its room. Apply has put it in
// joining before it returns, so a stale "live" from the old room is never
// seen here.
func joined(s gateway.State) bool {
	return s == gateway.StateLive || s == gateway.StateOnAir || s == gateway.StateMuted
}

func (m *Manager) rollback(ctx context.Context, reqID string, failed int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ctx.Err() != nil || m.version != failed {
		return
	}
	why := fmt.Sprintf("the room did not join within %v after version %d", m.o.JoinTimeout, failed)
	res := mqtt.ConfigResult{ID: reqID, Version: failed, Applied: []string{}}
	prev, err := m.o.Store.Previous()
	var patch map[string]any
	if err == nil && prev != nil {
		patch, err = provisioning.DecodePatch(prev.Patch)
	}
	var next *provisioning.Resolved
	if err == nil {
		next, err = provisioning.Patched(m.file, m.syn, patch)
	}
	if err == nil && m.gw != nil {
		err = m.gw.Apply(context.Background(), next)
	}
	if err == nil {
		_, err = m.o.Store.Rollback()
	}
	if err != nil {
		m.log.Error("rollback failed; the device keeps the config that does not join", "why", why, "err", err)
		res.Errors = []mqtt.FieldError{{Message: why + "; rollback failed: " + err.Error()}}
	} else {
		m.patch, m.running, m.version = patch, next, failed+1
		res.Version = m.version
		res.Errors = []mqtt.FieldError{{Path: "room", Message: why + fmt.Sprintf("; rolled back to the previous good config (now version %d)", m.version)}}
		m.log.Error("provisioned config rolled back", "why", why, "version", m.version)
		m.notify()
	}
	if m.o.OnRollback != nil {
		m.o.OnRollback(res)
	}
}

// Reload rereads the config file (SIGHUP) and applies it with the stored
// patch over it. A file that is invalid, alone or with the patch, changes
// nothing.
func (m *Manager) Reload(ctx context.Context) (*provisioning.Resolved, error) {
	data, syn, _, err := readFile(ctx, m.o.Path) // SIGTERM wins over a slow decode
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	// The stored patch is read again too: `onairctl config forget` (or an
	// operator's edit) and a SIGHUP take effect together.
	patch := m.patch
	if m.o.Store != nil {
		rec, err := m.o.Store.Load()
		if err != nil {
			m.log.Error("provisioned config", "err", err)
		}
		patch = nil
		if rec != nil {
			if patch, err = provisioning.DecodePatch(rec.Patch); err != nil {
				return nil, fmt.Errorf("stored provisioned config: %w", err)
			}
		}
	}
	next, err := provisioning.Patched(data, syn, patch)
	if err != nil {
		return nil, err
	}
	if m.gw != nil {
		if err := m.gw.Apply(ctx, next); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrNotApplied, err)
		}
	}
	changed := len(Sections(&m.running.Config, &next.Config)) > 0
	m.file, m.syn, m.running, m.patch = data, syn, next, patch
	if changed {
		m.version++
		m.notify()
	}
	return next, nil
}

// Forget deletes the stored patch and runs the config file alone.
func (m *Manager) Forget(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.o.Store == nil {
		return errors.New("no state directory: nothing provisioned to forget")
	}
	next, err := provisioning.Decode(m.file, m.syn)
	if err != nil {
		return err
	}
	if m.gw != nil {
		if err := m.gw.Apply(ctx, next); err != nil {
			return err
		}
	}
	if err := m.o.Store.Forget(); err != nil {
		return err
	}
	if m.watch != nil {
		m.watch()
	}
	m.patch, m.running = nil, next
	m.version++
	m.notify()
	m.log.Info("provisioned config forgotten; running the config file alone", "version", m.version)
	return nil
}

// FieldErrors turns a Decode error into path/message pairs.
func FieldErrors(err error) []mqtt.FieldError {
	var out []mqtt.FieldError
	for _, p := range provisioning.Problems(err) {
		var fe *conf.FieldError
		if errors.As(p, &fe) {
			out = append(out, mqtt.FieldError{Path: fe.Path, Message: fe.Msg})
			continue
		}
		out = append(out, mqtt.FieldError{Message: p.Error()})
	}
	return out
}
