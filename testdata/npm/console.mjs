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
const t0 = Date.now();
const step = (name) => seen.steps.push(`${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
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
// A second client, made through the admin API as a script would: the
// console lists it beside the one made in the browser.
{
  const res = await fetch(new URL("/admin/clients", consoleURL).href, {
    method: "POST",
    headers: { Authorization: "Bearer " + adminToken, "Content-Type": "application/json" },
    body: JSON.stringify({ name: "inventory-sync", audiences: ["https://inventory.example.com"], scopes: ["stock:read"] }),
  });
  check(res.status === 201, "creating a client through the admin API: " + res.status);
}
step("browser started");
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

  // Tokens with the secret: 25 within the hour, more than 10 per token
  // lifetime, so the client is flagged as not caching its tokens.
  for (let i = 0; i < 25; i++) {
    const t = await token(clientID, secret);
    check(t.status === 200, "token with the new secret: " + JSON.stringify(t));
  }
  step("issued tokens");

  // The client's page; rotate with a grace period of one hour.
  await page.getByRole("link", { name: "Go to the client's page" }).click();
  await page.getByRole("heading", { level: 1, name: "billing-worker" }).waitFor();
  const issued = (await page.locator("#issued-24h").textContent()).trim();
  check(issued === "25", "the client's page counts the 25 tokens issued, got " + issued);
  check(await page.getByText("not caching").first().isVisible(), "the client's page flags it as not caching");
  check(!/never/.test(await page.locator("#last-used").textContent()), "the client's page shows when it was last used");
  check(await page.getByRole("img", { name: /Tokens issued per hour/ }).isVisible(), "the hourly chart has an accessible name");
  seen.issued24h = Number(issued);
  step("saw the token count");

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
  const previous = await page.locator("#previous-secret").textContent();
  check(/works until .* last used /.test(previous), "the client's page shows the old secret's last use, got " + previous);
  check((await page.locator("#issued-24h").textContent()).trim() === "27", "the count includes the tokens after the rotation");
  step("saw the old secret's use");

  // A quota, saved through the admin API's PATCH.
  await page.getByLabel("Hourly quota").fill("100");
  await page.getByLabel("Daily quota").fill("1000");
  await page.getByLabel("Mode").selectOption("monitor");
  await page.getByRole("button", { name: "Save quotas" }).click();
  await page.getByRole("status").filter({ hasText: "Quotas saved" }).waitFor();
  check(await page.getByLabel("Hourly quota").inputValue() === "100", "the hourly quota is saved");
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

  // The clients table: both clients, the disabled one flagged as not caching.
  await page.getByRole("link", { name: "Clients", exact: true }).click();
  await page.getByRole("heading", { level: 1, name: "Clients" }).waitFor();
  const row = page.getByRole("row", { name: /billing-worker/ });
  check(await row.getByText("Disabled").isVisible(), "the clients table shows the client disabled");
  check(await row.getByText("not caching").isVisible(), "the clients table shows the not-caching badge");
  check(await page.getByRole("row", { name: /inventory-sync/ }).count() === 1, "the clients table lists the client made through the API");
  await shot(page, "clients");
  step("read the clients table");

  await page.getByRole("link", { name: "Keys" }).click();
  await page.getByRole("heading", { level: 1, name: "Signing keys" }).waitFor();
  await page.getByRole("button", { name: "Rotate" }).click();
  await page.getByRole("status").waitFor();
  check(await page.locator("li.key.next").count() === 1, "after Rotate the timeline shows a next key");
  await shot(page, "keys");
  step("rotated the signing key");

  // A trust policy: a GitHub Actions workflow may act as billing-worker.
  await page.getByRole("link", { name: "Trust policies" }).click();
  await page.getByRole("heading", { level: 1, name: "Trust policies" }).waitFor();
  await page.getByLabel("Policy name").fill("gha-billing-deploy");
  await page.getByLabel("Issuer").fill("https://token.actions.githubusercontent.com");
  await page.getByLabel("Token audience").fill("https://billing.example.com");
  await page.getByLabel("Subject").fill("repo:acme/billing:ref:refs/heads/main");
  await page.getByLabel("Client", { exact: true }).selectOption({ label: `billing-worker (${clientID})` });
  await page.getByLabel("Maximum token lifetime").fill("15m");
  await page.getByLabel(/Single use/).check();
  await page.getByRole("button", { name: "Create policy" }).click();
  await page.getByRole("status").filter({ hasText: "gha-billing-deploy created" }).waitFor();
  check(await page.getByRole("row", { name: /gha-billing-deploy/ }).count() === 1, "the new policy is listed");
  await shot(page, "trust");
  step("created a trust policy");

  // The audit trail names what the console did, and filters by client.
  await page.getByRole("link", { name: "Audit" }).click();
  await page.getByRole("heading", { level: 1, name: "Audit trail" }).waitFor();
  for (const code of ["client.created", "client.secret_rotated", "client.updated", "client.disabled", "key.rotated"]) {
    check(await page.getByRole("cell", { name: code, exact: true }).count() >= 1, "the audit trail shows " + code);
  }
  check(await page.getByRole("cell", { name: "admin-token:console" }).count() >= 5, "audit events name the console as actor");
  await shot(page, "audit");
  await page.getByLabel("Client ID", { exact: true }).fill(clientID);
  await page.getByLabel("Event", { exact: true }).selectOption("client.disabled");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.getByRole("heading", { level: 1, name: "Audit trail" }).waitFor();
  check(await page.locator("table.audit tbody tr").count() === 1, "filtering by client and event leaves one event");
  step("read the audit trail");

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

  // A phone: no page-wide horizontal scrolling on any page.
  await page.setViewportSize({ width: 390, height: 844 });
  for (const path of ["keys", "audit", "trust", `clients/${encodeURIComponent(clientID)}`, "clients"]) {
    await page.goto(new URL(path, consoleURL).href);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    const wide = overflow <= 0 ? [] : await page.evaluate(() => [...document.querySelectorAll("body *")]
      .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth && !e.closest(".scroll"))
      .slice(0, 5).map((e) => `<${e.tagName.toLowerCase()} class="${e.className}"> ${Math.round(e.getBoundingClientRect().right)}px`));
    check(overflow <= 0, `no horizontal scrolling of /console/${path} at 390x844, overflow ${overflow}: ${wide.join(", ")}`);
  }
  await shot(page, "phone-clients");
  await page.setViewportSize({ width: 1280, height: 800 });
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
