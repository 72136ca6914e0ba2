// Package bench measures the runtime against Debian's runc on the same
// bundle. Run it with `make bench`; it needs root.
package bench
