package browsertest

// Checks of what a page offers people who do not use a mouse or do not see
// well: every control has an accessible name, text has WCAG AA contrast,
// and the control focused from the keyboard shows where the focus is.

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// colourJS defines, in the page, what the contrast and focus checks share:
// the colour an element's text and its backdrop end up painted in, from
// the colours and opacities of the element and its ancestors.
const colourJS = `
const parse = (c) => {
  const m = /^rgba?\(([^)]*)\)$/.exec(c);
  if (!m) return null;
  const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
  return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
};
const over = (top, below) => ({
  r: top.r * top.a + below.r * (1 - top.a), g: top.g * top.a + below.g * (1 - top.a),
  b: top.b * top.a + below.b * (1 - top.a), a: 1,
});
const lerp = (from, to, t) => ({ r: from.r + (to.r - from.r) * t, g: from.g + (to.g - from.g) * t, b: from.b + (to.b - from.b) * t, a: 1 });
const white = { r: 255, g: 255, b: 255, a: 1 };
// paint returns the colour of one pixel of el's box: its backdrop, or with
// colour (its text or outline) on top. Each ancestor paints its background
// over what is behind it, and an ancestor's opacity fades all it paints,
// descendants included, into what is behind it. Background images and
// boxes beside the ancestors (positioned siblings) are not seen.
const paint = (el, colour) => {
  const chain = [];
  for (let n = el; n; n = n.parentElement) chain.unshift(n);
  const at = (i, behind) => {
    if (i === chain.length) return colour ? over(colour, behind) : behind;
    const s = getComputedStyle(chain[i]);
    const bg = parse(s.backgroundColor) || { r: 0, g: 0, b: 0, a: 0 };
    return lerp(behind, at(i + 1, over(bg, behind)), parseFloat(s.opacity));
  };
  return at(0, white);
};
const luminance = (c) => {
  const ch = (v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  return 0.2126 * ch(c.r) + 0.7152 * ch(c.g) + 0.0722 * ch(c.b);
};
const ratio = (a, b) => {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
};
const hex = (c) => "#" + [c.r, c.g, c.b].map((v) => Math.round(v).toString(16).padStart(2, "0")).join("");
const describe = (el) => {
  const cls = el.getAttribute("class");
  const text = (el.innerText || el.value || el.getAttribute("placeholder") || "").trim().replace(/\s+/g, " ");
  return el.localName + (el.id ? "#" + el.id : "") + (cls ? "." + cls.trim().split(/\s+/).join(".") : "") +
    (text ? " " + JSON.stringify(text.length > 40 ? text.slice(0, 40) + "…" : text) : "");
};
`

// controlsJS lists the page's visible controls: what a person can click,
// type into or reach with Tab.
const controlsJS = `(() => {
  const sel = 'a[href], area[href], button, input:not([type="hidden"]), select, textarea, summary, iframe,' +
    ' [contenteditable=""], [contenteditable="true"], [tabindex]:not([tabindex="-1"]),' +
    ' [role="button"], [role="link"], [role="checkbox"], [role="radio"], [role="switch"], [role="tab"],' +
    ' [role="menuitem"], [role="option"], [role="slider"], [role="spinbutton"], [role="textbox"],' +
    ' [role="combobox"], [role="searchbox"]';
  return [...document.querySelectorAll(sel)].filter((el) =>
    el.checkVisibility({ visibilityProperty: true }) && el.getClientRects().length > 0);
})()`

// contrastJS lists the visible text whose contrast with its backdrop is
// below WCAG 2's AA level: 4.5:1, or 3:1 for large text (24 px, or 18.66 px
// bold). Text of disabled controls is left out, as WCAG leaves it out
// (inactive components); so is text clipped to nothing (announcers) or
// placed outside the page (a skip link until it is focused).
const contrastJS = `(() => {` + colourJS + `
  const seen = new Set();
  const bad = [];
  const shown = (el) => {
    if (!el.checkVisibility({ visibilityProperty: true, opacityProperty: true })) return false;
    const r = el.getBoundingClientRect();
    return r.width > 1 && r.height > 1 && r.right + scrollX > 0 && r.bottom + scrollY > 0;
  };
  for (const el of document.body.querySelectorAll("*")) {
    if (!(el instanceof HTMLElement) || ["SCRIPT", "STYLE", "NOSCRIPT"].includes(el.tagName)) continue;
    const field = el.matches("input:not([type=hidden]):not([type=radio]):not([type=checkbox]), textarea, select");
    const placeholder = field && !el.value && el.getAttribute("placeholder");
    const hasText = field ? (el.value || placeholder) : [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!hasText || el.closest(":disabled, [aria-disabled=true]") || !shown(el)) continue;
    const s = getComputedStyle(el);
    const fg = parse(placeholder ? getComputedStyle(el, "::placeholder").color : s.color);
    if (!fg) { bad.push(describe(el) + ": its colour " + s.color + " cannot be read"); continue; }
    const size = parseFloat(s.fontSize), weight = parseInt(s.fontWeight, 10);
    const need = size >= 24 || (size >= 18.66 && weight >= 700) ? 3 : 4.5;
    const text = paint(el, fg), back = paint(el, null);
    const r = ratio(text, back);
    if (r >= need) continue;
    const line = describe(el) + ": " + r.toFixed(2) + ":1, needs " + need + ":1 (" + hex(text) + " on " + hex(back) + ")";
    if (!seen.has(line)) { seen.add(line); bad.push(line); }
  }
  return bad;
})()`

// focusJS describes why the focused element shows no focus indicator, or
// is empty: it must match :focus-visible (the browser's judgement that
// the focus came from the keyboard) and draw an outline of 3:1 contrast
// with what is behind the element, or a box-shadow.
const focusJS = `(() => {` + colourJS + `
  const el = document.activeElement;
  if (!el || el === document.body) return "nothing has the focus";
  if (!el.matches(":focus-visible")) return describe(el) + " does not match :focus-visible";
  const s = getComputedStyle(el);
  if (s.boxShadow && s.boxShadow !== "none") return "";
  const colour = parse(s.outlineColor);
  if (s.outlineStyle === "none" || !(parseFloat(s.outlineWidth) > 0) || !colour || colour.a === 0)
    return describe(el) + " has no outline or box-shadow when focused (outline: " + s.outline + ")";
  const behind = el.parentElement ? paint(el.parentElement, null) : white;
  const r = ratio(over(colour, behind), behind);
  return r >= 3 ? "" : describe(el) + ": its focus outline has " + r.toFixed(2) + ":1 contrast with " + hex(behind) + ", needs 3:1";
})()`

// AccessibilityProblems lists what the page now shows that fails WCAG AA in
// ways a program can tell: a visible control without an accessible name
// (from its label, aria-label, aria-labelledby, text or title, as the
// browser's accessibility tree computes it), and text whose contrast with
// its backdrop is too low. Empty when there is none.
func (tab *Tab) AccessibilityProblems() []string {
	tab.t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, Timeout)
	defer cancel()
	unnamed, err := chromedp.Run(ctx, unnamedControls)
	if err != nil {
		tab.fail("list the controls: %v", err)
	}
	return append(unnamed, Eval[[]string](tab, contrastJS)...)
}

// unnamedControls asks the accessibility tree for the name of each of the
// page's visible controls and describes those that have none or are kept
// from assistive technology.
func unnamedControls(ctx context.Context, t *chromedp.Target) ([]string, error) {
	const group = "browsertest-controls"
	defer func() {
		_, _ = cdp.Call(ctx, t, runtime.ReleaseObjectGroup, runtime.ReleaseObjectGroupParams{ObjectGroup: group})
	}()
	list, err := cdp.Call(ctx, t, runtime.Evaluate, runtime.EvaluateParams{Expression: controlsJS, ObjectGroup: group})
	if err != nil {
		return nil, err
	}
	if list.ExceptionDetails != nil {
		return nil, &chromedp.ExceptionError{ExceptionDetails: list.ExceptionDetails}
	}
	yes := true
	props, err := cdp.Call(ctx, t, runtime.GetProperties, runtime.GetPropertiesParams{ObjectID: list.Result.ObjectID, OwnProperties: &yes})
	if err != nil {
		return nil, err
	}
	var bad []string
	for _, p := range props.Result {
		if p.Value == nil || p.Value.Subtype != runtime.RemoteObjectSubtypeNode {
			continue
		}
		role, name, err := axRoleName(ctx, t, p.Value.ObjectID)
		if err != nil {
			return nil, err
		}
		control := role != "" && role != "none" && role != "generic"
		if control && name != "" {
			continue
		}
		what, err := cdp.Call(ctx, t, runtime.CallFunctionOn, runtime.CallFunctionOnParams{
			FunctionDeclaration: `function () { const s = this.outerHTML; return s.length > 160 ? s.slice(0, 160) + "…" : s; }`,
			ObjectID:            p.Value.ObjectID, ReturnByValue: &yes,
		})
		if err != nil {
			return nil, err
		}
		var html string
		_ = json.Unmarshal(what.Result.Value, &html)
		switch {
		case role == "":
			bad = append(bad, "a control kept from assistive technology: "+html)
		case !control:
			bad = append(bad, fmt.Sprintf("a control that assistive technology does not see as one (role %q): %s", role, html))
		default:
			bad = append(bad, fmt.Sprintf("a control without an accessible name (role %q): %s", role, html))
		}
	}
	return bad, nil
}

// axRoleName is the role and accessible name the accessibility tree gives
// the DOM node behind object; an ignored node has neither.
func axRoleName(ctx context.Context, t *chromedp.Target, object runtime.RemoteObjectID) (role, name string, err error) {
	no := false
	ax, err := cdp.Call(ctx, t, accessibility.GetPartialAXTree, accessibility.GetPartialAXTreeParams{ObjectID: object, FetchRelatives: &no})
	if err != nil || len(ax.Nodes) == 0 || ax.Nodes[0].Ignored {
		return "", "", err
	}
	return axString(ax.Nodes[0].Role), axString(ax.Nodes[0].Name), nil
}

func axString(v *accessibility.Value) string {
	if v == nil {
		return ""
	}
	var s string
	if json.Unmarshal(v.Value, &s) != nil {
		return ""
	}
	return s
}

// Focused is the role and accessible name of the focused element, as
// assistive technology sees it.
func (tab *Tab) Focused() (role, name string) {
	tab.t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, Timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, func(ctx context.Context, t *chromedp.Target) ([2]string, error) {
		const group = "browsertest-focused"
		defer func() {
			_, _ = cdp.Call(ctx, t, runtime.ReleaseObjectGroup, runtime.ReleaseObjectGroupParams{ObjectGroup: group})
		}()
		el, err := cdp.Call(ctx, t, runtime.Evaluate, runtime.EvaluateParams{Expression: "document.activeElement", ObjectGroup: group})
		if err != nil || el.Result.ObjectID == "" {
			return [2]string{}, err
		}
		role, name, err := axRoleName(ctx, t, el.Result.ObjectID)
		return [2]string{role, name}, err
	})
	if err != nil {
		tab.fail("read the focused element: %v", err)
	}
	return v[0], v[1]
}

// TabTo moves the focus with the keyboard only, Tab (Shift+Tab when back),
// until it is on the element of that role and accessible name, and fails
// the test if it is not reached within 80 presses. The element must show
// its focus (see FocusProblem).
func (tab *Tab) TabTo(role, name string, back bool) {
	tab.t.Helper()
	var opts []chromedp.KeyOption
	if back {
		opts = append(opts, chromedp.KeyModifiers(chromedp.ModifierShift))
	}
	for range 80 {
		tab.do("press Tab", chromedp.KeyEvent("\t", opts...))
		if r, n := tab.Focused(); r == role && n == name {
			if p := tab.FocusProblem(); p != "" {
				tab.t.Errorf("%s: %s: %s", tab.name, describe(role, name), p)
			}
			return
		}
	}
	r, n := tab.Focused()
	tab.fail("Tab did not reach %s within 80 presses (the focus is on %s)", describe(role, name), describe(r, n))
}

// FocusProblem says why the focused element shows no visible focus
// indicator, or is empty if it shows one.
func (tab *Tab) FocusProblem() string {
	tab.t.Helper()
	return Eval[string](tab, focusJS)
}
