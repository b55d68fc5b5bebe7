// Package gateway is the device's state machine: it ties the board's
// capture and controls, the speak path, the room and the status together.
//
// # Units
//
// The gateway runs units, each a type with its own dependencies and one
// shape (build, start, stop(deadline)), built from its view of the config
// and never holding the *Gateway:
//
//   - speakUnit: capture → DSP → Opus (pipeline.NewSpeak), reopening a
//     vanished capture with backoff. Needs a capture opener
//     (Hardware.OpenSource), the clock, the packet sink and a report func.
//   - roomUnit: one room's room.Supervisor. Needs the RoomFactory, the
//     encoder the supervisor adapts, the clock, and state and event funcs.
//   - controlsUnit: buttons, LEDs and ring. Needs the Hardware, the clock
//     and the channel for button events.
//   - listenUnit (audio.playback on): the listen path, driven by the
//     output's blocking WriteFrame. Each room unit keeps a net/room/listen
//     Listener (a jitter buffer per remote track, the device's own identity
//     skipped: mix-minus); the listen unit pulls the current one each
//     period, mixes with headroom and writes to the output, reopening a
//     vanished output with backoff. Needs a playback opener
//     (Hardware.OpenSink), Options.WrapSink (the echo canceller's
//     reference tap), the current Listener and the clock.
//
// Views (views.go) say which fields each unit uses; Apply compares them
// whole, so exactly the units whose view changed restart, and a new bitrate,
// packet loss or DTX goes to the running encoder. A replacement is built
// and proven (its capture and controls opened) while the old unit runs; a
// change that fails leaves everything running untouched.
//
// # Hardware
//
// Hardware opens a board's capture, playback and controls. Hardware with more to
// offer implements optional interfaces, checked where they are used, as
// periph does for pins: Presser (commands press buttons), Scripter (plays
// a button script) and ButtonWaker (button waits nothing else interrupts).
// SimHardware, the simulated board, implements all three.
//
// # Buttons and gestures
//
// A button's mode acts on press and release (ptt, toggle, mute). Long holds
// are gestures (identify, then forget with a confirming press), recognised
// by the gestures type: a ptt hold or toggle press made in a room is doing
// its job and is never a gesture however long it lasts; a mute button is a
// gesture button at any time.
//
// # Clock
//
// One injected clockwork.Clock (Options.Clock) times everything: the loop's
// tickers, gesture windows, the capture backoff, stop deadlines, the room
// supervisor and the buttons and LEDs. Only the simulated capture and
// speaker pace themselves on the real clock, as a sound card does, and the
// jitter buffers time packets and playout by the real clock too.
package gateway
