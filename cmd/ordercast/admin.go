package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/term"

	"github.com/ordercast/ordercast/internal/accounts"
	redisbus "github.com/ordercast/ordercast/internal/bus/redis"
	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/sessions"
)

const adminUsage = `usage:
  ordercast admin create --email E --name N   create an admin; the password is read from standard input (one line)
  ordercast admin revoke --email E            end every session of that user, on every running instance
Both use the configuration of the service (DATABASE_URL, REDIS_URL or REDIS_CLUSTER_ADDRS).
`

// maxPasswordLine bounds what is read from standard input for a password.
const maxPasswordLine = 1024

// pushTimeout bounds the announcement of ended sessions over Redis.
const pushTimeout = 5 * time.Second

// adminMain runs ordercast admin: create an admin, or end a user's
// sessions, on the store of the configuration.
func adminMain(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, adminUsage)
		return errors.New("admin: create or revoke?")
	}
	fs := flag.NewFlagSet("admin "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, adminUsage) }
	email := fs.String("email", "", "the account's email")
	var name *string
	switch args[0] {
	case "create":
		name = fs.String("name", "", "the admin's name")
	case "revoke":
	default:
		fs.Usage()
		return fmt.Errorf("admin: unknown command %q", args[0])
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("admin %s: unexpected %q", args[0], fs.Arg(0))
	}
	if *email == "" {
		fs.Usage()
		return fmt.Errorf("admin %s: --email is required", args[0])
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	if name != nil {
		// Read before opening the store: a prompt should not wait on it.
		password, err := readPassword(stdin, stderr)
		if err != nil {
			return err
		}
		return adminCreate(ctx, cfg, *email, *name, password, stdout)
	}
	return adminRevoke(ctx, cfg, *email, stdout, stderr)
}

// readPassword reads one line from stdin: without echo when it is a
// terminal (after a prompt on stderr), else as it comes (a pipe, a file).
func readPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	var pw string
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, "Password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		pw = string(b)
	} else {
		line, err := bufio.NewReader(io.LimitReader(stdin, maxPasswordLine)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read password from standard input: %w", err)
		}
		pw = strings.TrimRight(line, "\r\n")
	}
	if pw == "" {
		return "", errors.New("admin create: no password on standard input (one line)")
	}
	return pw, nil
}

func adminCreate(ctx context.Context, cfg config, email, name, password string, stdout io.Writer) error {
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	u, err := accounts.CreateAdmin(ctx, store, email, name, password)
	if err != nil {
		return fmt.Errorf("admin create: %s", delivery.ErrorMessage(err))
	}
	fmt.Fprintf(stdout, "admin %s created (user %s)\n", u.Email, u.ID)
	return nil
}

// adminRevoke ends every session of the user with email in the store,
// then tells the running instances over Redis when there is one, so that
// they close the sessions' sockets at once. Without Redis (or when it does
// not answer) each instance finds the revocations in the store within a
// second, by its periodic read.
func adminRevoke(ctx context.Context, cfg config, email string, stdout, stderr io.Writer) error {
	store, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	u, err := store.UserByEmail(ctx, email)
	if err != nil {
		return fmt.Errorf("admin revoke: %s", delivery.ErrorMessage(err))
	}
	sids, err := store.RevokeUserSessions(ctx, u.ID, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "ended %d session(s) of %s\n", len(sids), u.Email)
	if len(sids) == 0 {
		return nil
	}
	client, err := newRedisClient(cfg)
	if err != nil {
		return err
	}
	if client == nil {
		fmt.Fprintln(stdout, "no Redis configured: running instances read it from the store within a second")
		return nil
	}
	defer client.Close()
	bus := redisbus.New(client, redisbus.Options{Log: zerolog.New(stderr).Level(zerolog.WarnLevel)})
	defer bus.Close()
	pctx, cancel := context.WithTimeout(ctx, pushTimeout)
	defer cancel()
	if err := sessions.Push(pctx, bus, sids...); err != nil {
		fmt.Fprintf(stdout, "Redis did not take the news (%v): running instances read it from the store within a second\n", err)
		return nil
	}
	fmt.Fprintln(stdout, "running instances were told over Redis")
	return nil
}
