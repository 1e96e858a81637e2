package main

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"github.com/jackc/pgx/v5"

	"github.com/ordercast/ordercast/internal/redisproc"
	"github.com/ordercast/ordercast/internal/store/postgres"
)

// The soak's own set-up: a redis-server process, a fresh PostgreSQL
// schema, and two ordercast instances on them, each of which the run
// stops (SIGKILL or SIGTERM) and starts again on the same ports.

// instance is one ordercast process, started from the built binary with
// the environment the load needs.
type instance struct {
	name    string // A, B
	bin     string
	env     []string
	url     string // the API and the sockets
	metrics string // METRICS_ADDR's /metrics
	logDir  string

	up atomic.Bool // the balancer sends requests and sockets to it

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{} // closed once the process ended and was waited for
	starts  int
	crashes []string // exits the run did not ask for
}

// newInstance prepares an instance on a free port, with its metrics on
// another (METRICS_ADDR) when metricsApart; env adds to the inherited
// environment.
func newInstance(name, bin, dir string, metricsApart bool, env map[string]string) (*instance, error) {
	port, err := redisproc.FreePort()
	if err != nil {
		return nil, err
	}
	in := &instance{name: name, bin: bin, logDir: dir, url: "http://127.0.0.1:" + strconv.Itoa(port)}
	in.metrics = in.url + "/metrics"
	env["HUB_ADDR"] = "127.0.0.1:" + strconv.Itoa(port)
	env["DATA_DIR"] = filepath.Join(dir, "data-"+name)
	if metricsApart {
		mport, err := redisproc.FreePort()
		if err != nil {
			return nil, err
		}
		in.metrics = "http://127.0.0.1:" + strconv.Itoa(mport) + "/metrics"
		env["METRICS_ADDR"] = "127.0.0.1:" + strconv.Itoa(mport)
	}
	// After the inherited environment: the last of a duplicate key wins.
	in.env = os.Environ()
	for k, v := range env {
		in.env = append(in.env, k+"="+v)
	}
	return in, nil
}

// start starts the process and waits until /healthz answers, for up to a
// minute; a process that exits first fails it, naming its log.
func (in *instance) start(ctx context.Context) error {
	in.mu.Lock()
	in.starts++
	logPath := filepath.Join(in.logDir, fmt.Sprintf("%s-%d.log", in.name, in.starts))
	in.mu.Unlock()
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(in.bin)
	cmd.Env, cmd.Stdout, cmd.Stderr = in.env, logf, logf
	err = cmd.Start()
	logf.Close() // the child holds its own descriptor
	if err != nil {
		return fmt.Errorf("instance %s: %w", in.name, err)
	}
	exited := make(chan struct{})
	go func() { // ends with the process, which the run always ends
		err := cmd.Wait()
		in.mu.Lock()
		if in.cmd == cmd { // not stopped by the run
			in.crashes = append(in.crashes, fmt.Sprintf("instance %s exited by itself (%v): see %s", in.name, err, logPath))
		}
		in.mu.Unlock()
		close(exited)
	}()
	in.mu.Lock()
	in.cmd, in.exited = cmd, exited
	in.mu.Unlock()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(time.Minute)
	for {
		if status, _, err := httpDo(ctx, client, "GET", in.url+"/healthz", nil, nil); err == nil && status == http.StatusOK {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("instance %s exited while starting: see %s", in.name, logPath)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond): // poll interval of a bounded wait
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("instance %s: /healthz not answering after a minute: see %s", in.name, logPath)
		}
	}
}

func (in *instance) unexpectedExits() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return slices.Clone(in.crashes)
}

func (in *instance) pid() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cmd == nil {
		return 0
	}
	return in.cmd.Process.Pid
}

// stop sends sig and waits for the process to end, up to within; past
// it, the process is killed and stop says so.
func (in *instance) stop(sig syscall.Signal, within time.Duration) error {
	in.mu.Lock()
	cmd, exited := in.cmd, in.exited
	in.cmd = nil
	in.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-exited:
		return nil
	case <-time.After(within):
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("instance %s did not exit within %s of %s: killed", in.name, within, sig)
	}
}

// balancer spreads REST requests and sockets over the instances that are
// up, as a load balancer checking health would.
type balancer struct {
	insts []*instance
	rest  restStats
}

// pick is a random instance that is up, or any when none is.
func (b *balancer) pick() *instance {
	up := make([]*instance, 0, len(b.insts))
	for _, in := range b.insts {
		if in.up.Load() {
			up = append(up, in)
		}
	}
	if len(up) == 0 {
		return b.insts[rand.IntN(len(b.insts))]
	}
	return up[rand.IntN(len(up))]
}

// restStats counts every REST request of a balanced run: its answers by
// status, and the requests that got none by the kind of transport error.
type restStats struct {
	mu  sync.Mutex
	now restSummary
}

type restSummary struct {
	Requests uint64            `json:"requests"`
	Retries  uint64            `json:"retries"`
	ByStatus map[string]uint64 `json:"by_status"`
	NoAnswer map[string]uint64 `json:"no_answer"`
}

func (r *restStats) count(status int, err error, cancelled bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.now.Requests++
	switch {
	case cancelled:
	case err != nil:
		if r.now.NoAnswer == nil {
			r.now.NoAnswer = map[string]uint64{}
		}
		r.now.NoAnswer[transportKind(err)]++
	default:
		if r.now.ByStatus == nil {
			r.now.ByStatus = map[string]uint64{}
		}
		r.now.ByStatus[strconv.Itoa(status)]++
	}
}

func (r *restStats) retried() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.now.Retries++
}

// take returns the counts so far and starts again from zero.
func (r *restStats) take() restSummary {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.now
	r.now = restSummary{}
	return s
}

// transportKind names a failed request's cause in a few words.
func transportKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case strings.Contains(err.Error(), "EOF"):
		return "connection closed (EOF)"
	}
	return "other"
}

// closeCause names why a socket ended, for the reconnect counts.
func closeCause(err error) string {
	switch code := websocket.CloseStatus(err); code {
	case -1:
		return "connection lost (no close frame)"
	case websocket.StatusServiceRestart:
		return "1012 server restarting"
	case websocket.StatusInternalError:
		return "1011 gap not repaired"
	default:
		return fmt.Sprintf("close %d", code)
	}
}

// dialFailure names why a handshake failed.
func dialFailure(err error) string {
	s := err.Error()
	switch {
	case strings.Contains(s, "connection refused"):
		return "connection refused"
	case strings.Contains(s, "503"):
		return "503 (shutting down, or full)"
	case strings.Contains(s, "401"):
		return "401"
	case strings.Contains(s, "timeout") || strings.Contains(s, "deadline exceeded"):
		return "timeout"
	case strings.Contains(s, "EOF") || strings.Contains(s, "reset by peer"):
		return "connection closed"
	}
	return "other"
}

// soakSetup is what the run owns outside itself; close ends it all.
type soakSetup struct {
	dir      string
	adminURL string // -database-url, to drop the schema
	schema   string
	redis    *redisproc.Server
	insts    []*instance
}

// newSoakSetup creates the schema, starts Redis and both instances, one
// after the other (the first migrates the schema).
func newSoakSetup(ctx context.Context, cfg config) (_ *soakSetup, err error) {
	dir, err := os.MkdirTemp("", "ordercast-soak-")
	if err != nil {
		return nil, err
	}
	s := &soakSetup{dir: dir, adminURL: cfg.databaseURL}
	defer func() {
		if err != nil {
			s.close(true)
		}
	}()
	s.schema = "ordercast_soak_" + randomHex(6)
	if err := execSQL(ctx, cfg.databaseURL, "CREATE SCHEMA "+pgx.Identifier{s.schema}.Sanitize()); err != nil {
		return s, fmt.Errorf("-database-url: %w", err)
	}
	dbURL, err := postgres.WithSearchPath(cfg.databaseURL, s.schema)
	if err != nil {
		return s, fmt.Errorf("-database-url: %w", err)
	}
	port, err := redisproc.FreePort()
	if err != nil {
		return s, err
	}
	if err := os.Mkdir(filepath.Join(dir, "redis"), 0o700); err != nil {
		return s, err
	}
	s.redis = redisproc.New(cfg.redisServer, filepath.Join(dir, "redis"), port)
	if err := s.redis.Start(ctx); err != nil {
		return s, err
	}
	secret := randomHex(32) // shared: a token of one instance is good on the other
	for _, name := range []string{"A", "B"} {
		in, err := newInstance(name, cfg.binary, dir, true, map[string]string{
			"DATABASE_URL": dbURL, "REDIS_URL": "redis://" + s.redis.Addr + "/0", "JWT_SECRET": secret,
			"RATE_LIMITS": "off", "MAX_CONNS_PER_USER": "0", "MAX_CONNS": "50000",
			// The run's tokens outlive it: no socket is closed with 4001
			// for an expired token (runs are capped at maxSoak).
			"ACCESS_TOKEN_TTL": "1h", "LOG_LEVEL": cfg.serverLogLevel, "LOG_FORMAT": "json",
		})
		if err != nil {
			return s, err
		}
		if err := in.start(ctx); err != nil {
			return s, err
		}
		in.up.Store(true)
		s.insts = append(s.insts, in)
	}
	return s, nil
}

// close stops the instances (SIGTERM, as an operator would) and Redis;
// unless keep, it drops the schema and removes the run's folder (its
// logs).
func (s *soakSetup) close(keep bool) error {
	var errs []error
	for _, in := range s.insts {
		errs = append(errs, in.stop(syscall.SIGTERM, 45*time.Second))
	}
	if s.redis != nil {
		s.redis.Stop()
	}
	if !keep {
		if s.schema != "" {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			errs = append(errs, execSQL(ctx, s.adminURL, "DROP SCHEMA IF EXISTS "+pgx.Identifier{s.schema}.Sanitize()+" CASCADE"))
			cancel()
		}
		errs = append(errs, os.RemoveAll(s.dir))
	}
	return errors.Join(errs...)
}

func execSQL(ctx context.Context, dbURL, sql string) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = crand.Read(b) // crypto/rand.Read does not fail
	return hex.EncodeToString(b)
}
