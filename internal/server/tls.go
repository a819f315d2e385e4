package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// TLSFromFiles returns a TLS configuration (TLS 1.2 or later) that serves
// the certificate and key in certFile and keyFile, read again when either
// file changes (cert-manager and kubelet-mounted Secrets replace them in
// place), so a rotated certificate needs no restart. clientCA, when set,
// is a PEM bundle that verifies the client certificates callers present.
func TLSFromFiles(certFile, keyFile, clientCA string) (*tls.Config, error) {
	kp := &keyPair{cert: certFile, key: keyFile}
	if err := kp.load(); err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: kp.get}
	if clientCA != "" {
		pool, err := CAPool(clientCA)
		if err != nil {
			return nil, fmt.Errorf("client CA: %w", err)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}

// CAPool reads a PEM bundle of CA certificates; the error names the file.
func CAPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate in it", file)
	}
	return pool, nil
}

// certRecheck is how often the certificate files are looked at: a
// handshake costs no file system calls in between.
const certRecheck = time.Second

type keyPair struct {
	cert, key string

	current atomic.Pointer[tls.Certificate]
	checked atomic.Int64 // when the files were last looked at (Unix ns)

	mu      sync.Mutex // held by the one handshake that looks
	modCert time.Time
	modKey  time.Time
}

func modTime(p string) time.Time {
	if fi, err := os.Stat(p); err == nil {
		return fi.ModTime()
	}
	return time.Time{}
}

func (k *keyPair) load() error {
	mc, mk := modTime(k.cert), modTime(k.key)
	c, err := tls.LoadX509KeyPair(k.cert, k.key)
	if err != nil {
		return fmt.Errorf("TLS certificate %s and key %s: %w", k.cert, k.key, err)
	}
	k.current.Store(&c)
	k.modCert, k.modKey = mc, mk
	return nil
}

// get serves the current certificate. At most every certRecheck one
// handshake looks at the files and reloads them when they changed; a
// half-written pair keeps the previous certificate (and is tried again at
// the next look).
func (k *keyPair) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	now := time.Now().UnixNano()
	if now-k.checked.Load() >= int64(certRecheck) && k.mu.TryLock() {
		k.checked.Store(now)
		if mc, mk := modTime(k.cert), modTime(k.key); !mc.Equal(k.modCert) || !mk.Equal(k.modKey) {
			k.load() // on error the previous certificate stays
		}
		k.mu.Unlock()
	}
	c := k.current.Load()
	if c == nil {
		return nil, errors.New("no TLS certificate")
	}
	return c, nil
}
