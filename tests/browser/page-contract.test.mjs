// The upload page against a fake presign API and fake storage on 127.0.0.1, which follow the API
// contract of functions/presign. This covers paths the real stack reaches only with effort:
// multipart uploads with a failing part, storage rejections, every verdict, and server text
// that contains HTML. upload-page.test.mjs runs the page against the real stack.

import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { after, before, test } from "node:test";

import {
  PAGE_FILE,
  dropFiles,
  fileRow,
  launchBrowser,
  makePng,
  openPage,
  saveScreenshot,
  waitForOutcome,
} from "./support.mjs";

const TOKEN = "test-token.with-dots_and-dashes";
// Part size of the fake API's multipart tickets. Real S3 needs at least 5 MiB, but the page
// works with any size.
const PART_SIZE = 64 * 1024;
// Uploads larger than this get a multipart ticket from the fake API.
const MULTIPART_THRESHOLD = 100 * 1024;
// Verdicts stay pending for this many status requests.
const PENDING_POLLS = 2;
// Text with markup that the page must show as text.
const HOSTILE = '<img src=x onerror="window.__injected=1">';

// The fake API chooses what happens to an upload by a word in its file name.
function verdictFor(name) {
  if (name.includes("infected")) {
    return { verdict: "infected", signature: `Test.Signature ${HOSTILE}`, action: "deleted" };
  }
  if (name.includes("spoofed")) {
    return { verdict: "spoofed", declared: "image/png", detected: "application/pdf", action: "deleted" };
  }
  if (name.includes("unscannable")) {
    return { verdict: "unscannable", reason: "larger than the scan limit", action: "deleted" };
  }
  if (name.includes("error")) {
    return { verdict: "error", reason: "clamd timed out", action: "tagged" };
  }
  return { verdict: "clean", action: "tagged" };
}

function readBody(request) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => resolve(Buffer.concat(chunks)));
    request.on("error", reject);
  });
}

function sendJson(response, status, body) {
  response.writeHead(status, { "Content-Type": "application/json" });
  response.end(JSON.stringify(body));
}

function sendS3Error(response, status, code, message) {
  response.writeHead(status, { "Content-Type": "application/xml" });
  response.end(
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code>` +
      `<Message>${message}</Message><Resource>/incoming</Resource></Error>`,
  );
}

/**
 * Starts the fake presign API and the fake storage on one server and records every request.
 */
async function startFakeBackend() {
  const state = {
    requests: [],
    uploads: new Map(),
    forms: new Map(),
    parts: new Map(),
    partAttempts: new Map(),
    completions: new Map(),
    aborts: [],
  };
  let nextId = 1;

  const server = createServer(async (request, response) => {
    // The page runs on another origin, as it does against real storage.
    response.setHeader("Access-Control-Allow-Origin", "*");
    response.setHeader("Access-Control-Allow-Headers", "authorization, content-type");
    response.setHeader("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE");
    response.setHeader("Access-Control-Expose-Headers", "ETag");
    if (request.method === "OPTIONS") {
      response.writeHead(204);
      response.end();
      return;
    }
    const url = new URL(request.url, "http://fake");
    const body = await readBody(request);
    state.requests.push({ method: request.method, path: url.pathname, authorization: request.headers.authorization });
    const base = `http://127.0.0.1:${server.address().port}`;

    if (url.pathname.startsWith("/api/") && request.headers.authorization !== `Bearer ${TOKEN}`) {
      sendJson(response, 401, { error: "unauthorized", message: "missing credentials" });
      return;
    }

    let match;
    if (request.method === "POST" && url.pathname === "/api/uploads") {
      const ask = JSON.parse(body.toString());
      if (ask.filename.endsWith(".exe")) {
        sendJson(response, 415, {
          error: "extension_not_allowed",
          message: `extension of "${ask.filename}" is not allowed; allowed: png, txt ${HOSTILE}`,
        });
        return;
      }
      const id = String(nextId++).padStart(32, "0");
      state.uploads.set(id, { ask, polls: 0 });
      const ticket = { id, key: `uploads/${id}/${ask.filename}`, expires_at: "2099-01-01T00:00:00Z", status_url: `uploads/${id}` };
      if (ask.size > MULTIPART_THRESHOLD) {
        const count = Math.ceil(ask.size / PART_SIZE);
        // Listed in reverse to check that the page does not rely on the order.
        const parts = Array.from({ length: count }, (_, i) => ({ number: count - i, url: `${base}/storage/parts/${id}/${count - i}` }));
        ticket.multipart = { part_size: PART_SIZE, parts, complete_url: `uploads/${id}/complete`, abort_url: `uploads/${id}` };
      } else {
        ticket.upload = {
          method: "POST",
          url: `${base}/storage/incoming?upload=${id}`,
          fields: { key: ticket.key, "Content-Type": ask.content_type, policy: "cG9saWN5", "x-amz-signature": "abc123" },
        };
      }
      sendJson(response, 201, ticket);
      return;
    }

    if (request.method === "POST" && url.pathname === "/storage/incoming") {
      const id = url.searchParams.get("upload");
      const form = await new Response(body, { headers: { "content-type": request.headers["content-type"] } }).formData();
      const entries = [];
      for (const [name, value] of form.entries()) {
        entries.push({ name, value: typeof value === "string" ? value : Buffer.from(await value.arrayBuffer()) });
      }
      state.forms.set(id, entries);
      if (state.uploads.get(id).ask.filename.includes("rejected")) {
        sendS3Error(response, 403, "AccessDenied", "Invalid according to Policy: Policy Condition failed");
        return;
      }
      response.writeHead(204);
      response.end();
      return;
    }

    if (request.method === "PUT" && (match = url.pathname.match(/^\/storage\/parts\/(\w+)\/(\d+)$/))) {
      const [, id, number] = match;
      const name = state.uploads.get(id).ask.filename;
      const attempt = (state.partAttempts.get(`${id}/${number}`) ?? 0) + 1;
      state.partAttempts.set(`${id}/${number}`, attempt);
      if (name.includes("flaky") && number === "3" && attempt === 1) {
        sendS3Error(response, 503, "SlowDown", "Please reduce your request rate.");
        return;
      }
      if (name.includes("partfail") && number === "2") {
        sendS3Error(response, 403, "SignatureDoesNotMatch", "The request signature we calculated does not match");
        return;
      }
      if (!state.parts.has(id)) {
        state.parts.set(id, new Map());
      }
      state.parts.get(id).set(Number(number), body);
      response.writeHead(200, { ETag: `"etag-${id}-${number}"` });
      response.end();
      return;
    }

    if (request.method === "POST" && (match = url.pathname.match(/^\/api\/uploads\/(\w+)\/complete$/))) {
      state.completions.set(match[1], JSON.parse(body.toString()));
      response.writeHead(204);
      response.end();
      return;
    }

    if (request.method === "DELETE" && (match = url.pathname.match(/^\/api\/uploads\/(\w+)$/))) {
      state.aborts.push(match[1]);
      response.writeHead(204);
      response.end();
      return;
    }

    if (request.method === "GET" && (match = url.pathname.match(/^\/api\/uploads\/(\w+)$/))) {
      const upload = state.uploads.get(match[1]);
      upload.polls += 1;
      const done = upload.polls > PENDING_POLLS;
      sendJson(response, 200, {
        upload_id: match[1],
        filename: upload.ask.filename,
        status: done ? "done" : "pending",
        verdict: done ? verdictFor(upload.ask.filename) : null,
      });
      return;
    }

    sendJson(response, 404, { error: "not_found", message: `no route for ${request.method} ${url.pathname}` });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, state, base: `http://127.0.0.1:${server.address().port}` };
}

/**
 * Serves page.html alone, on an origin of its own.
 */
async function startPageServer() {
  const html = await readFile(PAGE_FILE);
  const server = createServer((request, response) => {
    response.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    response.end(html);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${server.address().port}/presign/` };
}

let backend;
let pageServer;
let browser;

before(async () => {
  backend = await startFakeBackend();
  pageServer = await startPageServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  pageServer?.server.close();
  backend?.server.close();
});

function pageUrl(withToken = true) {
  const api = encodeURIComponent(`${backend.base}/api`);
  return `${pageServer.url}?api=${api}` + (withToken ? `#token=${encodeURIComponent(TOKEN)}` : "");
}

test("page shows every verdict and escapes server text", async () => {
  const { page, errors } = await openPage(browser.context, pageUrl());
  assert.ok(!page.url().includes("token"), `the token is still in the address bar: ${page.url()}`);
  assert.equal(await page.locator("#token-notice").isVisible(), false);

  const names = ["clean.png", "infected.txt", "spoofed.png", "unscannable.txt", "error.txt", "tool.exe"];
  await page.locator("#file-input").setInputFiles(
    names.map((name) => ({ name, mimeType: name.endsWith(".png") ? "image/png" : "text/plain", buffer: makePng(8) })),
  );
  const rowTexts = {};
  for (const name of names) {
    rowTexts[name] = await waitForOutcome(page, name, 15_000);
  }

  assert.match(rowTexts["clean.png"], /\bclean\b/);
  assert.match(rowTexts["infected.txt"], /\binfected\b/);
  assert.ok(rowTexts["infected.txt"].includes(`Test.Signature ${HOSTILE}`), rowTexts["infected.txt"]);
  assert.match(rowTexts["spoofed.png"], /\bspoofed\b/);
  assert.match(rowTexts["spoofed.png"], /Declared type\s+image\/png/);
  assert.match(rowTexts["spoofed.png"], /Detected type\s+application\/pdf/);
  assert.match(rowTexts["unscannable.txt"], /\bunscannable\b/);
  assert.match(rowTexts["unscannable.txt"], /Reason\s+larger than the scan limit/);
  assert.match(rowTexts["error.txt"], /\berror\b/);
  assert.match(rowTexts["error.txt"], /Reason\s+clamd timed out/);
  assert.match(rowTexts["tool.exe"], /Rejected: extension of "tool.exe" is not allowed/);
  assert.ok(rowTexts["tool.exe"].includes(HOSTILE), rowTexts["tool.exe"]);

  assert.equal(await page.locator("#files img").count(), 0, "server text became markup");
  assert.equal(await page.evaluate(() => window.__injected), undefined, "server text ran as script");
  assert.deepEqual(errors, []);
  await saveScreenshot(page, "contract-verdicts.png");
  await page.close();
});

test("single upload posts the signed fields, then the file", async () => {
  const { page, errors } = await openPage(browser.context, pageUrl());
  const bytes = makePng(16);
  const before = new Set(backend.state.forms.keys());
  await page.locator("#file-input").setInputFiles([{ name: "form.png", mimeType: "image/png", buffer: bytes }]);
  assert.match(await waitForOutcome(page, "form.png", 15_000), /\bclean\b/);

  const id = [...backend.state.forms.keys()].find((key) => !before.has(key));
  const entries = backend.state.forms.get(id);
  const names = entries.map((entry) => entry.name);
  assert.equal(names.at(-1), "file", `form field order: ${names}`);
  assert.deepEqual(names.slice(0, -1).sort(), ["Content-Type", "key", "policy", "x-amz-signature"]);
  assert.equal(entries.find((entry) => entry.name === "Content-Type").value, "image/png");
  assert.ok(Buffer.compare(entries.at(-1).value, bytes) === 0, "the uploaded bytes differ from the file");
  assert.deepEqual(errors, []);
  await page.close();
});

test("multipart upload retries a part and completes", async () => {
  const { page, errors } = await openPage(browser.context, pageUrl());
  const size = 3 * PART_SIZE + 1234;
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) {
    bytes[i] = i % 251;
  }
  await page.locator("#file-input").setInputFiles([{ name: "flaky-large.txt", mimeType: "text/plain", buffer: bytes }]);
  assert.match(await waitForOutcome(page, "flaky-large.txt", 15_000), /\bclean\b/);

  const id = [...backend.state.completions.keys()].find((key) => backend.state.uploads.get(key).ask.filename === "flaky-large.txt");
  assert.ok(id, "the page never completed the multipart upload");
  const received = backend.state.parts.get(id);
  assert.deepEqual([...received.keys()].sort(), [1, 2, 3, 4]);
  assert.ok(Buffer.compare(Buffer.concat([1, 2, 3, 4].map((n) => received.get(n))), bytes) === 0, "the parts do not add up to the file");
  assert.deepEqual(backend.state.completions.get(id), {
    parts: [1, 2, 3, 4].map((number) => ({ number, etag: `"etag-${id}-${number}"` })),
  });
  assert.equal(backend.state.partAttempts.get(`${id}/3`), 2, "part 3 was not sent again after the 503");
  assert.equal(backend.state.partAttempts.get(`${id}/1`), 1);
  assert.ok(!backend.state.aborts.includes(id), "a completed upload was aborted");
  assert.deepEqual(errors, []);
  await page.close();
});

test("failed part aborts the multipart upload", async () => {
  const { page, errors } = await openPage(browser.context, pageUrl());
  const bytes = Buffer.alloc(2 * PART_SIZE + 10, 0x61);
  await page.locator("#file-input").setInputFiles([{ name: "partfail.txt", mimeType: "text/plain", buffer: bytes }]);
  const rowText = await waitForOutcome(page, "partfail.txt", 15_000);

  assert.match(rowText, /\bfailed\b/);
  assert.match(rowText, /Storage rejected the upload \(HTTP 403\): The request signature we calculated does not match/);
  const id = [...backend.state.uploads.keys()].find((key) => backend.state.uploads.get(key).ask.filename === "partfail.txt");
  // The abort is sent without waiting, so it may arrive just after the row shows the failure.
  for (let i = 0; i < 40 && !backend.state.aborts.includes(id); i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.ok(backend.state.aborts.includes(id), "the page did not abort the multipart upload");
  assert.ok(!backend.state.completions.has(id), "the page completed a failed upload");
  assert.deepEqual(errors, []);
  await page.close();
});

test("storage rejection shows the XML message", async () => {
  const { page, errors } = await openPage(browser.context, pageUrl());
  await dropFiles(page, [{ name: "rejected.png", mimeType: "image/png", buffer: makePng(4) }]);
  const rowText = await waitForOutcome(page, "rejected.png", 15_000);

  assert.match(rowText, /\bfailed\b/);
  assert.match(rowText, /Storage rejected the upload \(HTTP 403\): Invalid according to Policy: Policy Condition failed/);
  assert.deepEqual(errors, []);
  await page.close();
});

test("every API call carries the bearer token", () => {
  const api = backend.state.requests.filter((request) => request.path.startsWith("/api/"));
  const storage = backend.state.requests.filter((request) => request.path.startsWith("/storage/"));
  assert.ok(api.length > 0, "the tests above made no API call");
  assert.ok(storage.length > 0, "the tests above sent nothing to storage");
  for (const request of api) {
    assert.equal(request.authorization, `Bearer ${TOKEN}`, `${request.method} ${request.path}`);
  }
  for (const request of storage) {
    assert.equal(request.authorization, undefined, `storage got credentials: ${request.method} ${request.path}`);
  }
});

test("page without a token warns and shows the 401", async () => {
  const { page, errors } = await openPage(browser.context, pageUrl(false));
  assert.equal(await page.locator("#token-notice").isVisible(), true);
  await page.locator("#file-input").setInputFiles([{ name: "anonymous.png", mimeType: "image/png", buffer: makePng(4) }]);
  const rowText = await waitForOutcome(page, "anonymous.png", 15_000);

  assert.match(rowText, /Not signed in or the access token has expired: missing credentials/);
  assert.equal(await fileRow(page, "anonymous.png").count(), 1);
  assert.deepEqual(errors, []);
  await page.close();
});
