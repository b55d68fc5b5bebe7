// Package relay is a test network with faults: a TURN server (RFC 8656, on
// github.com/pion/turn) whose relayed packets pass through a seeded fault
// injector before they go on. A device forced through it (room.ice_servers
// naming the relay, room.ice_transport_policy: relay) sends and hears every
// media packet through the injector, so a test or an operator can say what
// the device meets: random loss, burst loss, delay with jitter, reordering
// and a bandwidth cap.
//
// # What is faulted
//
// Only relayed data: what a client sends to a peer through its allocation
// and what peers send back. The TURN control exchange (Allocate, Refresh,
// CreatePermission, ChannelBind) is never faulted, so a join does not fail
// on a lost Allocate; ICE connectivity checks between the relay and the
// peer are relayed data and are faulted like media, as on a real path.
// Each direction of each allocation is its own link with its own random
// stream, Gilbert-Elliott state, rate queue and delivery queue.
//
// # Faults, in the order they apply to a packet
//
//  1. Loss: each packet is dropped with probability Faults.Loss.
//  2. Burst loss: a two-state Gilbert-Elliott channel that drops every
//     packet while in its bad state, tuned so that the long-run loss is
//     Faults.BurstLoss and the mean burst is Faults.BurstLen packets.
//  3. Bandwidth cap: a packet is serialised at Faults.RateBps after the
//     ones queued before it; one that would wait more than
//     Faults.QueueLimit is dropped (tail drop) and counted as overflow.
//  4. Delay: Faults.Delay plus a uniform random extra in [0, Jitter).
//     Packets are released in order of their release time, so jitter larger
//     than the packet spacing reorders packets, as on a real path (and as
//     Linux netem does).
//  5. Reorder: with probability Faults.Reorder a packet is held back until
//     the next packet of its link has been sent (or 100 ms at most).
//
// Seed fixes every random choice: the same Seed, Faults and packet sequence
// on a link give the same drops, delays and order. Links are numbered in the
// order their allocations are made (link n's random streams are seeded from
// Seed and n), so a run with one client repeats exactly.
//
// # A firewall that drops UDP
//
// DropUDP wraps a pion transport.Net so that UDP sockets open but carry
// nothing either way, as behind a firewall that drops UDP; with it in a
// device's webrtc.SettingEngine, only a TCP path (TURN over TCP, ICE-TCP)
// can connect.
//
// # Goroutines and buffers
//
// Each allocation owns three goroutines: one reads the relay socket, one
// releases each direction's packets at their time. Close stops them all and
// waits. The relay copies every packet it accepts; callers keep their
// buffers.
package relay
