package sealed

// CheckKey reports ErrWrongKey unless contentKey is the key h was sealed
// with. A directory uses it to accept a content key a device sealed to it
// without reading a chunk.
func (h *Header) CheckKey(contentKey []byte) error {
	payload, err := checkKey(h, contentKey)
	clear(payload)
	return err
}
