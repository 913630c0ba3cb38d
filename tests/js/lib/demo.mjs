// The demo server (`examples/server`) as the checks drive it: started on a free loopback port,
// its startup line read, its metadata discovered with oauth4webapi, and an oauth4webapi client
// for each seeded app. A `Browser` signs a demo user in and answers the consent page the way a
// person's browser would (cookies kept, redirects followed by hand, the form's hidden fields
// posted back), so the authorization-code flow needs no real browser.

import * as oauth from "oauth4webapi";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { createInterface } from "node:readline";

/**
 * The options every oauth4webapi call needs here: the demo listens on plain http on loopback,
 * which oauth4webapi refuses unless told otherwise.
 */
export const INSECURE = Object.freeze({ [oauth.allowInsecureRequests]: true });

/** A free TCP port on 127.0.0.1 (free when asked; the demo binds it right after). */
export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

/** Starts the demo binary; resolves with its process and the JSON line it printed first. */
export async function startDemo(binary) {
  const port = await freePort();
  const child = spawn(binary, ["--addr", `127.0.0.1:${port}`], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || "error" },
  });
  const lines = createInterface({ input: child.stdout });
  const seed = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the demo printed nothing in 30 s")), 30_000);
    lines.once("line", (line) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(line));
      } catch (error) {
        reject(new Error(`the demo's first line is not JSON: ${line}`));
      }
    });
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the demo exited with ${code}`));
    });
  });
  // Keep reading, so the pipe never fills.
  lines.on("line", () => {});
  return { child, seed };
}

/** Decodes the character references the library's templates write (`&amp;`, `&#x2f;`…). */
export function unescapeHtml(text) {
  const named = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };
  return text.replace(/&(#[xX][0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, (whole, entity) => {
    if (entity[0] === "#") {
      const code = entity[1] === "x" || entity[1] === "X" ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1), 10);
      return String.fromCodePoint(code);
    }
    return named[entity.toLowerCase()] ?? whole;
  });
}

/** The attributes of one HTML tag, decoded. */
function attributes(tag) {
  const found = {};
  for (const [, name, value] of tag.matchAll(/([a-zA-Z_:][-a-zA-Z0-9_:.]*)="([^"]*)"/g)) {
    found[name.toLowerCase()] = unescapeHtml(value);
  }
  return found;
}

/**
 * The forms of a page: each with its `action` (decoded), `method`, hidden fields, and the
 * name/value of its submit buttons.
 */
export function forms(page) {
  const found = [];
  for (const [, open, body] of page.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)) {
    const form = attributes(open);
    const hidden = [];
    for (const [tag] of body.matchAll(/<input\b[^>]*>/g)) {
      const input = attributes(tag);
      if (input.type === "hidden" && input.name !== undefined) {
        hidden.push([input.name, input.value ?? ""]);
      }
    }
    const buttons = [];
    for (const [tag] of body.matchAll(/<button\b[^>]*>/g)) {
      const button = attributes(tag);
      if (button.name !== undefined) {
        buttons.push([button.name, button.value ?? ""]);
      }
    }
    found.push({ action: form.action ?? "", method: (form.method ?? "get").toLowerCase(), hidden, buttons });
  }
  return found;
}

/**
 * A browser without a window: keeps the demo's cookies, follows redirects by hand (so a
 * redirect to the app's redirect URI, where nothing listens, is seen rather than followed).
 */
export class Browser {
  constructor(demo) {
    this.demo = demo;
    this.cookies = new Map();
  }

  absolute(location) {
    return new URL(location, this.demo.issuer).href;
  }

  /** One request, with the cookies, without following a redirect; keeps the cookies set. */
  async request(url, init = {}) {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0) {
      headers.set("cookie", [...this.cookies].map(([name, value]) => `${name}=${value}`).join("; "));
    }
    const response = await fetch(this.absolute(url), { ...init, headers, redirect: "manual" });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const at = pair.indexOf("=");
      if (at > 0) {
        this.cookies.set(pair.slice(0, at).trim(), pair.slice(at + 1).trim());
      }
    }
    return response;
  }

  /** Posts a form (`application/x-www-form-urlencoded`). */
  async post(url, fields, headers = {}) {
    return this.request(url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
      body: new URLSearchParams(fields).toString(),
    });
  }

  /** Signs in through the demo's login form as the seeded user `username`. */
  async signIn(username) {
    const user = this.demo.user(username);
    const response = await this.post("/login", { username: user.username, password: user.password, return_to: "/" });
    await response.body?.cancel();
    if (response.status !== 303) {
      throw new Error(`signing in as ${username} answered ${response.status}, not 303`);
    }
    return this;
  }

  /**
   * Opens `url` and follows redirects while they stay on the demo: resolves with the last
   * response, a page or a redirect that leaves the demo (to an app's redirect URI).
   */
  async open(url) {
    let next = this.absolute(url);
    for (let hops = 0; hops < 10; hops += 1) {
      const response = await this.request(next);
      const location = response.headers.get("location");
      if (response.status < 300 || response.status >= 400 || location === null) {
        return response;
      }
      const target = this.absolute(location);
      if (new URL(target).origin !== new URL(this.demo.issuer).origin) {
        return response;
      }
      await response.body?.cancel();
      next = target;
    }
    throw new Error(`more than 10 redirects from ${url}`);
  }

  /**
   * Answers the consent page `page`, shown at `pageUrl`, with `decision` ("allow" or "deny"):
   * posts its form's hidden fields back, with the decision button's name and value (the form's
   * `action` is relative to the page). Resolves with the response to the post.
   */
  async answerConsent(page, pageUrl, decision) {
    const endpoint = new URL(this.demo.as.authorization_endpoint).href;
    const form = forms(page).find(
      (candidate) =>
        candidate.method === "post" &&
        new URL(candidate.action, pageUrl).href === endpoint &&
        candidate.buttons.some(([, value]) => value === decision),
    );
    if (!form) {
      throw new Error(`no consent form with a ${decision} button in the page: ${page.slice(0, 400)}`);
    }
    const [buttonName] = form.buttons.find(([, value]) => value === decision);
    return this.post(endpoint, [...form.hidden, [buttonName, decision]]);
  }
}

/**
 * Everything the checks share: the seed line, the discovered metadata (`as`), the seeded apps
 * as oauth4webapi clients, and helpers for the flows the demo needs before a check can start.
 */
export class Demo {
  constructor(seed) {
    this.seed = seed;
    this.issuer = seed.issuer;
    this.as = null;
    this.serviceAccounts = new Map();
  }

  /** Discovers the authorization server's metadata (RFC 8414) with oauth4webapi. */
  async discover() {
    const issuer = new URL(this.issuer);
    const response = await oauth.discoveryRequest(issuer, { algorithm: "oauth2", ...INSECURE });
    this.as = await oauth.processDiscoveryResponse(issuer, response);
    return this.as;
  }

  user(username) {
    const user = this.seed.users.find((candidate) => candidate.username === username);
    if (!user) throw new Error(`no seeded user ${username}`);
    return user;
  }

  app(name) {
    const app = this.seed.apps.find((candidate) => candidate.name === name);
    if (!app) throw new Error(`no seeded app ${name}`);
    return app;
  }

  /** The confidential app with both flows (user-delegated and service account). */
  get fieldsync() {
    return this.app("FieldSync");
  }

  /** The public web app (PKCE alone). */
  get mobile() {
    return this.app("FieldSync Mobile");
  }

  /** The native app (RFC 8252): its loopback redirect URI matches at any port. */
  get desktop() {
    const app = this.seed.apps.find((candidate) => candidate.native);
    if (!app) throw new Error("no seeded native app");
    return app;
  }

  /**
   * The oauth4webapi client of a seeded app and its client authentication: `basic`
   * (client_secret_basic, the default for a confidential app), `post` (client_secret_post), or
   * `none` (a public app).
   */
  client(app, method = app.client_secret ? "basic" : "none") {
    const client = { client_id: app.client_id };
    switch (method) {
      case "basic":
        return { app, client, auth: oauth.ClientSecretBasic(app.client_secret) };
      case "post":
        return { app, client, auth: oauth.ClientSecretPost(app.client_secret) };
      case "none":
        return { app, client, auth: oauth.None() };
      default:
        throw new Error(`unknown client authentication ${method}`);
    }
  }

  /**
   * FieldSync's service account installed in Acme, once per run, as the demo's admin does it
   * over HTTP: Jane asks for the install, reads the admin review for its revision, and approves
   * it on `tower` (so its tokens may read and write Tower's RFIs, nothing on Depot).
   */
  async installServiceAccount(app = this.fieldsync) {
    if (!this.serviceAccounts.has(app.client_id)) this.serviceAccounts.set(app.client_id, (async () => {
      const appId = encodeURIComponent(app.client_id);
      const jane = await new Browser(this).signIn("jane");
      const asked = await jane.request(`/apps/${appId}/request-install`, {
        method: "POST",
        headers: { accept: "application/json" },
      });
      if (asked.status !== 200) throw new Error(`the install request answered ${asked.status}: ${await asked.text()}`);
      await asked.body?.cancel();
      const reviewPath = `/admin/api/companies/${this.seed.company_id}/apps/${appId}`;
      const review = await jane.request(reviewPath);
      if (review.status !== 200) throw new Error(`the admin review answered ${review.status}`);
      const { installation } = await review.json();
      if (installation.status === "active") {
        return installation;
      }
      const approved = await jane.request(`${reviewPath}/approve`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ revision: installation.revision, projects: ["tower"] }),
      });
      if (approved.status !== 200) throw new Error(`the approval answered ${approved.status}: ${await approved.text()}`);
      return approved.json();
    })());
    return this.serviceAccounts.get(app.client_id);
  }

  /**
   * A client-credentials grant through oauth4webapi for FieldSync's service account, with
   * `parameters` (scope, resource…) and client authentication `method`: the processed token
   * response (it throws oauth4webapi's errors, e.g. ResponseBodyError for an OAuth error).
   */
  async clientCredentials(parameters = {}, method = "basic") {
    await this.installServiceAccount();
    const { client, auth } = this.client(this.fieldsync, method);
    const response = await oauth.clientCredentialsGrantRequest(this.as, client, auth, parameters, INSECURE);
    return oauth.processClientCredentialsResponse(this.as, client, response);
  }

  /**
   * A call of the demo API (or any resource path of the demo) through oauth4webapi's
   * `protectedResourceRequest`, in Acme. Resolves with `{ status, body, challenges }`:
   * `challenges` are the WWW-Authenticate challenges oauth4webapi parsed (it throws them as a
   * WWWAuthenticateChallengeError, caught here), or null when the answer had none.
   */
  async api(token, method, path, json = undefined, options = {}) {
    const headers = new Headers({ [this.seed.company_header]: this.seed.company_id, accept: "application/json" });
    let body = null;
    if (json !== undefined) {
      headers.set("content-type", "application/json");
      body = JSON.stringify(json);
    }
    let response;
    let challenges = null;
    try {
      response = await oauth.protectedResourceRequest(token, method, new URL(path, this.issuer), headers, body, { ...INSECURE, ...options });
    } catch (error) {
      if (!(error instanceof oauth.WWWAuthenticateChallengeError)) throw error;
      response = error.response;
      challenges = error.cause;
    }
    const text = await response.text();
    let parsed = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Not JSON: kept as text.
    }
    return { status: response.status, body: parsed, challenges, headers: response.headers };
  }

  /**
   * The front half of the authorization-code flow as a user's browser does it: `username` signs
   * in, opens the authorization URL of `app` (PKCE S256, a fresh state, `redirectUri` and any
   * `extra` parameters) and allows on the consent page if one is shown. Resolves with the URL
   * the server sent the browser back to (the app's callback), the state and the code verifier.
   */
  async authorize({ app, username = "jane", redirectUri = app.redirect_uri, extra = {} }) {
    const codeVerifier = oauth.generateRandomCodeVerifier();
    const codeChallenge = await oauth.calculatePKCECodeChallenge(codeVerifier);
    const state = oauth.generateRandomState();
    const url = new URL(this.as.authorization_endpoint);
    for (const [name, value] of Object.entries({
      response_type: "code",
      client_id: app.client_id,
      redirect_uri: redirectUri,
      state,
      code_challenge: codeChallenge,
      code_challenge_method: "S256",
      ...extra,
    })) {
      url.searchParams.set(name, value);
    }
    const browser = await new Browser(this).signIn(username);
    let response = await browser.open(url.href);
    if (response.status === 200) {
      const page = await response.text();
      response = await browser.answerConsent(page, response.url, "allow");
    }
    const location = response.headers.get("location");
    if (response.status < 300 || response.status >= 400 || location === null) {
      throw new Error(`the authorization did not redirect to the app: ${response.status} ${await response.text()}`);
    }
    await response.body?.cancel();
    return { callback: new URL(location, this.issuer), state, codeVerifier, redirectUri };
  }

  /**
   * The whole authorization-code flow through oauth4webapi: `authorize`, then
   * `validateAuthResponse` (state and `iss`), `authorizationCodeGrantRequest` and
   * `processAuthorizationCodeResponse`. Resolves with the token response and the client used.
   */
  async codeFlow(options) {
    const { app } = options;
    const { client, auth } = this.client(app, options.method);
    const { callback, state, codeVerifier, redirectUri } = await this.authorize(options);
    const parameters = oauth.validateAuthResponse(this.as, client, callback, state);
    const response = await oauth.authorizationCodeGrantRequest(
      this.as,
      client,
      auth,
      parameters,
      redirectUri,
      codeVerifier,
      INSECURE,
    );
    const tokens = await oauth.processAuthorizationCodeResponse(this.as, client, response);
    return { tokens, client, auth, callback };
  }
}

/**
 * The WWW-Authenticate challenges of `response` as oauth4webapi parses them (`[{ scheme,
 * parameters }]`), or null when it has none. This version does not export its parser; every
 * `process…Response` function runs it first on a response that is not the one expected and
 * throws what it found as a WWWAuthenticateChallengeError, so the plainest of them is used.
 */
export async function challengesOf(response) {
  try {
    await oauth.processRevocationResponse(response);
  } catch (error) {
    if (error instanceof oauth.WWWAuthenticateChallengeError) {
      return error.cause;
    }
  }
  return null;
}

/** The claims of a JWT, unverified (for looking; `validateJwtAccessToken` verifies). */
export function jwtClaims(token) {
  return JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString("utf8"));
}

/** True when `error` is oauth4webapi's ResponseBodyError carrying the OAuth `code`. */
export function oauthError(code) {
  return (error) => error instanceof oauth.ResponseBodyError && error.error === code;
}
