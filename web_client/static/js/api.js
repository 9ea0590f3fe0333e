// JSON calls to the backend. A refusal becomes an ApiError carrying the server's message and field.

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

export async function api(method, path, body) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch {
    throw new ApiError(0, "network", "Cannot reach the server. Check the connection and try again.");
  }
  const data = await resp.json().catch(() => null);
  if (!resp.ok) {
    const err = (data && data.error) || {};
    if (resp.status === 401 && path !== "/api/v1/auth/login") {
      window.location.assign("/login");
    }
    throw new ApiError(resp.status, err.code || "http_error", err.message || resp.statusText, err.field);
  }
  return data;
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body);
export const put = (path, body) => api("PUT", path, body);
export const del = (path) => api("DELETE", path);
export const patch = (path, body) => api("PATCH", path, body);
