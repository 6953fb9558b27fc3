package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// prosody is a throwaway Prosody started with testenv/prosody.sh.
type prosody struct {
	script, dir string
	env         map[string]string
}

func startProsody(ctx context.Context, root, dir string) (*prosody, error) {
	p := &prosody{script: filepath.Join(root, "testenv", "prosody.sh"), dir: dir, env: map[string]string{}}
	out, err := exec.CommandContext(ctx, p.script, "start", dir).Output()
	if err != nil {
		return nil, fmt.Errorf("prosody.sh start: %w%s", err, stderrOf(err))
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			p.env[k] = v
		}
	}
	if p.env["PROSODY_WS_URL"] == "" {
		return nil, fmt.Errorf("prosody.sh start printed no PROSODY_WS_URL:\n%s", out)
	}
	return p, nil
}

func (p *prosody) wsURL() string  { return p.env["PROSODY_WS_URL"] }
func (p *prosody) domain() string { return p.env["PROSODY_DOMAIN"] }

func (p *prosody) addUser(ctx context.Context, user, password string) error {
	if out, err := exec.CommandContext(ctx, p.script, "adduser", p.dir, user, password).CombinedOutput(); err != nil {
		return fmt.Errorf("prosody.sh adduser %s: %w\n%s", user, err, out)
	}
	return nil
}

// pid is Prosody's process id, for its RSS.
func (p *prosody) pid() (int, error) {
	b, err := os.ReadFile(filepath.Join(p.dir, "prosody.fg.pid"))
	if err != nil {
		return 0, fmt.Errorf("prosody pid: %w", err)
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

func (p *prosody) stop() { _ = exec.Command(p.script, "stop", p.dir).Run() }

// relay is a running bin/sparkweb.
type relay struct {
	cmd *exec.Cmd
	url string
	log *os.File
}

// startRelay runs bin/sparkweb in front of upstream. Abuse limits that would refuse thousands of
// sessions of one benchmark account from one address are lifted when the binary has them.
func startRelay(ctx context.Context, root, dir, upstream, domain string) (*relay, error) {
	bin := filepath.Join(root, "bin", "sparkweb")
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	args := []string{"--listen", fmt.Sprintf("127.0.0.1:%d", port), "--upstream", upstream, "--domain", domain}
	help, _ := exec.Command(bin, "-h").CombinedOutput()
	for _, f := range []struct{ flag, value string }{
		{"max-conns-per-jid", "-1"}, {"max-conns-per-ip", "-1"},
		{"token-ip-every", "-1s"}, {"token-account-every", "-1s"},
	} {
		if bytes.Contains(help, []byte("-"+f.flag+" ")) {
			args = append(args, "--"+f.flag, f.value)
		}
	}
	logf, err := os.Create(filepath.Join(dir, "relay.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	r := &relay{cmd: cmd, url: fmt.Sprintf("http://127.0.0.1:%d", port), log: logf}
	if err := waitHTTP(ctx, r.url+"/healthz"); err != nil {
		r.stop()
		return nil, fmt.Errorf("relay not healthy (log in %s): %w", logf.Name(), err)
	}
	return r, nil
}

func (r *relay) pid() int { return r.cmd.Process.Pid }

func (r *relay) stop() {
	_ = r.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = r.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = r.cmd.Process.Kill()
		<-done
	}
	r.log.Close()
}

// token exchanges a password for a relay JWT, as the engine does.
func (r *relay) token(ctx context.Context, user, password string) (string, error) {
	form := url.Values{"grant_type": {"password"}, "username": {user}, "password": {password}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url+"/api/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.AccessToken == "" {
		return "", fmt.Errorf("token: HTTP %d %s (%v)", resp.StatusCode, body.Error, err)
	}
	return body.AccessToken, nil
}

// bridgeURL is the relay's WebSocket for a token.
func (r *relay) bridgeURL(token string) string {
	return strings.Replace(r.url, "http://", "ws://", 1) + "/ws?access_token=" + url.QueryEscape(token)
}

// nginx is Debian's nginx as a plain WebSocket reverse proxy in front of Prosody.
type nginx struct {
	cmd  *exec.Cmd
	port int
	dir  string
}

const nginxConf = `daemon off;
worker_processes auto;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  server {
    listen 127.0.0.1:%[2]d;
    location / {
      proxy_pass http://%[3]s;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $host;
      proxy_read_timeout 1h;
    }
  }
}
`

func startNginx(ctx context.Context, dir, upstreamWS string) (*nginx, error) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/nginx"); serr != nil {
			return nil, errors.New("nginx is not installed (apt-get install nginx-light or nginx)")
		}
		bin = "/usr/sbin/nginx"
	}
	u, err := url.Parse(upstreamWS)
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(nginxConf, dir, port, u.Host)), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log"))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start nginx: %w", err)
	}
	n := &nginx{cmd: cmd, port: port, dir: dir}
	if err := waitTCP(ctx, fmt.Sprintf("127.0.0.1:%d", port)); err != nil {
		n.stop()
		return nil, fmt.Errorf("nginx did not listen (see %s/error.log): %w", dir, err)
	}
	return n, nil
}

func (n *nginx) wsURL(path string) string { return fmt.Sprintf("ws://127.0.0.1:%d%s", n.port, path) }

// pids are the master's and its workers'.
func (n *nginx) pids() []int {
	pids := []int{n.cmd.Process.Pid}
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", n.cmd.Process.Pid, n.cmd.Process.Pid))
	for _, f := range strings.Fields(string(b)) {
		if p, err := strconv.Atoi(f); err == nil {
			pids = append(pids, p)
		}
	}
	return pids
}

func (n *nginx) stop() {
	_ = n.cmd.Process.Signal(os.Interrupt) // SIGINT: fast shutdown
	done := make(chan struct{})
	go func() { _ = n.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = n.cmd.Process.Kill()
		<-done
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitHTTP(ctx context.Context, u string) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("GET %s: %w", u, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func waitTCP(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for {
		var d net.Dialer
		if c, err := d.DialContext(ctx, "tcp", addr); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("dial %s: %w", addr, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return "\n" + string(ee.Stderr)
	}
	return ""
}

func randomPassword() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func splitComma(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
