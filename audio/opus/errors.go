package opus

import "strconv"

// libopus error codes (opus_defines.h). They are repeated here, rather than
// taken from cgo, so that errors work in builds without cgo.
const (
	codeBadArg         = -1 // OPUS_BAD_ARG
	codeBufferTooSmall = -2 // OPUS_BUFFER_TOO_SMALL
	codeInternal       = -3 // OPUS_INTERNAL_ERROR
	codeInvalidPacket  = -4 // OPUS_INVALID_PACKET
	codeUnimplemented  = -5 // OPUS_UNIMPLEMENTED
	codeInvalidState   = -6 // OPUS_INVALID_STATE
	codeAllocFail      = -7 // OPUS_ALLOC_FAIL
)

// Error is a libopus error: a negative code from opus_defines.h, the
// operation that failed and, for checks done in Go before calling libopus,
// a detail saying what was wrong.
//
// Two *Error values match under errors.Is when their codes are equal, so
// errors.Is(err, ErrInvalidPacket) holds for any decode of a corrupt packet.
type Error struct {
	// Code is the libopus error code (OPUS_BAD_ARG is -1, ...).
	Code int
	// Op is the operation: "encode", "decode", "set bitrate", ... It is
	// empty in the sentinels.
	Op string
	// Detail explains an error found in Go before libopus was called.
	Detail string

	cause error // what Detail came from, if it was an error
}

// Sentinels for errors.Is, one per libopus error code.
var (
	ErrBadArg         = &Error{Code: codeBadArg}
	ErrBufferTooSmall = &Error{Code: codeBufferTooSmall}
	ErrInternal       = &Error{Code: codeInternal}
	ErrInvalidPacket  = &Error{Code: codeInvalidPacket}
	ErrUnimplemented  = &Error{Code: codeUnimplemented}
	ErrInvalidState   = &Error{Code: codeInvalidState}
	ErrAllocFail      = &Error{Code: codeAllocFail}
)

// Name returns the libopus name of the code, e.g. "OPUS_BAD_ARG".
func (e *Error) Name() string {
	switch e.Code {
	case codeBadArg:
		return "OPUS_BAD_ARG"
	case codeBufferTooSmall:
		return "OPUS_BUFFER_TOO_SMALL"
	case codeInternal:
		return "OPUS_INTERNAL_ERROR"
	case codeInvalidPacket:
		return "OPUS_INVALID_PACKET"
	case codeUnimplemented:
		return "OPUS_UNIMPLEMENTED"
	case codeInvalidState:
		return "OPUS_INVALID_STATE"
	case codeAllocFail:
		return "OPUS_ALLOC_FAIL"
	}
	return "OPUS_ERROR(" + strconv.Itoa(e.Code) + ")"
}

// text is opus_strerror's wording for each code.
func (e *Error) text() string {
	switch e.Code {
	case codeBadArg:
		return "invalid argument"
	case codeBufferTooSmall:
		return "buffer too small"
	case codeInternal:
		return "internal error"
	case codeInvalidPacket:
		return "corrupted stream"
	case codeUnimplemented:
		return "request not implemented"
	case codeInvalidState:
		return "invalid state"
	case codeAllocFail:
		return "memory allocation failed"
	}
	return "unknown error"
}

// Error implements error: "opus decode: OPUS_INVALID_PACKET (corrupted
// stream): detail".
func (e *Error) Error() string {
	s := "opus"
	if e.Op != "" {
		s += " " + e.Op
	}
	s += ": " + e.Name() + " (" + e.text() + ")"
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Is reports whether target is an *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Unwrap returns the error Detail came from, such as the config field
// errors behind an OPUS_BAD_ARG from NewEncoder, or nil.
func (e *Error) Unwrap() error { return e.cause }

// newError returns an *Error for op with a Go-side detail.
func newError(code int, op, detail string) *Error {
	return &Error{Code: code, Op: op, Detail: detail}
}
