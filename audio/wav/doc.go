// Package wav reads and writes RIFF WAVE files in bounded memory.
//
// A Reader parses the header of a file (integer PCM of 8, 16, 24 or 32
// bits, or IEEE float of 32 or 64 bits, plain or WAVE_FORMAT_EXTENSIBLE, up
// to 64 channels) and then converts its samples to interleaved float32, full
// scale ±1, a caller's buffer at a time: memory stays that of one chunk
// (ReadChunk bytes) whatever the file's size. Open adds what a path named in
// a config needs: special files (devices, FIFOs) are refused before they
// are read, and every error names the file.
//
// A Writer writes interleaved float32 as any of those encodings (plain
// format codes) and fills in the sizes on Close; Parse decodes a whole file
// held in memory, for small files and tests.
//
// Every problem with a file's content is a *Error, which wraps ErrBad. No
// type here is safe for concurrent use; none owns a goroutine.
package wav
