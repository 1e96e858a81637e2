package redistest

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/testenv"
	goredis "github.com/redis/go-redis/v9"

	"github.com/ordercast/ordercast/internal/redisproc"
)

// Server is a redis-server process of one test, on a free port in a
// temporary directory. It is stopped when the test ends.
type Server struct {
	t    testing.TB
	Addr string
	proc *redisproc.Server
}

// ServerBinary returns the path of redis-server; without it the test is
// skipped, or fails when CI=true.
func ServerBinary(t testing.TB) string {
	t.Helper()
	path, err := redisproc.Binary()
	if err != nil {
		testenv.Missing(t, err.Error())
	}
	return path
}

// StartServer starts a redis-server with extra config arguments
// ("--cluster-enabled", "yes", …) and waits until it answers.
func StartServer(t testing.TB, extra ...string) *Server {
	t.Helper()
	proc := redisproc.New(ServerBinary(t), t.TempDir(), FreePort(t), extra...)
	s := &Server{t: t, Addr: proc.Addr, proc: proc}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Start starts the process (again, after Stop) and waits until it answers.
func (s *Server) Start() {
	s.t.Helper()
	if err := s.proc.Start(context.Background()); err != nil {
		s.t.Fatal(err)
	}
}

// Stop kills the process (a crash, not a shutdown) and waits for it.
func (s *Server) Stop() { s.proc.Stop() }

// WaitPing waits until Redis at addr answers PING, for up to 10 s.
func WaitPing(t testing.TB, addr string) {
	t.Helper()
	if err := redisproc.WaitPing(context.Background(), addr, 10*time.Second); err != nil {
		t.Fatal(err)
	}
}

// FreePort returns a TCP port nobody listens on right now.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := redisproc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// StartCluster starts n redis-server nodes in cluster mode, joins them
// with redis-cli --cluster create (no replicas: each node a master of a
// third of the slots) and waits until the cluster is ok. It returns the
// nodes' addresses.
func StartCluster(t testing.TB, n int) []string {
	t.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		ServerBinary(t) // same skip or failure
		t.Skip("redis-cli not installed")
	}
	addrs := make([]string, n)
	for i := range addrs {
		s := StartServer(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-port", strconv.Itoa(FreePort(t)), "--cluster-node-timeout", "2000")
		addrs[i] = s.Addr
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, addr := range addrs {
		waitClusterOK(t, addr)
	}
	return addrs
}

func waitClusterOK(t testing.TB, addr string) {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		info, err := c.ClusterInfo(ctx).Result()
		cancel()
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster node %s not ok: %v %s", addr, err, info)
		}
		time.Sleep(50 * time.Millisecond) // poll interval of a bounded wait
	}
}

// MoveAllSlots moves every hash slot of the cluster node at from to the
// node at to (redis-cli --cluster reshard; the test's channels hold no
// keys, so nothing is migrated but the slots), and waits until the
// cluster is ok again.
func MoveAllSlots(t testing.TB, from, to string) {
	t.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id := func(addr string) string {
		c := goredis.NewClient(Options(addr))
		defer c.Close()
		id, err := c.Do(ctx, "CLUSTER", "MYID").Text()
		if err != nil {
			t.Fatalf("CLUSTER MYID of %s: %v", addr, err)
		}
		return id
	}
	fromID, toID := id(from), id(to)
	c := goredis.NewClient(Options(from))
	slots, err := c.ClusterSlots(ctx).Result()
	_ = c.Close()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range slots {
		if len(s.Nodes) > 0 && s.Nodes[0].ID == fromID {
			n += s.End - s.Start + 1
		}
	}
	out, err := exec.CommandContext(ctx, cli, "--cluster", "reshard", to, "--cluster-from", fromID, "--cluster-to", toID,
		"--cluster-slots", strconv.Itoa(n), "--cluster-yes").CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --cluster reshard: %v\n%s", err, out)
	}
	waitClusterOK(t, to)
}
