package posture

import "testing"

func TestSecretName(t *testing.T) {
	for name, want := range map[string]bool{
		"DB_PASSWORD": true, "API_TOKEN": true, "aws_secret_access_key": true, "GITHUB_APIKEY": true,
		"DB_PASSWORD_FILE": false, "TOKEN_TTL": false, "SECRET_REF": false, "CLIENT_SECRET_ID": false,
		"PATH": false, "HOME": false, "GPG_KEY": false,
	} {
		if got := SecretName(name); got != want {
			t.Errorf("SecretName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestDangerousCap(t *testing.T) {
	for c, want := range map[string]bool{"SYS_ADMIN": true, "cap_sys_admin": true, " all ": true, "NET_BIND_SERVICE": false, "CHOWN": false} {
		if got := DangerousCap(c); got != want {
			t.Errorf("DangerousCap(%q) = %v, want %v", c, got, want)
		}
	}
}

func TestSensitiveMount(t *testing.T) {
	tests := []struct {
		src      string
		writable bool
		want     bool
	}{
		{"/etc", false, true}, {"/etc/", false, true}, {"/", false, true},
		{"/etc/app", true, true}, {"/etc/app", false, false},
		{"/srv/data", true, false}, {"/usr/../etc", false, true}, {"/etcetera", true, false},
	}
	for _, tt := range tests {
		if got := SensitiveMount(tt.src, tt.writable); got != tt.want {
			t.Errorf("SensitiveMount(%q, %v) = %v, want %v", tt.src, tt.writable, got, tt.want)
		}
	}
}
