// What the console's browser tests share (console*.test.mjs): the demo's sites and Chromium,
// started once per test file, the demo's managers and content, and page helpers that assert
// what the manager sees. The test file's arguments: TIEUP_BINARY [ARTIFACT_DIR].
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { CHROMIUM, Sites, waitUntil } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const binary = process.argv[2] ?? process.env.TIEUP_BINARY ??
               path.join(here, '../../build/apps/tieup/tieup');
export const artifacts = path.resolve(process.argv[3] ?? process.env.TIEUP_BROWSER_ARTIFACTS ??
                               path.join(here, '../../build/test-artifacts/browser'));
process.env.PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD = '1';

// What the demo sets up.
export const SHOP_B = {
  site: 'shop-b', name: 'Kyoto Leaf', consoleTitle: 'Kyoto Leaf — partner console',
  email: 'manager@shop-b.example', password: 'sakura-demo-1',
};
export const MAIN = {
  site: 'main', name: 'Sakura Tea', consoleTitle: 'Sakura Tea — main console',
  email: 'manager@main.example', password: 'sakura-demo-1',
};
export const SHOP_A = {
  site: 'shop-a', consoleTitle: 'Tea House Asahi — partner console',
  email: 'manager@shop-a.example', password: 'sakura-demo-1',
};
export const HEADING_V1 = 'Fresh tea from Uji and Shizuoka';
export const HEADING_REJECTED = 'Fresh tea from Uji, Shizuoka and Kagoshima';
export const HEADING_FIXED = 'Fresh tea from Uji and Shizuoka, picked this spring';
export const REJECT_REASON = 'We do not sell Kagoshima tea in Kyoto';
export const CUSTOMER = {
  name: 'Hanako Yamada', street: '1-2-3 Shijo-dori', postal: '600-8001', city: 'Kyoto',
  country: 'Japan', email: 'hanako@example.test',
};
export const SHOPB_ORDER = /\bSHOPB-\d{6}\b/;


export let browser;
export let sites;

// Starts Chromium and the demo's sites (main, shop-a, shop-b served); logs to ARTIFACT_DIR/LOGS.
// Call from a test file's before(); stopConsoleSuite() from its after().
export async function startConsoleSuite(logs = 'console-logs') {
  assert.ok(fs.existsSync(binary), `the tieup binary is missing: ${binary} (build target tieup)`);
  assert.ok(fs.existsSync(CHROMIUM),
            `${CHROMIUM} is missing: install Debian's chromium (scripts/install-deps.sh test)`);
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (e) {
    assert.fail(`playwright-core is not installed in ${here}/node_modules ` +
                `(scripts/install-deps.sh test installs it): ${e.message}`);
  }
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // As root (CI) Chromium needs --no-sandbox; the rest keep it off the (closed) network.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync',
           '--disable-dev-shm-usage',
           // A host name of shop-a's (console_several_mains.test.mjs), at shop-a's address.
           '--host-resolver-rules=MAP books.localhost 127.0.0.2'],
  });
  // Its own log folder: the customer journeys' test empties logs/.
  sites = new Sites(binary, path.join(artifacts, logs));
  await sites.create({ serve: ['main', 'shop-a', 'shop-b'] });
}

export async function stopConsoleSuite() {
  await browser?.close();
  await sites?.close();
}

export async function newContext() {
  const c = await browser.newContext({ viewport: { width: 1024, height: 768 }, locale: 'en-US' });
  c.setDefaultTimeout(5000);  // a missing element fails its check soon
  c.setDefaultNavigationTimeout(20000);
  return c;
}

// --- page helpers ---

// Fills a shop's checkout form with CUSTOMER's name, address and e-mail.
export async function fillCheckout(page) {
  await page.getByLabel(/full name/i).fill(CUSTOMER.name);
  await page.getByLabel(/street/i).fill(CUSTOMER.street);
  await page.getByLabel(/postal code/i).fill(CUSTOMER.postal);
  await page.getByLabel(/^city/i).fill(CUSTOMER.city);
  await page.getByLabel(/^country/i).fill(CUSTOMER.country);
  await page.getByLabel(/e-?mail/i).fill(CUSTOMER.email);
}

// CUSTOMER buys one of the product on the shop page `url`: cart, checkout, order placed;
// resolves to the order number on the thank-you page (`number`, a regular expression). `what`
// names the product in the steps.
export async function customerBuys(j, page, url, what, number) {
  await gotoAndLoad(page, url);
  await j.shot(`customer-${what.toLowerCase()}`, page);
  await j.must(`the customer adds ${what} to the cart`, async () => {
    await clickAndLoad(page, page.getByRole('button', { name: /add to cart/i }));
    await page.waitForURL(/\/shop\/cart/);
  });
  await j.must('to the checkout', () =>
    clickAndLoad(page, page.getByRole('link', { name: /checkout/i })
                           .or(page.getByRole('button', { name: /checkout/i })).first()));
  await j.must('fill in the checkout form and place the order', async () => {
    await fillCheckout(page);
    await clickAndLoad(page, page.getByRole('button', { name: /place order/i }));
  });
  await j.shot('customer-thank-you', page);
  return j.must('the order number on the thank-you page', async () => {
    const m = (await bodyText(page)).match(number);
    if (!m) throw new Error(`no ${number} on the page: ${(await bodyText(page)).slice(0, 300)}`);
    return m[0];
  });
}

export async function bodyText(page) {
  return page.evaluate(() => document.body?.innerText ?? '');
}

// Waits until the page's visible text (or that of `scope`, a locator) matches `re`; the error
// quotes what it shows.
export async function see(page, re, { timeout = 3000, scope } = {}) {
  const text = async () => (scope ? await scope.innerText() : await bodyText(page));
  try {
    if (scope) {
      await waitUntil(`${re}`, async () => re.test(await text()), { deadlineMs: timeout });
    } else {
      await page.waitForFunction(([src, flags]) => new RegExp(src, flags).test(
          document.body?.innerText ?? ''), [re.source, re.flags], { timeout });
    }
  } catch {
    const shown = (await text().catch(() => '')).replace(/\s+/g, ' ').slice(0, 300);
    throw new Error(`${re} is not on the page, which reads: "${shown}"`);
  }
}

export async function notSee(page, re) {
  const m = (await bodyText(page)).match(re);
  if (m) throw new Error(`the page shows "${m[0]}"`);
}

// Clicks and waits for the next document to load (a link, or a form and its redirects);
// resolves to the last answer (after redirects).
export async function clickAndLoad(page, locator) {
  const [answer] = await Promise.all([page.waitForNavigation({ waitUntil: 'load',
                                                               timeout: 20000 }),
                                      locator.click({ timeout: 5000 })]);
  return answer;
}

export async function gotoAndLoad(page, url) {
  return page.goto(url, { waitUntil: 'load' });
}

export function pathOf(page) { return new URL(page.url()).pathname; }

// The page's path is `want` (a string or a regular expression).
export function expectPath(page, want) {
  const p = pathOf(page);
  if (typeof want === 'string' ? p !== want : !want.test(p)) {
    throw new Error(`the browser is at ${page.url()}`);
  }
}

// The text of the page's flash message (the line a page shows after a form's redirect).
export async function flash(page) {
  const f = page.locator('.flash');
  return (await f.count()) > 0 ? (await f.first().innerText()).trim() : '';
}

export async function expectFlash(page, re) {
  const text = await flash(page);
  if (!re.test(text)) throw new Error(text ? `the message reads "${text}"` : 'no message shown');
}

// What every console page shows: the console's title, who is signed in (or that nobody is),
// no template left-overs, nothing wider than the window, and times in the site's time zone.
// `nav`: the navigation's links (by default a partner console's).
export async function consoleBasics(j, { title = SHOP_B.consoleTitle, who,
                                         nav = ['Home', 'Updates', 'Orders', 'Your pages',
                                                'Audit log'] } = {}, page = j.page) {
  await j.check(`the console's title "${title}"`, async () => {
    const header = page.getByRole('banner');
    if ((await header.count()) === 0) throw new Error('the page has no header');
    const text = await header.first().innerText();
    if (!text.includes(title)) throw new Error(`the header reads "${text}"`);
  });
  if (who === null) {
    await j.check('nobody signed in: no navigation, no "Signed in as"', async () => {
      await notSee(page, /signed in as/i);
      if ((await page.getByRole('navigation').count()) > 0) throw new Error('a navigation');
    });
  } else if (who) {
    await j.check(`"Signed in as ${who}" and the console's pages`, async () => {
      await see(page, new RegExp(`Signed in as\\s+${who.replace(/[.]/g, '\\.')}`));
      const bar = page.getByRole('navigation', { name: /console pages/i });
      for (const item of nav) {
        if ((await bar.getByRole('link', { name: item, exact: true }).count()) !== 1) {
          throw new Error(`no "${item}" in the navigation`);
        }
      }
    });
  }
  await j.check('no template left-overs or raw values', async () => {
    // Text a page shows as template source on purpose (a campaign's mail as written, the
    // variables a form takes) is marked data-template-text and left out.
    const text = await page.evaluate(() => {
      let t = document.body?.innerText ?? '';
      for (const e of document.querySelectorAll('[data-template-text]')) {
        const shown = e.innerText;
        if (shown) t = t.split(shown).join('');
      }
      return t;
    });
    const m = text.match(/\{\{|\}\}|\bundefined\b|\bnull\b|\[object /);
    if (m) throw new Error(`the page shows "${m[0]}"`);
  });
  await j.check('nothing wider than the window', async () => {
    const [scroll, width] = await page.evaluate(
        () => [document.documentElement.scrollWidth, window.innerWidth]);
    if (scroll > width) throw new Error(`the page is ${scroll} px wide in a ${width} px window`);
  });
  await j.check("times in the site's time zone, not UTC", () => notSee(page, /\bUTC\b/));
}

// Signs in on `site`'s console from its sign-in page (opened here when the page is elsewhere);
// resolves to the answer.
export async function signIn(page, who = SHOP_B, { email = who.email, password = who.password } = {}) {
  if (!pathOf(page).startsWith('/sign-in') ||
      !page.url().startsWith(sites.consoleUrl(who.site, '/'))) {
    await gotoAndLoad(page, sites.consoleUrl(who.site, '/sign-in'));
  }
  await page.getByLabel(/e-mail address/i).fill(email);
  await page.getByLabel(/^password/i).fill(password);
  return clickAndLoad(page, page.getByRole('button', { name: /^sign in$/i }));
}

// Signs in as shop-b's manager for a journey that is about something else.
export async function signedIn(j, who = SHOP_B) {
  await j.must(`sign in as ${who.email}`, async () => {
    await signIn(j.page, who);
    if (pathOf(j.page).startsWith('/sign-in')) {
      throw new Error(`still on the sign-in page: "${(await bodyText(j.page)).slice(0, 200)}"`);
    }
  });
}

// The sign-in page's error message.
export async function signInError(page) {
  const e = page.locator('#sign-in-error');
  return (await e.count()) > 0 ? (await e.innerText()).trim() : '';
}

// main's manager rewrites the heading of main's front page (authoring/pages/index.md) and
// publishes to every partner (`tieup main publish DIR --all`, its own process beside the running
// daemon); resolves to shop-b's update { id, version } that waits for its manager.
export async function mainPublishesHeading(from, to) {
  const mainDir = sites.siteDir('main');
  const file = path.join(mainDir, 'authoring', 'pages', 'index.md');
  const source = fs.readFileSync(file, 'utf8');
  if (!source.includes(`# ${from}\n`)) throw new Error(`index.md has no heading "${from}"`);
  fs.writeFileSync(file, source.replace(`# ${from}\n`, `# ${to}\n`));
  const out = await sites.tieup('main', 'publish', mainDir, '--all');
  const m = out.match(/^shop-b\s+version (\d+)\s+pending_approval\s+update (\S+)/m);
  if (!m) throw new Error(`the publish did not leave an update waiting at shop-b: ${out.trim()}`);
  return { version: Number(m[1]), id: m[2] };
}

// The text shop-b's public port serves at `p` ('' when it does not answer 200).
export async function publicText(p) {
  const r = await fetch(sites.url('shop-b', p), { signal: AbortSignal.timeout(2000) });
  return r.ok ? r.text() : '';
}

export async function waitPublicHeading(heading) {
  let served = '';
  await waitUntil(`shop-b's front page with the heading "${heading}"`, async () => {
    served = (await publicText('/')).match(/<h1>(.*?)<\/h1>/)?.[1] ?? '(no heading)';
    return served === heading;
  }, { deadlineMs: 30000, everyMs: 200 }).catch((e) => {
    throw new Error(`${e.message}; it serves "${served}"`);
  });
}

// The rows of the table under the heading `h2` on the page, as arrays of cell texts.
export async function tableUnder(page, h2) {
  return page.evaluate((name) => {
    const heading = [...document.querySelectorAll('h2')].find((h) => h.textContent.trim() === name);
    let el = heading?.nextElementSibling;
    while (el && el.tagName !== 'TABLE' && el.tagName !== 'H2') el = el.nextElementSibling;
    if (!el || el.tagName !== 'TABLE') return [];
    return [...el.querySelectorAll('tbody tr')].map(
        (tr) => [...tr.cells].map((td) => td.innerText.trim()));
  }, h2);
}

// Opens the review of update `id` from the Updates page, as the manager would.
export async function openReview(j, id) {
  await gotoAndLoad(j.page, sites.consoleUrl('shop-b', '/updates'));
  const cell = j.page.locator('td', { hasText: new RegExp(`^${id}$`) });
  const row = j.page.locator('tr', { has: cell });
  await j.must(`update ${id} waiting on the Updates page`, () =>
    clickAndLoad(j.page, row.getByRole('link', { name: /review/i })));
}

export async function shopBPending() {
  return sites.tieup('partner', 'pending', sites.siteDir('shop-b'));
}
