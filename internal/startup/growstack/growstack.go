// Package growstack grows the calling goroutine's stack ahead of need.
//
// A goroutine starts with a small stack that the runtime doubles whenever
// a call would overflow it: it copies the stack and walks every frame on
// it, looking up each function's entry, frame size and pointer maps in the
// binary's pclntab. A runtime command's main goroutine reaches 32 KiB
// deep in libcontainer and encoding/json, and the lookups for those
// frames, scattered over a 3.4 MB table, fault in ~450 KiB of it (64 KiB
// around each touch). Growing the stack once, first thing, by recursing
// through one small function walks only that function's entries: peak
// RSS of create 11.3 -> 10.8 MB (tests/bench/README.md). CockroachDB does
// the same for its hot goroutines.
package growstack

// Size is the stack Grow leaves: what create's main goroutine grows to.
const Size = 32 << 10

// frame is the stack one call of recurse takes, about.
const frame = 1 << 10

// Grow makes the calling goroutine's stack at least Size bytes. The
// runtime only shrinks stacks during garbage collection, which a runtime
// command does not reach.
func Grow() {
	// Using a bit more than half of Size makes the runtime double the
	// stack to Size.
	recurse(Size/2 + 4*frame)
}

//go:noinline
func recurse(n int) byte {
	var pad [frame]byte
	pad[n%frame] = byte(n)
	if n <= frame {
		return pad[0]
	}
	return recurse(n-frame) + pad[(n/3)%frame]
}
