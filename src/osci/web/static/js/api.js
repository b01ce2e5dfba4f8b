// The JSON API, as the pages read it.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** GET /api/<path>?<params>; params with null/undefined/"" values are left out. */
export async function getJSON(path, params = {}) {
  const url = new URL(path.startsWith("/") ? path : `/api/${path}`, location.origin);
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") url.searchParams.set(key, value);
  }
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  if (!response.ok) {
    let detail = response.statusText;
    try {
      detail = (await response.json()).error || detail;
    } catch {
      /* not JSON */
    }
    throw new ApiError(response.status, detail);
  }
  return response.json();
}

/** Path segment encoding for names that may hold anything ("/" included). */
export function seg(value) {
  return encodeURIComponent(value);
}
