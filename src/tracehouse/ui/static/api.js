// The query API, as the pages call it. Errors come back as Error with the server's message.

export async function getJSON(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  return parse(response);
}

export async function postFile(url, file) {
  const response = await fetch(url, { method: "POST", body: file, headers: { "Content-Type": "application/json" } });
  return parse(response);
}

async function parse(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) {
    const message = (body && (body.error?.message || body.error || body.errors?.[0]?.msg)) || response.statusText;
    const err = new Error(String(message));
    err.status = response.status;
    throw err;
  }
  return body;
}
