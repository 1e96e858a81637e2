// Form helpers shared by the sign-in screens and the operator page: a
// labelled field, and sending a form with its errors said in words.
import { h } from "./dom.js";
import { explain, fieldOf } from "./errors.js";

// field is a labelled input with its id, and a hint below it.
export function field(id, label, attrs = {}, hint = "") {
  const hintEl = hint ? h("p", { id: `${id}-hint`, class: "hint", text: hint }) : null;
  const input = h("input", { id, name: id, "aria-describedby": hintEl ? hintEl.id : null, ...attrs });
  return { input, el: h("div", { class: "field" }, h("label", { for: id, text: label }), input, hintEl) };
}

// submitting runs work with the form's button disabled (a second click
// does nothing) and shows what went wrong next to the form; the input an
// invalid error names (inputs by request field) is marked and focused.
export async function submitting(form, error, inputs, work, overrides) {
  const button = form.querySelector("button[type=submit]");
  if (button.disabled) return;
  button.disabled = true;
  error.textContent = "";
  for (const input of Object.values(inputs)) input.removeAttribute("aria-invalid");
  try {
    await work();
  } catch (err) {
    error.textContent = explain(err, overrides);
    const bad = inputs[fieldOf(err)];
    if (bad) { bad.setAttribute("aria-invalid", "true"); bad.focus(); }
  } finally {
    button.disabled = false;
  }
}
