package server_test

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ordercast/ordercast/internal/delivery"
)

// chromiumPath is Debian's chromium, which .ci/run installs.
const chromiumPath = "/usr/bin/chromium"

// TestWebPageShowsLiveStatus opens the embedded page in headless Chromium:
// it connects with the query token, subscribes to an order, and shows its
// status change as the restaurant accepts it.
func TestWebPageShowsLiveStatus(t *testing.T) {
	if _, err := exec.LookPath(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium missing at %s: CI must install it (apt-get install chromium)", chromiumPath)
		}
		t.Skipf("chromium missing at %s; CI=true makes this a failure", chromiumPath)
	}
	e := newRealtimeEnv(t)
	w := e.newWorld()
	o := e.place(w)

	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer cancel()
	// The first Run starts the browser and must not carry a timeout.
	url := e.URL + "/#token=" + w.Customer.Token + "&order=" + o.ID.String()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	text := func(id string) string {
		step, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		s, _ := chromedp.Run(step, chromedp.Evaluate[string](`document.getElementById("`+id+`").textContent`))
		return s
	}
	// waitText polls in the page. A poll that starts while the page is
	// still replacing about:blank loses its JavaScript context; it is
	// simply polled again.
	waitText := func(id, want string) {
		t.Helper()
		js := `document.getElementById("` + id + `")?.textContent === "` + want + `"`
		deadline := time.Now().Add(waitTimeout)
		for {
			step, cancel := context.WithTimeout(ctx, time.Second)
			_, err := chromedp.Run(step, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(time.Second)))
			cancel()
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("#%s is %q, want %q: %v (log: %s)", id, text(id), want, err, text("log"))
			}
		}
	}

	waitText("conn", "subscribed")
	waitText("status", string(delivery.StatusPlaced))
	e.setStatus(http.StatusOK, o, w.Restaurant, delivery.StatusAccepted, "")
	waitText("status", string(delivery.StatusAccepted))
	waitText("seq", "2")
	e.setStatus(http.StatusOK, o, w.Restaurant, delivery.StatusPreparing, "")
	waitText("status", string(delivery.StatusPreparing))
	href, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href`))
	if href != e.URL+"/" {
		t.Errorf("the token stayed in the address bar: %s", href)
	}
}
