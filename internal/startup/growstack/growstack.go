// Package growstack grows the calling goroutine's stack ahead of need.
//
// A goroutine starts with a small stack that the runtime doubles whenever
// a call would overflow it: it copies the stack and walks every frame on
// it, looking up each function's entry, frame size and pointer maps in the
// binary's pclntab. A runtime command's main goroutine reaches Size deep
// in libcontainer and encoding/json, and the lookups for those frames,
// scattered over the whole table, fault in a good part of it (the kernel
// reads ahead around each touch). Growing the stack once, first thing, by
// recursing through one small function walks only that function's
// entries, which lowers create's peak RSS (tests/bench/README.md,
// "Figures behind code comments"). CockroachDB does the same for its hot
// goroutines.
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
