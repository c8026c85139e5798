// The customer journey in a real Chromium (issue #12, "Browser tests"); README.md here says
// how to run it and which page elements it relies on.
//
//   node journeys.test.mjs TIEUP_BINARY [ARTIFACT_DIR]
//
// The demo's sites (harness.mjs) are created in a temp directory on free loopback ports; one
// headless Debian Chromium (/usr/bin/chromium) runs four journeys, each in a fresh browser
// context, keeping a full-page screenshot of every step in ARTIFACT_DIR/<journey>/NN-step.png:
//   main_checkout     on main: browse to a tea, add it, see the cart count in the header, check
//                     out, read the thank-you page and the order status page;
//   partner_mixed     on partner shop-a: a tie-up tea from its tie-up product page and a box of
//                     wagashi from its original page, check out: each item once (one order at
//                     main, one at the partner) and one grand total; the order status page;
//   main_down         main stopped: a tie-up order on shop-a is "Order received" and its status
//                     page says it waits for confirmation; main restarted: the same page shows
//                     main's order number;
//   price_change      on shop-a: 2 Hojicha Roast at main's catalog price 1,200, the checkout
//                     filled in; main's manager sets the price to 1,500 (`tieup main product
//                     set-price`, its own process); once main's and shop-a's product pages show
//                     1,500, the old form is sent: the checkout comes back (409) saying the total
//                     is now 3,000 (it was 2,400), nothing ordered, the form still filled in;
//                     placed again, the thank-you page shows main's order at 3,000. The price is
//                     set back to 1,200 at the end (main_down expects it).
//   search            on shop-a: the header's search box finds Gyokuro Kin (price, stock state)
//                     and opens it; "和菓子" finds the shop's own wagashi page (highlighted in
//                     its snippet), and so do English and Japanese words together; "gyokoro"
//                     offers "did you mean gyokuro"; markup in the words is shown as text; an
//                     over-long search says so; main searches its own pages.
//   account           on shop-a: the header's "Sign in" (main's sign-in page, sso.test.mjs has
//                     the rest of single sign-on), its "Register" (main's page, for shop-a),
//                     register, the link of the confirmation mail, back on shop-a with "Signed
//                     in as NAME" in the header, also of a static page, the account page from
//                     it, sign out, "Sign in" again.
// On every page: the site's header (with the cart and its count), the shop's stylesheet, no raw
// keys or internal ids in what the customer reads, and times in the site's time zone.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { CHROMIUM, Sites, runJourney, waitUntil, yen, yenRe } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const binary = process.argv[2] ?? process.env.TIEUP_BINARY ??
               path.join(here, '../../build/apps/tieup/tieup');
const artifacts = path.resolve(process.argv[3] ?? process.env.TIEUP_BROWSER_ARTIFACTS ??
                               path.join(here, '../../build/test-artifacts/browser'));
process.env.PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD = '1';

const MAIN = { site: 'Sakura Tea' };
const SHOP_A = { site: 'Sakura Tea', partner: 'Tea House Asahi' };
// The partner's original pages are its own, in its own header.
const SHOP_A_ORIGINAL = { site: 'Tea House Asahi' };
const CUSTOMER = {
  name: 'Hanako Yamada', street: '1-2-3 Shijo-dori', postal: '600-8001', city: 'Kyoto',
  country: 'Japan', email: 'hanako@example.test',
};

let browser;
let sites;

before(async () => {
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
  fs.mkdirSync(path.join(artifacts, 'logs'), { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // As root (CI) Chromium needs --no-sandbox; the rest keep it off the (closed) network.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync',
           '--disable-dev-shm-usage'],
  });
  sites = new Sites(binary, path.join(artifacts, 'logs'));
  await sites.create();
});

after(async () => {
  await browser?.close();
  await sites?.close();
});

async function newContext() {
  const c = await browser.newContext({ viewport: { width: 1024, height: 768 }, locale: 'en-US' });
  c.setDefaultTimeout(5000);  // a missing element fails its check soon
  c.setDefaultNavigationTimeout(20000);
  return c;
}

// --- page helpers ---

async function bodyText(page) {
  return page.evaluate(() => document.body?.innerText ?? '');
}

// Waits until the page's visible text matches `re`; the error quotes what the page shows.
async function see(page, re, timeout = 3000) {
  try {
    await page.waitForFunction(([src, flags]) => new RegExp(src, flags).test(
        document.body?.innerText ?? ''), [re.source, re.flags], { timeout });
  } catch {
    const text = (await bodyText(page)).replace(/\s+/g, ' ').slice(0, 300);
    throw new Error(`${re} is not on the page, which reads: "${text}"`);
  }
}

async function notSee(page, re) {
  const text = await bodyText(page);
  const m = text.match(re);
  if (m) throw new Error(`the page shows "${m[0]}"`);
}

function count(text, needle) { return text.split(needle).length - 1; }

// Clicks and waits for the next document to load (a link, or a form and its redirects);
// resolves to the last answer (after redirects).
async function clickAndLoad(page, locator) {
  const [answer] = await Promise.all([page.waitForNavigation({ waitUntil: 'load',
                                                               timeout: 20000 }),
                                      locator.click({ timeout: 5000 })]);
  return answer;
}

async function gotoAndLoad(page, url) {
  return page.goto(url, { waitUntil: 'load' });
}

// The number the header's cart shows: the text of an element with class cart-count (or
// data-cart-count) in the header, else the first number in the header's link to /shop/cart;
// 0 for a cart link without a number; null when the header has no cart at all. With `want`,
// whether that number is `want` (for waitForFunction, which runs this in the page).
function headerCartCount(want) {
  let n = null;
  const header = document.querySelector('header');
  const els = header ? header.querySelectorAll(
      '.cart-count, [data-cart-count], a[href="/shop/cart"], a[href^="/shop/cart?"]') : [];
  if (els.length > 0) {
    n = 0;
    for (const el of els) {
      const m = (el.textContent || '').match(/\d+/);
      if (m) {
        n = Number(m[0]);
        break;
      }
    }
  }
  return want === undefined ? n : n === want;
}

async function expectCartCount(page, n) {
  try {
    await page.waitForFunction(headerCartCount, n, { timeout: 2000 });
  } catch {
    const got = await page.evaluate(headerCartCount);
    throw new Error(got === null ? 'the header shows no cart'
                                 : `the header's cart shows ${got}, not ${n}`);
  }
}

// What every page must show: the site's header (with the partner's name on a partner's shop
// pages), the shop's stylesheet, the cart and its count, and no raw keys or internal ids; on
// the journey's page, or on another tab of the same customer.
async function pageBasics(j, brand, cartCount, page = j.page) {
  await j.check('the site header', async () => {
    const header = page.getByRole('banner');
    if ((await header.count()) === 0) throw new Error('the page has no header');
    const text = await header.first().innerText();
    for (const name of [brand.site, brand.partner].filter(Boolean)) {
      if (!text.includes(name)) throw new Error(`the header lacks "${name}": "${text}"`);
    }
  });
  if (brand.site === 'Sakura Tea') {
    await j.check("the shop's stylesheet", async () => {
      const css = await page.locator('link[rel="stylesheet"][href*="/assets/style.css"]').count();
      if (css === 0) throw new Error('the page does not use /assets/style.css');
    });
  }
  if (cartCount !== undefined) {
    await j.check(`the header's cart shows ${cartCount}`, () => expectCartCount(page, cartCount));
  }
  await j.check('no raw keys or internal ids', () =>
    notSee(page, /\busr_[A-Za-z0-9]+|\bweb:[A-Za-z0-9_-]{8,}|\(minor units\)/));
  // The demo's sites are in Asia/Tokyo (`time_zone`): times are shown in it.
  await j.check("times in the site's time zone, not UTC", () => notSee(page, /\bUTC\b/));
}

async function fillCheckout(page) {
  await page.getByLabel(/full name/i).fill(CUSTOMER.name);
  await page.getByLabel(/street/i).fill(CUSTOMER.street);
  await page.getByLabel(/postal code/i).fill(CUSTOMER.postal);
  await page.getByLabel(/^city/i).fill(CUSTOMER.city);
  await page.getByLabel(/^country/i).fill(CUSTOMER.country);
  await page.getByLabel(/e-?mail/i).fill(CUSTOMER.email);
}

// Follows the page's first link named `name`; when there is none, records that and goes to
// `fallback` directly.
async function viaLinkOr(j, name, fallback) {
  const link = j.page.getByRole('link', { name }).first();
  if ((await link.count()) > 0) {
    await j.must(`the link "${name.source}"`, () => clickAndLoad(j.page, link));
    return;
  }
  await j.check(`a link "${name.source}" on the page`, () => {
    throw new Error('none');
  });
  await gotoAndLoad(j.page, fallback);
}

// Goes to the cart the way a customer does: the header's cart link, else the page's.
async function openCart(j) {
  const page = j.page;
  const inHeader = page.getByRole('banner').getByRole('link', { name: /cart/i });
  const link = (await inHeader.count()) > 0 ? inHeader.first()
                                            : page.getByRole('link', { name: /your cart/i }).first();
  await j.must('a link to the cart', () => clickAndLoad(page, link));
}

// Sets the quantity of the cart row showing `title` with its Update button.
async function setQuantity(page, title, qty) {
  const row = page.locator('tr', { hasText: title });
  await row.getByRole('spinbutton').fill(String(qty));
  await clickAndLoad(page, row.getByRole('button', { name: /update/i }));
  const heading = (await page.locator('h1').first().innerText().catch(() => '')).trim();
  if (!/your cart/i.test(heading)) throw new Error(`the page after Update is "${heading}"`);
}

async function addToCart(j) {
  await j.must('add to cart', () =>
    clickAndLoad(j.page, j.page.getByRole('button', { name: /add to cart/i })));
  await j.must('the cart page after adding', () => j.page.waitForURL(/\/shop\/cart/));
}

// From the cart to the checkout, its form filled in (not sent yet): returns the "Place order"
// button.
async function openCheckout(j, brand, total, cartCount) {
  const page = j.page;
  await j.must('proceed to checkout', () =>
    clickAndLoad(page, page.getByRole('link', { name: /checkout/i })
                           .or(page.getByRole('button', { name: /checkout/i })).first()));
  await j.shot('checkout');
  await pageBasics(j, brand, cartCount);
  await j.check(`the checkout shows the total ${total}`, () => see(page, yenRe(total)));
  const place = page.getByRole('button', { name: /place order/i });
  await j.check('the "Place order" button names the total', async () => {
    const name = await place.innerText();
    if (!yenRe(total).test(name)) throw new Error(`the button reads "${name}"`);
  });
  await j.must('fill in the checkout form', () => fillCheckout(page));
  await j.shot('checkout-filled');
  return place;
}

async function checkOut(j, brand, total) {
  const place = await openCheckout(j, brand, total);
  await j.must('place the order', () => clickAndLoad(j.page, place));
}

// The order status links on a page (thank-you or "Order received").
async function statusLinks(page) {
  const links = page.getByRole('link', { name: /order status|follow (your|this) order|track/i });
  const hrefs = [];
  for (const l of await links.all()) {
    const href = await l.getAttribute('href');
    if (href) hrefs.push(new URL(href, page.url()).href);
  }
  return [...new Set(hrefs)];
}

const MAIN_ORDER = /\bM-\d{6}\b/g;
const SHOPA_ORDER = /\bSHOPA-\d{6}\b/g;

function numbers(text, re) { return [...new Set(text.match(re) ?? [])]; }

// --- the journeys ---

test('main_checkout: browse, add a tea, check out, thank-you and order status on main',
     async (t) => {
  await runJourney('main_checkout', t, await newContext(), path.join(artifacts, 'main_checkout'),
                   async (j) => {
    const page = j.page;
    await gotoAndLoad(page, sites.url('main', '/'));
    await j.shot('home');
    await pageBasics(j, MAIN, 0);
    await j.check('the front page welcomes', () => see(page, /Fresh tea from Uji and Shizuoka/));

    await viaLinkOr(j, /our teas/i, sites.url('main', '/products/'));
    await j.shot('teas');
    await pageBasics(j, MAIN, 0);
    await j.check('the tea list shows Sencha Asahi at 1,800', async () => {
      await see(page, /Sencha Asahi/);
      await see(page, yenRe(1800));
    });

    await j.must('a link to Sencha Asahi', () =>
      clickAndLoad(page, page.getByRole('link', { name: /Sencha Asahi/ }).first()));
    await j.shot('product');
    await pageBasics(j, MAIN, 0);
    await j.check('the product page shows the tea and its price', async () => {
      await see(page, /Sencha Asahi/);
      await see(page, yenRe(1800));
    });

    await addToCart(j);
    await j.shot('cart');
    await pageBasics(j, MAIN, 1);
    await j.check('the cart confirms the addition', () => see(page, /added/i));
    await j.check('the cart lists Sencha Asahi once, total 1,800', async () => {
      await see(page, /Sencha Asahi/);
      const text = await bodyText(page);
      const lines = await page.locator('tr', { hasText: /Sencha Asahi/ }).count();
      if (lines !== 1) throw new Error(`${lines} cart rows for Sencha Asahi`);
      if (!new RegExp(`total[^\\n]{0,40}${yen(1800)}`, 'i').test(text)) {
        throw new Error('no "Total ... 1,800" on the cart page');
      }
    });

    // The quantity changed in the cart, and back: the totals and the header follow.
    for (const [qty, total] of [[2, 3600], [1, 1800]]) {
      await j.check(`the quantity set to ${qty}`, () => setQuantity(page, /Sencha Asahi/, qty));
      await j.shot(`cart-quantity-${qty}`);
      await pageBasics(j, MAIN, qty);
      await j.check(`the cart total ${total}`, async () => {
        if (!new RegExp(`total[^\\n]{0,40}${yen(total)}`, 'i').test(await bodyText(page))) {
          throw new Error(`no "Total ... ${total}" on the page`);
        }
      });
      await gotoAndLoad(page, sites.url('main', '/shop/cart'));  // also after a refused form
    }

    // Back on a product page, the header still shows the cart.
    await gotoAndLoad(page, sites.url('main', '/products/gyokuro.html'));
    await j.shot('other-product');
    await pageBasics(j, MAIN, 1);

    await openCart(j);
    await j.shot('cart-again');
    await pageBasics(j, MAIN, 1);

    await checkOut(j, MAIN, 1800);
    await j.shot('thank-you');
    await pageBasics(j, MAIN, 0);
    let number;
    await j.must('the thank-you page', () => see(page, /thank you/i));
    await j.check('one order number from main', async () => {
      const n = numbers(await bodyText(page), MAIN_ORDER);
      if (n.length !== 1) throw new Error(`order numbers on the page: ${n.join(', ') || 'none'}`);
      number = n[0];
    });
    await j.check('the order: Sencha Asahi once, total 1,800', async () => {
      const text = await bodyText(page);
      if (count(text, 'Sencha Asahi') !== 1) {
        throw new Error(`"Sencha Asahi" appears ${count(text, 'Sencha Asahi')} times`);
      }
      if (!new RegExp(`total[^\\n]{0,40}${yen(1800)}`, 'i').test(text)) {
        throw new Error('no "Total ... 1,800"');
      }
    });

    const links = await statusLinks(page);
    await j.must('a link to the order status page', async () => {
      if (links.length === 0) throw new Error('none on the thank-you page');
    });
    await gotoAndLoad(page, links[0]);
    await j.shot('order-status');
    await pageBasics(j, MAIN, 0);
    await j.check('the order status page shows the order', async () => {
      if (number) await see(page, new RegExp(number));
      await see(page, /Sencha Asahi/);
      await see(page, yenRe(1800));
    });
  });
});

test('partner_mixed: a tie-up tea and an original item on a partner, one order each',
     async (t) => {
  await runJourney('partner_mixed', t, await newContext(), path.join(artifacts, 'partner_mixed'),
                   async (j) => {
    const page = j.page;
    await gotoAndLoad(page, sites.url('shop-a', '/'));
    await j.shot('home');
    await pageBasics(j, SHOP_A, 0);

    await gotoAndLoad(page, sites.url('shop-a', '/products/gyokuro.html'));
    await j.shot('tieup-product');
    await pageBasics(j, SHOP_A, 0);
    await j.check('the tie-up page shows Gyokuro Kin at 3,600', async () => {
      await see(page, /Gyokuro Kin/);
      await see(page, yenRe(3600));
    });
    await addToCart(j);
    await j.shot('cart-tea');
    await pageBasics(j, SHOP_A, 1);
    await j.check('the cart lists Gyokuro Kin', () => see(page, /Gyokuro Kin/));

    // To the partner's own pages, as a customer would: the header's link (typed in when the
    // page has none, so that the rest of the journey is still checked).
    await viaLinkOr(j, /local specials/i, sites.url('shop-a', '/local/'));
    await j.shot('local');
    await pageBasics(j, SHOP_A_ORIGINAL, 1);
    await j.must('a link to the wagashi', () =>
      clickAndLoad(page, page.getByRole('link', { name: /wagashi/i }).first()));
    await j.shot('original-product');
    await pageBasics(j, SHOP_A_ORIGINAL, 1);
    await j.check('the original page shows the wagashi at 600', async () => {
      await see(page, /Wagashi of the season/);
      await see(page, yenRe(600));
    });
    await addToCart(j);
    await j.shot('cart-both');
    await pageBasics(j, SHOP_A, 2);
    await j.check('the cart lists both, total 4,200', async () => {
      await see(page, /Gyokuro Kin/);
      await see(page, /Wagashi of the season/);
      const text = await bodyText(page);
      if (!new RegExp(`total[^\\n]{0,40}${yen(4200)}`, 'i').test(text)) {
        throw new Error('no "Total ... 4,200" on the cart page');
      }
    });

    await checkOut(j, SHOP_A, 4200);
    await j.shot('thank-you');
    await pageBasics(j, SHOP_A, 0);
    await j.must('the thank-you page', () => see(page, /thank you/i));
    const text = await bodyText(page);
    await j.check('each item once', async () => {
      const tea = count(text, 'Gyokuro Kin');
      const sweets = count(text, 'Wagashi of the season');
      if (tea !== 1 || sweets !== 1) {
        throw new Error(`"Gyokuro Kin" ${tea} time(s), "Wagashi of the season" ${sweets} time(s)`);
      }
    });
    await j.check("one order at main (the tea) and one at the partner (the wagashi)", async () => {
      const m = numbers(text, MAIN_ORDER);
      const p = numbers(text, SHOPA_ORDER);
      if (m.length !== 1 || p.length !== 1) {
        throw new Error(`main's order numbers: ${m.join(', ') || 'none'}; the partner's: ` +
                        `${p.join(', ') || 'none'}`);
      }
    });
    await j.check('the grand total 4,200', async () => {
      if (!new RegExp(`(?:grand total|in all|total)[^\\n]{0,40}${yen(4200)}`, 'i').test(text)) {
        throw new Error('no grand total of 4,200 on the page');
      }
    });

    const links = await statusLinks(page);
    await j.check('an order status link for each of the two orders', async () => {
      if (links.length !== 2) throw new Error(`${links.length} order status link(s)`);
    });
    await j.must('a link to an order status page', async () => {
      if (links.length === 0) throw new Error('none on the thank-you page');
    });
    for (const [i, link] of links.entries()) {
      await gotoAndLoad(page, link);
      await j.shot(`order-status-${i + 1}`);
      await pageBasics(j, SHOP_A, 0);
      await j.check('the order status page shows an order number and its items', async () => {
        const s = await bodyText(page);
        if (numbers(s, MAIN_ORDER).length + numbers(s, SHOPA_ORDER).length === 0) {
          throw new Error('no order number');
        }
        if (!/Gyokuro Kin|Wagashi of the season/.test(s)) throw new Error('no item');
      });
    }
  });
});

test('account: register on a partner, signed in on every page, the account page, sign out',
     async (t) => {
  await runJourney('account', t, await newContext(), path.join(artifacts, 'account'),
                   async (j) => {
    const page = j.page;
    const header = page.getByRole('banner');
    await gotoAndLoad(page, sites.url('shop-a', '/'));
    await j.must('"Sign in" in the header', () =>
      header.getByRole('link', { name: 'Sign in' }).waitFor({ timeout: 15000 }));
    await j.must('the sign-in page (main\'s)', () =>
      clickAndLoad(page, header.getByRole('link', { name: 'Sign in' })));
    await j.shot('sign-in-at-main');
    await j.must('its link to register (main\'s page, for shop-a)', async () => {
      await clickAndLoad(page, page.getByRole('link', { name: 'Register' }));
      if (new URL(page.url()).port !== new URL(sites.url('main')).port) {
        throw new Error(`registering at ${page.url()}`);
      }
      await see(page, /continue to Tea House Asahi/);
    });
    await j.must('fill in the registration form', async () => {
      await page.getByLabel('Email').fill('kenji@example.test');
      await page.getByLabel('Name shown to others').fill('Kenji');
      await page.getByLabel(/^Password/).fill('a long enough secret');
    });
    await j.shot('register');
    await j.must('"Check your mail"', async () => {
      await clickAndLoad(page, page.getByRole('button', { name: 'Create account' }));
      await see(page, /Check your mail[\s\S]*kenji@example\.test/);
    });
    await j.shot('check-your-mail');
    const link = await j.must('the confirmation link in the mail',
                              () => sites.mailLink('kenji@example.test', '/account/register/confirm'));
    await j.must('the link asks to confirm', async () => {
      await gotoAndLoad(page, link);
      await see(page, /Create the account kenji@example\.test/);
    });
    await j.shot('confirm');
    await j.must('confirmed: back on shop-a, signed in', async () => {
      await clickAndLoad(page, page.getByRole('button', { name: 'Create my account' }));
      if (!page.url().startsWith(sites.url('shop-a', '/'))) {
        throw new Error(`after confirming at ${page.url()}`);
      }
    });
    await j.must('"Signed in as Kenji" in the header', () =>
      header.getByRole('link', { name: 'Signed in as Kenji' }).waitFor({ timeout: 15000 }));
    await j.shot('welcome');
    await pageBasics(j, SHOP_A, 0);
    // A page made before the sign-in (a static page of the site) shows it too.
    await gotoAndLoad(page, sites.url('shop-a', '/'));
    await j.must('"Signed in as Kenji" on the home page', () =>
      header.getByRole('link', { name: 'Signed in as Kenji' }).waitFor({ timeout: 15000 }));
    await j.shot('home-signed-in');
    await j.must('the account page from the header', () =>
      clickAndLoad(page, header.getByRole('link', { name: 'Signed in as Kenji' })));
    await j.check('the account page says who is signed in', () =>
      see(page, /Your account[\s\S]*Signed in as Kenji/));
    await j.shot('account');
    await j.must('sign out', () => clickAndLoad(page, page.getByRole('button', { name: 'Sign out' })));
    await j.must('"You are signed out"', () => see(page, /You are signed out/));
    await j.must('"Sign in" in the header again', () =>
      header.getByRole('link', { name: 'Sign in' }).waitFor({ timeout: 15000 }));
    await j.shot('signed-out');
    // Main still knows the customer (sso.test.mjs signs out everywhere): signing in again at
    // shop-a needs no password.
    await gotoAndLoad(page, sites.url('shop-a', '/account/login'));
    await j.check('"Sign in" again: back on shop-a at once, no password asked', async () => {
      if (!page.url().startsWith(sites.url('shop-a', '/'))) {
        throw new Error(`signing in again went to ${page.url()}`);
      }
      await header.getByRole('link', { name: 'Signed in as Kenji' }).waitFor({ timeout: 15000 });
    });
    await j.shot('signed-in-again');
  });
});

test("partner_ads: main's ad and the shop's own ad on a partner's page; a click lands on the tea",
     async (t) => {
  await runJourney('partner_ads', t, await newContext(), path.join(artifacts, 'partner_ads'),
                   async (j) => {
    const page = j.page;
    await gotoAndLoad(page, sites.url('shop-a', '/news/'));
    const mainAd = page.frameLocator('iframe.tieup-ad-main').getByRole('link');
    const ownAd = page.frameLocator('iframe.tieup-ad-partner').getByRole('link');
    await j.must("main's ad in its slot", () =>
      mainAd.filter({ hasText: /Gyokuro Kin|Hojicha Roast/ }).waitFor({ timeout: 5000 }));
    await j.check("the shop's own ad in its slot", () =>
      ownAd.filter({ hasText: /Tea House Asahi: wagashi of the season/ })
          .waitFor({ timeout: 5000 }));
    await page.locator('aside.ads').scrollIntoViewIfNeeded();
    await j.shot('ads');
    await pageBasics(j, SHOP_A, 0);
    const said = await mainAd.innerText();
    const tea = /Gyokuro/.test(said) ? /Gyokuro Kin/ : /Hojicha Roast/;
    await j.must("a click on main's ad", () => clickAndLoad(page, mainAd));
    await j.shot('clicked');
    await j.check("the click lands on the ad's tea, on the partner", async () => {
      if (!/\/products\/(gyokuro|hojicha)\.html$/.test(new URL(page.url()).pathname) ||
          !page.url().startsWith(sites.url('shop-a', '/'))) {
        throw new Error(`landed on ${page.url()}`);
      }
      await see(page, tea);
    });
    await pageBasics(j, SHOP_A, 0);
  });
});

test("waf_refused: an attack in a link is refused in the brand's page with a reference the shop can find",
     async (t) => {
  await runJourney('waf_refused', t, await newContext(), path.join(artifacts, 'waf_refused'),
                   async (j) => {
    const page = j.page;
    // A link someone crafted: a script in the query of a tie-up page on the partner.
    const response = await gotoAndLoad(
        page, sites.url('shop-a', '/products/gyokuro.html?ref=<script>alert(document.cookie)</script>'));
    await j.shot('refused');
    await j.must('the request is refused (403)', async () => {
      if (response.status() !== 403) throw new Error(`status ${response.status()}`);
    });
    await j.check('a page that says what happened', () => see(page, /This request was refused/));
    await j.check('nothing was run', () => notSee(page, /alert\(/));
    await pageBasics(j, SHOP_A);
    let reference = '';
    await j.must('a reference to quote', async () => {
      const text = await page.locator('.reference code').innerText();
      if (!/^[0-9a-f]{16}$/.test(text)) throw new Error(`the reference reads "${text}"`);
      reference = text;
    });
    await j.check("the reference is in the shop's WAF log, without what was typed", async () => {
      const log = fs.readFileSync(path.join(sites.siteDir('shop-a'), 'logs', 'waf.jsonl'), 'utf8');
      const line = log.split('\n').find((l) => l.includes(`"reference":"${reference}"`));
      if (!line) throw new Error(`no line with reference ${reference}`);
      const e = JSON.parse(line);
      if (e.outcome !== 'blocked' || !e.rules.includes(949110) || e.path !== '/products/gyokuro.html') {
        throw new Error(`the line reads ${line}`);
      }
      if (line.includes('script')) throw new Error(`the line keeps the query: ${line}`);
    });
    await j.must("the shop's front page link", () =>
      clickAndLoad(page, page.getByRole('link', { name: /front page/ })));
    await j.shot('front_page');
    await j.check('the shop serves the customer as before', async () => {
      if (new URL(page.url()).pathname !== '/') throw new Error(`landed on ${page.url()}`);
      await notSee(page, /This request was refused/);
    });
    await pageBasics(j, SHOP_A, 0);
  });
});

test('search: the header search box on a partner finds a tea in English and a sweet in Japanese',
     async (t) => {
  await runJourney('search', t, await newContext(), path.join(artifacts, 'search'), async (j) => {
    const page = j.page;
    await gotoAndLoad(page, sites.url('shop-a', '/'));
    // The index is built when the daemon starts: wait for that state, not for a time.
    await j.must('the search finds Gyokuro once the index is built', () =>
      waitUntil('the index', async () => {
        const r = await fetch(sites.url('shop-a', '/search?q=gyokuro'));
        return r.ok && /Gyokuro Kin/.test(await r.text());
      }));
    const box = page.getByRole('banner').getByRole('searchbox');
    await j.must('a search box in the header', () => box.waitFor({ timeout: 5000 }));
    await box.fill('gyokuro');
    await j.shot('typed');
    await j.must('Enter searches', () =>
      Promise.all([page.waitForNavigation({ waitUntil: 'load' }), box.press('Enter')]));
    await j.shot('results');
    await pageBasics(j, SHOP_A, 0);
    const result = page.locator('li.search-result').filter(
        { has: page.locator('a.search-title', { hasText: /Gyokuro Kin/ }) });
    await j.check('Gyokuro Kin is found with its price and stock state', async () => {
      await see(page, /\d+ pages? found for gyokuro/i);
      const text = await result.innerText();
      if (!yenRe(3600).test(text)) throw new Error(`the result reads "${text}"`);
      if (!/In stock|Only \d+ left/.test(text)) throw new Error(`no stock state: "${text}"`);
    });
    await j.must('the result opens', () =>
      clickAndLoad(page, result.getByRole('link', { name: /Gyokuro Kin/ })));
    await j.shot('opened');
    await j.check('the tea page on the partner', async () => {
      if (new URL(page.url()).pathname !== '/products/gyokuro.html' ||
          !page.url().startsWith(sites.url('shop-a', '/'))) {
        throw new Error(`landed on ${page.url()}`);
      }
      await see(page, /Gyokuro Kin/);
    });

    // Japanese without spaces finds the shop's own page, marked as its own.
    await page.getByRole('banner').getByRole('searchbox').fill('和菓子');
    await clickAndLoad(page, page.getByRole('banner').getByRole('button', { name: /search/i }));
    await j.shot('japanese');
    await j.check("the shop's own wagashi page is found in Japanese", async () => {
      const own = page.locator('li.search-result').filter(
          { has: page.locator('a.search-title', { hasText: /Wagashi of the season/ }) });
      await own.waitFor({ timeout: 3000 });
      const text = await own.innerText();
      if (!/this shop's own page/i.test(text)) throw new Error(`the result reads "${text}"`);
    });
    await j.check('the Japanese words are highlighted in the snippet', async () => {
      const marked = (await page.locator('li.search-result mark').allInnerTexts()).join('');
      if (!marked.includes('菓子')) throw new Error(`marked: "${marked}"`);
    });

    // English and Japanese words together, typed with the ideographic space a Japanese keyboard
    // gives (Debian's Xapian cannot parse such words with operators: they are read one by one).
    await page.getByRole('banner').getByRole('searchbox').fill('sweets\u3000和菓子 tea');
    await clickAndLoad(page, page.getByRole('banner').getByRole('button', { name: /search/i }));
    await j.shot('mixed-languages');
    await j.check('English and Japanese words together find the wagashi page', () =>
      page.locator('a.search-title', { hasText: /Wagashi of the season/ }).first()
          .waitFor({ timeout: 3000 }));

    // A misspelling: "did you mean", followed.
    await gotoAndLoad(page, sites.url('shop-a', '/search?q=gyokoro'));
    await j.shot('misspelled');
    await j.check('"did you mean gyokuro" for "gyokoro"', () => see(page, /Did you mean gyokuro\?/));
    await j.must('the suggestion is a link', () =>
      clickAndLoad(page, page.getByRole('link', { name: 'gyokuro', exact: true })));
    await j.check('it searches the corrected word', () => see(page, /Gyokuro Kin/));

    // Markup in the words is shown as typed, never made into elements (a script in them is
    // refused before, by the WAF: waf_refused).
    await gotoAndLoad(page, sites.url('shop-a', '/search?q=' +
                                      encodeURIComponent('<i>kombucha</i>')));
    await j.shot('markup-query');
    await j.check('markup in the words is shown as text', async () => {
      await see(page, /Nothing on this site matches <i>kombucha<\/i>/);
      if ((await page.locator('main i').filter({ hasText: 'kombucha' }).count()) !== 0) {
        throw new Error('the query became an element');
      }
    });
    await gotoAndLoad(page, sites.url('shop-a', '/search?q=' + 'sencha '.repeat(40)));
    await j.shot('too-long');
    await j.check('an over-long search says what to do', () =>
      see(page, /too long: use at most 200 characters/));

    // Main's own site searches its own pages.
    await gotoAndLoad(page, sites.url('main', '/search?q=hojicha'));
    await j.shot('main');
    await pageBasics(j, MAIN, 0);
    await j.check('main finds Hojicha Roast', () => see(page, /Hojicha Roast/));
  });
});

test('main_down: "Order received" on a partner while main is stopped, confirmed after restart',
     async (t) => {
  await runJourney('main_down', t, await newContext(), path.join(artifacts, 'main_down'),
                   async (j) => {
    const page = j.page;
    await sites.stop('main');
    await gotoAndLoad(page, sites.url('shop-a', '/products/hojicha.html'));
    await j.shot('tieup-product');
    await pageBasics(j, SHOP_A, 0);
    await j.check('the tie-up page shows Hojicha Roast at 1,200', async () => {
      await see(page, /Hojicha Roast/);
      await see(page, yenRe(1200));
    });
    await addToCart(j);
    await j.shot('cart');
    await pageBasics(j, SHOP_A, 1);
    await checkOut(j, SHOP_A, 1200);
    await j.shot('order-received');
    await pageBasics(j, SHOP_A, 0);
    await j.must('"Order received"', () => see(page, /order received/i));
    await j.check('a reference to follow the order', () => see(page, /reference|order number/i));

    const links = await statusLinks(page);
    await j.must('a link to the order status page', async () => {
      if (links.length === 0) throw new Error('none on the "Order received" page');
    });
    await gotoAndLoad(page, links[0]);
    await j.shot('status-waiting');
    await pageBasics(j, SHOP_A, 0);
    await j.check('the status page says "waiting for confirmation"', () =>
      see(page, /waiting for confirmation/i));
    await j.check('the status page shows Hojicha Roast', () => see(page, /Hojicha Roast/));

    await sites.start('main');
    // The partner delivers its outbox on its periodic task: reload until main's number shows.
    await j.must("main's order number on the status page once main is back", () =>
      waitUntil("main's order number", async () => {
        await gotoAndLoad(page, links[0]);
        return new RegExp(MAIN_ORDER.source).test(await bodyText(page));
      }, { deadlineMs: 60000, everyMs: 500 }));
    await j.shot('status-confirmed');
    await pageBasics(j, SHOP_A, 0);
    await j.check('no longer "waiting for confirmation"', () =>
      notSee(page, /waiting for confirmation/i));
    await j.check('the confirmed order: Hojicha Roast, total 1,200', async () => {
      await see(page, /Hojicha Roast/);
      await see(page, yenRe(1200));
    });
  });
});

test('price_change: main changes a price during checkout on a partner; the customer confirms',
     async (t) => {
  const mainDir = sites.siteDir('main');
  const SKU = 'HOJICHA-100';
  // main's orders as `tieup main order ls` lists them: one line each, number first.
  const orderList = () => sites.tieup('main', 'order', 'ls', mainDir);
  const mainOrders = async () => numbers(await orderList(), MAIN_ORDER);
  const productText = async (site) => {
    const r = await fetch(sites.url(site, '/products/hojicha.html'),
                          { signal: AbortSignal.timeout(2000) });
    return r.ok ? r.text() : '';
  };
  await runJourney('price_change', t, await newContext(), path.join(artifacts, 'price_change'),
                   async (j) => {
    const page = j.page;
    try {
      await gotoAndLoad(page, sites.url('shop-a', '/products/hojicha.html'));
      await j.shot('tieup-product');
      await pageBasics(j, SHOP_A, 0);
      await j.check("the tie-up page shows main's catalog: Hojicha Roast at 1,200, in stock",
                    async () => {
        await see(page, /Hojicha Roast/);
        await see(page, yenRe(1200));
        await see(page, /in stock/i);
      });
      await j.must('the quantity 2', () => page.getByLabel(/quantity/i).fill('2'));
      await addToCart(j);
      await j.shot('cart');
      await pageBasics(j, SHOP_A, 2);
      await j.check('the cart: Hojicha Roast, total 2,400', async () => {
        await see(page, /Hojicha Roast/);
        if (!new RegExp(`total[^\\n]{0,40}${yen(2400)}`, 'i').test(await bodyText(page))) {
          throw new Error('no "Total ... 2,400" on the cart page');
        }
      });
      const ordersBefore = await j.must("main's orders before", mainOrders);
      const place = await openCheckout(j, SHOP_A, 2400, 2);

      // While the checkout page is open, main's manager changes the price.
      await j.must(`tieup main product set-price ${SKU} 1500`, () =>
        sites.tieup('main', 'product', 'set-price', mainDir, SKU, '1500'));
      // main's daemon notices on its tick, publishes its pages and shop-a's (approval auto).
      await j.must("main's product page at the new price", () =>
        waitUntil("main's Hojicha page at 1,500", async () => yenRe(1500).test(
            await productText('main')), { deadlineMs: 30000, everyMs: 250 }));
      // The customer looks at the product again in another tab (the checkout stays as it is).
      const tab = await page.context().newPage();
      await j.must("shop-a's product page at the new price", () =>
        waitUntil("shop-a's Hojicha page at 1,500", async () => {
          await gotoAndLoad(tab, sites.url('shop-a', '/products/hojicha.html'));
          return yenRe(1500).test(await bodyText(tab));
        }, { deadlineMs: 30000, everyMs: 250 }));
      await j.shot('tieup-product-new-price', tab);
      await pageBasics(j, SHOP_A, 2, tab);
      await j.check('the product page shows 1,500, not 1,200 any more', async () => {
        await see(tab, /Hojicha Roast/);
        await notSee(tab, yenRe(1200));
      });
      await tab.close();

      // The old checkout page is sent: the order is not placed at a price the customer did not
      // see; the page says so and asks again.
      const answer = await j.must('send the checkout form', () => clickAndLoad(page, place));
      await j.shot('price-changed');
      await pageBasics(j, SHOP_A, 2);
      await j.check('the checkout comes back (HTTP 409)', async () => {
        if (answer?.status() !== 409) throw new Error(`HTTP ${answer?.status()}`);
      });
      await j.check('the notice: the total is now 3,000, it was 2,400, nothing ordered',
                    async () => {
        const notice = page.locator('#price-changed');
        if ((await notice.count()) === 0) throw new Error('no #price-changed notice');
        const text = await notice.innerText();
        if (!new RegExp(`changed[^]*now ${yen(3000)}[^]*was ${yen(2400)}`, 'i').test(text) ||
            !/nothing was ordered/i.test(text)) {
          throw new Error(`the notice reads "${text}"`);
        }
      });
      await j.check('the notice names the tea and its new price', async () => {
        const text = await page.locator('#price-changed').innerText();
        if (!/Hojicha Roast/.test(text) || !yenRe(1500).test(text)) {
          throw new Error(`the notice reads "${text}"`);
        }
      });
      await j.check('no order at main yet', async () => {
        const now = await mainOrders();
        const added = now.filter((n) => !ordersBefore.includes(n));
        if (added.length > 0) throw new Error(`new order(s) at main: ${added.join(', ')}`);
      });
      await j.check('the form is still filled in', async () => {
        for (const [label, want] of [[/full name/i, CUSTOMER.name], [/street/i, CUSTOMER.street],
                                     [/postal code/i, CUSTOMER.postal], [/^city/i, CUSTOMER.city],
                                     [/^country/i, CUSTOMER.country],
                                     [/e-?mail/i, CUSTOMER.email]]) {
          const got = await page.getByLabel(label).inputValue();
          if (got !== want) throw new Error(`${label.source}: "${got}", not "${want}"`);
        }
      });
      await j.check('the lines and the total at the new price: 2 x 1,500 = 3,000', async () => {
        await see(page, /Hojicha Roast/);
        const row = await page.locator('tr', { hasText: /Hojicha Roast/ }).first().innerText();
        if (!yenRe(3000).test(row)) throw new Error(`the line reads "${row}"`);
        if (!new RegExp(`total[^\\n]{0,40}${yen(3000)}`, 'i').test(await bodyText(page))) {
          throw new Error('no "Total ... 3,000" on the page');
        }
      });
      const again = page.getByRole('button', { name: /place order/i });
      await j.check('the "Place order" button names the new total 3,000', async () => {
        const name = await again.innerText();
        if (!yenRe(3000).test(name)) throw new Error(`the button reads "${name}"`);
      });

      await j.must('place the order again', () => clickAndLoad(page, again));
      await j.shot('thank-you');
      await pageBasics(j, SHOP_A, 0);
      await j.must('the thank-you page', () => see(page, /thank you/i));
      const text = await bodyText(page);
      let number;
      await j.check('one order number from main', async () => {
        const n = numbers(text, MAIN_ORDER);
        if (n.length !== 1) throw new Error(`order numbers on the page: ${n.join(', ') || 'none'}`);
        number = n[0];
      });
      await j.check('the order: Hojicha Roast once, total 3,000 (no shipping charged)',
                    async () => {
        if (count(text, 'Hojicha Roast') !== 1) {
          throw new Error(`"Hojicha Roast" appears ${count(text, 'Hojicha Roast')} times`);
        }
        if (!new RegExp(`total[^\\n]{0,40}${yen(3000)}`, 'i').test(text)) {
          throw new Error('no "Total ... 3,000"');
        }
        const row = await page.locator('tr', { hasText: /Hojicha Roast/ }).first().innerText();
        if (!yenRe(1500).test(row) || !yenRe(3000).test(row)) {
          throw new Error(`the line reads "${row}"`);
        }
        await notSee(page, yenRe(2400));
      });
      await j.check("the order is main's one new order, at 3,000", async () => {
        const list = await orderList();
        const added = numbers(list, MAIN_ORDER).filter((n) => !ordersBefore.includes(n));
        if (added.length !== 1 || (number && added[0] !== number)) {
          throw new Error(`new orders at main: ${added.join(', ') || 'none'}; the page shows ` +
                          `${number ?? 'none'}`);
        }
        const line = list.split('\n').find((l) => l.startsWith(added[0])) ?? '';
        if (!yenRe(3000).test(line)) throw new Error(`main lists it as "${line.trim()}"`);
      });
    } finally {
      // The catalog as the other journeys know it.
      await sites.tieup('main', 'product', 'set-price', mainDir, SKU, '1200');
      await waitUntil("shop-a's Hojicha page back at 1,200", async () =>
        yenRe(1200).test(await productText('shop-a')), { deadlineMs: 30000, everyMs: 250 });
    }
  });
});
