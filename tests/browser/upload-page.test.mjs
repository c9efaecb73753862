// The upload page end to end on the local stack (`make stack-up`, then `source .stack/env`):
// headless Chromium opens the page that presign serves, uploads files through it to MinIO, and
// reads the verdicts the page shows once scan and notify have run. Fails, not skips, when the
// stack or its settings are missing.

import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";

import {
  dropFiles,
  eicar,
  launchBrowser,
  makePdf,
  makePng,
  mintJwt,
  openPage,
  saveScreenshot,
  waitForOutcome,
} from "./support.mjs";

// Upper bound on the wait for all verdicts: uploads, bucket events, clamd scans and status records.
const VERDICT_TIMEOUT_MS = 90_000;

function requiredEnv(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set; run 'source .stack/env' (make browser-test does) against a stack whose env file sets it`);
  }
  return value;
}

const functionsUrl = process.env.FUNCTIONS_URL || "http://127.0.0.1:9000/lambda-url";
const pageUrl = `${functionsUrl.replace(/\/+$/, "")}/presign/`;

let browser;
let workDir;

before(async () => {
  workDir = await mkdtemp(join(tmpdir(), "filestore-browser-test-"));
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  if (workDir) {
    await rm(workDir, { recursive: true, force: true });
  }
});

test("presign serves the upload page", async () => {
  // cargo lambda watch builds and starts a function instance on its first request after a
  // source change, which can take a minute or more.
  const response = await fetch(pageUrl, { signal: AbortSignal.timeout(120_000) });
  assert.equal(response.status, 200, `GET ${pageUrl}`);
  assert.match(response.headers.get("content-type") ?? "", /^text\/html/);
  assert.match(await response.text(), /id="file-input"/);
});

test("page uploads files and shows verdicts", async () => {
  const token = mintJwt(requiredEnv("PRESIGN_JWT_HS256_SECRET"), "browser-test");
  // A file 1 MiB over presign's multipart threshold takes the multipart path.
  const threshold = Number(process.env.PRESIGN_MULTIPART_THRESHOLD || 64 * 1024 * 1024);
  const largePath = join(workDir, "long notes.txt");
  const line = "Filestore browser test: a plain text line that repeats.\n";
  await writeFile(largePath, line.repeat(Math.ceil((threshold + 1024 * 1024) / line.length)));

  const apiRequests = [];
  const { page, errors } = await openPage(browser.context, "about:blank");
  page.on("request", (request) => {
    if (request.url().startsWith(`${pageUrl}uploads`)) {
      apiRequests.push({ url: request.url(), authorization: request.headers().authorization });
    }
  });
  await page.goto(`${pageUrl}#token=${token}`);
  assert.ok(!page.url().includes(token), `the token is still in the address bar: ${page.url()}`);

  try {
    // Picked with the file chooser, from files on disk as a person would pick them ...
    const picked = [
      ["team photo.png", makePng(48)],
      ["photo.png", makePdf()],
      ["tool.exe", Buffer.from("MZ not really a program")],
    ];
    for (const [name, bytes] of picked) {
      await writeFile(join(workDir, name), bytes);
    }
    await page.locator("#file-input").setInputFiles([...picked.map(([name]) => join(workDir, name)), largePath]);
    // ... and dropped on the drop zone.
    await dropFiles(page, [{ name: "eicar.txt", mimeType: "text/plain", buffer: eicar() }]);

    const names = ["team photo.png", "eicar.txt", "photo.png", "tool.exe", "long notes.txt"];
    const [clean, infected, spoofed, rejected, multipart] = await Promise.all(
      names.map((name) => waitForOutcome(page, name, VERDICT_TIMEOUT_MS)),
    );

    assert.match(clean, /\bclean\b/);
    assert.doesNotMatch(clean, /\binfected\b/);
    assert.match(infected, /\binfected\b/);
    assert.match(infected, /Signature\s+\S*EICAR/i);
    assert.match(spoofed, /\bspoofed\b/);
    assert.match(spoofed, /Declared type\s+image\/png/);
    assert.match(spoofed, /Detected type\s+application\/pdf/);
    assert.match(rejected, /Rejected: extension of "tool.exe" is not allowed/);
    assert.match(multipart, /\bclean\b/);
  } finally {
    const path = await saveScreenshot(page, "upload-page.png");
    console.log(`screenshot: ${path}`);
  }

  assert.ok(apiRequests.some((request) => request.url.endsWith("/complete")), "the large file was not sent as a multipart upload");
  for (const request of apiRequests) {
    assert.equal(request.authorization, `Bearer ${token}`, request.url);
  }
  assert.deepEqual(errors, []);
});
