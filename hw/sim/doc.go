// Package sim is a simulated board: a microphone array (or a stereo line
// input) with no hardware behind it, for the demo (`make demo`) and for most
// tests of the speak path. Board implements audio.Source exactly as the ALSA
// capture driver does, so the pipeline cannot tell them apart.
//
// # What it renders
//
// A single talker stands at an azimuth (Config.Azimuth, moved at run time
// with SetAzimuth) in the far field: its signal reaches each microphone as a
// plane wave, delayed by audio.Geometry.Delays. Each mic's delay is split into
// a whole number of samples, taken from the talker's history, and a fraction
// within ±0.5 sample, rendered by a 16-tap windowed-sinc filter
// (dsp.FracDelayTaps). Every mic shares one tap count and one fixed latency,
// so only the delays between mics matter, and they are right to well under
// 0.05 sample. The latency is hidden: the talker's sample s reaches the
// array centre at Pos s.
//
// The talker is Config.Signal:
//
//   - tone: a sine of Config.Frequency whose peak is Config.Level dBFS.
//   - chirp: audio/marks' timing mark (marks.Chirp), an exponential sweep
//     from 300 Hz to 3.8 kHz, inside narrowband Opus, lasting ChirpLength,
//     starting every ChirpPeriod, silent between, peak Config.Level. In real
//     time the board puts sample 0 on a whole Unix second (marks.Start), so
//     `onairctl listen` reads mouth-to-ear latency off its own clock. The k-th sweep begins at the array centre (and on
//     both channels of a line input) at exactly ChirpStart(rate, k) =
//     k·ChirpPeriod; mic m hears it MicDelays()[m] samples later. A listener
//     finds the marks by correlating with ChirpSweep and so measures the
//     latency of the whole path.
//   - wav: a WAV file (PCM 8/16/24/32-bit or float 32/64, see audio/wav),
//     mixed to mono, resampled to the format's rate by a windowed-sinc
//     interpolator if needed, faded over 5 ms at both ends and looped. Its
//     level is set so that the RMS of its active part (the 10 ms blocks
//     within 40 dB of the loudest, a simple stand-in for ITU-T P.56 active
//     speech level) is Config.Level dBFS; pauses do not count. The file is
//     streamed in chunks and the talker keeps at most 2^22 samples per
//     channel (87 s at 48 kHz, 16 MiB of float32): a longer file loops its
//     first part, so memory does not grow with the file.
//   - silence: nothing but the noise.
//
// # Noise model
//
// Each mic gets independent white noise (approximately Gaussian) whose RMS is
// Config.SNR dB below the talker's nominal RMS: Config.Level for a WAV, and
// Config.Level - 3.01 dB, a sine's RMS, for tone, chirp and silence.
//
// Config.Diffuse, when not 0, adds a diffuse field at that RMS level in dBFS
// at every mic: eight independent white-noise sources at azimuths 22.5°,
// 67.5°, … 337.5°, each rendered into the array with its own delays exactly
// like the talker. The mics' noise is therefore correlated as the array's
// geometry dictates (strongly at low frequencies, weakly at high), which is
// what beamformers and direction finders meet in a real room, and unlike the
// independent noise a beamformer can only average.
//
// Channels beyond the mics (the 6-mic board's two playback references) carry
// what the speaker plays once it has opened (see below), else
// Options.Reference, looped, or silence. Every sample is clipped to ±1, as an
// ADC would.
//
// Options.LineIn turns the board into a stereo line input: no geometry, no
// delays, the left channel is the signal, the right is a stereo WAV's own
// right channel or else the left at -6 dB, so a swap or a downmix shows.
//
// # Speaker and echo
//
// Board.Speaker opens the board's loudspeaker, an audio.Sink at the
// board's rate (1 or 2 channels, averaged into one speaker). What it plays
// goes, exactly as written, to Config.PlaybackFile (32-bit float WAV,
// finished when the board closes), to the channels beyond the mics (the
// 6-mic board's loopback references, on the capture clock with no delay),
// and through a synthetic room into every mic (Config.Echo):
//
//   - the direct path reaches the array centre Echo.Delay after the sample
//     is played, at Echo.Level dB, as a plane wave from Echo.Azimuth, so
//     mic m hears it Delay + its geometric offset later (fractional, by
//     the same 16-tap filters as the talker);
//   - then a tail of reflections, one every 0.5..1.5 ms from 1 ms after the
//     direct sound, each from a random azimuth (whole-sample offsets per
//     mic) with a random sign, their amplitude envelope falling 60 dB over
//     Echo.Decay (T60), until Decay; the tail as a whole carries as much
//     energy as the direct path (a direct-to-reverberant ratio of 0 dB).
//
// The speaker's clock runs Config.SkewPPM faster than the capture clock:
// its sample q plays at capture position PlayedAt(q) = p0 + q/(1+skew),
// rendered by a 128-phase windowed-sinc interpolator. The speaker buffers
// four of its periods. In non-realtime mode the speaker starts playing
// where the capture is when it opens; WriteFrame blocks while the buffer
// is full of what the capture has not reached, and ReadFrame waits for the
// open speaker to have played what the frame needs, so the two run in
// lockstep and a run repeats exactly (write and read from two goroutines).
// In realtime WriteFrame is paced on the clock from its first write, and a
// capture frame that needs what was not written yet hears silence
// (Speaker.Underruns counts them). A line input hears no room. Neither side
// allocates per frame; the echo costs a 16-tap filter per mic and sample
// plus one multiply-add per reflection.
//
// # Pacing, goroutines and buffers
//
// With Config.Realtime (the default) ReadFrame returns each frame when its
// last sample is due, at the time of the first read plus
// (Pos+Len)/Rate on Options.Clock, like a capture card; tests pass a
// clockwork fake clock and advance it. A reader that falls behind gets the
// backlog at once and Late counts those frames. Without Realtime frames come
// as fast as they are asked for. Positions come from a sample counter.
//
// The board starts no goroutine. ReadFrame is called from one goroutine at a
// time, and the speaker's WriteFrame from one (usually another); Close,
// SetAzimuth, Azimuth, MicDelays and Late are safe from any goroutine. Close unblocks a pending ReadFrame, which returns
// audio.ErrClosed.
//
// The caller owns the frame it passes to ReadFrame. The board owns its
// history and scratch buffers, allocated in New; ReadFrame does not allocate.
// Its cost is one talker render per frame, a 16-tap filter per mic and a
// noise draw per sample (plus eight filters per mic with diffuse noise).
//
// # Buttons and LEDs
//
// The simulated board's buttons and LEDs are Pins (controls.go): a periph
// gpiotest pin for every pin the controls config names, behind hw/gpio's
// real debouncing and LED logic (Pins.Hardware for gpio.NewControls).
// Buttons are pressed by Press and Release, or by Config.Script through
// RunScript; Level reads what an LED was driven to. The gateway's
// SimHardware opens them; onaird's keyboard (Config.Keyboard) presses them
// through gateway commands.
package sim
