// Main's marketing on its partners' behalf (issue #19), in a real Chromium against the demo's
// sites (console_harness.mjs):
//
//   node main_console_marketing.test.mjs TIEUP_BINARY [ARTIFACT_DIR]
//
// Each journey runs in a fresh browser context and keeps a full-page screenshot of every step in
// ARTIFACT_DIR/<journey>/NN-step.png:
//   main_console_marketing  main's manager opens Marketing: the demo's segment of shop-a's
//                           customers who asked for news (2 members) and its draft campaign; the
//                           campaign's page shows Aiko's mail in shop-a's brand ("Tea House
//                           Asahi"); Send: the daemon sends it (2 sent, the report says so); the
//                           mail in main's outbox comes from Tea House Asahi with RFC 8058's
//                           List-Unsubscribe headers; the customer opens its link to shop-a's
//                           teas (a click, counted) and its unsubscribe link: one button, "You
//                           are unsubscribed", her account says "not wanted", the report counts
//                           1 unsubscribed; a new segment of shop-b's customers defined in the
//                           form lists Haruto; a bad one is refused, saying why;
//   also_bought             shop-a's tie-up page of Sencha shows "Customers who bought this also
//                           bought" with Gyokuro (from the demo's past orders); Ren's account
//                           page at main suggests Hojicha (he bought the other two); the
//                           Marketing page lists what is shown beside each product.
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { runJourney, waitUntil } from './harness.mjs';
import {
  MAIN, artifacts, clickAndLoad, consoleBasics, expectFlash, expectPath, gotoAndLoad,
  newContext, notSee, see, signedIn, sites, startConsoleSuite, stopConsoleSuite,
} from './console_harness.mjs';

const NAV = ['Partners', 'Publish', 'Content', 'Orders', 'Products', 'Users', 'Marketing',
             'Ledger & fees', 'Managers', 'Audit log'];
const basics = (j) => consoleBasics(j, { title: MAIN.consoleTitle, who: MAIN.email, nav: NAV });
const mainDir = () => sites.siteDir('main');

before(async () => { await startConsoleSuite('main-console-marketing-logs'); });
after(async () => { await stopConsoleSuite(); });

// The campaign mail to `email` in main's outbox, its body's quoted-printable undone.
async function campaignMail(email) {
  const dir = path.join(mainDir(), 'mail', 'pending');
  let found = null;
  await waitUntil(`the campaign's mail to ${email}`, async () => {
    if (!fs.existsSync(dir)) return false;
    for (const name of fs.readdirSync(dir)) {
      if (!name.startsWith('campaign-new-season-')) continue;
      const text = fs.readFileSync(path.join(dir, name), 'utf8');
      if (!text.includes(`<${email}>`)) continue;
      const split = text.indexOf('\r\n\r\n');
      const body = text.slice(split).replace(/=\r\n/g, '')
          .replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
      found = { head: text.slice(0, split), body: Buffer.from(body, 'latin1').toString('utf8') };
      return true;
    }
    return false;
  }, { deadlineMs: 30000, everyMs: 200 });
  return found;
}

test('main_console_marketing: a campaign to shop-a\'s customers in shop-a\'s brand', async (t) => {
  await runJourney('main_console_marketing', t, await newContext(),
                   path.join(artifacts, 'main_console_marketing'), async (j) => {
    const page = j.page;
    await signedIn(j, MAIN);
    await j.must('open Marketing', async () => {
      await clickAndLoad(page, page.getByRole('link', { name: 'Marketing', exact: true }));
      expectPath(page, '/marketing');
    });
    await j.shot('marketing');
    await basics(j);
    await j.check("the demo's segment of shop-a's customers who want news: 2 members", async () => {
      const row = page.locator('table.marketing-segments tr', { hasText: 'shop-a-news' });
      await see(page, /^2$/, { scope: row.locator('td').nth(1) });
      await see(page, /registered via shop-a; consented to marketing mail/, { scope: row });
    });
    await j.check('its campaign, a draft', async () => {
      const row = page.locator('table.marketing-campaigns tr', { hasText: 'new-season' });
      await see(page, /draft/, { scope: row });
      await see(page, /New season teas at/, { scope: row });
    });

    await j.must('open the campaign', () =>
      clickAndLoad(page, page.getByRole('link', { name: 'new-season', exact: true })));
    await j.shot('campaign-draft');
    await basics(j);
    await j.check("a customer's mail, in shop-a's brand", async () => {
      await see(page, /Tea House Asahi <no-reply@localhost\.localdomain>/,
                { scope: page.locator('#preview-from') });
      await see(page, /^New season teas at Tea House Asahi$/,
                { scope: page.locator('#preview-subject') });
      // The segment's first member (by account id): one of the two.
      await see(page, /Hello (Aiko Tanaka|Ren Sato)/, { scope: page.locator('#preview-text') });
      await see(page, /Tea House Asahi\*\* in Osaka/, { scope: page.locator('#preview-text') });
    });
    await j.must("Aiko's mail, asked for by her address", async () => {
      await page.getByLabel(/Customer \(e-mail or id\)/).fill('aiko@example.jp');
      await clickAndLoad(page, page.getByRole('button', { name: 'Show', exact: true }));
    });
    await j.shot('campaign-preview-aiko');
    await j.check('it greets Aiko', () =>
      see(page, /Hello Aiko Tanaka/, { scope: page.locator('#preview-text') }));
    await j.must('Send the campaign', () =>
      clickAndLoad(page, page.getByRole('button', { name: 'Send the campaign' })));
    await j.check('the message says to how many', () =>
      expectFlash(page, /Sending to 2 recipient\(s\) at 60 a minute/));
    await j.must('the daemon sends it: the report says 2 sent', () =>
      waitUntil('2 sent', async () => {
        await gotoAndLoad(page, page.url());
        return /^2$/.test((await page.locator('#campaign-sent').innerText()).trim()) &&
            /done/.test(await page.locator('#campaign-state').innerText());
      }, { deadlineMs: 60000, everyMs: 500 }));
    await j.shot('campaign-sent');

    const mail = await j.must("Aiko's mail in main's outbox", () => campaignMail('aiko@example.jp'));
    await j.check('from Tea House Asahi, with one-click unsubscribe (RFC 8058)', () => {
      if (!/\r\nFrom: "Tea House Asahi" </.test(mail.head)) throw new Error(mail.head);
      if (!/\r\nList-Unsubscribe: <http:\/\/127\.0\.0\.1:\d+\/marketing\/unsubscribe\?t=/
               .test(mail.head)) {
        throw new Error(mail.head);
      }
      if (!/\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n/.test(mail.head)) {
        throw new Error(mail.head);
      }
      if (!mail.body.includes('Hello Aiko Tanaka')) throw new Error(mail.body.slice(0, 400));
    });
    await j.must("the mail's HTML part, as a mail reader shows it", async () => {
      const start = mail.body.indexOf('Content-Type: text/html; charset=utf-8');
      const html = mail.body.slice(mail.body.indexOf('\r\n\r\n', start) + 4,
                                   mail.body.lastIndexOf('--=_tieup_'));
      const reader = await (await newContext()).newPage();
      await reader.setContent(html);
      await j.shot('mail-html', reader);
      await see(reader, /Sakura Tea/);  // the network's name, above the partner's
      await see(reader, /at Tea House Asahi, Osaka/);
      await see(reader, /Hello Aiko Tanaka/);
      await reader.getByRole('link', { name: 'Unsubscribe' }).waitFor();
      await reader.context().close();
    });
    await j.check('Mei, who did not ask for news, got none', () => {
      const dir = path.join(mainDir(), 'mail', 'pending');
      for (const name of fs.readdirSync(dir)) {
        if (name.startsWith('campaign-') &&
            fs.readFileSync(path.join(dir, name), 'utf8').includes('<mei@example.jp>')) {
          throw new Error(`a campaign mail to Mei: ${name}`);
        }
      }
    });

    // The customer's side, in a browser of her own.
    const customer = await (await newContext()).newPage();
    const teas = mail.body.match(/https?:\/\/[^\s"<>)]+\/marketing\/c\/[A-Za-z0-9_-]+\/products\//);
    await j.must("Aiko follows the mail's link to shop-a's teas", async () => {
      if (!teas) throw new Error('no link to the teas in the mail');
      await gotoAndLoad(customer, teas[0]);
    });
    await j.shot('customer-clicked', customer);
    await j.check("she is on shop-a's teas, the campaign noted", () => {
      const u = new URL(customer.url());
      if (u.host !== new URL(sites.url('shop-a', '/')).host || u.pathname !== '/products/' ||
          u.searchParams.get('tc') !== 'new-season') {
        throw new Error(customer.url());
      }
    });
    const unsubscribe = mail.head.match(/List-Unsubscribe: <([^>]+)>/)[1];
    await j.must('she opens the unsubscribe link', () => gotoAndLoad(customer, unsubscribe));
    await j.shot('unsubscribe', customer);
    await j.check("one button, in main's layout, naming shop-a", async () => {
      await see(customer, /Unsubscribe from Tea House Asahi's mail/);
      await customer.getByRole('button', { name: 'Unsubscribe' }).waitFor();
    });
    await j.must('she presses it', () =>
      clickAndLoad(customer, customer.getByRole('button', { name: 'Unsubscribe' })));
    await j.shot('unsubscribed', customer);
    await j.check('"You are unsubscribed"', () => see(customer, /You are unsubscribed/));
    await customer.context().close();

    await j.must('the report counts the click and the unsubscribe', async () => {
      await gotoAndLoad(page, sites.consoleUrl('main', '/marketing/campaigns/new-season'));
      await see(page, /Unsubscribed\s*1/);
      await see(page, /Clicked\s*1/);
    });
    await j.shot('campaign-report');
    await j.check("her account: news by mail not wanted", async () => {
      await gotoAndLoad(page, sites.consoleUrl('main', '/users?q=aiko'));
      await clickAndLoad(page, page.getByRole('link', { name: 'aiko@example.jp' }));
      await see(page, /News by mail\s*not wanted/);
    });

    await j.must('define a segment of shop-b\'s customers who want news', async () => {
      await gotoAndLoad(page, sites.consoleUrl('main', '/marketing'));
      const form = page.locator('#new-segment');
      await form.getByLabel('Name').fill('shop-b-news');
      await form.getByLabel(/Registered at/).fill('shop-b');
      await form.getByLabel(/Only customers who asked/).check();
      await clickAndLoad(page, page.getByRole('button', { name: 'Save the segment' }));
    });
    await j.shot('segment-saved');
    await j.check('its page lists Haruto, 1 member', async () => {
      expectPath(page, '/marketing/segments/shop-b-news');
      await expectFlash(page, /Saved segment shop-b-news/);
      await see(page, /^1 member\(s\) now/, { scope: page.locator('#segment-count') });
      await see(page, /haruto@example\.jp/);
      await notSee(page, /aiko@example\.jp/);
    });
    await j.must('a segment with a path that is not one is refused', async () => {
      await gotoAndLoad(page, sites.consoleUrl('main', '/marketing'));
      const form = page.locator('#new-segment');
      await form.getByLabel('Name').fill('bad-path');
      await form.getByLabel(/Visited pages starting with/).fill('products');
      await clickAndLoad(page, page.getByRole('button', { name: 'Save the segment' }));
    });
    await j.shot('segment-refused');
    await j.check('the message says the path must start with "/"', () =>
      expectFlash(page, /Segment not saved: visited path must start with '\/'/));
    await j.check('`tieup main campaigns report` agrees', async () => {
      const out = await sites.tieup('main', 'campaigns', 'report', mainDir(), 'new-season');
      for (const re of [/sent\s+2/, /unsubscribed\s+1/, /clicked\s+1/]) {
        if (!re.test(out)) throw new Error(out);
      }
    });
  });
});

test('also_bought: a product page shows what customers bought with it', async (t) => {
  await runJourney('also_bought', t, await newContext(), path.join(artifacts, 'also_bought'),
                   async (j) => {
    const page = j.page;
    await j.must("open shop-a's Sencha page", () =>
      gotoAndLoad(page, sites.url('shop-a', '/products/sencha.html')));
    await j.shot('sencha');
    await j.check('"Customers who bought this also bought": Gyokuro, priced', async () => {
      const box = page.locator('section.also-bought');
      await see(page, /Customers who bought this also bought/, { scope: box });
      await see(page, /Gyokuro Kin, 50 g/, { scope: box });
      await see(page, /3,600/, { scope: box });
    });
    await j.must('follow it', () =>
      clickAndLoad(page, page.locator('section.also-bought').getByRole('link',
                                                                      { name: /Gyokuro/ })));
    await j.check("Gyokuro's page on shop-a", () => {
      expectPath(page, '/products/gyokuro.html');
      if (!page.url().startsWith(sites.url('shop-a', '/'))) throw new Error(page.url());
    });
    await j.shot('gyokuro');
    await j.check('its own list has Sencha', () =>
      see(page, /Sencha Asahi, 100 g/, { scope: page.locator('section.also-bought') }));
    // Ren bought Sencha and Gyokuro: main's account page suggests Hojicha.
    const customer = await (await newContext()).newPage();
    await j.must('Ren signs in at main', async () => {
      await gotoAndLoad(customer, sites.url('main', '/account/login'));
      await customer.getByLabel('Email').fill('ren@example.jp');
      await customer.getByLabel(/^password/i).fill('sakura-customer-1');
      await clickAndLoad(customer, customer.getByRole('button', { name: /sign in/i }));
      await gotoAndLoad(customer, sites.url('main', '/account/'));
    });
    await j.shot('account-suggestions', customer);
    await j.check('"You may also like": Hojicha, not what he bought', async () => {
      const list = customer.locator('ul.suggestions');
      await see(customer, /You may also like/);
      await see(customer, /Hojicha Roast, 100 g/, { scope: list });
      const text = await list.innerText();
      if (/Sencha|Gyokuro/.test(text)) throw new Error(`the list reads "${text}"`);
    });
    await customer.context().close();
    await signedIn(j, MAIN);
    await gotoAndLoad(page, sites.consoleUrl('main', '/marketing'));
    await j.shot('marketing-recommendations');
    await j.check('the Marketing page lists it', async () => {
      const row = page.locator('#recommendations tr', { hasText: 'SENCHA-100' });
      await see(page, /Gyokuro Kin, 50 g/, { scope: row });
    });
  });
});
