package av

import "unsafe"

// unsafeRGBA is the Media's current RGBA buffer.
func unsafeRGBA(m *Media) []byte { return unsafe.Slice((*byte)(unsafe.Pointer(m.rgba)), m.w*m.h*4) }
