// Server-sent event streams for the live pages, and the header's "live" indicator.
//
// EventSource retries on its own only for some failures (a refused connection or an HTTP error
// closes it for good), so each stream is reopened here with a growing delay instead; every new
// connection calls `onOpen`, which lets a page know the server starts over (the log stream sends
// the whole log again).

const liveStreams = new Set();

function showLive() {
  const indicator = document.getElementById("live");
  if (indicator) indicator.hidden = liveStreams.size === 0;
}

/**
 * Open `url` as an EventSource.
 * handlers: {message(data), <event name>(data), open(), drop()}: `message` gets unnamed messages.
 * Returns {close()}; a closed stream never reconnects.
 */
export function stream(url, handlers = {}) {
  let source = null;
  let closed = false;
  let timer = null;
  let delay = 1000;
  const token = {};

  function connect() {
    timer = null;
    if (closed) return;
    source = new EventSource(url);
    source.onopen = () => {
      delay = 1000;
      liveStreams.add(token);
      showLive();
      if (handlers.open) handlers.open();
    };
    source.onmessage = (event) => handlers.message && handlers.message(event.data);
    for (const [name, handler] of Object.entries(handlers)) {
      if (["message", "open", "drop"].includes(name)) continue;
      source.addEventListener(name, (event) => handler(event.data));
    }
    source.onerror = () => drop();
  }

  function drop() {
    if (source) source.close();
    source = null;
    liveStreams.delete(token);
    showLive();
    if (closed) return;
    if (handlers.drop) handlers.drop();
    if (!timer) timer = setTimeout(connect, delay);
    delay = Math.min(delay * 2, 10000);
  }

  connect();
  return {
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      if (source) source.close();
      source = null;
      liveStreams.delete(token);
      showLive();
    },
    /** The server said it is stopping: drop the connection and try again later. */
    reconnect: drop,
  };
}

/** JSON.parse that gives null instead of throwing on a malformed message. */
export function parse(data) {
  try {
    return JSON.parse(data);
  } catch {
    return null;
  }
}
