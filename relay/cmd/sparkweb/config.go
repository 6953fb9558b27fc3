package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/sparkweb/sparkweb/relay/server"
)

// envPrefix namespaces the environment variables: --token-ttl is SPARKWEB_TOKEN_TTL.
const envPrefix = "SPARKWEB_"

// config is everything the command line and environment decide.
type config struct {
	listen string
	server server.Config
}

// parseConfig reads flags from args and, for flags not given, SPARKWEB_* variables from getenv
// (flags win). It validates everything and reports all problems at once.
func parseConfig(args []string, getenv func(string) string, usage io.Writer) (config, error) {
	var (
		c       config
		origins string
	)
	fs := flag.NewFlagSet("sparkweb", flag.ContinueOnError)
	fs.SetOutput(usage)
	fs.StringVar(&c.listen, "listen", "127.0.0.1:8080", "`address` to serve HTTP on")
	fs.StringVar(&c.server.Upstream, "upstream", "", "XMPP server's WebSocket `URL` (ws:// or wss://), required")
	fs.StringVar(&c.server.Domain, "domain", "", "XMPP `domain` users log in to, required")
	fs.StringVar(&origins, "allowed-origins", "", "comma-separated page `origins` besides the relay's own that may use the bridge")
	fs.BoolVar(&c.server.ForwardedProtoHTTPS, "forwarded-proto-https", false, "tell the XMPP server the client link is HTTPS (relay behind a TLS proxy)")
	fs.DurationVar(&c.server.TokenTTL, "token-ttl", 15*time.Minute, "lifetime of relay access tokens")
	fs.Usage = func() {
		fmt.Fprintf(usage, "Usage: sparkweb [flags]\n       sparkweb version\n\nEvery flag can also be set as %s<NAME>, e.g. %sUPSTREAM; a flag wins.\n\n", envPrefix, envPrefix)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q (flags only; see -h)", fs.Arg(0))
	}

	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		env := envPrefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(env); v != "" {
			// Going through Set parses the value exactly as the flag would.
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", env, v, err))
			}
		}
	})
	for _, o := range strings.Split(origins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.server.AllowedOrigins = append(c.server.AllowedOrigins, o)
		}
	}
	if _, port, err := net.SplitHostPort(c.listen); err != nil {
		errs = append(errs, fmt.Errorf("listen %q: want host:port, e.g. 127.0.0.1:8080 or :8080", c.listen))
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		errs = append(errs, fmt.Errorf("listen %q: bad port", c.listen))
	}
	// Unlike server.Config, where zero means the default, a TTL given here must be positive.
	s := c.server
	if s.TokenTTL <= 0 {
		errs = append(errs, fmt.Errorf("token-ttl %v: must be positive", s.TokenTTL))
		s.TokenTTL = 0 // reported; keep Validate from saying it again
	}
	if err := s.Validate(); err != nil {
		errs = append(errs, err)
	}
	return c, errors.Join(errs...)
}
