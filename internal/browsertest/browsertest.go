// Package browsertest drives Debian's headless Chromium for the web app's
// tests the way a person uses the app: controls are found through the
// browser's accessibility tree by role and accessible name, clicked with
// mouse events and typed into with key events. Every tab records what a
// person would notice went wrong (console errors, uncaught exceptions,
// failed requests) so that a test can insist there was none.
package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/serviceworker"
	"github.com/chromedp/chromedp"
	"github.com/ordercast/ordercast/internal/testenv"
)

// ChromiumPath is Debian's chromium, which .ci/run installs.
const ChromiumPath = "/usr/bin/chromium"

// Timeout bounds each step of a tab unless the step takes its own.
const Timeout = 15 * time.Second

// Require skips the test when Chromium is missing, or fails it under
// CI=true, where a missing browser must not pass as a skipped test.
func Require(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath(ChromiumPath); err != nil {
		testenv.Missing(t, "chromium missing at "+ChromiumPath+" (apt-get install chromium)")
	}
}

// Browser is one Chromium process, ended with the test.
type Browser struct {
	ctx context.Context
}

// New starts Chromium for the test (or skips, see Require).
func New(t testing.TB) *Browser {
	t.Helper()
	Require(t)
	// The flags keep a headless browser off the network it would otherwise
	// reach for at start (updates, sync), which this machine refuses.
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(ChromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.UserDataDir(t.TempDir()),
	)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first run starts the browser and binds it to ctx, so it must
	// carry no timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return &Browser{ctx: ctx}
}

// Tab is a page in a browser context of its own: its own cookies and
// sessionStorage, as another person's browser would have.
type Tab struct {
	t      testing.TB
	name   string
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	problems []string
	urls     map[network.RequestID]string
	offline  bool // network errors are expected: see ExpectNetworkErrors
	// marks are the console.debug markers awaited by syncEvents.
	marks map[string]chan struct{}
	nmark int
}

// NewTab opens a tab in a new browser context; name labels its failures.
func (b *Browser) NewTab(t testing.TB, name string) *Tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	tab := &Tab{t: t, name: name, ctx: ctx, cancel: cancel, urls: map[network.RequestID]string{}, marks: map[string]chan struct{}{}}
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		t.Fatalf("%s: open tab: %v", name, err)
	}
	// One listener for console, exceptions, log and network: it sees them
	// in the order the browser sent them, which syncEvents relies on.
	if err := chromedp.Listen(ctx, tab.onEvent); err != nil {
		cancel()
		t.Fatalf("%s: listen: %v", name, err)
	}
	t.Cleanup(cancel)
	return tab
}

// onEvent runs in the tab's event loop: it only records.
func (tab *Tab) onEvent(ev any) {
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		text := consoleText(ev.Args)
		if ev.Type == runtime.ConsoleAPICalledTypeDebug {
			tab.mu.Lock()
			if done, ok := tab.marks[text]; ok {
				delete(tab.marks, text)
				close(done)
			}
			tab.mu.Unlock()
		}
		if ev.Type == runtime.ConsoleAPICalledTypeError {
			tab.problem(true, "console error: %s", text)
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil {
			text += " " + d.Exception.Description
		}
		tab.problem(true, "exception: %s (%s:%d)", text, redact(d.URL), d.LineNumber+1)
	case *log.EventEntryAdded:
		if ev.Entry.Level == log.EntryLevelError {
			tab.problem(!isNetworkMessage(ev.Entry.Text), "browser error: %s (%s)", ev.Entry.Text, redact(ev.Entry.URL))
		}
	case *network.EventRequestWillBeSent:
		tab.mu.Lock()
		tab.urls[ev.RequestID] = ev.Request.URL
		tab.mu.Unlock()
	case *network.EventResponseReceived:
		if ev.Response.Status >= 400 {
			tab.problem(true, "request failed: %d %s", ev.Response.Status, redact(ev.Response.URL))
		}
	case *network.EventLoadingFailed:
		if ev.Canceled {
			return // the page let go of it (navigation, abort)
		}
		tab.mu.Lock()
		url := tab.urls[ev.RequestID]
		tab.mu.Unlock()
		tab.problem(false, "request failed: %s %s", ev.ErrorText, redact(url))
	}
}

// problem records a failure a person would notice; network trouble
// (always=false) is excused while the test cuts the network on purpose.
func (tab *Tab) problem(always bool, format string, args ...any) {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	if !always && tab.offline {
		return
	}
	tab.problems = append(tab.problems, redactTokens(fmt.Sprintf(format, args...)))
}

// consoleText joins a console call's arguments as the console shows them.
func consoleText(args []*runtime.RemoteObject) string {
	parts := make([]string, 0, len(args))
	for _, a := range args {
		switch {
		case a.Type == runtime.RemoteObjectTypeString:
			var s string
			if json.Unmarshal(a.Value, &s) == nil {
				parts = append(parts, s)
				continue
			}
			parts = append(parts, string(a.Value))
		case len(a.Value) > 0:
			parts = append(parts, string(a.Value))
		default:
			parts = append(parts, a.Description)
		}
	}
	return strings.Join(parts, " ")
}

// syncEvents returns once the listener has handled every event the page
// sent before this call: it logs a marker and waits to see it.
func (tab *Tab) syncEvents() {
	tab.t.Helper()
	tab.mu.Lock()
	tab.nmark++
	mark := fmt.Sprintf("browsertest-sync-%d", tab.nmark)
	done := make(chan struct{})
	tab.marks[mark] = done
	tab.mu.Unlock()
	Eval[bool](tab, fmt.Sprintf(`(console.debug(%q), true)`, mark))
	select {
	case <-done:
	case <-time.After(Timeout):
		tab.fail("the browser's events did not catch up within %s", Timeout)
	}
}

// isNetworkMessage tells the browser's own reports of a failed connection
// (which the page cannot prevent while the network is down) from the
// page's errors.
func isNetworkMessage(text string) bool {
	for _, s := range []string{"net::ERR_", "WebSocket connection to", "Failed to load resource", "Failed to fetch"} {
		if strings.Contains(text, s) {
			return true
		}
	}
	return false
}

// tokenParam matches an access token in a URL that the browser quoted in a
// message ("WebSocket connection to 'ws://…?access_token=…' failed").
var tokenParam = regexp.MustCompile(`access_token=[^&'"\s]+`)

// redactTokens keeps access tokens out of test output.
func redactTokens(s string) string { return tokenParam.ReplaceAllString(s, "access_token=…") }

// redact drops the query string, where browsers carry access tokens.
func redact(url string) string {
	u, _, _ := strings.Cut(url, "?")
	return u
}

// ExpectNetworkErrors excuses failed connections and requests until the
// returned func is called: call it before cutting the tab's network and
// end it once the page is back online. Page errors still count. end first
// lets the browser's reports of what failed meanwhile arrive.
func (tab *Tab) ExpectNetworkErrors() (end func()) {
	tab.mu.Lock()
	tab.offline = true
	tab.mu.Unlock()
	return func() {
		tab.t.Helper()
		tab.syncEvents()
		tab.mu.Lock()
		tab.offline = false
		tab.mu.Unlock()
	}
}

// Problems returns what went wrong in the tab up to this call.
func (tab *Tab) Problems() []string {
	tab.t.Helper()
	tab.syncEvents()
	return tab.recorded()
}

// recorded is what the listener recorded so far.
func (tab *Tab) recorded() []string {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	return append([]string(nil), tab.problems...)
}

// CheckClean fails the test if the tab saw a console error, an uncaught
// exception or a failed request (other than those excused).
func (tab *Tab) CheckClean() {
	tab.t.Helper()
	for _, p := range tab.Problems() {
		tab.t.Errorf("%s: %s", tab.name, p)
	}
}

// do runs steps with the default timeout and fails the test on error,
// showing what the page showed.
func (tab *Tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	tab.t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, Timeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tab.fail("%s: %v", what, err)
	}
}

func (tab *Tab) fail(format string, args ...any) {
	tab.t.Helper()
	tab.t.Fatalf("%s: %s\npage text:\n%s\nproblems: %q", tab.name, fmt.Sprintf(format, args...), tab.pageText(), tab.recorded())
}

// pageText is the visible text of the page, for failure messages.
func (tab *Tab) pageText() string {
	ctx, cancel := context.WithTimeout(tab.ctx, 2*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	if len(s) > 3000 {
		s = s[:3000] + "…"
	}
	return s
}

// Navigate loads url and waits for it.
func (tab *Tab) Navigate(url string) {
	tab.t.Helper()
	tab.do("navigate "+redact(url), chromedp.Navigate(url))
}

// Close closes the tab and its browser context, as a person closing the
// window: its sockets end. The tab takes no more steps.
func (tab *Tab) Close() { tab.cancel() }

// SetPermission answers, for the tab's browser context and origin, the
// browser's prompt for a permission ("notifications", "push") with setting,
// as the person at it would: headless Chromium shows no prompt.
func (tab *Tab) SetPermission(origin, name string, setting browser.PermissionSetting) {
	tab.t.Helper()
	c := chromedp.FromContext(tab.ctx)
	ctx, cancel := context.WithTimeout(tab.ctx, Timeout)
	defer cancel()
	perm := &browser.PermissionDescriptor{Name: name, UserVisibleOnly: name == "push"}
	if _, err := cdp.Call(ctx, c.Browser, browser.SetPermission, browser.SetPermissionParams{
		Permission: perm, Setting: setting, Origin: origin, BrowserContextID: c.BrowserContextID,
	}); err != nil {
		tab.fail("set permission %s to %s: %v", name, setting, err)
	}
}

// DeliverPush hands data to the service worker registered for scope (an
// absolute URL) as a push message, the way the browser does with what its
// push service brings: the worker's push event runs with data as its
// payload. A test has no push service to send through (see the Push
// API's limits in headless Chromium, docs/push.md).
func (tab *Tab) DeliverPush(scope, data string) {
	tab.t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, Timeout)
	defer cancel()
	u, err := url.Parse(scope)
	if err != nil {
		tab.fail("deliver push: scope %q: %v", scope, err)
	}
	err = chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		// Subscribed before Enable, which reports every registration.
		updates := cdp.Events(ctx, t, serviceworker.WorkerRegistrationUpdated)
		if _, err := cdp.Call(ctx, t, serviceworker.Enable, cdp.Empty{}); err != nil {
			return err
		}
		// Disabled again, so that the next Enable reports them anew.
		defer cdp.Call(ctx, t, serviceworker.Disable, cdp.Empty{}) //nolint:errcheck // the push is delivered or not by then
		for ev, err := range updates {
			if err != nil {
				return err
			}
			for _, r := range ev.Registrations {
				if r.ScopeURL == scope && !r.IsDeleted {
					_, err := cdp.Call(ctx, t, serviceworker.DeliverPushMessage, serviceworker.DeliverPushMessageParams{
						Origin: u.Scheme + "://" + u.Host, RegistrationID: r.RegistrationID, Data: data,
					})
					return err
				}
			}
		}
		return ctx.Err()
	}))
	if err != nil {
		tab.fail("deliver push to %s: %v", scope, err)
	}
}

// SetViewport sets the page's size in CSS pixels (360 wide for a phone).
func (tab *Tab) SetViewport(width, height int64) {
	tab.t.Helper()
	tab.do("viewport", chromedp.EmulateViewport(width, height))
}

// byRole finds the elements whose computed role and accessible name are
// role and name, as assistive technology sees them. An empty name matches
// any name.
func byRole(role, name string) chromedp.QueryOption {
	return chromedp.ByFunc(func(ctx context.Context, t *chromedp.Target, n *chromedp.Node) ([]cdp.NodeID, error) {
		n.RLock()
		root := n.NodeID
		n.RUnlock()
		res, err := cdp.Call(ctx, t, accessibility.QueryAXTree, accessibility.QueryAXTreeParams{NodeID: root, AccessibleName: name, Role: role})
		if err != nil {
			return nil, err
		}
		var backend []cdp.BackendNodeID
		for _, ax := range res.Nodes {
			if !ax.Ignored && ax.BackendDOMNodeID != 0 {
				backend = append(backend, ax.BackendDOMNodeID)
			}
		}
		if len(backend) == 0 {
			return nil, nil
		}
		pushed, err := cdp.Call(ctx, t, dom.PushNodesByBackendIDsToFrontend, dom.PushNodesByBackendIDsToFrontendParams{BackendNodeIDs: backend})
		return pushed.NodeIDs, err
	})
}

func describe(role, name string) string { return fmt.Sprintf("%s %q", role, name) }

// Click clicks, with the mouse, the first visible element of that role and
// accessible name (e.g. "button", "Place order"), waiting for it to appear.
func (tab *Tab) Click(role, name string) {
	tab.t.Helper()
	tab.do("click "+describe(role, name), chromedp.Click(describe(role, name), byRole(role, name)))
}

// WaitRole waits until an element of that role and name is visible.
func (tab *Tab) WaitRole(role, name string) {
	tab.t.Helper()
	tab.do("wait for "+describe(role, name), chromedp.WaitVisible(describe(role, name), byRole(role, name)))
}

// WaitRoleGone waits until no element of that role and name is in the page.
func (tab *Tab) WaitRoleGone(role, name string) {
	tab.t.Helper()
	tab.do("wait until gone "+describe(role, name), chromedp.WaitNotPresent(describe(role, name), byRole(role, name)))
}

// Fill types text, with key events, into the text field whose label is
// label, replacing what it held.
func (tab *Tab) Fill(label, text string) {
	tab.t.Helper()
	sel := describe("textbox", label)
	tab.do("focus "+sel, chromedp.Focus(sel, byRole("textbox", label)))
	Eval[bool](tab, `(() => {
		const el = document.activeElement;
		el.value = "";
		el.dispatchEvent(new Event("input", {bubbles: true}));
		return true;
	})()`)
	tab.do("type into "+sel, chromedp.SendKeys(sel, text, byRole("textbox", label)))
}

// Select chooses the option with the visible text option in the drop-down
// whose label is label.
func (tab *Tab) Select(label, option string) {
	tab.t.Helper()
	sel := describe("combobox", label)
	tab.do("select "+option+" in "+sel, chromedp.Focus(sel, byRole("combobox", label)))
	ok := Eval[bool](tab, fmt.Sprintf(`(() => {
		const el = document.activeElement;
		const opt = el && [...el.options].find((o) => o.text.trim() === %q);
		if (!opt) return false;
		el.value = opt.value;
		el.dispatchEvent(new Event("input", {bubbles: true}));
		el.dispatchEvent(new Event("change", {bubbles: true}));
		return true;
	})()`, option))
	if !ok {
		tab.fail("%s has no option %q", sel, option)
	}
}

// Press sends a key (e.g. "\r" for Enter) to the focused element.
func (tab *Tab) Press(keys string) {
	tab.t.Helper()
	tab.do("press", chromedp.KeyEvent(keys))
}

// pageHasJS tests whether the page's visible text contains a string.
// Live regions at the top of the body are left out: an announcer there
// repeats for screen readers what changed, and a test must see the page
// itself change.
const pageHasJS = `document.body && [...document.body.children]
	.filter((el) => !el.matches("[aria-live]")).map((el) => el.innerText).join("\n").includes(%q)`

// WaitText waits until the page's visible text contains text.
func (tab *Tab) WaitText(text string) {
	tab.t.Helper()
	tab.WaitJS(fmt.Sprintf(pageHasJS, text))
}

// HasText reports whether the page's visible text contains text now.
func (tab *Tab) HasText(text string) bool {
	tab.t.Helper()
	return Eval[bool](tab, "!!("+fmt.Sprintf(pageHasJS, text)+")")
}

// WaitJS polls the expression until it is truthy, within Timeout. A poll
// that meets a page being replaced (its JavaScript context gone) polls
// again.
func (tab *Tab) WaitJS(js string) {
	tab.t.Helper()
	tab.WaitJSFor(js, Timeout)
}

// WaitJSFor is WaitJS with its own deadline.
func (tab *Tab) WaitJSFor(js string, timeout time.Duration) {
	tab.t.Helper()
	if err := tab.waitJS(js, timeout); err != nil {
		tab.fail("waited %s for %s: %v", timeout, js, err)
	}
}

// JSWithin reports whether js became true within timeout, for a caller
// that acts again when it did not.
func (tab *Tab) JSWithin(js string, timeout time.Duration) bool {
	return tab.waitJS(js, timeout) == nil
}

func (tab *Tab) waitJS(js string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	last := context.DeadlineExceeded
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(tab.ctx, min(time.Second, time.Until(deadline)))
		_, err := chromedp.Run(ctx, chromedp.Poll[bool]("!!("+js+")", chromedp.WithPollingTimeout(time.Second)))
		cancel()
		if err == nil {
			return nil
		}
		last = err
	}
	return last
}

// Eval evaluates js in the tab, awaiting a promise, and decodes its value.
func Eval[T any](tab *Tab, js string) T {
	tab.t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, Timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		tab.fail("eval %s: %v", js, err)
	}
	return v
}

// Screenshot saves the whole page as <dir>/<name>.png and returns the path.
// The folder is SCREENSHOT_DIR, else .screenshots at the module's root
// (ignored by git).
func (tab *Tab) Screenshot(name string) string {
	tab.t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, Timeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tab.fail("screenshot %s: %v", name, err)
	}
	dir := screenshotDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tab.t.Fatal(err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tab.t.Fatal(err)
	}
	return path
}

func screenshotDir() string {
	if d := os.Getenv("SCREENSHOT_DIR"); d != "" {
		return d
	}
	dir, _ := os.Getwd()
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, ".screenshots")
		}
		if filepath.Dir(d) == d {
			return filepath.Join(dir, ".screenshots")
		}
	}
}
