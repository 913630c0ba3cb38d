// The pages people trust, driven in a real browser (headless Chromium from Debian's packages)
// against the demo server: a read-only user consents (which installs the app for its users),
// the admin reviews and approves its service account on a chosen project, approves a manifest
// update after seeing what it changes, the user disconnects the app from their connected apps,
// and the admin uninstalls it behind the confirmation. Each step is checked in the page and in
// the decisions the API makes; every page is checked for WCAG 2.1 A and AA violations by
// axe-core, and the consent is given with the keyboard alone.
//
// Usage: node flow.mjs SERVER_BINARY [SCREENSHOT_DIR]
// Exits 0 when every step held; prints what it showed on its last line.

import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { createInterface } from "node:readline";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

const [binary, shots = null] = process.argv.slice(2);
if (!binary) {
  console.error("usage: node flow.mjs SERVER_BINARY [SCREENSHOT_DIR]");
  process.exit(2);
}
const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";

function check(condition, what) {
  if (!condition) {
    throw new Error(`failed: ${what}`);
  }
  console.log(`ok: ${what}`);
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

/** Starts the demo server; resolves with its process and the startup line it printed. */
async function startDemo() {
  const port = await freePort();
  const child = spawn(binary, ["--addr", `127.0.0.1:${port}`], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || "warn" },
  });
  const lines = createInterface({ input: child.stdout });
  const seed = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the demo printed nothing in 30 s")), 30000);
    lines.once("line", (line) => {
      clearTimeout(timer);
      resolve(JSON.parse(line));
    });
    child.once("exit", (code) => reject(new Error(`the demo exited with ${code}`)));
  });
  return { child, seed };
}

/** Fails on any WCAG 2.1 A or AA violation axe-core finds on the page. */
async function accessible(page, name) {
  await page.addScriptTag({ content: axeSource });
  const found = await page.evaluate(async () => {
    const result = await globalThis.axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
    });
    return result.violations.map((violation) => `${violation.id} (${violation.nodes.length}): ${violation.help}`);
  });
  check(found.length === 0, `the ${name} page has no WCAG 2.1 A/AA violation axe-core finds ${found.join("; ")}`);
}

/** Checks the page's accessibility, then saves its screenshot. */
async function shot(page, name) {
  await accessible(page, name);
  if (shots) {
    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
  }
}

async function signIn(page, user) {
  await page.getByLabel("Username").fill(user.username);
  await page.getByLabel("Password").fill(user.password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

/** Tabs from the top of the page to the Allow button, which must show where focus is, and presses Enter. */
async function allowWithTheKeyboard(page) {
  for (let presses = 0; presses < 30; presses += 1) {
    await page.keyboard.press("Tab");
    const focused = await page.evaluate(() => {
      const element = document.activeElement;
      const style = getComputedStyle(element);
      return { text: element.textContent.trim(), outline: style.outlineStyle, width: style.outlineWidth };
    });
    if (focused.text === "Allow") {
      check(focused.outline !== "none" && focused.width !== "0px", "the focused Allow button shows a focus ring");
      await page.keyboard.press("Enter");
      return;
    }
  }
  throw new Error("failed: Tab never reached the Allow button");
}

async function api(seed, token, method, project) {
  const response = await fetch(`${seed.issuer}/api/projects/${project}/rfis`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      "company-id": seed.company_id,
      "content-type": "application/json",
    },
    body: method === "POST" ? JSON.stringify({ title: "From the browser test" }) : undefined,
  });
  return response.status;
}

async function tokenRequest(seed, app, form) {
  const basic = Buffer.from(`${app.client_id}:${app.client_secret}`).toString("base64");
  const response = await fetch(`${seed.issuer}/oauth/token`, {
    method: "POST",
    headers: {
      authorization: `Basic ${basic}`,
      "content-type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams(form).toString(),
  });
  return { status: response.status, body: await response.json() };
}

async function run() {
  const { child, seed } = await startDemo();
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
  try {
    const fieldsync = seed.apps.find((app) => app.name === "FieldSync");
    const [jane, john] = ["jane", "john"].map((name) =>
      seed.users.find((user) => user.username === name),
    );

    // 1. John, read-only on Riverside Tower, authorizes FieldSync.
    // axe-core is injected as a script, which the pages' CSP (rightly) forbids.
    const johnContext = await browser.newContext({ bypassCSP: true });
    const johnPage = await johnContext.newPage();
    const verifier = randomBytes(32).toString("base64url");
    const challenge = createHash("sha256").update(verifier).digest("base64url");
    const authorize = new URL(`${seed.issuer}/oauth/authorize`);
    authorize.search = new URLSearchParams({
      response_type: "code",
      client_id: fieldsync.client_id,
      redirect_uri: fieldsync.redirect_uri,
      state: "browser-test",
      code_challenge: challenge,
      code_challenge_method: "S256",
    }).toString();
    await johnPage.goto(authorize.toString());
    await signIn(johnPage, john);
    await johnPage.waitForSelector("h1");
    check(
      (await johnPage.locator("h1").innerText()) === "Allow FieldSync to act as you?",
      "the consent page asks John to allow FieldSync",
    );
    const consentText = await johnPage.locator("main").innerText();
    check(consentText.includes("You are signed in as John."), "it names John");
    check(consentText.includes("In Acme Construction, FieldSync will be able to:"), "it names the company");
    const row = johnPage.getByRole("row", { name: /rfis\s+Read only\s+Riverside Tower/ });
    check((await row.count()) === 1, "it lists RFIs, read only, on Riverside Tower: John's permission");
    check(consentText.includes("when they change, so does what FieldSync can do through you"), "it says access follows his permissions");
    await shot(johnPage, "consent");
    // The answer redirects the browser to the app's redirect URI (nothing listens there in
    // this test): the code is read from that redirect, as the app's server would receive it.
    const [answer] = await Promise.all([
      johnPage.waitForResponse(
        (response) => response.url().endsWith("/oauth/authorize") && response.request().method() === "POST",
      ),
      allowWithTheKeyboard(johnPage),
    ]);
    const location = new URL(answer.headers()["location"]);
    const code = location.searchParams.get("code");
    check(
      location.href.startsWith(fieldsync.redirect_uri) && code !== null && location.searchParams.get("state") === "browser-test",
      "Allow sends a code and the state to the app's redirect URI",
    );
    const exchanged = await tokenRequest(seed, fieldsync, {
      grant_type: "authorization_code",
      code,
      redirect_uri: fieldsync.redirect_uri,
      code_verifier: verifier,
    });
    check(exchanged.status === 200, "the code exchanges for tokens");
    const johnToken = exchanged.body.access_token;
    check((await api(seed, johnToken, "GET", "tower")) === 200, "as John, FieldSync reads Tower RFIs");
    check((await api(seed, johnToken, "POST", "tower")) === 403, "as John, FieldSync cannot write them");

    // 2. Jane, the admin, reviews FieldSync's service account and approves it on Riverside Tower.
    const janeContext = await browser.newContext({ bypassCSP: true });
    const janePage = await janeContext.newPage();
    await janePage.goto(seed.admin_url);
    await signIn(janePage, jane);
    await janePage.waitForSelector("h1");
    check((await janePage.locator("h1").innerText()) === "Apps in Acme Construction", "the admin page lists Acme's apps");
    const listed = await janePage.locator("main").innerText();
    check(
      listed.includes("FieldSync") && listed.includes("Service account waiting for approval"),
      "FieldSync's service account waits for approval",
    );
    check(listed.includes("Requested by John"), "it says who asked");
    await shot(janePage, "admin_apps");
    await janePage.getByRole("link", { name: "Review FieldSync", exact: true }).click();
    check(
      (await janePage.locator("h1").innerText()) === "Give FieldSync its service account in Acme Construction?",
      "the review asks to give FieldSync its service account (John's consent installed it for its users)",
    );
    check(
      (await janePage.getByRole("row", { name: /rfis\s+Standard\s+On each permitted project/ }).count()) === 1,
      "it shows the manifest in plain words",
    );
    await janePage.getByLabel("Riverside Tower").check();
    await shot(janePage, "admin_review");
    await janePage.getByRole("button", { name: "Approve", exact: true }).click();
    await janePage.waitForSelector("h1");
    check((await janePage.locator("h1").innerText()) === "FieldSync in Acme Construction", "after approval the app is installed");
    const granted = await tokenRequest(seed, fieldsync, { grant_type: "client_credentials" });
    check(granted.status === 200, "the service account gets a token");
    const serviceToken = granted.body.access_token;
    check((await api(seed, serviceToken, "POST", "tower")) === 201, "the service account writes Tower RFIs");
    check((await api(seed, serviceToken, "GET", "depot")) === 403, "but nothing on North Depot, which Jane did not permit");

    // 3. The developer publishes a version asking for more; Jane sees what changes and approves.
    const published = await fetch(`${seed.issuer}/developer/apps/${fieldsync.client_id}/manifests`, {
      method: "POST",
      headers: { authorization: `Bearer ${seed.developer_token}`, "content-type": "application/json" },
      body: JSON.stringify({ company: { directory: "read_only" }, project: { rfis: "admin", photos: "read_only" } }),
    });
    check(published.status === 201, "the developer publishes manifest version 2");
    await janePage.reload();
    check((await janePage.locator("h1").innerText()) === "Approve FieldSync's update?", "the update waits for Jane");
    const update = await janePage.locator("main").innerText();
    check(/rfis\s+Standard → Admin/.test(update), "the update review shows RFIs raised from Standard to Admin");
    check(/photos\s+No access → Read only/.test(update), "and photos added");
    check(update.includes("the approved permissions stay in force"), "and what stays in force until then");
    await shot(janePage, "admin_update");
    await janePage.getByRole("button", { name: "Approve update" }).click();
    await janePage.waitForSelector("h1");
    check((await janePage.locator("h1").innerText()) === "FieldSync in Acme Construction", "the update is approved");

    // 4. John disconnects FieldSync from his connected apps.
    await johnPage.goto(seed.connected_apps_url);
    const connected = await johnPage.locator("main").innerText();
    check(connected.includes("FieldSync"), "John's connected apps list FieldSync");
    await shot(johnPage, "connected_apps");
    await johnPage.getByRole("button", { name: "Disconnect FieldSync" }).click();
    await johnPage.waitForSelector(".notice");
    check((await johnPage.locator(".notice").innerText()).includes("FieldSync was disconnected"), "it says FieldSync was disconnected");
    check((await api(seed, johnToken, "GET", "tower")) === 401, "John's token stops at once");

    // 5. Jane uninstalls FieldSync behind the confirmation.
    await janePage.getByRole("link", { name: "Uninstall…" }).click();
    const warning = await janePage.getByRole("alert").innerText();
    check(warning.includes("Every token of FieldSync in Acme Construction stops working at once"), "the confirmation says every token stops");
    check(warning.includes("deactivated"), "and that the service account is deactivated");
    await shot(janePage, "admin_uninstall");
    check((await api(seed, serviceToken, "GET", "tower")) === 200, "nothing changes before the confirmation");
    await janePage.getByRole("button", { name: "Uninstall FieldSync" }).click();
    await janePage.waitForSelector("h1");
    check((await janePage.locator("main").innerText()).includes("Uninstalled"), "the apps list says Uninstalled");
    const afterUninstall = await api(seed, serviceToken, "GET", "tower");
    // 403 naming app_uninstalled: the token is refused here for good.
    check(afterUninstall === 403, "the service account's token stops at once");

    console.log(
      "browser flow: consent, install review, update review, connected apps and uninstall all worked in headless Chromium, each checked in the page and in the API's decisions",
    );
  } finally {
    await browser.close();
    child.kill();
  }
}

run().catch((error) => {
  console.error(error);
  process.exit(1);
});
