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
