// Package threadprio lowers the CPU priority of one goroutine's work: it
// locks the goroutine to its OS thread and raises that thread's nice
// value, so the rest of the program (and of the machine) is not lowered
// with it. Kith uses it for work that has slack but takes whole cores:
// making the install package, and decoding a video ahead of its frames
// while the window paints the previous one (under software GL the paint
// needs both cores; the decoder has the rest of the frame's time).
//
// Linux only (nice is per thread there); elsewhere Lower does nothing.
// The goroutine must end with the work: the thread stays locked, so the
// runtime ends it with the goroutine and its priority goes with it (the
// main thread, which cannot end, is parked for good instead, running
// nothing else). A lowered thread cannot be raised again without
// privileges.
package threadprio
