// Package aec is acoustic echo cancellation for the speak path: it keeps
// the room from hearing itself when the device plays the room through a
// loudspeaker (issue 12).
//
// # Concepts
//
//   - Engine: a canceller working on aligned frames (Cancel, Reset,
//     Close). Speex is the one implementation: speexdsp's MDF adaptive
//     filter, one echo state per mic (speex_echo_state_init_mc, one state
//     for all mics, measured 4..8 dB worse in the simulated room), each
//     followed by the speexdsp preprocessor's residual echo suppression
//     (Config.Suppress, SuppressActive) with its noise suppression at
//     speex's default 15 dB, which the gains need. WebRTC AEC3 could be
//     another Engine.
//   - Reference: what the device plays, recorded exactly as it is handed
//     to the playback device. Reference.Wrap wraps the playback
//     audio.Sink; each frame the sink accepts is recorded (channels
//     averaged) at its playback sample position.
//   - Canceller: the audio.Stage in front of the voice chain
//     (pipeline.NewSpeak with WithAEC), before the beamformer and the
//     AGC. It takes whole capture frames of one period and removes the
//     echo from every mic; channels beyond the mics pass untouched.
//
// # Alignment
//
// With Config.Loopback the reference is the capture's own loopback
// channels (the 6-mic board's), already aligned. Otherwise the capture's
// sample counter (Frame.Pos) is mapped onto the Reference's playback
// counter when playback starts (the newest played sample at the end of
// that capture frame), and the delay between the two is measured:
// GCC-PHAT on both signals decimated to 8 kHz every 0.25 s over the last
// second, for lags from 0 to Config.MaxDelay, refined to a fraction
// of a sample by the full-rate cross-correlation around the peak. A line
// fitted through the measurements gives the delay and the drift between
// the playback and capture clocks (Stats.Delay, Stats.SkewPPM); the
// reference is read at that line's positions (a 16-tap windowed-sinc
// interpolator), 5 ms (at most half the delay) ahead of its echo so that
// the filter stays causal.
// Until the first measurement the capture passes untouched; a measurement
// more than 10 ms off the line (a new echo path) restarts the filter. A new
// Wrap (the playback device reopened), or playback resuming after a stall
// of 200 ms, starts the alignment again.
//
// # Goroutines and buffers
//
// The package starts no goroutine. Canceller.Process runs in the capture
// loop; the Reference is written by the playback goroutine and read under
// its mutex. Everything is allocated at construction (the speexdsp state
// and its buffers in C memory, freed by Close); Process allocates nothing
// and makes one cgo call per frame. Canceller.EchoOnly tells the voice
// chain which frames hold nothing but residual echo, so that its AGC and
// DOA hold still (dsp.Chain.SetEchoOnly).
//
// Without cgo the package builds and NewSpeex (so New) returns
// ErrUnavailable.
package aec
