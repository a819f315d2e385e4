package cli

import (
	"bytes"
	"log/slog"
	"testing"
)

func TestLineHandler(t *testing.T) {
	var b bytes.Buffer
	l := slog.New(newLineHandler(&b, slog.LevelWarn, false)).With("target", "dir:/x")
	l.Info("hidden")
	l.Warn("layer cache unavailable", "err", "permission denied", "empty", "")
	l.WithGroup("db").Error("broken", "path", "/p")
	want := "lockdown: warning: layer cache unavailable (target=dir:/x, err=permission denied)\n" +
		"lockdown: error: broken (target=dir:/x, db.path=/p)\n"
	if b.String() != want {
		t.Errorf("log output =\n%s\nwant\n%s", b.String(), want)
	}
}
