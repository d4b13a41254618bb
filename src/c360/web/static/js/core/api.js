// Calls to c360's own API with the session cookie. Every non-GET request carries the
// session's CSRF token; a 401 anywhere means the session ended, and the app shows sign-in.

let csrfToken = null;

export function setCsrf(token) {
  csrfToken = token;
}

export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super((body && (body.message || body.detail)) || `HTTP ${status}`);
    this.status = status;
    this.retryAfter = retryAfter;
    this.code = body && body.code;
    this.body = body;
  }
}

function urlOf(path, query) {
  const url = new URL(path, window.location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value === undefined || value === null || value === "") continue;
    url.searchParams.set(key, String(value));
  }
  return url;
}

export async function api(path, { method = "GET", body, query, accept = "application/json" } = {}) {
  const headers = { Accept: accept };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  const response = await fetch(urlOf(path, query), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  if (response.status === 401 && !path.startsWith("/auth/")) {
    window.dispatchEvent(new CustomEvent("c360:signed-out"));
  }
  const text = await response.text();
  let data = text;
  if (text && (response.headers.get("content-type") || "").includes("json")) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!response.ok) {
    const body = typeof data === "object" && data !== null ? data : { message: text };
    throw new ApiError(response.status, body, Number(response.headers.get("retry-after")) || null);
  }
  return data === "" ? null : data;
}

// A link that downloads an API answer (exports): the cookie goes with it, so no key is needed.
export function downloadUrl(path, query) {
  return urlOf(path, query).toString();
}
