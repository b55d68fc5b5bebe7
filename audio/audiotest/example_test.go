package audiotest_test

import (
	"testing"

	"github.com/onair-gateway/onair/audio"
	"github.com/onair-gateway/onair/audio/audiotest"
)

// A driver's tests run the contract against a freshly opened source per
// subtest; cleanups registered by open run before the leak check.
func ExampleTestSource() {
	_ = func(t *testing.T, openDevice func(t *testing.T) audio.Source) {
		audiotest.TestSource(t, func(t *testing.T) audio.Source {
			src := openDevice(t)
			t.Cleanup(func() { src.Close() })
			return src
		})
	}
}
