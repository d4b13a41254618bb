// The c360 web app: sign-in, the header with navigation and language, and a hash router
// that loads one page module per area. A page module exports `messages` (its labels in
// English, Thai and Vietnamese), `needs` (capabilities, any of which opens the page) and
// `render(view, ctx)`.
import { api, ApiError, setCsrf } from "./core/api.js";
import { messages as common } from "./core/common.js";
import { clear, errorBox, field, h } from "./core/dom.js";
import { LANGUAGES, language, register, setLanguage, t } from "./core/i18n.js";

register(common);

const NAV = [
  { page: "dashboard", path: "/", needs: [] },
  { page: "customers", path: "/customers", needs: ["profiles.read"] },
  { page: "segments", path: "/segments", needs: ["segments.read"] },
  { page: "journeys", path: "/journeys", needs: ["journeys.read"] },
  { page: "data", path: "/data", needs: ["sources.read", "consent.read", "privacy.read", "audit.read", "access.admin"] },
  { page: "feedback", path: "/feedback", needs: ["feedback.read"] },
];

// path pattern -> page module and the navigation entry it belongs to
const ROUTES = [
  [/^\/$/, "dashboard", "dashboard"],
  [/^\/customers$/, "customers", "customers"],
  [/^\/profiles\/([^/]+)$/, "profile", "customers"],
  [/^\/segments(?:\/(.+))?$/, "segments", "segments"],
  [/^\/journeys(?:\/(.+))?$/, "journeys", "journeys"],
  [/^\/data(?:\/([^/]+))?(?:\/(.+))?$/, "data", "data"],
  [/^\/feedback(?:\/(.+))?$/, "feedback", "feedback"],
];

const state = { me: null };
const loaded = new Map();

function can(...capabilities) {
  return capabilities.length === 0 || capabilities.some((c) => state.me.capabilities.includes(c));
}

function currentPath() {
  const hash = window.location.hash.replace(/^#/, "") || "/";
  const [path, query = ""] = hash.split("?");
  return { path, query: new URLSearchParams(query) };
}

export function navigate(path, query) {
  const q = query ? new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== "")).toString() : "";
  const target = `#${path}${q ? `?${q}` : ""}`;
  if (window.location.hash === target) route();
  else window.location.hash = target;
}

async function loadPage(name) {
  if (!loaded.has(name)) {
    const module = await import(`./pages/${name}.js`);
    register(module.messages || {});
    loaded.set(name, module);
  }
  return loaded.get(name);
}

function header(active) {
  const top = document.getElementById("top");
  const hadFocus = top.contains(document.activeElement) ? document.activeElement.id : null;
  const languages = h(
    "select",
    { id: "language", onchange: (e) => changeLanguage(e.target.value) },
    LANGUAGES.map((l) => h("option", { value: l.code, selected: l.code === language(), lang: l.code }, l.name)),
  );
  const who = state.me
    ? [
        h("span", { class: "user" }, t("signed.as", { name: state.me.display_name || state.me.name, role: t(`role.${state.me.role}`) })),
        h("button", { type: "button", id: "signout", onclick: signOut }, t("signout")),
      ]
    : [];
  clear(
    top,
    h("a", { class: "brand", href: "#/" }, "c360"),
    state.me
      ? h(
          "nav",
          { "aria-label": t("nav.label") },
          h(
            "ul",
            {},
            NAV.filter((n) => can(...n.needs)).map((n) =>
              h("li", {}, h("a", { href: `#${n.path}`, "aria-current": n.page === active ? "page" : null, "data-nav": n.page }, t(`nav.${n.page}`))),
            ),
          ),
        )
      : null,
    h("div", { class: "who" }, h("label", { for: "language", class: "sr-only" }, t("lang.label")), languages, who),
  );
  document.querySelector(".skip").textContent = t("app.skip");
  if (hadFocus) document.getElementById(hadFocus)?.focus(); // the header is drawn anew
}

function changeLanguage(code) {
  setLanguage(code);
  route();
}

async function signOut() {
  try {
    await api("/auth/logout", { method: "POST" });
  } finally {
    state.me = null;
    setCsrf(null);
    showSignIn();
  }
}

function showSignIn(problem) {
  header(null);
  document.title = `${t("signin.title")}`;
  const username = h("input", { name: "username", autocomplete: "username", required: true });
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const message = h("div", { "aria-live": "assertive" }, problem ? errorBox(problem) : null);
  const form = h(
    "form",
    {
      class: "card signin stack",
      onsubmit: async (event) => {
        event.preventDefault();
        clear(message);
        try {
          const me = await api("/auth/login", { method: "POST", body: { username: username.value, password: password.value } });
          signedIn(me, true);
        } catch (error) {
          const text =
            error instanceof ApiError && error.status === 429
              ? t("signin.throttled", { s: error.retryAfter || 60 })
              : error instanceof ApiError && error.status === 401
                ? t("signin.failed")
                : t("common.error", { message: error.message });
          clear(message, errorBox(text));
          password.value = "";
          password.focus();
        }
      },
    },
    h("h1", {}, t("signin.title")),
    field(t("signin.username"), username),
    field(t("signin.password"), password),
    message,
    h("button", { type: "submit" }, t("signin.submit")),
    h("p", { class: "muted" }, t("signin.none")),
  );
  clear(document.getElementById("view"), form);
  username.focus();
}

// focus: move the keyboard focus to the page's content once drawn (after sign-in and each
// navigation; not on a fresh page load, where it starts at the skip link).
function signedIn(me, focus = false) {
  state.me = me;
  setCsrf(me.csrf_token);
  route(focus);
}

async function route(focus = false) {
  if (!state.me) return showSignIn();
  const { path, query } = currentPath();
  const view = document.getElementById("view");
  const match = ROUTES.map(([pattern, page, nav]) => [path.match(pattern), page, nav]).find(([m]) => m);
  if (!match) {
    header(null);
    clear(view, h("h1", {}, t("common.notfound")));
    return;
  }
  const [m, pageName, nav] = match;
  header(nav);
  delete view.dataset.ready;
  clear(view, h("p", { class: "muted" }, t("common.loading")));
  const token = (route.token = {});
  try {
    const page = await loadPage(pageName);
    if (token !== route.token) return; // a newer navigation won
    header(nav); // the page's labels are registered now
    document.title = `${t(`nav.${nav}`)} · c360`;
    if (!can(...(page.needs || []))) {
      clear(view, h("h1", {}, t("common.forbidden")));
      return;
    }
    const ctx = {
      me: state.me,
      params: m.slice(1).map((p) => (p === undefined ? undefined : decodeURIComponent(p))),
      query,
      can,
      masks: (kind) => state.me.masked.includes(kind),
      navigate,
      isCurrent: () => token === route.token,
    };
    clear(view);
    await page.render(view, ctx);
  } catch (error) {
    if (token !== route.token) return;
    const text = error instanceof ApiError && error.status === 403 ? t("common.forbidden") : t("common.error", { message: error.message });
    clear(view, errorBox(text));
  }
  if (focus && token === route.token) view.focus({ preventScroll: true });
  view.dataset.ready = path; // the browser tests wait for this
}

window.addEventListener("hashchange", () => route(true));
// The skip link moves the focus to the content without touching the URL (the router owns it).
document.querySelector(".skip").addEventListener("click", (event) => {
  event.preventDefault();
  document.getElementById("view").focus();
});
window.addEventListener("c360:signed-out", () => {
  state.me = null;
  showSignIn();
});

async function start() {
  try {
    signedIn(await api("/auth/me"));
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) showSignIn();
    else showSignIn(error);
  }
}

start();
