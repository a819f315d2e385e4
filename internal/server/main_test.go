package server

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.Remove(binPath) // built by lockdownBinary for this process
	}
	os.Exit(code)
}
