package fleet

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/provisioning/mqtt"
)

// DefaultTimeout is how long a request waits for each device's answer.
const DefaultTimeout = 10 * time.Second

// ErrNoAnswer is wrapped by the error of a device that did not answer a
// request in time.
var ErrNoAnswer = errors.New("no answer")

// ErrNoDevices is returned when a Target with All finds no device.
var ErrNoDevices = errors.New("no device has a retained status under the prefix")

// idRE is provisioning's rule for device.id: it is one topic segment.
var idRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Target names the devices of a request.
type Target struct {
	// IDs are device ids.
	IDs []string
	// All is every device with a retained <prefix>/<id>/status (online or
	// offline), found by subscribing and waiting until the retained burst
	// ends. An offline device is asked too, and will not answer.
	All bool
	// Settle ends the retained burst for All. Default: DefaultSettle.
	Settle time.Duration
}

// Validate checks that the target names devices one way, with good ids.
func (t Target) Validate() error {
	var errs []error
	switch {
	case t.All && len(t.IDs) > 0:
		errs = append(errs, conf.Errorf("-device", "give -device or -all, not both"))
	case !t.All && len(t.IDs) == 0:
		errs = append(errs, conf.Errorf("-device", "required (a device id, a comma-separated list, or -all)"))
	}
	seen := map[string]bool{}
	for _, id := range t.IDs {
		if !idRE.MatchString(id) {
			errs = append(errs, conf.Errorf("-device", "%q is not a device id (1..64 of letters, digits, '_', '-')", id))
		}
		if seen[id] {
			errs = append(errs, conf.Errorf("-device", "%q is listed twice", id))
		}
		seen[id] = true
	}
	return errors.Join(errs...)
}

// Resolve returns the ids the target names, sorted for All.
func (c *Client) Resolve(ctx context.Context, t Target) ([]string, error) {
	ids, _, err := c.resolve(ctx, t)
	return ids, err
}

// resolve returns the ids the target names and, for All, the ids of the
// devices whose status is offline.
func (c *Client) resolve(ctx context.Context, t Target) ([]string, map[string]bool, error) {
	if err := t.Validate(); err != nil {
		return nil, nil, err
	}
	if !t.All {
		return t.IDs, nil, nil
	}
	tab, err := c.Snapshot(ctx, t.Settle)
	if err != nil {
		return nil, nil, err
	}
	var ids []string
	offline := map[string]bool{}
	for _, d := range tab.Devices() {
		if d.Status != "" {
			ids = append(ids, d.ID)
		}
		if d.Status == mqtt.Offline {
			offline[d.ID] = true
		}
	}
	if len(ids) == 0 {
		return nil, nil, fmt.Errorf("%w %q", ErrNoDevices, c.prefix)
	}
	return ids, offline, nil
}

// noAnswerWhy adds to a device's ErrNoAnswer that its status is offline.
func noAnswerWhy(err error, offline bool) error {
	if offline && errors.Is(err, ErrNoAnswer) {
		return fmt.Errorf("%w (its status is offline)", err)
	}
	return err
}

// ProvisionOptions tune a Provision.
type ProvisionOptions struct {
	// Version, when set, must be above each device's config version.
	Version *int64
	// Force allows a patch that changes how devices reach the broker.
	Force bool
	// Timeout is how long each device has to answer. Default:
	// DefaultTimeout.
	Timeout time.Duration
}

// ProvisionResult is one device's answer to a config patch.
type ProvisionResult struct {
	Device string
	// Result is the device's answer; zero when Err is set.
	Result mqtt.ConfigResult
	// Err is set when there is no answer (wrapping ErrNoAnswer), or the
	// request could not be sent.
	Err error
}

// OK reports whether the device applied the patch.
func (r ProvisionResult) OK() bool { return r.Err == nil && r.Result.OK }

// Provision sends a JSON Merge Patch (RFC 7396) to every device of t, each
// with its own request id, and returns every device's result in the order
// of the ids. Its error is for the request as a whole (bad target, bad
// patch, broker); a device that refused or did not answer is in its
// result.
func (c *Client) Provision(ctx context.Context, t Target, patch json.RawMessage, o ProvisionOptions) ([]ProvisionResult, error) {
	if err := CheckPatch(patch); err != nil {
		return nil, err
	}
	ids, offline, err := c.resolve(ctx, t)
	if err != nil {
		return nil, err
	}
	patches := make(map[string]json.RawMessage, len(ids))
	for _, id := range ids {
		patches[id] = patch
	}
	res, err := c.provision(ctx, ids, patches, o)
	for i := range res {
		res[i].Err = noAnswerWhy(res[i].Err, offline[res[i].Device])
	}
	return res, err
}

// provision sends each device its own patch.
func (c *Client) provision(ctx context.Context, ids []string, patches map[string]json.RawMessage, o ProvisionOptions) ([]ProvisionResult, error) {
	replies, err := c.exchange(ctx, ids, exchangeSpec{
		request: func(id string) string { return c.topics(id).ConfigSet() },
		result:  "config/result",
		payload: func(id, reqID string) ([]byte, error) {
			return json.Marshal(mqtt.ConfigSet{ID: reqID, Version: o.Version, Config: patches[id], Force: o.Force})
		},
		timeout: o.Timeout,
	})
	if err != nil {
		return nil, err
	}
	out := make([]ProvisionResult, len(ids))
	for i, id := range ids {
		r := replies[i]
		out[i] = ProvisionResult{Device: id, Err: r.err}
		if r.err == nil {
			if err := json.Unmarshal(r.payload, &out[i].Result); err != nil {
				out[i].Err = fmt.Errorf("result is not a config result: %v", err)
			}
		}
	}
	return out, nil
}

// CheckPatch reports whether patch is a JSON object small enough to send.
func CheckPatch(patch json.RawMessage) error {
	if !json.Valid(patch) {
		return conf.Errorf("-set", "not valid JSON")
	}
	if t := bytes.TrimSpace(patch); len(t) == 0 || t[0] != '{' {
		return conf.Errorf("-set", "a patch is a JSON object (RFC 7396), not %s", jsonKind(t))
	}
	// The request wraps the patch in about 80 bytes.
	if len(patch) > mqtt.MaxPayload-256 {
		return conf.Errorf("-set", "patch is %d bytes; a device takes at most %d", len(patch), mqtt.MaxPayload-256)
	}
	return nil
}

func jsonKind(t []byte) string {
	switch {
	case len(t) == 0:
		return "nothing"
	case t[0] == '[':
		return "an array"
	case t[0] == '"':
		return "a string"
	case t[0] == 'n':
		return "null"
	case t[0] == 't' || t[0] == 'f':
		return "a boolean"
	}
	return "a number"
}

// CommandResult is one device's answer to a command.
type CommandResult struct {
	Device string
	// Result is the device's answer; zero when Err is set.
	Result mqtt.CmdResult
	// Err is set when there is no answer (wrapping ErrNoAnswer), or the
	// command could not be sent.
	Err error
}

// OK reports whether the device carried out the command.
func (r CommandResult) OK() bool { return r.Err == nil && r.Result.OK }

// Command sends command name with args (merged into the payload beside the
// request id; nil for none) to every device of t and returns each
// device's result in the order of the ids. timeout 0 means DefaultTimeout.
func (c *Client) Command(ctx context.Context, t Target, name string, args map[string]any, timeout time.Duration) ([]CommandResult, error) {
	if !slices.Contains(mqtt.Commands, name) {
		return nil, fmt.Errorf("unknown command %q (want one of %s)", name, strings.Join(mqtt.Commands, ", "))
	}
	if _, ok := args["id"]; ok {
		return nil, fmt.Errorf("command %s: argument \"id\" is the request id's", name)
	}
	ids, offline, err := c.resolve(ctx, t)
	if err != nil {
		return nil, err
	}
	replies, err := c.exchange(ctx, ids, exchangeSpec{
		request: func(id string) string { return c.topics(id).Cmd(name) },
		result:  "cmd/result",
		payload: func(_, reqID string) ([]byte, error) {
			m := make(map[string]any, len(args)+1)
			for k, v := range args {
				m[k] = v
			}
			m["id"] = reqID
			return json.Marshal(m)
		},
		timeout: timeout,
	})
	if err != nil {
		return nil, err
	}
	out := make([]CommandResult, len(ids))
	for i, id := range ids {
		r := replies[i]
		out[i] = CommandResult{Device: id, Err: noAnswerWhy(r.err, offline[id])}
		if r.err == nil {
			if err := json.Unmarshal(r.payload, &out[i].Result); err != nil {
				out[i].Err = fmt.Errorf("result is not a command result: %v", err)
			}
		}
	}
	return out, nil
}

// exchangeSpec describes one kind of request and its result topic.
type exchangeSpec struct {
	request func(id string) string
	result  string // the topic under <prefix>/<id>/
	payload func(id, reqID string) ([]byte, error)
	timeout time.Duration
}

// reply is one device's raw answer.
type reply struct {
	payload []byte
	err     error
}

// exchange subscribes to every device's result topic, then publishes each
// request with a fresh request id, and collects the answer whose id
// matches, each device with its own deadline from its publication.
func (c *Client) exchange(ctx context.Context, ids []string, s exchangeSpec) ([]reply, error) {
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	index := make(map[string]int, len(ids)) // device id → position
	reqIDs := make([]string, len(ids))
	payloads := make([][]byte, len(ids))
	for i, id := range ids {
		index[id] = i
		reqIDs[i] = newRequestID()
		p, err := s.payload(id, reqIDs[i])
		if err != nil {
			return nil, fmt.Errorf("%s: encode request: %w", id, err)
		}
		if len(p) > mqtt.MaxPayload {
			return nil, fmt.Errorf("%s: request is %d bytes; a device takes at most %d", id, len(p), mqtt.MaxPayload)
		}
		payloads[i] = p
	}

	var mu sync.Mutex // guards got
	got := make([][]byte, len(ids))
	arrived := make(chan struct{}, 1)
	h := func(_ paho.Client, m paho.Message) {
		id, rest, ok := mqtt.SplitTopic(c.prefix, m.Topic())
		i, known := index[id]
		if !ok || !known || rest != s.result || len(m.Payload()) > mqtt.MaxPayload {
			return
		}
		var head struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(m.Payload(), &head) != nil || head.ID != reqIDs[i] {
			return // another operator's request, or an old one
		}
		mu.Lock()
		if got[i] == nil {
			got[i] = bytes.Clone(m.Payload())
		}
		mu.Unlock()
		select {
		case arrived <- struct{}{}:
		default:
		}
	}
	handlers := make(map[string]paho.MessageHandler, len(ids))
	for _, id := range ids {
		handlers[c.prefix+"/"+id+"/"+s.result] = h
	}
	unsub, err := c.subscribe(ctx, handlers)
	if err != nil {
		return nil, err
	}
	defer unsub()

	// Publish everything first, then wait for the acknowledgements, so a
	// fleet costs one round trip, not one per device.
	out := make([]reply, len(ids))
	deadlines := make([]time.Time, len(ids))
	tokens := make([]paho.Token, len(ids))
	for i, id := range ids {
		deadlines[i] = time.Now().Add(s.timeout)
		tokens[i] = c.mc.Publish(s.request(id), qos, false, payloads[i])
	}
	for i, id := range ids {
		if err := wait(ctx, tokens[i], s.timeout); err != nil {
			out[i].err = fmt.Errorf("publish %s: %w", s.request(id), err)
		}
	}

	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		mu.Lock()
		now := time.Now()
		var next time.Time
		pending := 0
		for i := range ids {
			if out[i].err != nil || out[i].payload != nil {
				continue
			}
			if got[i] != nil {
				out[i].payload = got[i]
				continue
			}
			if !now.Before(deadlines[i]) {
				out[i].err = fmt.Errorf("%w within %v", ErrNoAnswer, s.timeout)
				continue
			}
			pending++
			if next.IsZero() || deadlines[i].Before(next) {
				next = deadlines[i]
			}
		}
		mu.Unlock()
		if pending == 0 {
			return out, nil
		}
		timer.Reset(next.Sub(now))
		select {
		case <-ctx.Done():
			for i := range out {
				if out[i].err == nil && out[i].payload == nil {
					out[i].err = ctx.Err()
				}
			}
			return out, nil
		case <-arrived:
		case <-timer.C:
		}
	}
}

// newRequestID returns 16 random hex digits.
func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
