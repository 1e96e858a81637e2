// Sign in and sign up. The session (the client library's Session) keeps
// the tokens in memory and sessionStorage, so a reload keeps the user
// signed in in this tab only. "#/signin?email=..." fills in the email (the
// demo prints such links); "#/signup?role=courier" picks the account type.
import { Session } from "/client/ordercast.js";
import { h, replace } from "./dom.js";
import { field, submitting } from "./forms.js";

// openSession is the tab's session, one for the app and the operator page
// (a person signed in on one is signed in on the other).
export function openSession() {
  return new Session({ baseURL: "", storage: sessionStorage, key: "ordercast.session" });
}

let pendingNotice = "";

// notice shows text above the next sign-in form (why the user is there).
export function notice(text) {
  pendingNotice = text;
  const el = document.getElementById("auth-notice");
  if (el) el.textContent = text;
}

function takeNotice() {
  const text = pendingNotice;
  pendingNotice = "";
  return h("p", { id: "auth-notice", class: "notice", role: "status", text });
}

// signIn draws the sign-in form into ctx.main. after runs once signed in
// (the app goes to its start page); intro says what the page is for;
// signUp offers the sign-up page (not on the operator page: admins do not
// sign up).
export function signIn(ctx, { after = () => ctx.navigate("#/"), intro = "", signUp = true } = {}) {
  ctx.setTitle("Sign in");
  const email = field("email", "Email", { type: "email", autocomplete: "username", required: true, value: ctx.query.email || "" });
  const password = field("password", "Password", { type: "password", autocomplete: "current-password", required: true });
  const error = h("p", { class: "error", role: "alert" });
  const form = h("form", {
    class: "card narrow",
    onSubmit: (e) => {
      e.preventDefault();
      submitting(form, error, { email: email.input, password: password.input }, async () => {
        await ctx.session.login(email.input.value.trim(), password.input.value);
        after();
      }, { unauthorized: "Wrong email or password." });
    },
  },
  email.el, password.el,
  h("button", { type: "submit", class: "primary", text: "Sign in" }), error);
  const heading = h("h1", { tabindex: -1, text: "Sign in" });
  replace(ctx.main, h("div", { class: "auth" }, heading, intro ? h("p", { text: intro }) : null, takeNotice(), form,
    signUp ? h("p", {}, "New here? ", h("a", { href: "#/signup", text: "Create an account" })) : null));
  (email.input.value ? password.input : email.input).focus();
}

const ROLES = [
  ["customer", "Customer", "I order food."],
  ["restaurant", "Restaurant", "I cook and sell."],
  ["courier", "Courier", "I deliver."],
];

export function signUp(ctx) {
  ctx.setTitle("Create an account");
  const chosen = ROLES.some(([r]) => r === ctx.query.role) ? ctx.query.role : "customer";
  const radios = ROLES.map(([value, label, hint]) => {
    const input = h("input", { type: "radio", name: "role", id: `role-${value}`, value, checked: value === chosen, "aria-describedby": `role-${value}-hint` });
    return h("div", { class: "choice" }, input, h("label", { for: input.id, text: label }), h("span", { id: `role-${value}-hint`, class: "muted", text: hint }));
  });
  const name = field("name", "Your name", { type: "text", autocomplete: "name", required: true, maxlength: 100 });
  const email = field("email", "Email", { type: "email", autocomplete: "email", required: true, value: ctx.query.email || "" });
  const password = field("password", "Password", { type: "password", autocomplete: "new-password", required: true, minlength: 8 }, "At least 8 characters.");
  const restaurantName = field("restaurant_name", "Restaurant name", { type: "text", autocomplete: "organization", maxlength: 100 });
  const error = h("p", { class: "error", role: "alert" });
  const role = () => form.querySelector("input[name=role]:checked").value;
  const showRestaurant = () => {
    const on = role() === "restaurant";
    restaurantName.el.hidden = !on;
    restaurantName.input.required = on;
  };
  const form = h("form", {
    class: "card narrow",
    onChange: showRestaurant,
    onSubmit: (e) => {
      e.preventDefault();
      const inputs = { name: name.input, email: email.input, password: password.input, restaurant_name: restaurantName.input };
      submitting(form, error, inputs, async () => {
        const fields = { email: email.input.value.trim(), password: password.input.value, name: name.input.value.trim(), role: role() };
        if (fields.role === "restaurant") fields.restaurant_name = restaurantName.input.value.trim();
        await ctx.session.register(fields);
        ctx.navigate("#/");
      });
    },
  },
  h("fieldset", {}, h("legend", { text: "Account type" }), radios),
  name.el, email.el, password.el, restaurantName.el,
  h("button", { type: "submit", class: "primary", text: "Create account" }), error);
  showRestaurant();
  const heading = h("h1", { tabindex: -1, text: "Create an account" });
  replace(ctx.main, h("div", { class: "auth" }, heading, form,
    h("p", {}, "Already have an account? ", h("a", { href: "#/signin", text: "Sign in" }))));
  ctx.focus(heading);
}
