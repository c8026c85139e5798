// The partner console's access records and fees in a real Chromium (issue #13, item 7).
//
//   node console_ledger.test.mjs TIEUP_BINARY [ARTIFACT_DIR]
//
// The demo's sites (console_harness.mjs: main, shop-a and shop-b served on their own). Journeys,
// in order, with a full-page screenshot of every step in ARTIFACT_DIR/<journey>/NN-step.png:
//   console_ledger_statement  shop-b's first update approved (its CLI) so it serves tie-up pages;
//                             customers visit tie-up and original pages on shop-b's public port;
//                             the manager sends the new entries from the Ledger page; main's
//                             manager writes shop-b's statement for this month (`tieup main fees
//                             statement`); the manager asks for new statements: the statement is
//                             listed with its total (as the CLI printed it) and its chart (a bar
//                             for today); Verify says it agrees; the statement's page lists its
//                             fee lines; the audit log lists the push, the fetch and the verify;
//                             the page at a phone's width;
//   console_ledger_tampered   the statement stored at shop-b is edited (today's tie-up count
//                             raised, its digest computed again, as a forger would): the page
//                             says the file changed, the chart shows the forged count, and Verify
//                             lists the difference with both values; main's own copy of the
//                             statement and its contract, pasted into the fallback form, agree.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { runJourney, yenRe } from './harness.mjs';
import {
  HEADING_V1, SHOP_B, artifacts, bodyText, clickAndLoad, consoleBasics, expectFlash, expectPath,
  gotoAndLoad, newContext, notSee, publicText, see, shopBPending, signedIn, sites,
  startConsoleSuite, stopConsoleSuite, waitPublicHeading,
} from './console_harness.mjs';

before(async () => { await startConsoleSuite('console-ledger-logs'); });
after(async () => { await stopConsoleSuite(); });

// This month and today, as main's statement counts them (whole days of UTC).
const now = new Date();
const PERIOD = now.toISOString().slice(0, 7);
const TODAY = now.toISOString().slice(0, 10);
const TIEUP_VISITS = 12;
const ORIGINAL_VISITS = 5;

let statement;  // { id, total } once main's statement reached shop-b

// The statement folders shop-b holds.
function receivedStatements() {
  const dir = path.join(sites.siteDir('shop-b'), 'statements');
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name);
}

// The "day" row of `day` in a statement CSV: [tieup, original].
function dayCounts(csv, day) {
  const m = csv.match(new RegExp(`^day,${day},,tieup=(\\d+);original=(\\d+),$`, 'm'));
  return m ? [Number(m[1]), Number(m[2])] : null;
}

async function openLedger(j) {
  await j.must('open the Ledger & fees page from the navigation', async () => {
    await gotoAndLoad(j.page, sites.consoleUrl('shop-b', '/'));
    await clickAndLoad(j.page, j.page.getByRole('navigation', { name: /console pages/i })
      .getByRole('link', { name: 'Ledger & fees' }));
    expectPath(j.page, '/ledger');
  });
}

// The statement's card on the Ledger page.
function card(page, id) {
  return page.locator('article.ledger-statement', { has: page.locator(`a[href$="/${id}"]`) });
}

test('console_ledger_statement: traffic, main writes the statement, it arrives, Verify agrees',
     async (t) => {
  await runJourney('console_ledger_statement', t, await newContext(),
                   path.join(artifacts, 'console_ledger_statement'), async (j) => {
    const page = j.page;
    // shop-b's manager approves the waiting first update (from the shell here: the console's
    // review is console.test.mjs's), so that shop-b serves tie-up pages.
    await j.must("shop-b's first update approved and live", async () => {
      const pending = await shopBPending();
      const id = pending.match(/tieup partner approve \S+ (\S+)/)?.[1];
      if (!id) throw new Error(`nothing waits: ${pending.trim()}`);
      await sites.tieup('partner', 'approve', sites.siteDir('shop-b'), id);
      await waitPublicHeading(HEADING_V1);
    });
    await j.must("customers visit tie-up and original pages on shop-b's public port", async () => {
      for (let i = 0; i < TIEUP_VISITS; ++i) {
        if (!(await publicText(i % 2 ? '/' : '/products/sencha.html'))) {
          throw new Error('a tie-up page did not answer 200');
        }
      }
      for (let i = 0; i < ORIGINAL_VISITS; ++i) {
        if (!(await publicText('/local/'))) throw new Error('/local/ did not answer 200');
      }
    });

    await signedIn(j);
    await openLedger(j);
    await j.shot('ledger-before');
    await consoleBasics(j, { who: SHOP_B.email });
    await j.check('the ledger says how many entries it holds, and no statement yet', async () => {
      const entries = Number(await page.locator('#ledger-entries').innerText());
      if (!(entries >= TIEUP_VISITS + ORIGINAL_VISITS)) throw new Error(`${entries} entries`);
      await see(page, /No statement received yet/);
      await see(page, /None: the main site found nothing wrong/);
    });

    await j.must('send the new entries to the main site now', () =>
      clickAndLoad(page, page.getByRole('button', { name: /send new entries to the main site/i })));
    await j.shot('pushed');
    await j.check('the push is reported, and the main site holds every entry', async () => {
      await expectFlash(page, /^Ledger sent \d+ entries; the main site holds \d+ \(all of them\)\.$/);
      await see(page, /Last exchange .*The main site holds (\d+) of the \1 entries signed then \(all of them\)/);
    });

    // Main's manager writes shop-b's statement for this month, as always.
    const out = await j.must("main's manager writes shop-b's statement (tieup main fees statement)",
                             () => sites.tieup('main', 'fees', 'statement', sites.siteDir('main'),
                                               '--partner', 'shop-b', '--period', PERIOD));
    const cliTotal = Number(out.match(/^Total: \D*([\d,]+)/m)?.[1]?.replace(/,/g, '') ?? NaN);
    await j.check('the CLI printed a total', async () => {
      if (!Number.isFinite(cliTotal)) throw new Error(`it printed: ${out.trim()}`);
    });

    await j.must('ask the main site for new statements now', () =>
      clickAndLoad(page, page.getByRole('button', { name: /check for new statements now/i })));
    await j.shot('statement-received');
    await consoleBasics(j, { who: SHOP_B.email });
    await j.check('one new statement received', () =>
      expectFlash(page, /^Asked the main site: 1 new statement received \(0 held already\)\.$/));
    const ids = receivedStatements();
    await j.must('shop-b stores the statement', async () => {
      if (ids.length !== 1 || !ids[0].startsWith(`${PERIOD}_`)) {
        throw new Error(`statements/ holds ${JSON.stringify(ids)}`);
      }
    });
    statement = { id: ids[0], total: cliTotal };
    const c = card(page, statement.id);
    await j.check(`the statement ${PERIOD} is listed with the total the CLI printed`, async () => {
      await see(page, new RegExp(`Statement ${PERIOD}`), { scope: c });
      await see(page, yenRe(cliTotal), { scope: c.locator('.ledger-total') });
      await see(page, /Received/, { scope: c });
    });
    await j.check("its chart: an SVG with a bar for today's tie-up and original accesses",
                  async () => {
      const svg = c.locator('svg.ledger-chart__svg');
      if ((await svg.count()) !== 1) throw new Error('no chart');
      const title = await svg.locator('title').first().textContent();
      if (title !== `Accesses per day, ${PERIOD}`) throw new Error(`its title is "${title}"`);
      const tips = await svg.locator('g.ledger-chart__day > title').allTextContents();
      const todays = tips.find((tip) => tip.startsWith(`${TODAY}:`));
      const m = todays?.match(/: (\d+) tie-up, (\d+) original$/);
      if (!m || Number(m[1]) < TIEUP_VISITS || Number(m[2]) < ORIGINAL_VISITS) {
        throw new Error(`today's bar reads "${todays}"`);
      }
      if ((await svg.locator('rect.ledger-chart__tieup').count()) === 0 ||
          (await svg.locator('rect.ledger-chart__original').count()) === 0) {
        throw new Error('no tie-up or no original bar drawn');
      }
      const box = await svg.boundingBox();
      if (!box || box.width < 300 || box.height < 100) {
        throw new Error(`it is drawn ${box?.width}×${box?.height} px`);
      }
    });

    await j.must('Verify', () =>
      clickAndLoad(page, c.getByRole('button', { name: new RegExp(`^verify the statement ${PERIOD}$`, 'i') })));
    await j.shot('verified');
    await consoleBasics(j, { who: SHOP_B.email });
    await j.check('it agrees with the ledger of shop-b', async () => {
      expectPath(page, `/ledger/statements/${statement.id}`);
      await see(page, /It agrees\. Every amount was recomputed from your own access ledger/);
      await notSee(page, /does not agree/);
    });
    await j.check("the statement's page: its chart, its fee lines and the total", async () => {
      await see(page, new RegExp(`^Fee statement ${PERIOD}$`, 'm'));
      if ((await page.locator('svg.ledger-chart__svg').count()) !== 1) throw new Error('no chart');
      const lines = await page.locator('table.ledger-lines tbody tr').evaluateAll(
          (trs) => trs.map((tr) => [...tr.cells].map((td) => td.innerText.trim())));
      if (!lines.some((r) => /^Base fee/.test(r[0]) && /^-?\D*[\d,]+/.test(r[2]))) {
        throw new Error(`the lines: ${JSON.stringify(lines)}`);
      }
      await see(page, yenRe(cliTotal), { scope: page.locator('table.ledger-lines tfoot') });
      await see(page, /Sent by the main site with the statement|same as your copy/);
    });
    await j.check('the numbers per day are there without the chart', async () => {
      await page.locator('details.ledger-days summary').click();
      await see(page, new RegExp(`${TODAY}\\s+\\d+\\s+\\d+`));
    });
    await j.shot('statement-page');

    await j.must('the audit log', () => gotoAndLoad(page, sites.consoleUrl('shop-b', '/audit')));
    await j.shot('audit');
    await j.check('the audit log lists the push, the fetch and the verification', async () => {
      const text = await bodyText(page);
      for (const action of ['ledger.push', 'fees.fetch', 'fees.verify']) {
        if (!text.includes(action)) throw new Error(`no ${action}`);
      }
      await see(page, new RegExp(`fees\\.verify\\s+${statement.id} agrees`));
    });

    // The same page on a phone.
    await page.setViewportSize({ width: 390, height: 844 });
    await gotoAndLoad(page, sites.consoleUrl('shop-b', '/ledger'));
    await j.shot('ledger-phone');
    await consoleBasics(j, { who: SHOP_B.email });
    await j.check('the chart fits the phone screen', async () => {
      const box = await card(page, statement.id).locator('svg.ledger-chart__svg').boundingBox();
      if (!box || box.width > 390 || box.width < 250) throw new Error(`it is ${box?.width} px wide`);
    });
  });
});

test('console_ledger_tampered: an edited stored statement says what differs', async (t) => {
  await runJourney('console_ledger_tampered', t, await newContext(),
                   path.join(artifacts, 'console_ledger_tampered'), async (j) => {
    const page = j.page;
    await j.must('the statement from the journey before', async () => {
      if (!statement) throw new Error('console_ledger_statement did not receive one');
    });
    // Someone with access to shop-b's disk raises today's tie-up count in the stored statement
    // and computes its digest again, so that it reads as a well-formed statement.
    const file = path.join(sites.siteDir('shop-b'), 'statements', statement.id, 'statement.csv');
    let counts;
    await j.must("today's tie-up count in the stored statement raised by 500", async () => {
      const csv = fs.readFileSync(file, 'utf8');
      counts = dayCounts(csv, TODAY);
      if (!counts) throw new Error(`no row for ${TODAY}`);
      let body = csv.slice(0, csv.indexOf('digest,statement_sha256,'));
      body = body.replace(`day,${TODAY},,tieup=${counts[0]};`, `day,${TODAY},,tieup=${counts[0] + 500};`);
      const digest = crypto.createHash('sha256').update(body).digest('hex');
      fs.writeFileSync(file, `${body}digest,statement_sha256,${digest},,\n`);
    });

    await signedIn(j);
    await openLedger(j);
    await j.shot('ledger-tampered');
    await consoleBasics(j, { who: SHOP_B.email });
    const c = card(page, statement.id);
    await j.check('the page says the file changed after it was received', () =>
      see(page, /changed on this computer after it was received/, { scope: c }));
    await j.check("the chart shows the forged count for today", async () => {
      const tips = await c.locator('g.ledger-chart__day > title').allTextContents();
      const todays = tips.find((tip) => tip.startsWith(`${TODAY}:`));
      if (todays !== `${TODAY}: ${counts[0] + 500} tie-up, ${counts[1]} original`) {
        throw new Error(`today's bar reads "${todays}"`);
      }
    });

    await j.must('Verify', () =>
      clickAndLoad(page, c.getByRole('button', { name: new RegExp(`^verify the statement ${PERIOD}$`, 'i') })));
    await j.shot('verified-tampered');
    await consoleBasics(j, { who: SHOP_B.email });
    await j.check('it does not agree', () => see(page, /It does not agree: 1 difference\./));
    await j.check("the difference: today's tie-up accesses, with both values", async () => {
      const rows = await page.locator('table.ledger-differences tbody tr').evaluateAll(
          (trs) => trs.map((tr) => [...tr.cells].map((td) => td.innerText.trim())));
      const row = rows.find((r) => r[0].startsWith(`Tie-up accesses on ${TODAY}`));
      if (!row || row[1] !== String(counts[0] + 500) || row[2] !== String(counts[0])) {
        throw new Error(`the differences: ${JSON.stringify(rows)}`);
      }
    });
    await j.check('the audit log records that it differs', async () => {
      await gotoAndLoad(page, sites.consoleUrl('shop-b', '/audit'));
      await see(page, new RegExp(`fees\\.verify\\s+${statement.id} differs: 1 difference`));
    });
    await j.shot('audit');
    // The fallback: main's own copy of the statement and its contract, pasted (as a manager
    // who received them by mail would).
    await j.must('paste the statement and contract main keeps, and Verify them', async () => {
      await gotoAndLoad(page, sites.consoleUrl('shop-b', '/ledger'));
      const main = sites.siteDir('main');
      await page.getByLabel(/^Statement \(CSV\)/).fill(
          fs.readFileSync(path.join(main, 'statements', `shop-b-${PERIOD}.csv`), 'utf8'));
      await page.getByLabel(/^Contract \(TOML\)/).fill(
          fs.readFileSync(path.join(main, 'contracts', 'shop-b.toml'), 'utf8'));
      await clickAndLoad(page, page.getByRole('button', { name: /^verify the pasted statement$/i }));
    });
    await j.shot('pasted-verified');
    await consoleBasics(j, { who: SHOP_B.email });
    await j.check('the pasted statement agrees', () =>
      see(page, /It agrees\. Every amount was recomputed/,
          { scope: page.locator('section', { has: page.getByRole('heading', { name: 'The statement you pasted' }) }) }));
  });
});
