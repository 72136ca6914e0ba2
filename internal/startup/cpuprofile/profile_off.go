//go:build !cpuprofile

package cpuprofile

// Start does nothing without the cpuprofile tag.
func Start(string) (stop func()) { return func() {} }
