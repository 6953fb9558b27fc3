package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/sparkweb/sparkweb/relay/push"
	"github.com/sparkweb/sparkweb/relay/server"
)

// pushFlags are the Web Push flags; a component secret turns push on.
type pushFlags struct {
	secret, secretFile, host, jid, subject string
	port                                   int
	ttl                                    time.Duration
}

func (p *pushFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&p.secret, "push-component-secret", "", "Web Push: XEP-0114 component `secret` shared with the XMPP server; turns push on (prefer the file or the environment)")
	fs.StringVar(&p.secretFile, "push-component-secret-file", "", "Web Push: `file` holding the component secret")
	fs.StringVar(&p.host, "push-component-host", "", "Web Push: `host` of the XMPP server's component port (default: the upstream's host)")
	fs.IntVar(&p.port, "push-component-port", push.DefaultComponentPort, "Web Push: the XMPP server's component `port`")
	fs.StringVar(&p.jid, "push-component-jid", "", "Web Push: the component's `domain` (default: push.<domain>)")
	fs.StringVar(&p.subject, "push-subject", "", "Web Push: VAPID contact for push services, mailto: or https: `URI` (default: mailto:postmaster@<domain>)")
	fs.DurationVar(&p.ttl, "push-ttl", push.DefaultTTL, "Web Push: how long push services keep a push for an offline browser (max 672h)")
}

// apply sets c.Push when push is on.
func (p pushFlags) apply(c *server.Config) error {
	sec, err := secret("push-component-secret", p.secret, p.secretFile)
	if err != nil {
		return err
	}
	if sec == "" {
		if p.host != "" || p.jid != "" || p.subject != "" {
			return errors.New("push-component-secret: required to turn Web Push on")
		}
		return nil
	}
	host := p.host
	if host == "" {
		u, err := url.Parse(c.Upstream)
		if err != nil || u.Hostname() == "" {
			return errors.New("push-component-host: required (the upstream has no host to default to)")
		}
		host = u.Hostname()
	}
	if p.port <= 0 || p.port > 65535 {
		return fmt.Errorf("push-component-port %d: want 1-65535", p.port)
	}
	c.Push = &push.Config{ComponentAddr: net.JoinHostPort(host, strconv.Itoa(p.port)), ComponentJID: p.jid,
		ComponentSecret: sec, Subscriber: p.subject, TTL: p.ttl}
	return nil
}
