package conf

import (
	"fmt"
	"io"
	"os"
)

// FileError says why a file a config names cannot be read as one: it is
// not a regular file, or it is too large.
type FileError struct {
	Path string
	// Problem completes the sentence "<path> ...": "is a named pipe, not a
	// regular file", "is larger than 256 KiB".
	Problem string
}

func (e *FileError) Error() string { return e.Path + " " + e.Problem }

// ReadFile reads the regular file at path, at most limit bytes. A path a
// config names may be mistaken: a device reads forever, a FIFO blocks, a
// disk image fills memory. Those fail at once with a *FileError that says
// what the path is; a missing file gives the os error.
func ReadFile(path string, limit int64) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &FileError{Path: path, Problem: "is " + FileKind(fi.Mode()) + ", not a regular file"}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// Bounded even if the file grows after the Stat.
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err == nil && int64(len(data)) > limit {
		return nil, &FileError{Path: path, Problem: "is larger than " + size(limit)}
	}
	return data, err
}

// FileKind names what a file that is not regular is ("a named pipe").
func FileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeDevice != 0:
		return "a device"
	}
	return "a special file"
}

func size(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}
