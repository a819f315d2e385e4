//go:build !scanonly

package cli

import (
	"cmp"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/lockdown-sec/lockdown/internal/server"
)

// The environment variables that give healthcheck's flags their defaults,
// so that an image's fixed HEALTHCHECK can probe a server with TLS
// (docker run -e …): the image has no shell to build a command line.
const (
	envHealthURL      = "LOCKDOWN_HEALTHCHECK_URL"
	envHealthCACert   = "LOCKDOWN_HEALTHCHECK_CACERT"
	envHealthInsecure = "LOCKDOWN_HEALTHCHECK_INSECURE"
)

func newHealthcheckCmd(g *globals) *cobra.Command {
	var (
		rawURL   string
		caCert   string
		insecure bool
		timeout  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Probe a running lockdown serve (for container HEALTHCHECKs): exit 0 when it answers",
		Long: `GET --url (default the server's /healthz on 127.0.0.1:8080) and exit 0 when the
server answers 200 — or 401, which means it is up and wants its token (the
probe carries none) — else exit 1 with the reason. Made for images without a
shell or an HTTP client: HEALTHCHECK CMD ["/lockdown", "healthcheck"].

A server with --tls-cert is probed with an https:// --url. Its certificate is
verified against --cacert FILE (the CA that issued it, or the certificate
itself when self-signed; it must name the URL's host, e.g. 127.0.0.1 or
localhost), else against the system's CAs. --insecure skips the verification:
a liveness probe sends no token or other secret, so it reveals nothing to an
impostor; it only learns less (an impostor answering 200 looks healthy).

Defaults come from $` + envHealthURL + `, $` + envHealthCACert + ` and
$` + envHealthInsecure + `=true, so that the image's HEALTHCHECK fits a
server with TLS without a new command line.`,
		Example: `  lockdown healthcheck
  lockdown healthcheck --url https://localhost:8080/healthz --cacert /etc/lockdown/tls/ca.crt
  docker run -e ` + envHealthURL + `=https://127.0.0.1:8080/healthz -e ` + envHealthInsecure + `=true …`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			client, err := healthClient(rawURL, caCert, insecure, timeout)
			if err != nil {
				return badInput(err)
			}
			req, err := http.NewRequestWithContext(cmd.Context(), http.MethodGet, rawURL, nil)
			if err != nil {
				return badInput(fmt.Errorf("--url %q: %w", rawURL, err))
			}
			resp, err := client.Do(req)
			if err != nil {
				return &exitError{code: 1, err: fmt.Errorf("unhealthy: %w", err)}
			}
			defer resp.Body.Close()
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			switch resp.StatusCode {
			case http.StatusOK, http.StatusUnauthorized:
				if !g.quiet {
					fmt.Fprintf(g.stdout, "healthy: %s answered %s\n", rawURL, resp.Status)
				}
				return nil
			}
			return &exitError{code: 1, err: fmt.Errorf("unhealthy: %s answered %s", rawURL, resp.Status)}
		},
	}
	insecureDefault, _ := strconv.ParseBool(os.Getenv(envHealthInsecure))
	cmd.Flags().StringVar(&rawURL, "url", cmp.Or(os.Getenv(envHealthURL), "http://127.0.0.1:8080/healthz"), "health `URL` to probe (http:// or https://; $"+envHealthURL+")")
	cmd.Flags().StringVar(&caCert, "cacert", os.Getenv(envHealthCACert), "https: verify the server's certificate against the CA certificates in PEM `FILE` ($"+envHealthCACert+")")
	cmd.Flags().BoolVar(&insecure, "insecure", insecureDefault, "https: do not verify the server's certificate (the probe sends no secret; $"+envHealthInsecure+")")
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "give up after this long")
	return cmd
}

// healthClient is the probe's client: no redirects, and for an https URL
// the trust that --cacert or --insecure asks for.
func healthClient(rawURL, caCert string, insecure bool, timeout time.Duration) (*http.Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("--url %q: %w", rawURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("--url %q: want an http:// or https:// URL", rawURL)
	}
	if u.Scheme != "https" && (caCert != "" || insecure) {
		return nil, fmt.Errorf("--cacert and --insecure are for an https:// --url, not %q", rawURL)
	}
	if caCert != "" && insecure {
		return nil, errors.New("--cacert and --insecure contradict each other: verify against the CA, or do not verify")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // a probe of the local server goes direct
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure}
	if caCert != "" {
		pool, err := server.CAPool(caCert)
		if err != nil {
			return nil, fmt.Errorf("--cacert: %w", err)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	return &http.Client{
		Timeout:   timeout,
		Transport: tr,
		// A health endpoint that redirects is not healthy.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}
