package growstack

import (
	"testing"
	"unsafe"
)

// A stack that has to grow is copied elsewhere, so the address of a local
// changes. After Grow, using nearly Size of it must not move it; without
// Grow the same use does.
func TestGrowLeavesRoomForSize(t *testing.T) {
	for _, grow := range []bool{false, true} {
		moved := make(chan bool)
		go func() {
			if grow {
				Grow()
			}
			var local byte
			before := uintptr(unsafe.Pointer(&local))
			recurse(Size - 8*frame)
			moved <- uintptr(unsafe.Pointer(&local)) != before
		}()
		if got := <-moved; got == grow {
			t.Errorf("with Grow %v: stack moved = %v, want %v", grow, got, !grow)
		}
	}
}
