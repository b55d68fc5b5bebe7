// Package fleet is the operator's side of the MQTT contract in
// provisioning/mqtt: it watches every device under a topic prefix, pushes
// config patches and commands to one device, a list or all of them and
// collects each device's answer, and mints LiveKit join tokens that it
// pushes as room.token patches so devices never hold an API secret.
// onairctl's watch, provision, cmd and token subcommands are thin wrappers
// around it.
//
// Concepts:
//   - Options says how to reach the broker (URL, TLS, credentials, prefix);
//     Connect returns a Client holding one MQTT connection.
//   - Table is the watched fleet: one Device row per id, updated from the
//     retained <p>/<id>/status and <p>/<id>/state topics by Table.Apply,
//     a pure decoder of outside input with its own fuzz target.
//   - Target names the devices of a request: a list of ids, or All, which is
//     every device with a retained <p>/<id>/status, found by subscribing and
//     waiting until the broker's burst of retained messages has ended (no
//     message for Settle).
//   - Provision and Command subscribe to each device's result topic before
//     publishing, give each device its own fresh request id, and wait for
//     the result carrying that id; a device that does not answer within the
//     timeout gets ErrNoAnswer.
//   - Token mints a join token per device and pushes it; with Refresh it
//     pushes a new one at 2/3 of the TTL until its context ends, and with
//     All looks for new devices every Rediscover. The injected clock
//     schedules these rounds; network waits use context deadlines.
//
// Goroutines: paho's own (network, routing). Message handlers never block
// and never publish (paho's advice): they decode, update state under a
// mutex and signal a channel; the caller's goroutine does the rest. Watch
// and Token run in the caller's goroutine and return when its context ends.
package fleet
