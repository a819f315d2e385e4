package vulndb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"
)

const (
	downloadTries = 3
	// stallTimeout fails a download that receives nothing for this long.
	stallTimeout = time.Minute
)

// newHTTPClient is the client used when UpdateOptions.HTTPClient is nil:
// bounded connect, TLS and header waits; no overall timeout, since exports
// are large, but a stalled body fails (stallTimeout).
func newHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: time.Minute,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}}
}

// statusError is a non-200 answer.
type statusError struct {
	code   int
	status string
}

func (e *statusError) Error() string { return "status " + e.status }

// retryable: server errors and rate limits are worth another try, other
// answers (404, 403) are not.
func (e *statusError) retryable() bool {
	return e.code >= 500 || e.code == http.StatusTooManyRequests || e.code == http.StatusRequestTimeout
}

// download fetches url into f, trying up to 3 times with a doubling wait
// on connection errors, timeouts and 5xx answers.
func download(ctx context.Context, opts UpdateOptions, logger *slog.Logger, url string, f *os.File, progress func(done, total int64)) error {
	client := opts.HTTPClient
	if client == nil {
		client = newHTTPClient()
	}
	wait := opts.RetryWait
	if wait <= 0 {
		wait = time.Second
	}
	var last error
	for try := 1; try <= downloadTries; try++ {
		if try > 1 {
			logger.Warn("download failed; retrying", "url", url, "try", try, "wait", wait, "err", last)
			select {
			case <-ctx.Done():
				return fmt.Errorf("fetch %s: %w", url, ctx.Err())
			case <-time.After(wait):
			}
			wait *= 2
		}
		err := fetchOnce(ctx, client, url, f, progress)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("fetch %s: %w", url, ctx.Err())
		}
		var se *statusError
		if errors.As(err, &se) && !se.retryable() {
			return fmt.Errorf("fetch %s: %w", url, err)
		}
		last = err
	}
	return fmt.Errorf("fetch %s: giving up after %d tries, last: %w", url, downloadTries, last)
}

func fetchOnce(ctx context.Context, client *http.Client, url string, f *os.File, progress func(done, total int64)) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stall := time.AfterFunc(stallTimeout, func() {
		cancel(fmt.Errorf("no data for %s", stallTimeout))
	})
	defer stall.Stop()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "lockdown-vulndb")
	resp, err := client.Do(req)
	if err != nil {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
			return cause
		}
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return &statusError{code: resp.StatusCode, status: resp.Status}
	}
	var done int64
	buf := make([]byte, 256<<10)
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			stall.Reset(stallTimeout)
			if _, err := f.Write(buf[:n]); err != nil {
				return fmt.Errorf("write download: %w", err)
			}
			done += int64(n)
			if progress != nil {
				progress(done, resp.ContentLength)
			}
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
				return cause
			}
			return rerr
		}
	}
	if resp.ContentLength >= 0 && done != resp.ContentLength {
		return fmt.Errorf("short body: %d of %d bytes: %w", done, resp.ContentLength, io.ErrUnexpectedEOF)
	}
	return nil
}
