package browsertest_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/browsertest"
)

const page = `<!doctype html><html lang="en"><head><title>t</title><link rel="icon" href="data:,"></head><body>
<label for="who">Your name</label><input id="who">
<label>Dish <select><option value="1">Soup</option><option value="2">Pizza</option></select></label>
<button id="hello">Say hello</button>
<button id="oops">Break</button>
<p id="out"></p>
<script>
document.getElementById("hello").onclick = () => {
  const dish = document.querySelector("select").selectedOptions[0].text;
  document.getElementById("out").textContent = "Hello " + document.getElementById("who").value + ", " + dish;
};
document.getElementById("oops").onclick = () => { console.error("it broke"); };
</script></body></html>`

func TestTabFindsControlsByRoleAndLabel(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(page))
	}))
	defer srv.Close()
	b := browsertest.New(t)

	tab := b.NewTab(t, "person")
	tab.Navigate(srv.URL)
	tab.Fill("Your name", "Ann")
	tab.Fill("Your name", "Bo") // replaces what was typed
	tab.Select("Dish", "Pizza")
	tab.Click("button", "Say hello")
	tab.WaitText("Hello Bo, Pizza")
	if got := browsertest.Eval[string](tab, `document.getElementById("out").textContent`); got != "Hello Bo, Pizza" {
		t.Fatalf("out = %q", got)
	}
	if p := tab.Problems(); len(p) != 0 {
		t.Fatalf("a clean page reported %q", p)
	}

	// A console error and a failed request are reported; a failed request
	// is excused while the network is cut on purpose, a page error is not.
	tab.Click("button", "Break")
	end := tab.ExpectNetworkErrors()
	browsertest.Eval[bool](tab, `fetch("http://127.0.0.1:1/").then(() => true, () => false)`)
	end()
	browsertest.Eval[int](tab, `fetch("/missing").then((r) => r.status)`)
	deadline := time.Now().Add(browsertest.Timeout)
	for {
		p := strings.Join(tab.Problems(), "\n")
		if strings.Contains(p, "it broke") && strings.Contains(p, "404") {
			if strings.Contains(p, "127.0.0.1:1") {
				t.Fatalf("an excused network failure was reported: %s", p)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("problems = %s; want the console error and the 404", p)
		}
		time.Sleep(20 * time.Millisecond) // polling the recorder, not waiting for luck
	}

	// Two tabs are two browser contexts: no storage or cookie is shared.
	browsertest.Eval[bool](tab, `(localStorage.setItem("k", "v"), document.cookie = "c=v", true)`)
	other := b.NewTab(t, "other")
	other.Navigate(srv.URL)
	if v := browsertest.Eval[string](other, `(localStorage.getItem("k") || "") + document.cookie`); v != "" {
		t.Fatalf("a new tab saw another context's localStorage or cookies: %q", v)
	}
	// Text only a live region at the top of the body holds is not the page's.
	browsertest.Eval[bool](other, `(() => {
		const live = document.createElement("div");
		live.setAttribute("aria-live", "polite");
		live.textContent = "announced only";
		document.body.append(live);
		setTimeout(() => { document.getElementById("out").textContent = "shown"; }, 100);
		return true;
	})()`)
	other.WaitText("shown")
	if other.HasText("announced only") {
		t.Fatal("text of a live region counted as the page's")
	}
	other.CheckClean()
}

// A page with the faults the accessibility checks look for, beside
// controls and text that pass them.
const faultyPage = `<!doctype html><html lang="en"><head><title>t</title><link rel="icon" href="data:,">
<style>
body { background: #fff; color: #1b1f24; }
.ring:focus-visible { outline: 3px solid #1b1f24; }
.bare:focus { outline: none; }
.faint { color: #999; }
.big { color: #949494; font-size: 24px; }
.veil { background: rgba(0, 0, 0, .5); color: #1b1f24; }
.fade { opacity: .5; }
.vh { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); color: #eee; }
</style></head><body>
<button class="ring">Named</button>
<button class="ring" aria-label="Close"><svg width="10" height="10"></svg></button>
<button class="ring" id="unnamed"><svg width="10" height="10"></svg></button>
<input id="nolabel">
<label for="who">Who</label><input id="who" placeholder="Ann">
<div tabindex="0">a box one can tab to</div>
<button class="bare">No ring</button>
<button hidden></button>
<p class="faint">faint words</p>
<p class="big">big grey words</p>
<p class="veil">on a veil</p>
<p class="fade">faded words</p>
<button disabled class="faint">Off</button>
<div class="vh">announced</div>
</body></html>`

func TestAccessibilityChecksFindFaults(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(faultyPage))
	}))
	defer srv.Close()
	b := browsertest.New(t)
	tab := b.NewTab(t, "person")
	tab.Navigate(srv.URL)

	got := tab.AccessibilityProblems()
	want := []string{
		`without an accessible name (role "button"): <button class="ring" id="unnamed">`,
		`without an accessible name (role "textbox"): <input id="nolabel">`,
		`does not see as one (role "generic"): <div tabindex="0">`,
		`p.faint "faint words": 2.85:1, needs 4.5:1 (#999999 on #ffffff)`,
		`p.veil "on a veil": 4.16:1, needs 4.5:1 (#1b1f24 on #808080)`,
		`p.fade "faded words": 3.24:1, needs 4.5:1 (#8d8f92 on #ffffff)`,
	}
	if len(got) != len(want) {
		t.Errorf("found %d problems, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || strings.Contains(g, w)
		}
		if !found {
			t.Errorf("no problem %q among:\n%s", w, strings.Join(got, "\n"))
		}
	}

	// Tab reaches a control by its name and shows its ring; Shift+Tab goes
	// back; a control whose outline is taken away shows no focus.
	tab.TabTo("button", "Close", false)
	if role, name := tab.Focused(); role != "button" || name != "Close" {
		t.Fatalf("focused %s %q, want the Close button", role, name)
	}
	tab.TabTo("button", "Named", true)
	for i := 0; i < 10; i++ {
		if _, n := tab.Focused(); n == "No ring" {
			break
		}
		tab.Press("\t")
	}
	if p := tab.FocusProblem(); !strings.Contains(p, "no outline or box-shadow") {
		t.Errorf("the button without a ring: FocusProblem = %q", p)
	}
	tab.CheckClean()
}
