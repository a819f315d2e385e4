// Package cli turns the command line into calls on Lockdown's libraries. It
// holds flags, wiring and output selection only.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lockdown-sec/lockdown/internal/image"
	"github.com/lockdown-sec/lockdown/internal/termsafe"
	"golang.org/x/term"
)

// Exit codes, the same for every command.
const (
	ExitOK       = 0
	ExitFindings = 1 // findings at or above --fail-on
	ExitBadInput = 2 // bad input or usage
)

// Version is set at build time with -ldflags "-X …/internal/cli.Version=…".
var Version = "dev"

// globals are the flags every command shares.
type globals struct {
	format  string
	output  string
	quiet   bool
	debug   bool
	noColor bool
	timeout time.Duration

	// stdout and stderr pass through termsafe.Writer: whatever a scanned
	// image holds, the terminal can at most change colour. rawStderr is
	// the stream itself, for the progress line's carriage returns.
	stdout    io.Writer
	stderr    io.Writer
	rawStderr io.Writer
	logger    *slog.Logger
	// runCtx is the command's context under --timeout (nil without one);
	// stopTimer releases it.
	runCtx    context.Context
	stopTimer func()
}

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

// badInput wraps err so that the command exits 2.
func badInput(err error) error { return &exitError{code: ExitBadInput, err: err} }

// findingsExit reports that findings reached --fail-on: exit 1, no message.
func findingsExit() error { return &exitError{code: ExitFindings} }

// Run executes the command line args and returns the exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	safeOut, safeErr := termsafe.NewWriter(stdout), termsafe.NewWriter(stderr)
	defer safeErr.Flush()
	defer safeOut.Flush()
	g := &globals{stdout: safeOut, stderr: safeErr, rawStderr: stderr}
	root := newRootCmd(g)
	root.SetArgs(args)
	root.SetOut(safeOut)
	root.SetErr(safeErr)
	err := root.ExecuteContext(ctx)
	if g.stopTimer != nil {
		g.stopTimer()
	}
	if err == nil {
		return ExitOK
	}
	code := ExitBadInput // usage errors from cobra are bad input
	var ee *exitError
	var te *timeoutError
	switch {
	case g.runCtx != nil && errors.As(context.Cause(g.runCtx), &te):
		// Whatever the command made of it, the run hit --timeout: a
		// hostile or broken input is bad input, with the limit named.
		code, err = ExitBadInput, fmt.Errorf("%w: %w", te, err)
	case errors.As(err, &ee):
		code = ee.code
	case errors.Is(err, context.Canceled):
		code = 130
	}
	// image.ErrBadInput ("bad input") marks the kind of error for the exit
	// code; the exit code already says it, so the line leaves it out.
	if msg := strings.ReplaceAll(err.Error(), ": "+image.ErrBadInput.Error(), ""); msg != "" {
		fmt.Fprintf(safeErr, "lockdown: %s\n", termsafe.String(oneLine(msg)))
	}
	return code
}

// DefaultTimeout bounds every command but serve (whose jobs have
// --job-timeout): generous for a large image on a slow registry, short
// enough that a hostile input cannot hold a CI job for hours.
const DefaultTimeout = 30 * time.Minute

// timeoutError is the cause of a run stopped by --timeout.
type timeoutError struct{ d time.Duration }

func (e *timeoutError) Error() string {
	return fmt.Sprintf("stopped after --timeout %s", e.d)
}

// runsUntilStopped names what cmd is when it runs until stopped, so that
// --timeout does not apply ("" when it does): serve (whose jobs have
// --job-timeout) and a watch mode (netpol apply --watch).
func runsUntilStopped(cmd *cobra.Command) string {
	if cmd.Name() == "serve" {
		return "serve (serve bounds each job with --job-timeout)"
	}
	if f := cmd.Flags().Lookup("watch"); f != nil && f.Value.String() == "true" {
		return cmd.CommandPath()[len(cmd.Root().Name())+1:] + " --watch (it runs until interrupted)"
	}
	return ""
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

func newRootCmd(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "lockdown",
		Short:         rootShort,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if os.Getenv("NO_COLOR") != "" {
				g.noColor = true
			}
			level := slog.LevelWarn
			if g.debug {
				level = slog.LevelDebug
			}
			if g.quiet {
				level = slog.LevelError
			}
			g.logger = slog.New(newLineHandler(g.stderr, level, g.debug))
			if g.timeout < 0 {
				return badInput(fmt.Errorf("--timeout must be 0 (none) or positive, got %s", g.timeout))
			}
			endless := runsUntilStopped(cmd)
			if endless != "" && cmd.Flags().Changed("timeout") {
				g.logger.Warn("--timeout does not apply to " + endless)
			}
			if g.timeout > 0 && endless == "" {
				ctx, stop := context.WithTimeoutCause(cmd.Context(), g.timeout, &timeoutError{g.timeout})
				g.runCtx, g.stopTimer = ctx, stop
				cmd.SetContext(ctx)
			}
			return nil
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return badInput(err) })
	pf := root.PersistentFlags()
	pf.StringVar(&g.format, "format", "", "output format (table, json, … per command; default table on a terminal, json otherwise where noted)")
	pf.StringVarP(&g.output, "output", "o", "", "write the report to `FILE` instead of standard output")
	pf.BoolVarP(&g.quiet, "quiet", "q", false, "print errors only")
	pf.BoolVar(&g.debug, "debug", false, "print debug logs")
	pf.BoolVar(&g.noColor, "no-color", false, "no colour in table output (also NO_COLOR)")
	pf.DurationVar(&g.timeout, "timeout", DefaultTimeout, "stop the command after `DURATION` (exit 2; 0: no limit; not serve, whose jobs have --job-timeout, nor a --watch)")

	for _, c := range commands(g) {
		root.AddCommand(c)
	}
	root.Version = Version
	root.SetVersionTemplate(versionLine() + "\n")
	refuseUnknownSubcommands(root)
	return root
}

// refuseUnknownSubcommands makes every command that only groups others
// ("lockdown audit", "lockdown netpol") refuse an argument that names no
// subcommand: "lockdown audit nosuch" exits 2 with "unknown command",
// where cobra would print the help and exit 0. Without an argument it
// prints its help.
func refuseUnknownSubcommands(cmd *cobra.Command) {
	for _, c := range cmd.Commands() {
		refuseUnknownSubcommands(c)
	}
	if cmd.Runnable() || !cmd.HasSubCommands() || cmd.Parent() == nil {
		return // the root: cobra refuses unknown commands there itself
	}
	cmd.Args = cobra.ArbitraryArgs
	cmd.SuggestionsMinimumDistance = 2
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmd.Help()
		}
		var names []string
		for _, c := range cmd.Commands() {
			if c.IsAvailableCommand() {
				names = append(names, c.Name())
			}
		}
		msg := fmt.Sprintf("unknown command %q for %q (its commands: %s)", args[0], cmd.CommandPath(), strings.Join(names, ", "))
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "; did you mean " + strings.Join(s, " or ") + "?"
		}
		return badInput(errors.New(msg))
	}
}

// isTerminal reports whether w (or the stream it wraps) is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := unwrapWriter(w).(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// unwrapWriter returns the stream under wrappers such as termsafe.Writer.
func unwrapWriter(w io.Writer) io.Writer {
	for {
		u, ok := w.(interface{ Unwrap() io.Writer })
		if !ok {
			return w
		}
		w = u.Unwrap()
	}
}

func isTerminalFd(fd uintptr) bool { return term.IsTerminal(int(fd)) }

// color reports whether table output may use colour.
func (g *globals) color(w io.Writer) bool {
	return !g.noColor && isTerminal(w)
}

// termWidth is the width of the terminal w is, 0 when it is none (then
// tables are not cut).
func termWidth(w io.Writer) int {
	f, ok := w.(*os.File)
	if !ok {
		return 0
	}
	cols, _, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return 0
	}
	return cols
}
