// Helpers shared by the browser tests: launching Debian's Chromium, minting tokens, making test
// files and reading what the upload page shows.

import { createHmac } from "node:crypto";
import { mkdtemp, mkdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { deflateSync } from "node:zlib";

import { chromium } from "playwright-core";

export const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = join(HERE, "..", "..");
export const PAGE_FILE = join(REPO_ROOT, "functions", "presign", "src", "page.html");
export const OUTPUT_DIR = join(HERE, "output");

const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

// The background-networking flags keep Chromium from calling Google's update, sync and field
// trial servers, which this machine cannot reach.
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * Launches headless Chromium with a fresh profile in a temporary folder. Returns the browser
 * context and a `close` function that also deletes the profile.
 */
export async function launchBrowser() {
  const profile = await mkdtemp(join(tmpdir(), "filestore-chromium-"));
  let context;
  try {
    // launchPersistentContext is Playwright's way to choose the --user-data-dir folder: it
    // rejects that flag in `args`.
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 900, height: 1000 },
    });
  } catch (error) {
    await rm(profile, { recursive: true, force: true });
    throw new Error(
      `launching ${CHROMIUM} failed; install it with 'apt-get install -y chromium' ` +
        `(scripts/install.sh does): ${error.message}`,
    );
  }
  return {
    context,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Opens `url` in a new tab. Returns the page and `errors`, which collects the messages of uncaught
 * page errors for the test to check.
 */
export async function openPage(context, url) {
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (error) => errors.push(error.message));
  await page.goto(url);
  return { page, errors };
}

function base64url(data) {
  return Buffer.from(data).toString("base64url");
}

/**
 * Mints an HS256 JWT for `subject` that expires in `lifetimeSeconds`.
 */
export function mintJwt(secret, subject, lifetimeSeconds = 600) {
  const now = Math.floor(Date.now() / 1000);
  const header = base64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const claims = base64url(JSON.stringify({ sub: subject, iat: now, exp: now + lifetimeSeconds }));
  const signature = createHmac("sha256", secret).update(`${header}.${claims}`).digest("base64url");
  return `${header}.${claims}.${signature}`;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) {
    c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return c >>> 0;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (const byte of bytes) {
    c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  }
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/**
 * Returns a valid RGB PNG of `size` × `size` pixels with a colour gradient.
 */
export function makePng(size = 32) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header[8] = 8; // bits per channel
  header[9] = 2; // colour type: RGB
  // Bytes 10 to 12 stay 0: deflate compression, adaptive filtering, no interlace.
  const rows = [];
  for (let y = 0; y < size; y++) {
    const row = Buffer.alloc(1 + size * 3); // filter byte 0 (none), then the pixels
    for (let x = 0; x < size; x++) {
      row[1 + x * 3] = Math.round((255 * x) / size);
      row[2 + x * 3] = Math.round((255 * y) / size);
      row[3 + x * 3] = 160;
    }
    rows.push(row);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk("IHDR", header),
    pngChunk("IDAT", deflateSync(Buffer.concat(rows))),
    pngChunk("IEND", Buffer.alloc(0)),
  ]);
}

/**
 * Returns the EICAR anti-virus test string. It is joined at run time so that no scanner flags
 * this source file.
 */
export function eicar() {
  return Buffer.from("X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*", "ascii");
}

/**
 * Returns a minimal PDF, for a file whose content does not match a `.png` name.
 */
export function makePdf() {
  return Buffer.from("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n");
}

/**
 * Returns the list item the page shows for the file called `name`.
 */
export function fileRow(page, name) {
  return page.getByRole("listitem").filter({
    has: page.getByRole("heading", { name, exact: true }),
  });
}

/**
 * Waits until the row of `name` shows a final outcome (its badge has text) and returns the row's
 * rendered text. Fails after `timeoutMs` with the text the row shows by then.
 */
export async function waitForOutcome(page, name, timeoutMs) {
  const row = fileRow(page, name);
  const badge = row.locator(".verdict");
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await badge.count()) === 1 && (await badge.innerText()).trim() !== "") {
      return row.innerText();
    }
    if (Date.now() > deadline) {
      const rowText = (await row.count()) === 1 ? await row.innerText() : "(no row for this file)";
      throw new Error(`no outcome for ${name} after ${timeoutMs / 1000} s; the row shows: ${rowText}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * Drops files on the page's drop zone, the way a person drags them from a file manager.
 * `files` is a list of `{ name, mimeType, buffer }` objects.
 */
export async function dropFiles(page, files) {
  const encoded = files.map((file) => ({
    name: file.name,
    mimeType: file.mimeType,
    base64: file.buffer.toString("base64"),
  }));
  const transfer = await page.evaluateHandle((list) => {
    const data = new DataTransfer();
    for (const file of list) {
      const bytes = Uint8Array.from(atob(file.base64), (c) => c.charCodeAt(0));
      data.items.add(new File([bytes], file.name, { type: file.mimeType }));
    }
    return data;
  }, encoded);
  const zone = page.locator("#dropzone");
  await zone.dispatchEvent("dragenter", { dataTransfer: transfer });
  await zone.dispatchEvent("dragover", { dataTransfer: transfer });
  await zone.dispatchEvent("drop", { dataTransfer: transfer });
}

/**
 * Saves a full-page screenshot under tests/browser/output/ and returns its path.
 */
export async function saveScreenshot(page, fileName) {
  await mkdir(OUTPUT_DIR, { recursive: true });
  const path = join(OUTPUT_DIR, fileName);
  await page.screenshot({ path, fullPage: true });
  return path;
}
