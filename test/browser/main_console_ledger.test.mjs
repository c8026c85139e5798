// The main console's Ledger & fees area in a real Chromium (issue #14, item 7).
//
//   node main_console_ledger.test.mjs TIEUP_BINARY [ARTIFACT_DIR]
//
// The demo's sites (console_harness.mjs: main, shop-a and shop-b served, each with a partnership
// contract at main). A full-page screenshot of every step in ARTIFACT_DIR/<journey>/NN-step.png:
//   main_console_ledger_statements  customers visit both shops (and search shop-a's) and each
//       sends its access ledger to main (`tieup partner ledger push`); main's manager sees each
//       partner's verified ledger (entries, last checkpoint, when), no alert, and what customers
//       searched for (shop-a: 2 searches, "kombucha" found nothing, 1 result opened); a month typed wrong is refused
//       with what to type; the statements for this month are written for every partner while a
//       second tab of the page follows the progress of each partner live (no reload); both
//       statements are listed; shop-a's statement page shows its chart, its fee lines and the
//       total; its CSV downloads with the CSV's header as its first line; a partner's own view
//       (?partner=shop-a); a search by name; the audit log; the page at a phone's width;
//   main_console_ledger_alert  an open "rewrite" alert on shop-b's ledger (entries 2 to 4 left
//       out of fees): its row says what was detected and the range left out; shop-b's statement,
//       written again from shop-b's own view of the page, leaves those 3 entries out.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { runJourney } from './harness.mjs';
import {
  MAIN, artifacts, bodyText, clickAndLoad, consoleBasics, expectFlash, expectPath, gotoAndLoad,
  newContext, notSee, see, signIn, sites, startConsoleSuite, stopConsoleSuite,
} from './console_harness.mjs';

const NAV = ['Partners', 'Publish', 'Content', 'Orders', 'Products', 'Users', 'Ledger & fees',
             'Managers', 'Audit log'];
const basics = (j, page = j.page) =>
  consoleBasics(j, { title: MAIN.consoleTitle, who: MAIN.email, nav: NAV }, page);

// This month, as the demo's contracts and main's statements count it (whole days of UTC).
const PERIOD = new Date().toISOString().slice(0, 7);
const CSV_HEADER = 'section,item,value,inputs,amount_minor';

before(async () => { await startConsoleSuite('main-console-ledger-logs'); });
after(async () => { await stopConsoleSuite(); });

const row = (page, id) => page.locator(`#ledger-row-${id}`);

test('main_console_ledger_statements: ledgers, statements for the month, a statement, its CSV',
     async (t) => {
  await runJourney('main_console_ledger_statements', t, await newContext(),
                   path.join(artifacts, 'main_console_ledger_statements'), async (j) => {
    const page = j.page;
    await j.must('customers visit both shops, and each sends its ledger to main', async () => {
      // What main holds of a partner's ledger after a push (a push sends what the partner's
      // recorder has committed; it commits in the background).
      const push = async (site) => {
        const out = await sites.tieup('partner', 'ledger', 'push', sites.siteDir(site));
        const held = out.match(/main holds (\d+) verified entries/);
        if (!held) throw new Error(out.trim());
        return [Number(held[1]), out.trim()];
      };
      // On shop-a, first two searches (one finds nothing) and a result opened: search records,
      // which come before the visits in its ledger (the index is built as the daemon starts:
      // until it is, the search page answers 503).
      const search = async (words) => {
        const deadline = Date.now() + 30000;
        for (;;) {
          const r = await fetch(sites.url('shop-a', `/search?q=${encodeURIComponent(words)}`),
                                { signal: AbortSignal.timeout(5000) });
          const text = await r.text();
          if (r.status === 200) return text;
          if (r.status !== 503 || Date.now() > deadline) {
            throw new Error(`search ${words}: ${r.status} ${text.slice(0, 200)}`);
          }
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      };
      if (!/Gyokuro/.test(await search('gyokuro'))) throw new Error('gyokuro found nothing');
      if (!/Nothing on this site matches/.test(await search('kombucha'))) {
        throw new Error('kombucha found something');
      }
      const opened = await fetch(
          sites.url('shop-a', '/search/go?to=/products/gyokuro.html&q=gyokuro'),
          { redirect: 'manual', signal: AbortSignal.timeout(5000) });
      if (opened.status !== 303) throw new Error(`opening a result: ${opened.status}`);
      for (const site of ['shop-a', 'shop-b']) {
        // The ledger holds more than visits (content records of each release): the six visits
        // are the six entries after what main holds now.
        const [before] = await push(site);
        for (let i = 0; i < 6; ++i) {
          const r = await fetch(sites.url(site, i % 2 ? '/' : '/local/'),
                                { signal: AbortSignal.timeout(2000) });
          await r.arrayBuffer();
        }
        const deadline = Date.now() + 30000;
        for (;;) {
          const [held, out] = await push(site);
          if (held >= before + 6) break;
          if (Date.now() > deadline) throw new Error(`after 30 s (held ${before} before): ${out}`);
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      }
    });

    await j.must('sign in as the main manager', async () => {
      await signIn(page, MAIN);
      expectPath(page, '/');
    });
    await j.must('open Ledger & fees from the navigation', async () => {
      await clickAndLoad(page, page.getByRole('navigation', { name: /console pages/i })
        .getByRole('link', { name: 'Ledger & fees' }));
      expectPath(page, '/ledger');
    });
    await j.shot('ledgers');
    await basics(j);
    for (const [id, name] of [['shop-a', 'Tea House Asahi'], ['shop-b', 'Kyoto Leaf']]) {
      await j.check(`${id}'s ledger: verified entries, its last checkpoint and when, no alert`,
                    async () => {
        const r = row(page, id);
        await see(page, new RegExp(name), { scope: r });
        const text = await r.innerText();
        const n = Number(text.match(/Verified up to (\d+) entries/)?.[1]);
        if (!(n >= 6)) throw new Error(`the row reads "${text}"`);
        if (!new RegExp(`Last checkpoint: size ${n}, root [0-9a-f]{16}…; entries last received`)
          .test(text)) {
          throw new Error(`the row reads "${text}"`);
        }
        if (!/\bNone\b/.test(await r.locator('td').nth(1).innerText())) {
          throw new Error(`alerts: "${await r.locator('td').nth(1).innerText()}"`);
        }
      });
    }

    await j.check("what customers searched for: shop-a's two searches, the word that found " +
                  'nothing, the result opened; none at shop-b', async () => {
      const a = row(page, 'shop-a').locator('td.main-ledger__searches');
      await see(page, /^2 searches, 1 found nothing$/, { scope: a.locator('p').first() });
      const words = await a.locator('ul.main-ledger__zero li').allInnerTexts();
      if (words.length !== 1 || !/^“?kombucha”? once, last /.test(words[0])) {
        throw new Error(`the words: ${JSON.stringify(words)}`);
      }
      await see(page, /Results opened: 1 of main's pages, 0 of its own/, { scope: a });
      await see(page, /No searches recorded/,
                { scope: row(page, 'shop-b').locator('td.main-ledger__searches') });
    });

    await j.must('type a month the wrong way and write', async () => {
      await page.getByLabel(/^Period/).fill('12/2026');
      await clickAndLoad(page, page.getByRole('button', { name: 'Write statements' }));
    });
    await j.shot('period-refused');
    await j.check('refused, saying what to type, with what was typed kept', async () => {
      await see(page, new RegExp(`Type a month as YYYY-MM, for instance ${PERIOD}\\.`));
      if ((await page.getByLabel(/^Period/).inputValue()) !== '12/2026') {
        throw new Error('the typed value is gone');
      }
      if ((await page.getByLabel(/^Period/).getAttribute('aria-invalid')) !== 'true') {
        throw new Error('the field is not marked invalid');
      }
      await notSee(page, /Statements for \d{4}-\d{2} \(/);
    });

    // A second tab of the page follows the run live.
    const watcher = await page.context().newPage();
    await gotoAndLoad(watcher, sites.consoleUrl('main', '/ledger'));
    await j.must(`write the statements for ${PERIOD} for every partner`, async () => {
      await gotoAndLoad(page, sites.consoleUrl('main', '/ledger'));
      if ((await page.getByLabel(/^Period/).inputValue()) !== PERIOD) {
        throw new Error('the period is not this month by default');
      }
      await page.getByLabel('Which partners').selectOption({ label: 'Every partner (not revoked)' });
      await clickAndLoad(page, page.getByRole('button', { name: 'Write statements' }));
    });
    await j.shot('writing');
    await basics(j);
    await j.check('the run is announced', () => expectFlash(page,
      new RegExp(`^Writing the statements for ${PERIOD} for every partner \\(2\\); each ` +
                 'partner\'s row shows its progress\\.$')));
    await j.check('the other tab shows each partner written, live, without a reload',
                  async () => {
      for (const id of ['shop-a', 'shop-b']) {
        await see(watcher, /^Written: ¥[\d,]+$/,
                  { scope: watcher.locator(`#statement-progress-${id}`), timeout: 15000 });
      }
      await see(watcher, /2 of 2 partners done/, { timeout: 15000 });
      await see(watcher, new RegExp(`Statements for ${PERIOD}: 2 written, 0 not written`),
                { scope: watcher.locator('#statements-summary'), timeout: 15000 });
    });
    await j.shot('written-live', watcher);
    await watcher.close();

    await j.must('reload: the run and both statements', () =>
      gotoAndLoad(page, sites.consoleUrl('main', '/ledger')));
    await j.shot('written');
    await basics(j);
    let total;
    await j.check('the run has ended, and each partner lists its statement', async () => {
      await see(page, new RegExp(`Statements for ${PERIOD}: 2 written, 0 not written .*Finished`));
      for (const id of ['shop-a', 'shop-b']) {
        await see(page, new RegExp(`Statement ${PERIOD}`), { scope: row(page, id) });
      }
      total = (await page.locator('#statement-progress-shop-a').innerText()).match(/¥[\d,]+/)?.[0];
      if (!total) throw new Error('no total for shop-a');
    });

    await j.must("open shop-a's statement", () => clickAndLoad(page,
      row(page, 'shop-a').getByRole('link', { name: `Statement ${PERIOD}` })));
    await j.shot('statement');
    await basics(j);
    await j.check('its page: title, total, chart and fee lines', async () => {
      expectPath(page, `/ledger/statements/shop-a/${PERIOD}`);
      await see(page, new RegExp(`Fee statement ${PERIOD} for Tea House Asahi`));
      const svg = page.locator('svg.ledger-chart__svg');
      if ((await svg.count()) !== 1) throw new Error('no chart');
      const title = await svg.locator('title').first().textContent();
      if (title !== `Accesses per day, ${PERIOD}`) throw new Error(`its title is "${title}"`);
      const today = new Date().toISOString().slice(0, 10);
      const tips = await svg.locator('g.ledger-chart__day > title').allTextContents();
      const m = tips.find((tip) => tip.startsWith(`${today}:`))?.match(/: (\d+) tie-up, (\d+) original$/);
      if (!m || Number(m[1]) + Number(m[2]) < 6) throw new Error(`today's bar: ${JSON.stringify(m)}`);
      const box = await svg.boundingBox();
      if (!box || box.width < 300 || box.height < 100) throw new Error(`drawn ${box?.width} px wide`);
      await see(page, /Tea House Asahi's own pages \(\d+\)/);
      const lines = await page.locator('table.main-ledger__lines tbody tr').evaluateAll(
          (trs) => trs.map((tr) => [...tr.cells].map((td) => td.innerText.trim())));
      if (!lines.some((r) => /^Base fee/.test(r[0]) && /¥[\d,]+/.test(r[2]))) {
        throw new Error(`the lines: ${JSON.stringify(lines)}`);
      }
      const foot = await page.locator('table.main-ledger__lines tfoot').innerText();
      if (!foot.includes(total)) throw new Error(`the total reads "${foot}", the run said ${total}`);
    });

    await j.check('the CSV downloads, as main delivers it to the partner', async () => {
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('link', { name: 'Download the CSV' }).click(),
      ]);
      if (download.suggestedFilename() !== `shop-a-${PERIOD}.csv`) {
        throw new Error(`saved as ${download.suggestedFilename()}`);
      }
      const file = path.join(artifacts, 'main_console_ledger_statements', `shop-a-${PERIOD}.csv`);
      await download.saveAs(file);
      const csv = fs.readFileSync(file, 'utf8');
      if (csv.split('\n')[0] !== CSV_HEADER) throw new Error(`its first line: ${csv.split('\n')[0]}`);
      const kept = fs.readFileSync(
        path.join(sites.siteDir('main'), 'statements', `shop-a-${PERIOD}.csv`), 'utf8');
      if (csv !== kept) throw new Error('it differs from the statement main keeps');
    });

    await j.must("shop-a's own view of the ledger", () =>
      gotoAndLoad(page, sites.consoleUrl('main', '/ledger?partner=shop-a')));
    await j.shot('shop-a-only');
    await basics(j);
    await j.check('only shop-a, and the form writes for shop-a by default', async () => {
      await see(page, /Ledger & fees: Tea House Asahi/);
      if ((await page.locator('tr[data-partner]').count()) !== 1) throw new Error('other rows');
      const chosen = await page.getByLabel('Which partners').inputValue();
      if (chosen !== 'shop-a') throw new Error(`the form writes for "${chosen}"`);
    });

    await j.must('find a partner by name', async () => {
      await gotoAndLoad(page, sites.consoleUrl('main', '/ledger'));
      await page.getByLabel('Id, name or region contains').fill('kyoto');
      await clickAndLoad(page, page.getByRole('button', { name: 'Find' }));
    });
    await j.shot('found');
    await j.check('only Kyoto Leaf (shop-b)', async () => {
      const ids = await page.locator('tr[data-partner]').evaluateAll(
          (trs) => trs.map((tr) => tr.dataset.partner));
      if (JSON.stringify(ids) !== '["shop-b"]') throw new Error(`rows: ${JSON.stringify(ids)}`);
    });

    await j.must('the audit log', () => gotoAndLoad(page, sites.consoleUrl('main', '/audit')));
    await j.shot('audit');
    await j.check('it records who wrote the statements for which period', async () => {
      const text = await bodyText(page);
      if (!new RegExp(`fees\\.statements\\s+period ${PERIOD} for every partner \\(2\\)`).test(text)) {
        throw new Error(`the audit log reads "${text.replace(/\s+/g, ' ').slice(0, 400)}"`);
      }
    });

    await page.setViewportSize({ width: 390, height: 844 });
    await gotoAndLoad(page, sites.consoleUrl('main', '/ledger'));
    await j.shot('ledger-phone');
    await basics(j);
    await gotoAndLoad(page, sites.consoleUrl('main', `/ledger/statements/shop-a/${PERIOD}`));
    await j.shot('statement-phone');
    await basics(j);
    await j.check('the chart fits the phone screen', async () => {
      const box = await page.locator('svg.ledger-chart__svg').boundingBox();
      if (!box || box.width > 390 || box.width < 250) throw new Error(`it is ${box?.width} px wide`);
    });
  });
});

test('main_console_ledger_alert: what was detected, the range left out, the statement without it',
     async (t) => {
  await runJourney('main_console_ledger_alert', t, await newContext(),
                   path.join(artifacts, 'main_console_ledger_alert'), async (j) => {
    const page = j.page;
    // The alert LedgerCollector raises when a partner's ledger grows without a valid consistency
    // proof (its detection is tested in test/main_site/ledger_service_test.cc), written to
    // main's database as it writes it: the demo's partners cannot be made to forge a ledger.
    await j.must("an open rewrite alert on shop-b's ledger, entries [2, 5) left out", async () => {
      execFileSync('sqlite3', [path.join(sites.siteDir('main'), 'tieup.db'),
        'INSERT INTO ledger_alerts(partner, time, kind, message, range_begin, range_end) ' +
        `VALUES ('shop-b', ${Math.floor(Date.now() / 1000)}, 'rewrite', 'checkpoint 9 does not ` +
        "extend the accepted checkpoint 5 (no valid consistency proof)', 2, 5)"]);
    });
    await j.must('sign in as the main manager', () => signIn(page, MAIN));
    await j.must('open Ledger & fees', () => gotoAndLoad(page, sites.consoleUrl('main', '/ledger')));
    await j.shot('alert');
    await basics(j);
    await j.check("shop-b's row: the alert, what was detected and the range left out", async () => {
      const alerts = row(page, 'shop-b').locator('td').nth(1);
      await see(page, /1 open/, { scope: alerts });
      await see(page, /Rewrite: entries were changed, deleted or reordered/, { scope: alerts });
      await see(page, /no valid consistency proof/, { scope: alerts });
      await see(page, /Entries 2 to 4 are left out of fees until the alert is resolved\./,
                { scope: alerts });
      await see(page, /^None$/, { scope: row(page, 'shop-a').locator('td').nth(1) });
    });

    await j.must("shop-b's own view, from its name", () =>
      clickAndLoad(page, row(page, 'shop-b').getByRole('link', { name: 'Kyoto Leaf' })));
    await j.must(`write shop-b's statement for ${PERIOD} again`, async () => {
      expectPath(page, '/ledger');
      if ((await page.getByLabel('Which partners').inputValue()) !== 'shop-b') {
        throw new Error('the form does not write for shop-b');
      }
      await clickAndLoad(page, page.getByRole('button', { name: 'Write statements' }));
    });
    await j.check('written for shop-b alone', async () => {
      await expectFlash(page, new RegExp(`^Writing the statements for ${PERIOD} for shop-b;`));
      await see(page, /1 of 1 partners done/, { timeout: 15000 });
      await see(page, new RegExp(`Statements for ${PERIOD}: 1 written`), { timeout: 15000 });
    });
    await j.shot('rewritten');
    await j.must("open shop-b's statement", () => gotoAndLoad(page,
      sites.consoleUrl('main', `/ledger/statements/shop-b/${PERIOD}`)));
    await j.shot('statement');
    await basics(j);
    await j.check('the statement leaves the 3 entries out', () =>
      see(page, /leaving out 3 entries under alerts/));
    await j.check('an unknown statement is a clear 404', async () => {
      const answer = await gotoAndLoad(page, sites.consoleUrl('main', '/ledger/statements/shop-b/1999-01'));
      if (answer.status() !== 404) throw new Error(`status ${answer.status()}`);
      await see(page, /Main has written no statement at \/ledger\/statements\/shop-b\/1999-01/);
    });
  });
});
