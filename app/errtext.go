package app

import (
	"context"
	"errors"

	"github.com/kith-media/kith/directory"
	"github.com/kith-media/kith/internal/oneline"
)

// errText words err for a person: a directory's own message as it wrote
// it (on one line, at most oneline.MaxMessage runes), an error's own
// words for a person where it has them (UserText: the library's "not
// enough disk space …", without the wrapping of the calls that met it),
// otherwise the error text.
func errText(err error) string {
	if err == nil {
		return ""
	}
	var de *directory.Error
	if errors.As(err, &de) && de.Message != "" {
		return oneline.Text(de.Message, oneline.MaxMessage)
	}
	var ut interface{ UserText() string }
	if errors.As(err, &ut) {
		return ut.UserText()
	}
	if errors.Is(err, context.Canceled) {
		return "cancelled"
	}
	return err.Error()
}
