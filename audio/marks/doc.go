// Package marks puts timing marks into audio and finds them again, so a
// listener can measure mouth-to-ear latency across the whole chain (capture,
// DSP, Opus, room, network, decode).
//
// The convention, shared by the sender (the simulated board, hw/sim, with
// signal "chirp") and the listener (onairctl listen):
//
//   - The sender's sample clock starts at a whole second of Unix time T0:
//     sample n of its stream is captured at T0 + n/rate.
//   - A mark, Chirp(rate), starts at every sample n = k·rate, so at every
//     whole Unix second. Between marks the sender may send anything (the
//     simulator sends its noise floor).
//   - The listener runs the decoded audio of a track through a Detector,
//     which returns the sample position of each mark's start; the listener
//     knows when each decoded sample reached it (the arrival time of the
//     packet that carried it, plus the sample's offset in that packet), and
//     Latency of that time is the mouth-to-ear delay: how far past the
//     whole second the mark was heard.
//
// Both ends read the same clock or clocks synchronised by NTP; the method
// measures delays from 0 up to Period less the chirp's Length (0.9 s).
//
// Chirp is a logarithmic sine sweep (Farina's exponential sweep) from
// StartHz to EndHz over Length, inside the band every Opus mode keeps, with
// short raised-cosine fades. Its autocorrelation has one narrow peak, so a
// matched filter finds its start to within a sample or two even under noise
// and tones.
//
// Detector is a streaming matched filter computed by audio/dsp's FFT
// (overlap-save, float32):
// Process takes blocks of any size, allocates nothing, and costs one
// 16384-point complex FFT pair per 11585 input samples at 48 kHz (about
// 0.3% of one x86 core for a live stream; see BenchmarkDetector). It
// reports a mark within a quarter of a second of its end. It is not safe
// for concurrent use; one Detector follows one stream.
package marks
