package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/livekit/protocol/auth"

	"github.com/onair-gateway/onair/conf"
)

// Rediscover is how often Token with Refresh and Target.All looks for
// devices that appeared since it started.
const Rediscover = time.Minute

// TokenOptions say how to mint and push join tokens.
type TokenOptions struct {
	// APIKey and APISecret sign the tokens. Required.
	APIKey    string
	APISecret conf.Secret
	// TTL is each token's lifetime, 1m..24h as room.token_ttl. Default: 6h.
	TTL time.Duration
	// Room is the room the token grants. Default: room.room of the
	// device's retained <prefix>/<id>/config.
	Room string
	// Refresh pushes a fresh token at 2/3 of the TTL, until the context
	// ends; a failed push is retried after min(TTL/6, 1 min). With
	// Target.All, devices that appear later are found within Rediscover.
	Refresh bool
	// Timeout is how long each device has to answer a push. Default:
	// DefaultTimeout.
	Timeout time.Duration
	// Settle ends the wait for retained configs. Default: DefaultSettle.
	Settle time.Duration
}

// Validate reports every problem at once, naming onairctl's flags.
func (o TokenOptions) Validate() error {
	var errs []error
	if o.APIKey == "" {
		errs = append(errs, conf.Errorf("-api-key", "required"))
	}
	if !o.APISecret.IsSet() {
		errs = append(errs, conf.Errorf("-api-secret", "required (or $ONAIR_API_SECRET)"))
	}
	if o.TTL != 0 && (o.TTL < time.Minute || o.TTL > 24*time.Hour) {
		errs = append(errs, conf.Errorf("-ttl", "%v is out of range 1m..24h", o.TTL))
	}
	return errors.Join(errs...)
}

// MintToken returns a LiveKit join token for a device: identity is the
// device id, with the grants onaird gives itself when it mints its own
// (net/livekit): join room, publish, no subscribe.
func MintToken(apiKey string, apiSecret conf.Secret, identity, room string, ttl time.Duration) (string, error) {
	canPublish, canSubscribe := true, false
	tok, err := auth.NewAccessToken(apiKey, apiSecret.Reveal()).
		SetIdentity(identity).
		SetName(identity).
		SetValidFor(ttl).
		SetVideoGrant(&auth.VideoGrant{RoomJoin: true, Room: room, CanPublish: &canPublish, CanSubscribe: &canSubscribe}).
		ToJWT()
	if err != nil {
		return "", fmt.Errorf("mint token: %w", err)
	}
	return tok, nil
}

// TokenPush is one device's token push.
type TokenPush struct {
	Device string
	// Room is the room the token grants; Expires is its expiry.
	Room    string
	Expires time.Time
	// Result is the device's answer; its Err is also set when no token
	// could be minted (no room known).
	Result ProvisionResult
	// Next is when the next push is due (zero without Refresh).
	Next time.Time
}

// OK reports whether the device took the token.
func (p TokenPush) OK() bool { return p.Result.OK() }

// Token mints a join token for every device of t and pushes it as a
// {"room":{"token":...}} patch, calling report (in the caller's goroutine)
// with each round's pushes. Without Refresh it returns after one round;
// with Refresh it returns nil when ctx ends. Tokens never reach report,
// logs or errors.
func (c *Client) Token(ctx context.Context, t Target, o TokenOptions, report func([]TokenPush)) error {
	if err := o.Validate(); err != nil {
		return err
	}
	if o.TTL == 0 {
		o.TTL = 6 * time.Hour
	}
	ids, err := c.Resolve(ctx, t)
	if err != nil {
		return err
	}
	retry := min(o.TTL/6, time.Minute)
	due := make(map[string]time.Time, len(ids))
	now := c.clock.Now()
	for _, id := range ids {
		due[id] = now
	}
	for {
		var round []string
		for _, id := range ids {
			if !due[id].After(now) {
				round = append(round, id)
			}
		}
		if len(round) > 0 {
			pushes, err := c.pushTokens(ctx, round, o)
			if err != nil {
				if ctx.Err() != nil && o.Refresh {
					return nil
				}
				return err
			}
			for i, p := range pushes {
				next := c.clock.Now().Add(retry)
				if p.OK() {
					next = c.clock.Now().Add(o.TTL * 2 / 3)
				}
				due[p.Device] = next
				if o.Refresh {
					pushes[i].Next = next
				}
			}
			report(pushes)
		}
		if !o.Refresh {
			return nil
		}
		var first time.Time
		for _, id := range ids {
			if first.IsZero() || due[id].Before(first) {
				first = due[id]
			}
		}
		wake := first.Sub(c.clock.Now())
		if t.All {
			wake = min(wake, Rediscover)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-c.clock.After(wake):
		}
		now = c.clock.Now()
		if t.All {
			// A device that appeared since gets its first token now; one
			// whose status was cleared is dropped. A failed look keeps
			// the list.
			if fresh, err := c.Resolve(ctx, t); err == nil {
				for _, id := range fresh {
					if _, ok := due[id]; !ok {
						due[id] = now
					}
				}
				ids = fresh
			}
		}
	}
}

// pushTokens mints and pushes one token per device.
func (c *Client) pushTokens(ctx context.Context, ids []string, o TokenOptions) ([]TokenPush, error) {
	rooms := map[string]string{}
	if o.Room == "" {
		var err error
		if rooms, err = c.rooms(ctx, ids, o.Settle); err != nil {
			return nil, err
		}
	}
	out := make([]TokenPush, len(ids))
	var send []string
	patches := map[string]json.RawMessage{}
	for i, id := range ids {
		room := o.Room
		if room == "" {
			room = rooms[id]
		}
		out[i] = TokenPush{Device: id, Room: room, Result: ProvisionResult{Device: id}}
		if room == "" {
			out[i].Result.Err = fmt.Errorf("no room: give -room, or let the device publish its retained %s with room.room", c.topics(id).Config())
			continue
		}
		tok, err := MintToken(o.APIKey, o.APISecret, id, room, o.TTL)
		if err != nil {
			return nil, err
		}
		out[i].Expires = time.Now().Add(o.TTL)
		p, err := json.Marshal(map[string]any{"room": map[string]any{"token": tok}})
		if err != nil {
			return nil, err
		}
		patches[id] = p
		send = append(send, id)
	}
	if len(send) == 0 {
		return out, nil
	}
	results, err := c.provision(ctx, send, patches, ProvisionOptions{Timeout: o.Timeout})
	if err != nil {
		return nil, err
	}
	byID := make(map[string]ProvisionResult, len(results))
	for _, r := range results {
		byID[r.Device] = r
	}
	for i := range out {
		if r, ok := byID[out[i].Device]; ok {
			out[i].Result = r
		}
	}
	return out, nil
}

// maxConfig bounds a retained config payload (provisioning.MaxDocumentSize,
// not imported: this client package stays free of the device's cgo).
const maxConfig = 256 << 10

// rooms reads room.room from each device's retained config, waiting until
// every device's has arrived or the retained burst has ended.
func (c *Client) rooms(ctx context.Context, ids []string, settle time.Duration) (map[string]string, error) {
	if settle <= 0 {
		settle = DefaultSettle
	}
	var mu sync.Mutex
	rooms := make(map[string]string, len(ids))
	seen := 0
	activity := make(chan struct{}, 1)
	handlers := make(map[string]paho.MessageHandler, len(ids))
	for _, id := range ids {
		handlers[c.topics(id).Config()] = func(_ paho.Client, m paho.Message) {
			var cfg struct {
				Room struct {
					Room string `json:"room"`
				} `json:"room"`
			}
			if len(m.Payload()) > maxConfig || json.Unmarshal(m.Payload(), &cfg) != nil {
				return
			}
			mu.Lock()
			if _, ok := rooms[id]; !ok {
				seen++
			}
			rooms[id] = strings.TrimSpace(cfg.Room.Room)
			mu.Unlock()
			select {
			case activity <- struct{}{}:
			default:
			}
		}
	}
	unsub, err := c.subscribe(ctx, handlers)
	if err != nil {
		return nil, err
	}
	defer unsub()
	all := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return seen == len(ids)
	}
	if err := waitQuiet(ctx, activity, settle, all); err != nil {
		return nil, err
	}
	mu.Lock()
	defer mu.Unlock()
	return maps.Clone(rooms), nil
}
