// Command ordercast serves the ordercast REST API and websocket hub.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/ordercast/ordercast/internal/app"
	"github.com/ordercast/ordercast/internal/auth"
	"github.com/ordercast/ordercast/internal/ops"
	"github.com/ordercast/ordercast/internal/outbox"
	"github.com/ordercast/ordercast/internal/store/postgres"
	"github.com/ordercast/ordercast/internal/store/sqlite"
	"github.com/ordercast/ordercast/server"
)

// Shutdown budgets after SIGTERM, one each, so that sockets slow to close
// cannot use up the time of the requests in flight: hubShutdownTimeout
// for the hub's connections to take their 1012 and close (a close
// handshake waits at most 5 s for the peer), then httpShutdownTimeout for
// in-flight requests to finish (each is bounded at 15 s).
const (
	hubShutdownTimeout  = 10 * time.Second
	httpShutdownTimeout = 20 * time.Second
)

const usage = `usage:
  ordercast              serve the API, the websocket hub and the web app (configured by environment)
  ordercast demo         seed demo accounts and a menu (once), print how to sign in, then serve
  ordercast watch ...    print a channel's events (ordercast watch -h)
  ordercast healthcheck  ask the local instance's /healthz (for container health checks)
  ordercast admin create --email E --name N   create an admin (password on standard input)
  ordercast admin revoke --email E            end every session of that user
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var cmd string
	if len(os.Args) > 1 {
		cmd = os.Args[1]
	}
	var err error
	switch cmd {
	case "":
		err = run(ctx, os.Getenv, os.Stdout, nil, false)
	case "demo", "-demo", "--demo":
		err = run(ctx, os.Getenv, os.Stdout, nil, true)
	case "watch":
		err = watchMain(ctx, os.Args[2:], os.Stdout, os.Stderr)
	case "admin":
		err = adminMain(ctx, os.Args[2:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	case "healthcheck":
		// For container health checks: the final image has no curl.
		err = healthcheck(os.Getenv)
	case "-h", "-help", "--help", "help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprint(os.Stderr, usage)
		err = fmt.Errorf("unknown command %q", cmd)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "ordercast %s: %v\n", cmd, err)
		os.Exit(1)
	}
}

// run serves until ctx ends, then shuts down gracefully. When listening is
// non-nil it receives the bound address once the server accepts (tests
// start the program on port 0). With demo it first seeds the demo accounts
// and prints how to sign in as each.
func run(ctx context.Context, getenv func(string) string, stdout io.Writer, listening chan<- string, demo bool) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	errs := ops.NewErrorRing(ops.DefaultErrorRing)
	log := newLogger(cfg, stdout).Hook(errs) // the operator page's last errors

	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() {
		if err := store.Close(); err != nil {
			log.Error().Err(err).Msg("close store")
		}
	}()

	secret, err := auth.LoadOrCreateSecret(cfg.JWTSecret, cfg.DataDir)
	if err != nil {
		return err
	}
	tokens := auth.NewTokens(secret, auth.Issuer, auth.Audience, cfg.AccessTokenTTL)
	ended, err := startSessions(ctx, store, tokens, log)
	if err != nil {
		return err
	}
	defer ended.Close() // after the bus closed
	registry := server.NewRegistry()
	ad, err := openAdapters(cfg, registry, log)
	if err != nil {
		return err
	}
	defer ad.close() // after the instance closed, before the store
	pushCfg, err := newPush(cfg, ad.redis)
	if err != nil {
		return err
	}
	inst, err := app.New(app.Config{
		Store:               store,
		Bus:                 ad.bus,
		Locations:           ad.locations,
		Tokens:              tokens,
		Sessions:            ended,
		Limits:              ad.limits,
		Conns:               ad.conns,
		MaxActivePerCourier: cfg.MaxActivePerCourier,
		Outbox:              outbox.Config{BusUp: ad.busUp},
		Ops: ops.Config{
			ID: cfg.InstanceID, Version: version, Heartbeats: ad.heartbeats, Redis: ad.redisPing, Errors: errs,
		},
		Push: pushCfg,
		Server: server.Config{
			Registry:         registry,
			MetricsElsewhere: cfg.MetricsAddr != "",
			HubAPIKey:        cfg.HubAPIKey,
			AllowedOrigins:   cfg.AllowedOrigins,
			CORSOrigins:      cfg.CORSOrigins,
			ReadyChecks:      ad.readyChecks,
			TrustedProxies:   cfg.Limits.TrustedProxies,
		},
		Log: log,
	})
	if err != nil {
		return err
	}
	defer inst.Close() // after the shutdown, before the bus closes
	// On every path from here, early errors too: the hub's goroutines end.
	shutdown := sync.OnceValue(func() error { return inst.Shutdown(hubShutdownTimeout, httpShutdownTimeout) })
	defer func() { _ = shutdown() }()
	srv := inst.Server

	if demo {
		if err := seedDemo(ctx, store); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	if cfg.MetricsAddr != "" {
		stopMetrics, err := serveMetrics(cfg.MetricsAddr, registry, log)
		if err != nil {
			_ = ln.Close()
			return err
		}
		defer stopMetrics()
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info().Str("addr", ln.Addr().String()).Str("store", scheme(cfg.DatabaseURL)).Str("bus", busName(cfg)).
		Str("instance", inst.Ops.ID()).Str("version", inst.Ops.Version()).Msg("serving")
	if demo {
		printDemo(stdout, ln.Addr().String())
	}
	if listening != nil {
		listening <- ln.Addr().String()
	}

	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	log.Info().Msg("shutting down")
	if err := shutdown(); err != nil {
		log.Error().Err(err).Msg("shutdown")
	}
	if err := <-serveErr; err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	log.Info().Msg("stopped")
	return nil
}

// serveMetrics serves /metrics and the profiles of net/http/pprof
// (/debug/pprof/) on their own listener (METRICS_ADDR), so that they need
// not be exposed with the API, which never serves profiles; the returned
// func stops it.
func serveMetrics(addr string, reg *prometheus.Registry, log zerolog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("METRICS_ADDR: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /debug/pprof/", pprof.Index) // and the named profiles: heap, goroutine, ...
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	// WriteTimeout bounds a CPU profile or trace too (pprof refuses a
	// longer ?seconds=): the default 30 s profile fits.
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 2 * time.Minute}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("metrics listener")
		}
	}()
	log.Info().Str("addr", ln.Addr().String()).Msg("serving metrics")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
		<-done
	}, nil
}

// healthcheck asks the local instance's /healthz.
func healthcheck(getenv func(string) string) error {
	_, port, err := net.SplitHostPort(envOr(getenv, "HUB_ADDR", ":8080"))
	if err != nil {
		return err
	}
	client := http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get("http://127.0.0.1:" + port + "/healthz")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

func openStore(ctx context.Context, cfg config) (app.Store, error) {
	if path, ok := sqlitePath(cfg.DatabaseURL); ok {
		return sqlite.OpenWith(ctx, path, sqlite.Options{Synchronous: cfg.SQLiteSynchronous})
	}
	return postgres.Open(ctx, cfg.DatabaseURL)
}

func newLogger(cfg config, stdout io.Writer) zerolog.Logger {
	w := stdout
	if cfg.LogFormat == "console" {
		w = zerolog.ConsoleWriter{Out: stdout, TimeFormat: time.RFC3339}
	}
	return zerolog.New(w).Level(cfg.LogLevel).With().Timestamp().Logger()
}
