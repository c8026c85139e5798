// The main console's partners at a glance (/, issue #14 item 1) in a real Chromium:
//
//   node main_console_partners.test.mjs TIEUP_BINARY [ARTIFACT_DIR]
//
// The demo's sites (console_harness.mjs) are served: main, shop-a (approval auto: its first
// update is live) and shop-b (approval manager: its first update waits). One journey,
// main_console_partners, with a screenshot of each step in ARTIFACT_DIR/main_console_partners/:
// main's manager signs in and sees both partners in the table with their states in words; filters
// by state (the form and the state links, with counts); searches; sorts by a column header; then
// shop-b's manager approves the update in shop-b's console, and main's open table changes to "up
// to date" without a reload (the page's live update); last, the page on a phone's width.
import path from 'node:path';
import { after, before, test } from 'node:test';

import { runJourney, waitUntil } from './harness.mjs';
import {
  MAIN, SHOP_B, artifacts, clickAndLoad, consoleBasics, expectPath, gotoAndLoad, newContext,
  notSee, see, signIn, sites, startConsoleSuite, stopConsoleSuite,
} from './console_harness.mjs';

before(async () => { await startConsoleSuite('main-console-partners-logs'); });
after(async () => { await stopConsoleSuite(); });

const NAV = ['Partners', 'Publish', 'Content', 'Orders', 'Products', 'Users', 'Ledger & fees',
             'Managers', 'Audit log'];

// The text of partner `id`'s row ('' when the table has none).
async function rowText(page, id) {
  const row = page.locator(`#partners-live tr[data-partner="${id}"]`);
  return (await row.count()) > 0 ? (await row.innerText()).replace(/\s+/g, ' ') : '';
}

// The partner ids in the table, in order.
async function tableIds(page) {
  return page.locator('#partners-live tbody tr').evaluateAll(
      (rows) => rows.map((r) => r.getAttribute('data-partner')));
}

async function expectIds(page, want) {
  const ids = await tableIds(page);
  if (ids.join(',') !== want.join(',')) throw new Error(`the table lists [${ids.join(', ')}]`);
}

test('main_console_partners: the table, filters, search, sort; shop-b approves: live change',
     async (t) => {
  await runJourney('main_console_partners', t, await newContext(),
                   path.join(artifacts, 'main_console_partners'), async (j) => {
    const page = j.page;
    await j.must('sign in to main\'s console', async () => {
      await signIn(page, MAIN);
      expectPath(page, '/');
    });
    await j.shot('partners');
    await consoleBasics(j, { title: MAIN.consoleTitle, who: MAIN.email, nav: NAV });

    let update = '';
    await j.must('shop-a up to date, shop-b waiting for its manager', async () => {
      await waitUntil('both partners in their first states', async () => {
        const a = await rowText(page, 'shop-a');
        const b = await rowText(page, 'shop-b');
        return /up to date at version 1/.test(a) &&
               /version 1 waiting for the partner manager \(update u\d+\)/.test(b);
      }, { deadlineMs: 3000 }).catch(async () => {
        throw new Error(`shop-a: "${await rowText(page, 'shop-a')}"; shop-b: ` +
                        `"${await rowText(page, 'shop-b')}"`);
      });
      update = (await rowText(page, 'shop-b')).match(/update (u\d+)/)[1];
    });
    await j.check('each row: name, region, kind, approval, live / latest, contact', async () => {
      const a = await rowText(page, 'shop-a');
      for (const want of ['Tea House Asahi', 'Osaka', 'contents', 'auto', '1 / 1']) {
        if (!a.includes(want)) throw new Error(`shop-a's row lacks "${want}": "${a}"`);
      }
      const b = await rowText(page, 'shop-b');
      for (const want of ['Kyoto Leaf', 'Kyoto', 'manager', 'none / 1', 'Waiting for approval']) {
        if (!b.includes(want)) throw new Error(`shop-b's row lacks "${want}": "${b}"`);
      }
      if (!/ago|just now/.test(a)) throw new Error(`shop-a's row has no last contact: "${a}"`);
    });
    await j.check("each row says how far main verified the partner's ledger, linked", async () => {
      for (const id of ['shop-a', 'shop-b']) {
        const cell = page.locator(`#partners-live tr[data-partner="${id}"] .partners-ledger`);
        const text = await cell.innerText();
        if (!/^Ledger: (not shipped yet|verified up to [\d,]+ entr(y|ies))/.test(text.trim())) {
          throw new Error(`${id}'s ledger cell reads "${text}"`);
        }
        const href = await cell.locator('a').getAttribute('href');
        if (href !== `/ledger?partner=${id}`) throw new Error(`${id}'s ledger link: ${href}`);
      }
    });
    await j.check('each partner links to its page', async () => {
      const href = await page.locator('#partners-live tr[data-partner="shop-b"] a').first()
          .getAttribute('href');
      if (href !== '/partners/shop-b') throw new Error(`the link goes to ${href}`);
    });
    await j.check('the states with their counts', async () => {
      const states = page.getByRole('navigation', { name: /partners by state/i });
      await see(page, /All\s+2/, { scope: states });
      await see(page, /Up to date\s+1/, { scope: states });
      await see(page, /Waiting for approval\s+1/, { scope: states });
    });
    await j.check('the search and state fields have labels', async () => {
      await page.getByLabel(/id, name or region contains/i).waitFor();
      await page.getByLabel(/^state$/i).waitFor();
    });

    // Filter by state with the form (no JavaScript needed: a GET form).
    await j.must('filter: waiting for approval', async () => {
      await page.getByLabel(/^state$/i).selectOption('waiting');
      await clickAndLoad(page, page.getByRole('button', { name: /^show$/i }));
    });
    await j.shot('filter-waiting');
    await j.check('only shop-b, and the address says so', async () => {
      await expectIds(page, ['shop-b']);
      if (!page.url().includes('state=waiting')) throw new Error(`the address is ${page.url()}`);
      const chosen = await page.getByLabel(/^state$/i).inputValue();
      if (chosen !== 'waiting') throw new Error(`the state field shows "${chosen}"`);
    });
    await j.must('the "Up to date" state link', () =>
      clickAndLoad(page, page.getByRole('link', { name: /^up to date\s+1$/i })));
    await j.shot('filter-up-to-date');
    await j.check('only shop-a', () => expectIds(page, ['shop-a']));
    await j.must('"Show all partners"', () =>
      clickAndLoad(page, page.getByRole('link', { name: /show all partners/i })));
    await j.check('both again', () => expectIds(page, ['shop-a', 'shop-b']));

    // Search.
    await j.must('search "kyoto"', async () => {
      await page.getByLabel(/id, name or region contains/i).fill('kyoto');
      await clickAndLoad(page, page.getByRole('button', { name: /^show$/i }));
    });
    await j.shot('search-kyoto');
    await j.check('only shop-b (its region and name), the search kept in the box', async () => {
      await expectIds(page, ['shop-b']);
      const q = await page.getByLabel(/id, name or region contains/i).inputValue();
      if (q !== 'kyoto') throw new Error(`the box holds "${q}"`);
    });
    await j.must('search "nowhere"', async () => {
      await page.getByLabel(/id, name or region contains/i).fill('nowhere');
      await clickAndLoad(page, page.getByRole('button', { name: /^show$/i }));
    });
    await j.check('"No partner matches."', () => see(page, /No partner matches\./));

    // Addresses typed by hand.
    await j.check('an unknown state is a 400 page saying so', async () => {
      const answer = await gotoAndLoad(page, sites.consoleUrl('main', '/?state=lost'));
      if (answer?.status() !== 400) throw new Error(`HTTP ${answer?.status()}`);
      await see(page, /There is no state 'lost'/);
    });
    await j.check('a page past the last says so, with a way back', async () => {
      await gotoAndLoad(page, sites.consoleUrl('main', '/?page=9'));
      await see(page, /There is no such page/);
      await page.getByRole('link', { name: /back to the first/i }).waitFor();
    });

    // Sort by a column header (links): Partner descending.
    await j.must('back to every partner', () => gotoAndLoad(page, sites.consoleUrl('main', '/')));
    await j.must('the "Partner" column header (sorted by it: reverse)', () =>
      clickAndLoad(page, page.getByRole('columnheader', { name: /^partner/i }).getByRole('link')));
    await j.shot('sorted-by-partner-desc');
    await j.check('shop-b first, and the header says how it is sorted', async () => {
      await expectIds(page, ['shop-b', 'shop-a']);
      const sort = await page.getByRole('columnheader', { name: /^partner/i })
          .getAttribute('aria-sort');
      if (sort !== 'descending') throw new Error(`aria-sort="${sort}"`);
    });
    await j.must('the "Name" column header', () =>
      clickAndLoad(page, page.getByRole('columnheader', { name: /^name/i }).getByRole('link')));
    await j.check('by name: Kyoto Leaf, Tea House Asahi', () =>
      expectIds(page, ['shop-b', 'shop-a']));

    // Live: shop-b's manager approves in shop-b's console; main's table changes without reload.
    await j.must('main\'s table open on every partner', async () => {
      await gotoAndLoad(page, sites.consoleUrl('main', '/'));
      await page.evaluate(() => { window.partnersTestMarker = 'not reloaded'; });
    });
    const shopB = await newContext();
    try {
      const other = await shopB.newPage();
      await j.must(`shop-b's manager approves ${update} in shop-b's console`, async () => {
        await signIn(other, SHOP_B);
        await gotoAndLoad(other, sites.consoleUrl('shop-b', `/updates/${update}`));
        await clickAndLoad(other, other.locator('#approve'));
        await see(other, new RegExp(`${update} approved`));
      });
      await j.shot('shop-b-approved', other);
    } finally {
      await shopB.close();
    }
    await j.must('main\'s table shows shop-b up to date, without a reload', async () => {
      await waitUntil('shop-b up to date in main\'s table', async () =>
        /up to date at version 1/.test(await rowText(page, 'shop-b')),
      { deadlineMs: 30000, everyMs: 200 }).catch(async () => {
        throw new Error(`shop-b's row reads "${await rowText(page, 'shop-b')}"`);
      });
      const marker = await page.evaluate(() => window.partnersTestMarker);
      if (marker !== 'not reloaded') throw new Error('the page was loaded again');
    });
    await j.shot('live-up-to-date');
    await j.check('the counts changed with it', async () => {
      const states = page.getByRole('navigation', { name: /partners by state/i });
      await see(page, /Up to date\s+2/, { scope: states });
      const text = await states.innerText();
      if (/Waiting/.test(text)) throw new Error(`the states read "${text}"`);
    });
    await consoleBasics(j, { title: MAIN.consoleTitle, who: MAIN.email, nav: NAV });

    // A phone.
    await page.setViewportSize({ width: 390, height: 844 });
    await gotoAndLoad(page, sites.consoleUrl('main', '/'));
    await j.shot('phone');
    await consoleBasics(j, { title: MAIN.consoleTitle, who: MAIN.email, nav: NAV });
    await j.check('the table scrolls inside its frame on a phone', async () => {
      const [inner, outer] = await page.locator('.partners-table-wrap').evaluate(
          (w) => [w.scrollWidth, w.clientWidth]);
      if (!(inner >= outer)) throw new Error(`table ${inner} px in a ${outer} px frame`);
    });
    await j.check('no error text', () => notSee(page, /internal error|unavailable/i));
  });
});
