package server

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lockdown-sec/lockdown/internal/model"
)

// SignatureHeader carries "sha256=<hex HMAC-SHA256 of the body>".
const SignatureHeader = "X-Lockdown-Signature"

// EventNewFindings is the event of a new-findings notification.
const EventNewFindings = "new_findings"

// Notification is the JSON body of a webhook.
type Notification struct {
	Event      string          `json:"event"`
	Image      string          `json:"image"`
	Digest     string          `json:"digest"`
	Containers []string        `json:"containers"`
	Findings   []model.Finding `json:"findings"`
}

// NotifierOptions configure NewNotifier. The zero value works.
type NotifierOptions struct {
	// Timeout bounds one attempt (0 means 10s).
	Timeout time.Duration
	// Attempts is how many times a delivery is tried (0 means 3).
	Attempts int
	// Backoff is the wait before the second attempt, doubled after each
	// (0 means 1s).
	Backoff time.Duration
	Logger  *slog.Logger
}

// Notifier POSTs signed notifications to one URL. It follows no
// redirects, so it never sends anything to another host.
type Notifier struct {
	url        string
	secret     []byte
	client     *http.Client
	attempts   int
	backoff    time.Duration
	log        *slog.Logger
	deliveries *prometheus.CounterVec
}

// NewNotifier checks rawURL (http or https, with a host) and builds a
// Notifier.
func NewNotifier(rawURL string, secret []byte, opts NotifierOptions) (*Notifier, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("webhook url %q: want http(s)://HOST/PATH", rawURL)
	}
	n := &Notifier{url: u.String(), secret: secret, attempts: opts.Attempts, backoff: opts.Backoff, log: opts.Logger}
	if n.attempts <= 0 {
		n.attempts = 3
	}
	if n.backoff <= 0 {
		n.backoff = time.Second
	}
	if n.log == nil {
		n.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	n.client = &http.Client{
		Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	return n, nil
}

// Sign returns the signature header value of body under secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether sig is body's signature under secret.
func Verify(secret, body []byte, sig string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(sig))
}

// Send delivers one notification, retrying with backoff on network
// errors and on 429 and 5xx answers.
func (n *Notifier) Send(ctx context.Context, note Notification) error {
	body, err := json.Marshal(note)
	if err != nil {
		return fmt.Errorf("encode webhook: %w", err)
	}
	wait := n.backoff
	var last error
	for attempt := 1; attempt <= n.attempts; attempt++ {
		if attempt > 1 {
			select {
			case <-ctx.Done():
				n.count("error")
				return ctx.Err()
			case <-time.After(wait):
			}
			wait *= 2
		}
		last = n.post(ctx, body)
		if last == nil {
			n.count("success")
			return nil
		}
		if re, ok := last.(retryable); !ok || !re.retry {
			break
		}
		n.log.Warn("webhook delivery failed; retrying", "attempt", attempt, "err", last)
	}
	n.count("error")
	return last
}

type retryable struct {
	err   error
	retry bool
}

func (r retryable) Error() string { return r.err.Error() }

func (n *Notifier) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.url, bytes.NewReader(body))
	if err != nil {
		return retryable{err: fmt.Errorf("webhook %s: %w", n.url, err)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "lockdown-webhook")
	req.Header.Set(SignatureHeader, Sign(n.secret, body))
	resp, err := n.client.Do(req)
	if err != nil {
		return retryable{err: fmt.Errorf("webhook %s: %w", n.url, err), retry: ctx.Err() == nil}
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	return retryable{
		err:   fmt.Errorf("webhook %s: answered %s", n.url, resp.Status),
		retry: resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500,
	}
}

func (n *Notifier) count(result string) {
	if n.deliveries != nil {
		n.deliveries.WithLabelValues(result).Inc()
	}
}
