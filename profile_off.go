//go:build !cpuprofile

package main

// cpuProfileEnv is read only by a binary built with the cpuprofile tag
// (profile.go).
const cpuProfileEnv = "HARDENED_CPUPROFILE"

// startCPUProfile does nothing without the cpuprofile tag.
func startCPUProfile(string) (stop func()) { return func() {} }
