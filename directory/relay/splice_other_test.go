//go:build !linux

package relay

// pipeStep bounds one copy step.
const pipeStep = 64 << 10
