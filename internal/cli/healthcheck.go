package cli

import (
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/spf13/cobra"
)

func newHealthcheckCmd(g *globals) *cobra.Command {
	var (
		url     string
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Probe a running lockdown serve (for container HEALTHCHECKs): exit 0 when it answers",
		Long: `GET --url (default the server's /healthz on 127.0.0.1:8080) and exit 0 when the
server answers 200 — or 401, which means it is up and wants its token (the
probe carries none) — else exit 1 with the reason. Made for images without a
shell or an HTTP client: HEALTHCHECK CMD ["/lockdown", "healthcheck"].`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req, err := http.NewRequestWithContext(cmd.Context(), http.MethodGet, url, nil)
			if err != nil {
				return badInput(fmt.Errorf("--url %q: %w", url, err))
			}
			client := &http.Client{
				Timeout: timeout,
				// A health endpoint that redirects is not healthy.
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
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
					fmt.Fprintf(g.stdout, "healthy: %s answered %s\n", url, resp.Status)
				}
				return nil
			}
			return &exitError{code: 1, err: fmt.Errorf("unhealthy: %s answered %s", url, resp.Status)}
		},
	}
	cmd.Flags().StringVar(&url, "url", "http://127.0.0.1:8080/healthz", "health `URL` to probe")
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "give up after this long")
	return cmd
}
