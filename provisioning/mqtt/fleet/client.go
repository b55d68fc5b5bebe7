package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/jonboulle/clockwork"

	"github.com/onair-gateway/onair/conf"
	"github.com/onair-gateway/onair/provisioning/mqtt"
)

// qos is used for every subscription and request: at least once, so a
// request or a result survives a broker that is briefly slow.
const qos = 1

// Client is one operator connection to the broker. Its methods may run
// one after another or at the same time, except two that subscribe to the
// same topics (two Watch, or two requests to one device) at once: a
// subscription is keyed by its topic filter.
type Client struct {
	prefix string
	mc     paho.Client
	log    *slog.Logger
	clock  clockwork.Clock

	mu   sync.Mutex                     // guards subs
	subs map[string]paho.MessageHandler // restored on every reconnect
}

// Connect validates o, fills its defaults and connects. log may be nil
// (nothing is logged); clock schedules token refreshes and may be nil (the
// real clock). Network waits use context deadlines.
func Connect(ctx context.Context, o Options, log *slog.Logger, clock clockwork.Clock) (*Client, error) {
	o.SetDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	tc, err := o.tlsConfig()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	c := &Client{prefix: o.Prefix, log: log.With("component", "fleet"), clock: clock, subs: map[string]paho.MessageHandler{}}
	po := paho.NewClientOptions().
		AddBroker(o.brokerURL()).
		SetClientID(o.ClientID).
		SetCleanSession(true).
		SetConnectTimeout(o.ConnectTimeout).
		SetKeepAlive(30 * time.Second).
		SetAutoReconnect(true).
		SetMaxReconnectInterval(10 * time.Second).
		SetConnectRetry(false).
		SetOnConnectHandler(c.restore).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			c.log.Warn("broker connection lost", "err", err)
		})
	if tc != nil {
		po.SetTLSConfig(tc)
	}
	if o.Username != "" {
		po.SetUsername(o.Username)
	}
	if o.Password.IsSet() {
		po.SetPassword(o.Password.Reveal())
	}
	c.mc = paho.NewClient(po)
	if err := wait(ctx, c.mc.Connect(), o.ConnectTimeout+time.Second); err != nil {
		c.mc.Disconnect(0)
		return nil, fmt.Errorf("connect to %s: %w", conf.RedactURL(o.Broker), err)
	}
	return c, nil
}

// Prefix is the topic prefix the client works under.
func (c *Client) Prefix() string { return c.prefix }

// Close disconnects, waiting up to 250 ms for queued work.
func (c *Client) Close() { c.mc.Disconnect(250) }

// topics returns one device's topics.
func (c *Client) topics(id string) mqtt.Topics { return mqtt.Topics{Prefix: c.prefix, ID: id} }

// restore resubscribes after a reconnect: the session is clean, so the
// broker forgot the subscriptions. paho runs it in its own goroutine.
func (c *Client) restore(mc paho.Client) {
	c.mu.Lock()
	filters := make(map[string]byte, len(c.subs))
	handlers := make(map[string]paho.MessageHandler, len(c.subs))
	for f, h := range c.subs {
		filters[f] = qos
		handlers[f] = h
	}
	c.mu.Unlock()
	if len(filters) == 0 {
		return
	}
	// One handler per filter: SubscribeMultiple takes one for all, so
	// route by filter through paho's per-route handlers instead.
	for f, h := range handlers {
		mc.AddRoute(f, h)
	}
	t := mc.SubscribeMultiple(filters, nil)
	if t.WaitTimeout(10*time.Second) && t.Error() != nil {
		c.log.Warn("resubscribe failed", "err", t.Error())
	}
}

// subscribe subscribes to filters, each with its handler, and remembers
// them for reconnects until the returned function unsubscribes.
func (c *Client) subscribe(ctx context.Context, handlers map[string]paho.MessageHandler) (func(), error) {
	filters := make(map[string]byte, len(handlers))
	c.mu.Lock()
	for f, h := range handlers {
		filters[f] = qos
		c.subs[f] = h
		c.mc.AddRoute(f, h)
	}
	c.mu.Unlock()
	unsub := func() {
		names := make([]string, 0, len(handlers))
		c.mu.Lock()
		for f := range handlers {
			delete(c.subs, f)
			names = append(names, f)
		}
		c.mu.Unlock()
		t := c.mc.Unsubscribe(names...)
		t.WaitTimeout(2 * time.Second)
	}
	if err := wait(ctx, c.mc.SubscribeMultiple(filters, nil), 10*time.Second); err != nil {
		unsub()
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	return unsub, nil
}

// publish sends payload at QoS 1 and waits for the broker's PUBACK.
func (c *Client) publish(ctx context.Context, topic string, payload []byte) error {
	if err := wait(ctx, c.mc.Publish(topic, qos, false, payload), 10*time.Second); err != nil {
		return fmt.Errorf("publish %s: %w", topic, err)
	}
	return nil
}

// ErrBrokerTimeout is returned when the broker does not acknowledge a
// connection, subscription or publication in time.
var ErrBrokerTimeout = errors.New("broker did not answer in time")

// wait waits for a paho token, the context, or limit.
func wait(ctx context.Context, t paho.Token, limit time.Duration) error {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-t.Done():
		return t.Error()
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return ErrBrokerTimeout
	}
}
