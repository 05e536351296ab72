// The service's API from the page: a read token in Authorization, problems (RFC 9457) turned
// into ApiError with the API's detail and reasons.

export class ApiError extends Error {
  constructor(status, error, detail, reasons = []) {
    super(detail || `HTTP ${status}`);
    this.status = status;
    this.error = error;
    this.reasons = Array.isArray(reasons) ? reasons.map(String) : [];
  }
}

export const session = { token: null, expires: 0, signer: null, trust: null, onExpired: null };

async function problemOf(resp) {
  let body = null;
  try {
    body = await resp.json();
  } catch {
    // not JSON
  }
  if (body && typeof body === "object") {
    return new ApiError(resp.status, body.error, body.detail, body.reasons);
  }
  return new ApiError(resp.status, "http_error", `the service answered ${resp.status}`);
}

export async function request(path, { method = "GET", body, auth = true, signal } = {}) {
  const headers = { Accept: "application/json" };
  if (auth && session.token) headers.Authorization = `Bearer ${session.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let resp;
  try {
    resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, "unreachable", `the service did not answer (${err.message})`);
  }
  if (!resp.ok && resp.status !== 202) {
    const err = await problemOf(resp);
    if (resp.status === 401 && session.onExpired) session.onExpired(err);
    throw err;
  }
  return resp;
}

export async function getJson(path, opts) {
  return (await request(path, opts)).json();
}

/** A page of a list route and the next page's URL (Link rel=next), or null. */
export async function getPage(path) {
  const resp = await request(path);
  const link = resp.headers.get("Link") || "";
  const m = /<([^>]+)>;\s*rel="next"/.exec(link);
  return { items: await resp.json(), next: m ? m[1] : null };
}

/** Download a route's answer as a file (it needs the token, so not a plain link). */
export async function download(path, fallbackName) {
  const resp = await request(path, { });
  const blob = await resp.blob();
  const cd = resp.headers.get("Content-Disposition") || "";
  const m = /filename="([^"]+)"/.exec(cd);
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = m ? m[1] : fallbackName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return a.download;
}

export const seg = (v) => encodeURIComponent(v);
