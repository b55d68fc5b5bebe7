// Package dsp is the voice processing chain of onair's speak path, between
// the capture (hw/alsa or hw/sim) and the Opus encoder. It is pure Go, uses
// no cgo and allocates nothing per frame.
//
// # Stages
//
// Each stage is a type that implements audio.Stage and can be used, tested
// and benchmarked alone. In the order a Chain runs them:
//
//   - Meter: peak (falling 20 dB in 1.7 s) and 300 ms RMS of every capture
//     channel as captured, so clipping at the converter shows. The Chain
//     also takes from this pass each mic's power without DC, on which it
//     detects voice (minimum-statistics noise floor, 9 dB margin, 150 ms
//     hangover). A frame holding NaN or infinite samples is replaced by
//     silence and counted.
//   - HighPass (DC block, second-order Butterworth at Config.HighPass) and
//     Gain (per-channel calibration in dB).
//   - One of: Beamformer, a delay-and-sum beam over the first
//     Geometry.Mics channels (further channels, such as the playback
//     references of the 6-mic array, are ignored) with fractional delays
//     from FracDelayTaps precomputed for every degree, steered at a fixed
//     azimuth (BeamFixed) or at the DOA estimate (BeamDOA); Mono, the
//     average of the mics (BeamMono); Stereo, channels 0 and 1 passed
//     through in order (BeamStereo, line inputs).
//   - DOA: GCC-PHAT direction finding over all mic pairs, evaluated as
//     steered response power over an azimuth grid with the array geometry,
//     weighted per frequency by its share of speech over the background
//     learned in pauses, smoothed over Config.DOASmoothing, with a
//     confidence 0..1. It runs only on voiced frames, at most once per
//     43 ms, with an FFT written in this package (radix 2, twiddles
//     precomputed).
//   - Gate: noise gate at Config.Gate dBFS, 1 ms attack, 200 ms hold,
//     100 ms release, 40 dB range.
//   - AGC: brings the speech level to Config.AGC.Target, up to MaxGain; it
//     adapts only on voiced frames and is frozen in silence.
//   - Limiter: 1 ms look-ahead limiter whose output never exceeds
//     Config.Limiter, by construction.
//   - Meter again, on the output.
//   - Fader: the on-air gate, a linear fade of Config.Fade; off air the
//     output is exact zeros.
//
// The Chain folds the calibration gains into the beamformer's steering
// filters (or the mixer's weights), and runs the high-pass after the mix:
// both are linear and time-invariant and every steering filter has unity
// gain at DC, so the result is the same as filtering every mic first, at a
// fraction of the cost. Gain and a multi-channel HighPass remain available
// as stages for pipelines that want them separately.
//
// # Goroutines
//
// The package starts no goroutine. Process, of a Chain or of any stage,
// must be called from one goroutine at a time: the capture loop, paced by
// the capture clock. The methods meant for other goroutines are safe
// without locks because they read or write atomics: Chain.SetOnAir,
// OnAir, GateOpen, DOA, Steered and Meters; Fader.SetOnAir, OnAir and
// Gain; Beamformer.Steer and Azimuth; DOA.Estimate; Meter.Level. Other
// accessors (Gate.Gain, AGC.GainDB, Limiter.GainDB) belong to the
// processing goroutine.
//
// # Buffers
//
// Frames belong to the caller. Process reads src and writes dst and keeps
// no reference to either after it returns; each stage owns its own state
// and history buffers, allocated by its constructor for the format it was
// built for. dst and src may be the same frame when the stage keeps the
// channel count. Frames longer than the format's period are processed in
// periods; a frame of the wrong channel count leaves dst silent.
package dsp
