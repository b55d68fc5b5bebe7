package alsa

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestOwner(t *testing.T) {
	t.Run("idle close frees at once", func(t *testing.T) {
		var freed atomic.Int32
		o := newOwner(func() { freed.Add(1) })
		if first, deferred := o.close(func() { t.Error("woke an idle handle") }, time.Second); !first || deferred {
			t.Fatalf("close = %v, %v", first, deferred)
		}
		if first, _ := o.close(nil, time.Second); first {
			t.Fatal("second close reported first")
		}
		if err := o.enter(); !errors.Is(err, errHandleClosed) {
			t.Fatalf("enter after close: %v", err)
		}
		if n := freed.Load(); n != 1 {
			t.Fatalf("freed %d times", n)
		}
	})

	t.Run("close wakes and waits for the user", func(t *testing.T) {
		var freed atomic.Int32
		o := newOwner(func() { freed.Add(1) })
		if err := o.enter(); err != nil {
			t.Fatal(err)
		}
		if err := o.enter(); !errors.Is(err, errHandleBusy) {
			t.Fatalf("second enter: %v", err)
		}
		woken := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // the user: leaves when woken
			defer wg.Done()
			<-woken
			if freed.Load() != 0 {
				t.Error("freed while in use")
			}
			o.exit()
		}()
		first, deferred := o.close(func() { close(woken) }, 5*time.Second)
		wg.Wait()
		if !first || deferred || freed.Load() != 1 {
			t.Fatalf("close = %v, %v; freed %d times", first, deferred, freed.Load())
		}
	})

	t.Run("stuck user frees on exit", func(t *testing.T) {
		var freed atomic.Int32
		o := newOwner(func() { freed.Add(1) })
		if err := o.enter(); err != nil {
			t.Fatal(err)
		}
		first, deferred := o.close(func() {}, 20*time.Millisecond)
		if !first || !deferred || freed.Load() != 0 {
			t.Fatalf("close = %v, %v; freed %d times", first, deferred, freed.Load())
		}
		o.exit()
		if freed.Load() != 1 {
			t.Fatalf("freed %d times after the stuck user left", freed.Load())
		}
		o.exit() // a stray exit must not free again
		if freed.Load() != 1 {
			t.Fatalf("freed %d times", freed.Load())
		}
	})

	t.Run("race", func(t *testing.T) {
		for i := 0; i < 200; i++ {
			var freed, inside atomic.Int32
			o := newOwner(func() {
				if inside.Load() != 0 {
					t.Error("freed while a user is inside")
				}
				freed.Add(1)
			})
			var wg sync.WaitGroup
			for u := 0; u < 3; u++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						switch err := o.enter(); {
						case errors.Is(err, errHandleClosed):
							return
						case err != nil:
							runtime.Gosched()
							continue
						}
						inside.Add(1)
						runtime.Gosched()
						inside.Add(-1)
						o.exit()
					}
				}()
			}
			o.close(func() {}, time.Duration(i%3)*time.Millisecond)
			wg.Wait()
			if n := freed.Load(); n != 1 {
				t.Fatalf("round %d: freed %d times", i, n)
			}
		}
	})
}
