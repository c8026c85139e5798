// Main's shop and users in main's console (issue #14 items 5 and 6), in a real Chromium against
// the demo's sites (console_harness.mjs):
//
//   node main_console_shop.test.mjs TIEUP_BINARY [ARTIFACT_DIR]
//
// Each journey runs in a fresh browser context and keeps a full-page screenshot of every step in
// ARTIFACT_DIR/<journey>/NN-step.png:
//   main_console_products  Sencha's price and stock changed on /products (the message says
//                          partners' pages follow; `tieup main product ls` agrees; shop-a's
//                          tie-up page shows the new price); a bad price refused, nothing changed;
//                          the audit log;
//   main_console_orders    a customer orders Hojicha on shop-a's tie-up page; main's manager finds
//                          the order with the filters (partners' tie-up pages, shop-a, placed),
//                          opens it (lines, customer, payment, delivery, history), marks it paid
//                          and ships it; a cancel sent from a page opened before the shipment is
//                          refused, saying why; `tieup main order show` agrees;
//   main_console_processed a customer buys the wagashi on shop-a's ORIGINAL page (processed by
//                          shop-a itself); once shop-a's ledger reached main (`tieup partner
//                          ledger push`, as the daemon does every minute), main's manager sees
//                          it under "Processed at partners": shop-a, original, 600, "processed by
//                          the partner", no actions; the partner filter; "All channels" links
//                          to it; a status filter on them is refused, saying why;
//   main_console_users     a customer registers through shop-a (main's page, the link of the
//                          confirmation mail); main's manager finds the account in
//                          /users ("registered at shop-a"); 26 more make two pages of results;
//                          the account disabled after a confirmation: the customer's sign-in at
//                          shop-a is refused; enabled again, it works; another gets a reset
//                          link mailed and its data downloaded (JSON); one account deleted
//                          after a confirmation (25 left).
// Each page is also looked at 390 px wide (a phone).
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { runJourney, waitUntil, yen, yenRe } from './harness.mjs';
import {
  CUSTOMER, MAIN, artifacts, bodyText, clickAndLoad, consoleBasics, customerBuys, expectFlash,
  expectPath, gotoAndLoad, newContext, notSee, see, signedIn, sites, startConsoleSuite, stopConsoleSuite,
} from './console_harness.mjs';

const NAV = ['Partners', 'Publish', 'Content', 'Orders', 'Products', 'Users', 'Ledger & fees',
             'Managers', 'Audit log'];
const basics = (j) => consoleBasics(j, { title: MAIN.consoleTitle, who: MAIN.email, nav: NAV });
const mainDir = () => sites.siteDir('main');
const MAIN_ORDER = /\bM-\d{6}\b/;
const SHOPA_ORDER = /\bSHOPA-\d{6}\b/;

before(async () => { await startConsoleSuite('main-console-shop-logs'); });
after(async () => { await stopConsoleSuite(); });

async function openConsolePage(j, p) {
  await j.must(`open ${p}`, async () => {
    await gotoAndLoad(j.page, sites.consoleUrl('main', p));
    expectPath(j.page, p.split('?')[0]);
  });
}

// The page at 390 px wide (a phone): a screenshot, and nothing wider than the window.
async function onAPhone(j, name) {
  await j.check('on a phone (390 px) the page fits the screen', async () => {
    await j.page.setViewportSize({ width: 390, height: 800 });
    await j.shot(name);
    const [scroll, width] = await j.page.evaluate(
        () => [document.documentElement.scrollWidth, window.innerWidth]);
    await j.page.setViewportSize({ width: 1024, height: 768 });
    if (scroll > width) throw new Error(`the page is ${scroll} px wide in a ${width} px window`);
  });
}

async function auditHas(j, re) {
  await j.check(`the audit log records ${re}`, async () => {
    await gotoAndLoad(j.page, sites.consoleUrl('main', '/audit'));
    await see(j.page, re);
  });
}

test('main_console_products: price and stock changed, partners follow, a bad price refused',
     async (t) => {
  await runJourney('main_console_products', t, await newContext(),
                   path.join(artifacts, 'main_console_products'), async (j) => {
    const page = j.page;
    await signedIn(j, MAIN);
    await openConsolePage(j, '/products');
    await j.shot('products');
    await basics(j);
    const sencha = page.locator('#product-SENCHA-100');
    await j.check("main's three teas with price and stock", async () => {
      await see(page, /Sencha Asahi, 100 g/);
      await see(page, /Gyokuro Kin, 50 g/);
      await see(page, /Hojicha Roast, 100 g/);
      await see(page, yenRe(1800), { scope: sencha.locator('.product-price') });
      await see(page, /^100$/, { scope: sencha.locator('.product-stock') });
    });

    await j.must('set Sencha to 1,900', async () => {
      await page.getByLabel('New price (JPY)').first().waitFor();
      await sencha.getByLabel(/new price/i).fill('1900');
      await clickAndLoad(page, sencha.getByRole('button', { name: 'Set price' }));
    });
    await j.shot('price-set');
    await j.check("the message gives the new price and says partners' pages follow", () =>
      expectFlash(page, new RegExp(`SENCHA-100: price ${yen(1900)}.*partners' pages follow`)));
    await j.check('the row shows 1,900', () =>
      see(page, yenRe(1900), { scope: sencha.locator('.product-price') }));
    await j.check('`tieup main product ls` shows the same price', async () => {
      const ls = await sites.tieup('main', 'product', 'ls', mainDir());
      const row = ls.split('\n').find((l) => l.startsWith('SENCHA-100'));
      if (!row || !new RegExp(yen(1900)).test(row) && !/\b1,?900\b/.test(row)) {
        throw new Error(`product ls: ${row ?? ls}`);
      }
    });

    await j.must('take 5 units of Sencha out of stock', async () => {
      await sencha.getByLabel(/stock/i).fill('-5');
      await clickAndLoad(page, sencha.getByRole('button', { name: 'Set stock' }));
    });
    await j.shot('stock-set');
    await onAPhone(j, 'products-phone');
    await j.check('the message and the row say 95', async () => {
      await expectFlash(page, /SENCHA-100: stock 95/);
      await see(page, /^95$/, { scope: sencha.locator('.product-stock') });
    });

    await j.must('a price that is not a number', async () => {
      await sencha.getByLabel(/new price/i).fill('cheap');
      const r = await clickAndLoad(page, sencha.getByRole('button', { name: 'Set price' }));
      if (r.status() !== 400) throw new Error(`status ${r.status()}`);
    });
    await j.shot('bad-price');
    await j.check('refused in an error box saying what was wrong; the price is still 1,900',
                  async () => {
      await see(page, /^SENCHA-100 not changed: .*cheap/, { scope: page.getByRole('alert') });
      await see(page, yenRe(1900), { scope: sencha.locator('.product-price') });
    });

    await j.check("shop-a's tie-up page for Sencha follows: 1,900", async () => {
      let served = '';
      await waitUntil('shop-a serving Sencha at 1,900', async () => {
        const r = await fetch(sites.url('shop-a', '/products/sencha.html'),
                              { signal: AbortSignal.timeout(2000) }).catch(() => null);
        served = r?.ok ? await r.text() : '';
        return yenRe(1900).test(served);
      }, { deadlineMs: 60000, everyMs: 500 }).catch((e) => {
        throw new Error(`${e.message}; it shows ${served.match(yenRe(1800)) ? '1,800' : '?'}`);
      });
    });
    await gotoAndLoad(page, sites.url('shop-a', '/products/sencha.html'));
    await j.shot('shop-a-sencha');

    await auditHas(j, /product\.price\s+SENCHA-100: price/);
    await j.shot('audit');
  });
});

// A customer orders Hojicha on shop-a's tie-up page; resolves to main's order number.
function customerOrdersAtShopA(j, page) {
  return customerBuys(j, page, sites.url('shop-a', '/products/hojicha.html'), 'Hojicha', MAIN_ORDER);
}

test('main_console_orders: a tie-up order found with the filters, paid, shipped; a stale cancel',
     async (t) => {
  const context = await newContext();
  await runJourney('main_console_orders', t, context,
                   path.join(artifacts, 'main_console_orders'), async (j) => {
    const customer = await context.newPage();
    const number = await customerOrdersAtShopA(j, customer);
    const page = j.page;
    await signedIn(j, MAIN);
    await openConsolePage(j, '/orders');
    await j.shot('orders');
    await basics(j);
    await j.check('the order is in the list, through shop-a', async () => {
      const row = page.locator('tr', { hasText: number });
      await see(page, /shop-a \(tie-up page\)/, { scope: row });
    });

    await j.must("filter: partners' tie-up pages, shop-a, placed", async () => {
      await page.getByLabel('Channel').selectOption({ label: "Partners' tie-up pages" });
      await page.getByLabel('Partner').fill('shop-a');
      await page.getByLabel('Status').selectOption('placed');
      await clickAndLoad(page, page.getByRole('button', { name: 'Show orders' }));
    });
    await j.shot('orders-filtered');
    await j.check('the filters stay in the address and the form; the order is listed', async () => {
      const u = new URL(page.url());
      if (u.searchParams.get('partner') !== 'shop-a' || u.searchParams.get('status') !== 'placed' ||
          u.searchParams.get('channel') !== 'partners') {
        throw new Error(`the address is ${page.url()}`);
      }
      if ((await page.getByLabel('Partner').inputValue()) !== 'shop-a') throw new Error('partner');
      await see(page, new RegExp(number));
      await see(page, /order\(s\) match/);
    });
    await j.must("main's own site shows none of shop-a's orders", async () => {
      await gotoAndLoad(page, sites.consoleUrl('main', '/orders?channel=main'));
      await notSee(page, new RegExp(number));
    });
    await j.shot('orders-main-only');
    await j.check('a partner with main\'s own site is refused with what to do', async () => {
      const r = await gotoAndLoad(page,
                                  sites.consoleUrl('main', '/orders?channel=main&partner=shop-a'));
      if (r.status() !== 400) throw new Error(`status ${r.status()}`);
      await see(page, /have no partner/);
    });

    await j.must('open the order from the filtered list', async () => {
      await gotoAndLoad(page, sites.consoleUrl('main', '/orders?partner=shop-a&status=placed'));
      await clickAndLoad(page, page.getByRole('link', { name: number, exact: true }));
      expectPath(page, `/orders/${number}`);
    });
    await j.shot('order');
    await basics(j);
    await j.check('its line, customer, payment, delivery and history', async () => {
      await see(page, /Hojicha Roast, 100 g/);
      await see(page, yenRe(1200));
      await see(page, new RegExp(CUSTOMER.name), { scope: page.locator('#order-customer') });
      await see(page, new RegExp(CUSTOMER.email), { scope: page.locator('#order-customer') });
      await see(page, /Not paid yet/, { scope: page.locator('#order-payment') });
      await see(page, /Not shipped yet/, { scope: page.locator('#order-delivery') });
      await see(page, /placed/, { scope: page.locator('.shop-history') });
      await see(page, /through shop-a \(tie-up page\)/);
    });

    // A second tab with the order as it is now (placed: it can be cancelled).
    const stale = await context.newPage();
    await gotoAndLoad(stale, sites.consoleUrl('main', `/orders/${number}`));

    await j.must('mark it paid with a note', async () => {
      await page.getByLabel(/payment note/i).fill('transfer of 3 May');
      await clickAndLoad(page, page.getByRole('button', { name: 'Mark paid' }));
    });
    await j.shot('paid');
    await j.check('paid: the message, the status and the payment card', async () => {
      await expectFlash(page, new RegExp(`Order ${number} marked paid`));
      await see(page, /^paid$/, { scope: page.locator('#order-status') });
      await see(page, /Paid .*transfer of 3 May/, { scope: page.locator('#order-payment') });
    });

    await j.must('ship it with Yamato, tracking 1234-5678', async () => {
      await page.getByLabel('Carrier').fill('Yamato');
      await page.getByLabel('Tracking number').fill('1234-5678');
      await clickAndLoad(page, page.getByRole('button', { name: 'Mark shipped' }));
    });
    await j.shot('shipped');
    await j.check('shipped: the message, the status, the delivery card, the history', async () => {
      await expectFlash(page, new RegExp(`Order ${number} marked shipped`));
      await see(page, /^shipped$/, { scope: page.locator('#order-status') });
      await see(page, /Yamato, tracking 1234-5678/, { scope: page.locator('#order-delivery') });
      const by = MAIN.email.replace('.', '\\.');
      await see(page, new RegExp(`paid → shipped \\(manager:${by}\\)`),
                { scope: page.locator('.shop-history') });
    });
    await onAPhone(j, 'shipped-phone');
    await j.check('no Cancel button on a shipped order', async () => {
      if ((await page.getByRole('button', { name: /cancel the order/i }).count()) !== 0) {
        throw new Error('a Cancel button');
      }
    });

    await j.must('cancel from the tab opened before the shipment', async () => {
      await stale.getByLabel(/cancel, saying why/i).fill('customer changed their mind');
      const r = await clickAndLoad(stale, stale.getByRole('button', { name: /cancel the order/i }));
      if (r.status() !== 409) throw new Error(`status ${r.status()}`);
    });
    await j.shot('stale-cancel', stale);
    await j.check('refused in an error box saying why; the order as it is now: shipped',
                  async () => {
      await see(stale, /^Not done: .*shipped.*only placed or paid orders can be cancelled/,
                { scope: stale.getByRole('alert') });
      await see(stale, /^shipped$/, { scope: stale.locator('#order-status') });
      if ((await stale.getByRole('button', { name: /cancel the order/i }).count()) !== 0) {
        throw new Error('still a Cancel button');
      }
    });
    await j.check('`tieup main order show` agrees: shipped, paid, Yamato', async () => {
      const out = await sites.tieup('main', 'order', 'show', mainDir(), number);
      if (!/shipped/.test(out) || !/Yamato/.test(out)) throw new Error(out);
    });
    await auditHas(j, new RegExp(`order\\.ship\\s+${number}`));
    await j.check('the refused cancel is in the audit log too', () =>
      see(page, new RegExp(`order\\.cancel\\s+${number} refused`)));
    await j.shot('audit');
  });
});

// A customer buys the wagashi on shop-a's original page; resolves to shop-a's order number.
function customerBuysWagashiAtShopA(j, page) {
  return customerBuys(j, page, sites.url('shop-a', '/local/wagashi.html'), 'Wagashi', SHOPA_ORDER);
}

test('main_console_processed: an order processed at shop-a, known from its ledger', async (t) => {
  const context = await newContext();
  await runJourney('main_console_processed', t, context,
                   path.join(artifacts, 'main_console_processed'), async (j) => {
    const customer = await context.newPage();
    const number = await customerBuysWagashiAtShopA(j, customer);
    const page = j.page;
    await signedIn(j, MAIN);
    const listed = '/orders?channel=processed';
    // shop-a ships its ledger every minute; the command ships it now (the order's record is
    // appended asynchronously, so a push may come before it: asked again until it is there).
    await j.must("shop-a's ledger reaches main with the order", () =>
      waitUntil(`${number} under "Processed at partners"`, async () => {
        await sites.tieup('partner', 'ledger', 'push', sites.siteDir('shop-a'));
        await gotoAndLoad(page, sites.consoleUrl('main', listed));
        return (await bodyText(page)).includes(number);
      }, { deadlineMs: 30000, everyMs: 500 }));
    await j.shot('processed');
    await basics(j);
    const row = page.locator('#processed-orders tr', { hasText: number });
    await j.check('its row: shop-a, original, 1 item, 600, processed by the partner', async () => {
      await see(page, /shop-a/, { scope: row.locator('td[data-label="Partner"]') });
      await see(page, /original/, { scope: row.locator('td[data-label="Area"]') });
      await see(page, /\b1\b/, { scope: row.locator('td[data-label="Items"]') });
      await see(page, yenRe(600), { scope: row.locator('td[data-label="Amount"]') });
      await see(page, /processed by the partner/, { scope: row.locator('td[data-label="Status"]') });
    });
    await j.check('the page says main cannot act on them; the order has no link', async () => {
      await see(page, /cannot act on them/, { scope: page.locator('#processed-note') });
      const links = await row.getByRole('link', { name: number }).count();
      if (links !== 0) throw new Error(`${links} link(s) named ${number}`);
    });
    await j.check('the channel field says "Processed at partners"', async () => {
      const chosen = await page.getByLabel('Channel').evaluate((s) => s.selectedOptions[0].text);
      if (chosen !== 'Processed at partners') throw new Error(`"${chosen}" is selected`);
    });

    await j.must('filter: processed at partners, shop-a', async () => {
      await page.getByLabel('Partner').fill('shop-a');
      await clickAndLoad(page, page.getByRole('button', { name: 'Show orders' }));
    });
    await j.shot('processed-shop-a');
    await j.check("shop-a's filter lists it; shop-b's does not", async () => {
      const u = new URL(page.url());
      if (u.searchParams.get('channel') !== 'processed' || u.searchParams.get('partner') !== 'shop-a') {
        throw new Error(`the address is ${page.url()}`);
      }
      await see(page, new RegExp(number));
      await gotoAndLoad(page, sites.consoleUrl('main', `${listed}&partner=shop-b`));
      await notSee(page, new RegExp(number));
      await see(page, /No orders here/);
    });

    await j.must('"All channels" links to the orders processed at partners', async () => {
      await gotoAndLoad(page, sites.consoleUrl('main', '/orders?partner=shop-a'));
      await notSee(page, new RegExp(number));
      await j.shot('all-channels-shop-a');
      await see(page, /1 order\(s\) processed at partners/, { scope: page.locator('#processed-link') });
      await clickAndLoad(page, page.locator('#processed-link a'));
    });
    await j.shot('from-all-channels');
    await j.check('the link opens the list with shop-a and the order', async () => {
      const u = new URL(page.url());
      if (u.searchParams.get('channel') !== 'processed' || u.searchParams.get('partner') !== 'shop-a') {
        throw new Error(`the address is ${page.url()}`);
      }
      await see(page, new RegExp(number));
    });
    await j.check('a status filter on them is refused, saying why', async () => {
      const r = await gotoAndLoad(page, sites.consoleUrl('main', `${listed}&status=paid`));
      if (r.status() !== 400) throw new Error(`status ${r.status()}`);
      await see(page, /have no status at main/);
    });
    await gotoAndLoad(page, sites.consoleUrl('main', listed));
    await onAPhone(j, 'processed-phone');
  });
});

test('main_console_users: registered at shop-a, found, disabled: sign-in refused; enabled',
     async (t) => {
  const context = await newContext();
  await runJourney('main_console_users', t, context, path.join(artifacts, 'main_console_users'),
                   async (j) => {
    const stamp = Date.now();
    const email = `kenji.${stamp}@example.test`;
    const password = 'green tea every morning';
    const customer = await context.newPage();
    await gotoAndLoad(customer, sites.url('shop-a', '/account/register'));
    await j.shot('customer-register', customer);
    await j.must('the customer registers through shop-a (main\'s page)', async () => {
      await customer.getByLabel('Email').fill(email);
      await customer.getByLabel(/name shown/i).fill('Kenji Sato');
      await customer.getByLabel(/^password/i).fill(password);
      const r = await clickAndLoad(customer,
                                   customer.getByRole('button', { name: /create account/i }));
      if (r.status() >= 400) {
        throw new Error(`status ${r.status()}: ${(await bodyText(customer)).slice(0, 200)}`);
      }
      await gotoAndLoad(customer, await sites.mailLink(email, '/account/register/confirm'));
      await clickAndLoad(customer, customer.getByRole('button', { name: 'Create my account' }));
      await see(customer, /Signed in as Kenji Sato/);
    });
    await j.shot('customer-registered', customer);
    await j.must('the customer signs out at shop-a', async () => {
      await gotoAndLoad(customer, sites.url('shop-a', '/account/'));
      await clickAndLoad(customer, customer.getByRole('button', { name: 'Sign out' }));
      await see(customer, /You are signed out/);
    });

    const page = j.page;
    await signedIn(j, MAIN);
    await openConsolePage(j, '/users');
    await j.shot('users');
    await basics(j);
    await j.must('search for the customer', async () => {
      await page.getByLabel(/email, name or user id/i).fill('kenji');
      await clickAndLoad(page, page.getByRole('button', { name: 'Search' }));
    });
    await j.shot('users-found');
    const row = page.locator('tr', { hasText: email });
    await j.check('one match: registered at shop-a, now, active', async () => {
      await see(page, /^1 account\(s\) match/, { scope: page.locator('#users-count') });
      await see(page, /shop-a/, { scope: row });
      await see(page, /Kenji Sato/, { scope: row });
      await see(page, /active/, { scope: row });
    });
    await onAPhone(j, 'users-phone');
    await j.check('filtered by "registered at shop-a" it is listed, at main not', async () => {
      await gotoAndLoad(page, sites.consoleUrl('main', '/users?partner=shop-a'));
      await see(page, new RegExp(email.replace(/\./g, '\\.')));
      await gotoAndLoad(page, sites.consoleUrl('main', '/users?partner=main'));
      await notSee(page, new RegExp(email.replace(/\./g, '\\.')));
    });

    await j.must('26 more customers register at main (over HTTP, as their browsers would)',
                 async () => {
      for (let i = 0; i < 26; i++) {
        const address = `bulk${i}.${stamp}@example.test`;
        const body = new URLSearchParams({ email: address, display_name: `Bulk ${i}`,
                                           password: 'a long enough password' });
        let r = await fetch(sites.url('main', '/account/register'), { method: 'POST', body,
                                                                      redirect: 'manual' });
        if (r.status !== 200) throw new Error(`registration ${i}: status ${r.status}`);
        const link = new URL(await sites.mailLink(address, '/account/register/confirm'));
        r = await fetch(sites.url('main', '/account/register/confirm'), {
          method: 'POST', redirect: 'manual',
          body: new URLSearchParams({ token: link.searchParams.get('token') }) });
        if (r.status !== 200) throw new Error(`confirmation ${i}: status ${r.status}`);
      }
    });
    await j.must('search them: two pages of 25', async () => {
      await gotoAndLoad(page, sites.consoleUrl('main', '/users?q=bulk'));
      await see(page, /^26 account\(s\) match, newest first\. Page 1 of 2\./,
                { scope: page.locator('#users-count') });
      const rows = await page.locator('table.users-table tbody tr').count();
      if (rows !== 25) throw new Error(`${rows} rows`);
    });
    await j.shot('users-page-1');
    await j.must('the older accounts on page 2', async () => {
      await clickAndLoad(page, page.getByRole('link', { name: 'Older accounts' }));
      await see(page, /Page 2 of 2\./, { scope: page.locator('#users-count') });
      const rows = await page.locator('table.users-table tbody tr').count();
      if (rows !== 1) throw new Error(`${rows} rows`);
      await see(page, new RegExp(`bulk0\\.${stamp}@example\\.test`));
      if (new URL(page.url()).searchParams.get('q') !== 'bulk') throw new Error(page.url());
    });
    await j.shot('users-page-2');
    await j.check('and back to the newer ones', async () => {
      await clickAndLoad(page, page.getByRole('link', { name: 'Newer accounts' }));
      await see(page, /Page 1 of 2\./, { scope: page.locator('#users-count') });
    });

    await j.must('open the account and ask to disable it', async () => {
      await gotoAndLoad(page, sites.consoleUrl('main', `/users?q=${encodeURIComponent(email)}`));
      await clickAndLoad(page, row.getByRole('link', { name: email }));
      await clickAndLoad(page, page.getByRole('link', { name: /disable this account/i }));
    });
    await j.shot('confirm-disable');
    await basics(j);
    await j.check('the confirmation says what happens', () =>
      see(page, /will no longer be able to sign in/));
    await j.must('confirm', () =>
      clickAndLoad(page, page.getByRole('button', { name: 'Disable the account' })));
    await j.shot('disabled');
    await j.check('disabled: the message and the account say so', async () => {
      await expectFlash(page, new RegExp(`Disabled ${email.replace(/\./g, '\\.')}`));
      await see(page, /disabled since/, { scope: page.locator('#user-state') });
    });
    await j.check('`tieup main users ls` marks it DISABLED', async () => {
      const ls = await sites.tieup('main', 'users', 'ls', mainDir());
      const line = ls.split('\n').find((l) => l.includes(email));
      if (!line || !/DISABLED/.test(line)) throw new Error(line ?? ls);
    });

    const signInAtShopA = async () => {
      await gotoAndLoad(customer, sites.url('shop-a', '/account/login'));
      await customer.getByLabel('Email').fill(email);
      await customer.getByLabel(/^password/i).fill(password);
      return clickAndLoad(customer, customer.getByRole('button', { name: /sign in/i }));
    };
    await j.must('the customer tries to sign in at shop-a', signInAtShopA);
    await j.shot('customer-refused', customer);
    await j.check('the sign-in is refused', async () => {
      await see(customer, /wrong email address or password/i);
      await notSee(customer, /signed in as|welcome back/i);
    });

    await j.must('enable the account again', async () => {
      await gotoAndLoad(page, sites.consoleUrl('main', `/users?q=${encodeURIComponent(email)}`));
      await clickAndLoad(page, row.getByRole('button', { name: 'Enable' }));
    });
    await j.shot('enabled');
    await j.check('enabled: back on the search, active', async () => {
      await expectFlash(page, /Enabled .*can sign in again/);
      expectPath(page, '/users');
      await see(page, /active/, { scope: row });
    });
    await j.must('the customer signs in at shop-a', signInAtShopA);
    await j.shot('customer-signed-in', customer);
    await j.check('signed in', () => notSee(customer, /wrong email address or password/i));
    await auditHas(j, /user\.disable\s+usr_\w+ kenji/);
    await j.shot('audit');

    await j.must('another owner asks for a new password link: the account\'s button', async () => {
      await gotoAndLoad(page, sites.consoleUrl('main', `/users?q=bulk1.${stamp}`));
      await clickAndLoad(page, page.getByRole('link', { name: `bulk1.${stamp}@example.test` }));
      await clickAndLoad(page, page.getByRole('button', { name: 'Mail a link to choose a new password' }));
      await expectFlash(page, new RegExp(`Sent bulk1\\.${stamp}@example\\.test a link`));
      await sites.mailLink(`bulk1.${stamp}@example.test`, '/account/reset/confirm');
    });
    await j.shot('reset-sent');
    await j.must('and for their data: a JSON download of what main holds', async () => {
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('link', { name: 'Download this account\'s data' }).click(),
      ]);
      const file = await download.path();
      const data = JSON.parse(fs.readFileSync(file, 'utf8'));
      if (data.account?.email !== `bulk1.${stamp}@example.test`) {
        throw new Error(`the download reads ${JSON.stringify(data).slice(0, 200)}`);
      }
    });
    await auditHas(j, /user\.export\s+usr_\w+/);

    await j.must('open one account and ask to delete it (its owner wrote in)', async () => {
      await gotoAndLoad(page, sites.consoleUrl('main', `/users?q=bulk0.${stamp}`));
      await clickAndLoad(page, page.getByRole('link', { name: `bulk0.${stamp}@example.test` }));
      await clickAndLoad(page, page.getByRole('link', { name: /delete this account/i }));
    });
    await j.shot('confirm-delete');
    await basics(j);
    await j.check('the confirmation says what happens', () =>
      see(page, /cannot be undone[\s\S]*lose the name, postal address, e-mail and phone/));
    await j.must('confirm', () =>
      clickAndLoad(page, page.getByRole('button', { name: 'Delete the account' })));
    await j.shot('deleted');
    await j.check('deleted: the message says so, 25 bulk accounts left', async () => {
      await expectFlash(page, new RegExp(`Deleted bulk0\\.${stamp}@example\\.test`));
      await gotoAndLoad(page, sites.consoleUrl('main', '/users?q=bulk'));
      await see(page, /^25 account\(s\) match/, { scope: page.locator('#users-count') });
    });
    await auditHas(j, /user\.delete\s+usr_\w+/);
  });
});
