//go:build cgo

package aec

/*
#cgo pkg-config: speexdsp
#include <stdlib.h>
#include <string.h>
#include <speex/speex_echo.h>
#include <speex/speex_preprocess.h>

// onair_aec is one canceller for a board: either one multichannel echo
// state for all mics (mc) or one per mic, and one preprocessor per mic for
// the residual echo suppression. Its buffers are allocated once; Go fills
// rec and play and reads out, then calls onair_aec_run: one cgo call per
// frame.
typedef struct {
	int mics, n, mc;
	SpeexEchoState **echo;     // mc ? 1 : mics
	SpeexPreprocessState **pre; // mics
	spx_int16_t *rec;  // mics*n, one mic after another
	spx_int16_t *play; // n
	spx_int16_t *out;  // mics*n, one mic after another
	spx_int16_t *irec; // mc: mics*n interleaved
	spx_int16_t *iout; // mc: mics*n interleaved
} onair_aec;

static void onair_aec_free(onair_aec *a) {
	if (!a) return;
	if (a->pre) for (int m = 0; m < a->mics; m++) if (a->pre[m]) speex_preprocess_state_destroy(a->pre[m]);
	if (a->echo) for (int m = 0; m < (a->mc ? 1 : a->mics); m++) if (a->echo[m]) speex_echo_state_destroy(a->echo[m]);
	free(a->pre); free(a->echo); free(a->rec); free(a->play); free(a->out); free(a->irec); free(a->iout);
	free(a);
}

static onair_aec *onair_aec_new(int mics, int n, int tail, int rate, int mc, int suppress, int active) {
	onair_aec *a = calloc(1, sizeof *a);
	if (!a) return NULL;
	a->mics = mics; a->n = n; a->mc = mc;
	int ne = mc ? 1 : mics;
	a->echo = calloc(ne, sizeof *a->echo);
	a->pre = calloc(mics, sizeof *a->pre);
	a->rec = calloc((size_t)mics * n, sizeof *a->rec);
	a->out = calloc((size_t)mics * n, sizeof *a->out);
	a->play = calloc(n, sizeof *a->play);
	if (mc) {
		a->irec = calloc((size_t)mics * n, sizeof *a->irec);
		a->iout = calloc((size_t)mics * n, sizeof *a->iout);
	}
	if (!a->echo || !a->pre || !a->rec || !a->out || !a->play || (mc && (!a->irec || !a->iout))) {
		onair_aec_free(a);
		return NULL;
	}
	for (int e = 0; e < ne; e++) {
		a->echo[e] = mc ? speex_echo_state_init_mc(n, tail, mics, 1) : speex_echo_state_init(n, tail);
		if (!a->echo[e]) { onair_aec_free(a); return NULL; }
		speex_echo_ctl(a->echo[e], SPEEX_ECHO_SET_SAMPLING_RATE, &rate);
	}
	for (int m = 0; m < mics; m++) {
		SpeexPreprocessState *p = speex_preprocess_state_init(n, rate);
		if (!p) { onair_aec_free(a); return NULL; }
		a->pre[m] = p;
		// The residual echo suppression. The preprocessor applies its
		// gains only with denoise on, so noise suppression is on at
		// speex's default, 15 dB: measured, it takes the residual echo
		// the filter leaves 5..10 dB lower than 0 dB does. No AGC or
		// dereverb (and the VAD stays off): the chain does its own.
		int on = 1, off = 0, noise = -15;
		speex_preprocess_ctl(p, SPEEX_PREPROCESS_SET_DENOISE, &on);
		speex_preprocess_ctl(p, SPEEX_PREPROCESS_SET_NOISE_SUPPRESS, &noise);
		speex_preprocess_ctl(p, SPEEX_PREPROCESS_SET_AGC, &off);
		speex_preprocess_ctl(p, SPEEX_PREPROCESS_SET_DEREVERB, &off);
		speex_preprocess_ctl(p, SPEEX_PREPROCESS_SET_ECHO_SUPPRESS, &suppress);
		speex_preprocess_ctl(p, SPEEX_PREPROCESS_SET_ECHO_SUPPRESS_ACTIVE, &active);
		speex_preprocess_ctl(p, SPEEX_PREPROCESS_SET_ECHO_STATE, a->echo[mc ? 0 : m]);
	}
	return a;
}

static void onair_aec_run(onair_aec *a) {
	int n = a->n, M = a->mics;
	if (a->mc) {
		for (int m = 0; m < M; m++)
			for (int i = 0; i < n; i++) a->irec[i*M+m] = a->rec[m*n+i];
		speex_echo_cancellation(a->echo[0], a->irec, a->play, a->iout);
		for (int m = 0; m < M; m++)
			for (int i = 0; i < n; i++) a->out[m*n+i] = a->iout[i*M+m];
	} else {
		for (int m = 0; m < M; m++)
			speex_echo_cancellation(a->echo[m], a->rec + m*n, a->play, a->out + m*n);
	}
	for (int m = 0; m < M; m++)
		speex_preprocess_run(a->pre[m], a->out + m*n);
}

static void onair_aec_reset(onair_aec *a) {
	for (int e = 0; e < (a->mc ? 1 : a->mics); e++) speex_echo_state_reset(a->echo[e]);
}
*/
import "C"

import (
	"fmt"
	"sync"
	"unsafe"
)

// Speex is the speexdsp echo canceller (MDF, a frequency-domain adaptive
// filter with two paths for double talk) followed by the speexdsp
// preprocessor's residual echo suppression, on every mic. It implements
// Engine. Its C state and buffers are allocated by NewSpeex and freed by
// Close; Cancel is one cgo call and allocates nothing.
type Speex struct {
	mu    sync.Mutex // Close against a late Cancel
	a     *C.onair_aec
	mics  int
	n     int
	rec   []int16 // C memory: mics×n, one mic after another
	play  []int16 // C memory: n
	out   []int16 // C memory: mics×n
	shape Shape
}

var _ Engine = (*Speex)(nil)

// NewSpeex builds the speexdsp canceller for shape: mics microphones,
// frames of n samples at rate, a filter of tail samples. multi selects one
// multichannel echo state for all mics (speex_echo_state_init_mc) instead
// of one per mic. suppress and active are the residual echo suppression in
// dB (negative) without and with near-end speech.
func NewSpeex(shape Shape, multi bool, suppress, active int) (*Speex, error) {
	if err := shape.validate(); err != nil {
		return nil, err
	}
	mc := C.int(0)
	if multi {
		mc = 1
	}
	a := C.onair_aec_new(C.int(shape.Mics), C.int(shape.Frame), C.int(shape.Tail), C.int(shape.Rate), mc, C.int(suppress), C.int(active))
	if a == nil {
		return nil, fmt.Errorf("aec: speexdsp could not allocate a canceller for %d mics, %d-sample frames, %d-sample tail", shape.Mics, shape.Frame, shape.Tail)
	}
	s := &Speex{a: a, mics: shape.Mics, n: shape.Frame, shape: shape}
	s.rec = unsafe.Slice((*int16)(unsafe.Pointer(a.rec)), shape.Mics*shape.Frame)
	s.out = unsafe.Slice((*int16)(unsafe.Pointer(a.out)), shape.Mics*shape.Frame)
	s.play = unsafe.Slice((*int16)(unsafe.Pointer(a.play)), shape.Frame)
	return s, nil
}

// Shape returns the geometry the canceller was built for.
func (s *Speex) Shape() Shape { return s.shape }

// Cancel implements Engine.
func (s *Speex) Cancel(capture []float32, stride int, ref []float32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.a == nil {
		return
	}
	n := s.n
	for m := range s.mics {
		r := s.rec[m*n : (m+1)*n]
		for i := range r {
			r[i] = toInt16(capture[i*stride+m])
		}
	}
	for i := range s.play {
		s.play[i] = toInt16(ref[i])
	}
	C.onair_aec_run(s.a)
	for m := range s.mics {
		o := s.out[m*n : (m+1)*n]
		for i, v := range o {
			capture[i*stride+m] = float32(v) * (1.0 / 32768)
		}
	}
}

// Reset implements Engine: the filters forget the echo path.
func (s *Speex) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.a != nil {
		C.onair_aec_reset(s.a)
	}
}

// Close implements Engine: it frees the C state. Later calls do nothing.
// It may be called more than once.
func (s *Speex) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.a != nil {
		C.onair_aec_free(s.a)
		s.a, s.rec, s.out, s.play = nil, nil, nil, nil
	}
	return nil
}

// toInt16 converts a full-scale float sample to 16-bit PCM, clipping.
func toInt16(v float32) int16 {
	v *= 32768
	switch {
	case v >= 32767:
		return 32767
	case v <= -32768:
		return -32768
	case v >= 0:
		return int16(v + 0.5)
	}
	return int16(v - 0.5)
}
