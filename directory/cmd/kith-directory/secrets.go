package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// maxSecretFile bounds a secret file (a secret is a line, not a document).
const maxSecretFile = 4 << 10

// secretFrom returns a secret given in a file (the file wins) or in the
// environment variable envKey, never on the command line: argv is readable
// by every user of the machine (ps, /proc/PID/cmdline). A file is trimmed
// of surrounding white space; one readable by group or others is used with
// a warning.
func secretFrom(log *slog.Logger, flagName, file, envKey string) (string, error) {
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return "", fmt.Errorf("--%s: %w", flagName, err)
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil && st.Mode().Perm()&0o077 != 0 {
			log.Warn("secret file is readable by other users; chmod 600 it", "flag", "--"+flagName, "file", file, "mode", st.Mode().Perm().String())
		}
		b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
		if err != nil {
			return "", fmt.Errorf("--%s: reading %s: %w", flagName, file, err)
		}
		if len(b) > maxSecretFile {
			return "", fmt.Errorf("--%s: %s is over %d bytes: a secret is one line", flagName, file, maxSecretFile)
		}
		s := strings.TrimSpace(string(b))
		if s == "" {
			return "", fmt.Errorf("--%s: %s is empty", flagName, file)
		}
		return s, nil
	}
	return os.Getenv(envKey), nil
}

// errSecretInArgv refuses a secret given as a flag value.
func errSecretInArgv(flagName, envKey string) error {
	return errors.New("--" + flagName + " is refused: a secret on the command line is visible to every user of this machine " +
		"(ps, /proc/PID/cmdline). Put it in a file readable only by the service and give --" + flagName + "-file FILE " +
		"(env KITH_DIRECTORY_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_")) + "_FILE), or set " + envKey)
}
