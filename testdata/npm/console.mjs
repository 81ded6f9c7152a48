// console.mjs drives the m2m web console in Debian's chromium with
// playwright-core, as an operator would: sign in, create a client and
// read its secret, get tokens with it (like curl), rotate its secret with
// a grace period, disable it and see the token endpoint refuse it, and
// check that forms without the session or the CSRF token change nothing.
// console/browser_test.go starts the server and runs it.
//
// Environment: CONSOLE_URL (the admin listener, ending in /console/),
// TOKEN_URL, ADMIN_TOKEN, CHROMIUM (the browser's path), SCREENSHOTS (a
// directory to write PNGs of each page to, or empty). It prints one JSON
// object with what it saw and exits non-zero on the first failed check.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const env = (name) => {
  const v = process.env[name];
  if (v === undefined) throw new Error(`${name} is not set`);
  return v;
};
const consoleURL = env("CONSOLE_URL");
const tokenURL = env("TOKEN_URL");
const adminToken = env("ADMIN_TOKEN");
const shots = process.env.SCREENSHOTS || "";
if (shots) mkdirSync(shots, { recursive: true });

const seen = { steps: [] };
const step = (name) => seen.steps.push(name);
function check(cond, msg) {
  if (!cond) throw new Error("check failed: " + msg);
}

// token asks the token endpoint for a token with client_secret_basic,
// as `curl -u id:secret -d grant_type=client_credentials` does.
async function token(id, secret) {
  const res = await fetch(tokenURL, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-www-form-urlencoded",
      Authorization: "Basic " + Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64"),
    },
    body: "grant_type=client_credentials",
  });
  const body = await res.json();
  return { status: res.status, error: body.error };
}

const browser = await chromium.launch({
  executablePath: env("CHROMIUM"),
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const shot = async (page, name) => {
  if (shots) await page.screenshot({ path: join(shots, name + ".png"), fullPage: true });
};
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(10000);
  const page = await context.newPage();
  const cspViolations = [];
  page.on("console", (m) => {
    if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
  });

  // Sign in: a wrong token is refused, the right one lands on the clients.
  await page.goto(consoleURL);
  check(page.url().endsWith("/console/signin"), "the console sends a stranger to sign in, got " + page.url());
  await shot(page, "signin");
  await page.getByLabel("Admin token").fill("not-the-token");
  await page.getByRole("button", { name: "Sign in" }).click();
  check(await page.getByRole("alert").isVisible(), "a wrong admin token shows an error");
  await page.getByLabel("Admin token").fill(adminToken);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { level: 1, name: "Clients" }).waitFor();
  step("signed in");

  // Create a client and read its secret.
  await page.getByRole("link", { name: "New client" }).first().click();
  await page.getByLabel("Name").fill("billing-worker");
  await page.getByLabel("Audience").fill("https://billing.example.com");
  await page.getByLabel("Scopes").fill("invoices:read invoices:write");
  await page.getByRole("button", { name: "Create" }).click();
  await page.getByRole("heading", { level: 1, name: "Client created" }).waitFor();
  const clientID = (await page.locator("#client-id").textContent()).trim();
  const secret = (await page.getByLabel("Client secret").textContent()).trim();
  check(clientID.length > 0 && secret.length >= 40, "the created page shows the client id and secret");
  await shot(page, "new-client-secret");
  seen.clientID = clientID;
  step("created a client");

  // Tokens with the secret.
  for (let i = 0; i < 3; i++) {
    const t = await token(clientID, secret);
    check(t.status === 200, "token with the new secret: " + JSON.stringify(t));
  }
  step("issued tokens");

  // The client's page; rotate with a grace period of one hour.
  await page.getByRole("link", { name: "Go to the client's page" }).click();
  await page.getByRole("heading", { level: 1, name: "billing-worker" }).waitFor();
  await page.getByLabel("Grace period").fill("1h");
  await page.getByRole("button", { name: "Rotate secret" }).click();
  await page.getByRole("heading", { level: 1, name: "Secret rotated" }).waitFor();
  const newSecret = (await page.getByLabel("Client secret").textContent()).trim();
  check(newSecret !== secret, "rotation shows a new secret");
  check(/works until/.test(await page.locator("main").textContent()), "rotation shows until when the old secret works");
  const oldStill = await token(clientID, secret);
  check(oldStill.status === 200, "the old secret works within the grace period: " + JSON.stringify(oldStill));
  const withNew = await token(clientID, newSecret);
  check(withNew.status === 200, "the new secret works: " + JSON.stringify(withNew));
  await page.getByRole("link", { name: "Go to the client's page" }).click();
  await page.getByRole("heading", { level: 1, name: "billing-worker" }).waitFor();
  await shot(page, "client");
  step("rotated the secret");

  // Forms without the session or without the CSRF token change nothing.
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === "m2m_console");
  check(session && session.httpOnly && session.sameSite === "Strict", "the session cookie is HttpOnly and SameSite=Strict");
  const disableURL = new URL(`clients/${encodeURIComponent(clientID)}/disable`, consoleURL).href;
  const csrf = await page.locator('input[name="csrf"]').first().inputValue();
  for (const [what, headers, body] of [
    ["no session", {}, `csrf=${encodeURIComponent(csrf)}`],
    ["no CSRF token", { Cookie: `m2m_console=${session.value}` }, ""],
    ["a wrong CSRF token", { Cookie: `m2m_console=${session.value}` }, "csrf=forged"],
  ]) {
    const res = await fetch(disableURL, {
      method: "POST", redirect: "manual", body,
      headers: { "Content-Type": "application/x-www-form-urlencoded", ...headers },
    });
    check(res.status === 403, `a POST with ${what} is refused with 403, got ${res.status}`);
  }
  check((await token(clientID, newSecret)).status === 200, "forged disables left the client enabled");
  step("refused forged forms");

  // Disable: the token endpoint refuses the client.
  await page.getByRole("button", { name: "Disable" }).click();
  await page.getByRole("status").filter({ hasText: "Client disabled" }).waitFor();
  const refused = await token(clientID, newSecret);
  check(refused.status === 401 || refused.status === 400, "a disabled client is refused: " + JSON.stringify(refused));
  seen.disabledRefusal = refused;
  await page.getByRole("button", { name: "Enable" }).waitFor();
  step("disabled");

  // Clients list (after a second client, for a fuller table) and keys.
  await page.getByRole("link", { name: "New client" }).first().click();
  await page.getByLabel("Name").fill("inventory-sync");
  await page.getByLabel("Audience").fill("https://inventory.example.com");
  await page.getByLabel("Scopes").fill("stock:read");
  await page.getByRole("button", { name: "Create" }).click();
  await page.getByRole("heading", { level: 1, name: "Client created" }).waitFor();
  await page.getByRole("link", { name: "Clients", exact: true }).click();
  await page.getByRole("heading", { level: 1, name: "Clients" }).waitFor();
  check(await page.getByRole("row", { name: /billing-worker/ }).getByText("Disabled").isVisible(), "the clients table shows the client disabled");
  await shot(page, "clients");

  await page.getByRole("link", { name: "Keys" }).click();
  await page.getByRole("heading", { level: 1, name: "Signing keys" }).waitFor();
  await page.getByRole("button", { name: "Rotate" }).click();
  await page.getByRole("status").waitFor();
  check(await page.locator("li.key.next").count() === 1, "after Rotate the timeline shows a next key");
  await shot(page, "keys");
  step("rotated the signing key");

  // Delete, with a confirmation step.
  await page.getByRole("link", { name: "Clients", exact: true }).click();
  await page.getByRole("link", { name: "inventory-sync" }).click();
  await page.getByRole("link", { name: "Delete" }).click();
  await page.getByRole("heading", { level: 1, name: /Delete client inventory-sync/ }).waitFor();
  await page.getByRole("button", { name: "Delete client" }).click();
  await page.getByRole("status").filter({ hasText: "deleted" }).waitFor();
  check(await page.getByRole("link", { name: "inventory-sync" }).count() === 0, "the deleted client left the table");
  step("deleted a client");

  // Keyboard only: the skip link is the first stop and leads to the content.
  await page.keyboard.press("Tab");
  const first = await page.evaluate(() => document.activeElement.textContent);
  check(first.trim() === "Skip to content", "the first Tab stop is the skip link, got " + first);

  // A phone.
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, isMobile: true, hasTouch: true });
  await phone.addCookies([session]);
  const p2 = await phone.newPage();
  await p2.goto(new URL("clients", consoleURL).href);
  await p2.getByRole("heading", { level: 1, name: "Clients" }).waitFor();
  const overflow = await p2.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  check(overflow <= 0, "no horizontal scrolling at 390x844, overflow " + overflow);
  await shot(p2, "phone-clients");
  await phone.close();
  step("phone layout");

  // Sign out ends the session.
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { level: 1, name: "Sign in" }).waitFor();
  const after = await fetch(new URL("clients", consoleURL).href, { redirect: "manual", headers: { Cookie: `m2m_console=${session.value}` } });
  check(after.status === 303, "the old session cookie is refused after sign-out, got " + after.status);
  step("signed out");

  check(cspViolations.length === 0, "no Content-Security-Policy violations: " + cspViolations.join("; "));
  console.log(JSON.stringify(seen));
} finally {
  await browser.close();
}
