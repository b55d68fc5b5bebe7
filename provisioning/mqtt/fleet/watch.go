package fleet

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// DefaultSettle is how long without a message ends the broker's burst of
// retained messages after a subscription. MQTT 3.1.1 marks no end of the
// burst; on a LAN or loopback the messages of a burst follow each other
// within milliseconds, so half a second of quiet is the end.
const DefaultSettle = 500 * time.Millisecond

// maxBurst bounds the wait for a burst that never goes quiet (a busy
// fleet publishes state every 30 s per device, and up to 4 per second on
// change).
const maxBurst = 10 * time.Second

// watch subscribes to every device's status and state, feeding t, and
// calls changed (from paho's goroutine, so it must not block) with the id
// of every row a message changed and after every message at all.
func (c *Client) watch(ctx context.Context, t *Table, changed func(id string, did bool)) (func(), error) {
	h := func(_ paho.Client, m paho.Message) {
		did := t.Apply(m.Topic(), m.Payload(), time.Now())
		id, _, _ := strings.Cut(strings.TrimPrefix(m.Topic(), c.prefix+"/"), "/")
		changed(id, did)
	}
	return c.subscribe(ctx, map[string]paho.MessageHandler{
		c.prefix + "/+/status": h,
		c.prefix + "/+/state":  h,
	})
}

// Snapshot subscribes to every device's status and state, waits until the
// retained burst has ended (settle without a message; 0 means
// DefaultSettle), and returns the table.
func (c *Client) Snapshot(ctx context.Context, settle time.Duration) (*Table, error) {
	if settle <= 0 {
		settle = DefaultSettle
	}
	t := NewTable(c.prefix)
	activity := make(chan struct{}, 1)
	unsub, err := c.watch(ctx, t, func(string, bool) {
		select {
		case activity <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return nil, err
	}
	defer unsub()
	if err := waitQuiet(ctx, activity, settle, nil); err != nil {
		return nil, err
	}
	return t, nil
}

// waitQuiet returns once activity has been silent for settle, or done
// (when not nil) holds after some activity, or maxBurst has passed: the
// end of a broker's burst of retained messages.
func waitQuiet(ctx context.Context, activity <-chan struct{}, settle time.Duration, done func() bool) error {
	quiet := time.NewTimer(settle)
	defer quiet.Stop()
	limit := time.NewTimer(maxBurst)
	defer limit.Stop()
	for done == nil || !done() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-activity:
			quiet.Reset(settle)
		case <-quiet.C:
			return nil
		case <-limit.C:
			return nil
		}
	}
	return nil
}

// Watch keeps a table of every device under the prefix and calls
// onChange, in the caller's goroutine, with the ids of the rows that
// changed since the last call (sorted) and the table. Calls coalesce: a
// slow onChange sees several changes at once, never a backlog. A second
// without a change brings a call with no ids, so a view can redraw what
// ages (a state repeated unchanged moves only LastSeen, which is not a
// change). Watch returns nil when ctx ends.
func (c *Client) Watch(ctx context.Context, onChange func(changed []string, t *Table)) error {
	t := NewTable(c.prefix)
	var mu sync.Mutex
	pending := map[string]bool{}
	notify := make(chan struct{}, 1)
	unsub, err := c.watch(ctx, t, func(id string, did bool) {
		if !did {
			return
		}
		mu.Lock()
		pending[id] = true
		mu.Unlock()
		select {
		case notify <- struct{}{}:
		default:
		}
	})
	if err != nil {
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer unsub()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			onChange(nil, t)
		case <-notify:
			mu.Lock()
			ids := slices.Sorted(maps.Keys(pending))
			clear(pending)
			mu.Unlock()
			onChange(ids, t)
		}
	}
}
