// The main console's Publish area in a real Chromium (issue #14, item 4):
//
//   node main_console_publish.test.mjs TIEUP_BINARY [ARTIFACT_DIR]
//
// The demo's sites (console_harness.mjs): shop-a takes updates at once, shop-b waits for its
// manager. Each journey keeps a full-page screenshot of every step in
// ARTIFACT_DIR/<journey>/NN-step.png:
//   main_console_publish  main's front page gets a new heading (authoring/pages/index.md); a typed
//                         id that is no partner is refused; the manager publishes to every
//                         partner; the run's page follows it live, without reloading: shop-a
//                         goes to "activated", shop-b to "waiting for approval", and a summary
//                         ends it; without JavaScript the run's page shows the same; /publish
//                         lists the run and the audit log has it; chosen partners from a
//                         search, and the partners in a state, get runs of their own.
import path from 'node:path';
import fs from 'node:fs';
import { after, before, test } from 'node:test';

import { runJourney } from './harness.mjs';
import {
  HEADING_V1, MAIN, artifacts, browser, clickAndLoad, consoleBasics, expectFlash, expectPath,
  gotoAndLoad, see, signIn, signedIn, sites, startConsoleSuite, stopConsoleSuite,
} from './console_harness.mjs';

const NAV = ['Partners', 'Publish', 'Content', 'Orders', 'Products', 'Users', 'Ledger & fees',
             'Managers', 'Audit log'];
const basics = (j, who = MAIN.email, page = j.page) =>
  consoleBasics(j, { title: MAIN.consoleTitle, who, nav: NAV }, page);
const HEADING_NEW = 'Fresh tea from Uji and Shizuoka, published from the console';
const LIVE_MS = 30000;  // events reach a page within a few seconds (the stream reconnects)

before(async () => { await startConsoleSuite('main-console-publish-logs'); });
after(async () => { await stopConsoleSuite(); });

// The text of the run table's row of `partner` ('' when it has none).
async function rowText(page, partner) {
  const row = page.locator(`tr[data-partner="${partner}"]`);
  return (await row.count()) > 0 ? (await row.innerText()).replace(/\s+/g, ' ').trim() : '';
}

async function waitRow(page, partner, re, timeout = LIVE_MS) {
  try {
    await page.waitForFunction(([id, src]) => {
      const row = [...document.querySelectorAll('tr[data-partner]')]
        .find((tr) => tr.getAttribute('data-partner') === id);
      return row && new RegExp(src).test(row.innerText);
    }, [partner, re.source], { timeout });
  } catch {
    throw new Error(`${partner}'s row reads "${await rowText(page, partner)}", not ${re}`);
  }
}

test('main_console_publish: publish to every partner and watch each one live', async (t) => {
  const c = await browser.newContext({ viewport: { width: 1024, height: 768 }, locale: 'en-US' });
  c.setDefaultTimeout(5000);
  await runJourney('main_console_publish', t, c, path.join(artifacts, 'main_console_publish'),
                   async (j) => {
    const page = j.page;
    await signedIn(j, MAIN);
    await j.must("a new heading on main's front page (the authoring directory)", () => {
      const file = path.join(sites.siteDir('main'), 'authoring', 'pages', 'index.md');
      const source = fs.readFileSync(file, 'utf8');
      if (!source.includes(`# ${HEADING_V1}\n`)) throw new Error(`no heading "${HEADING_V1}"`);
      fs.writeFileSync(file, source.replace(`# ${HEADING_V1}\n`, `# ${HEADING_NEW}\n`));
    });

    await j.must('the Publish page', () =>
      clickAndLoad(page, page.getByRole('link', { name: 'Publish', exact: true })));
    await j.shot('publish', page);
    await basics(j);
    await j.check('every partner, or a choice of them', async () => {
      await see(page, /Every partner \(2 partners\)/);
      await see(page, /Chosen partners/);
      await see(page, /Tea House Asahi \(shop-a/);
      await see(page, /Kyoto Leaf \(shop-b/);
    });

    await j.must('a typed id that is no partner', async () => {
      await page.getByLabel('Partner ids').fill('shop-a nobody');
      if (!(await page.getByLabel('Chosen partners').isChecked())) {
        throw new Error('typing ids did not choose "Chosen partners"');
      }
      await clickAndLoad(page, page.getByRole('button', { name: 'Publish', exact: true }));
    });
    await j.shot('unknown-partner', page);
    await j.check('is refused, saying which, with the list kept', async () => {
      await see(page, /No partnership has the id nobody/);
      const typed = await page.getByLabel('Partner ids').inputValue();
      if (typed !== 'shop-a nobody') throw new Error(`the field holds "${typed}"`);
    });

    await j.must('publish to every partner', async () => {
      await gotoAndLoad(page, sites.consoleUrl('main', '/publish'));
      await page.getByLabel(/^Every partner/).check();
      await clickAndLoad(page, page.getByRole('button', { name: 'Publish', exact: true }));
      expectPath(page, /^\/publish\/runs\/\d+$/);
    });
    const runPath = new URL(page.url()).pathname;
    // Set on this document: still there at the end means the page was never reloaded.
    const loadedRunning = await page.evaluate(() => {
      window.tieupSameDocument = true;
      return document.getElementById('publish-run')?.getAttribute('data-running') === '1';
    });
    t.diagnostic(`the run page loaded while the run was ${loadedRunning ? 'running' : 'over'}`);
    await j.shot('run-started', page);
    await j.check('the message says what was started', () =>
      expectFlash(page, /^Publishing to every partner\.$/));
    await basics(j);

    await j.must('shop-a goes to "activated"', () =>
      waitRow(page, 'shop-a', /activated version \d+/));
    await j.shot('shop-a-activated', page);
    await j.must('shop-b goes to "waiting for approval"', () =>
      waitRow(page, 'shop-b', /version \d+ waiting for the partner manager's approval/));
    await j.shot('shop-b-waiting', page);
    await j.must('a summary ends the run', () =>
      see(page, /2 partners: 1 activated, 1 waiting for approval, 0 failed/,
          { timeout: LIVE_MS, scope: page.locator('[data-summary]') }));
    await j.shot('summary', page);
    await j.check('the counts', async () => {
      const counts = await page.locator('[data-count]').evaluateAll((els) =>
        Object.fromEntries(els.map((e) => [e.getAttribute('data-count'), e.textContent.trim()])));
      if (counts.activated !== '1' || counts.waiting !== '1' || counts.failed !== '0' ||
          counts.queued !== '0' || counts.running !== '0') {
        throw new Error(JSON.stringify(counts));
      }
    });
    await j.check('all of it live: the page was never reloaded', async () => {
      if (!(await page.evaluate(() => window.tieupSameDocument === true))) {
        throw new Error('the page was reloaded');
      }
    });
    await j.check('a banner says the run finished', () =>
      see(page, /Publish run \d+ finished/, { timeout: LIVE_MS }));
    await j.check('shop-a serves the new heading', async () => {
      const body = await (await fetch(sites.url('shop-a', '/'))).text();
      if (!body.includes(HEADING_NEW)) throw new Error('shop-a serves the old front page');
    });

    await j.check('on a phone, nothing wider than the screen', async () => {
      await page.setViewportSize({ width: 390, height: 800 });
      const [scroll, width] = await page.evaluate(
          () => [document.documentElement.scrollWidth, window.innerWidth]);
      await j.shot('run-phone', page);
      await page.setViewportSize({ width: 1024, height: 768 });
      if (scroll > width) throw new Error(`the page is ${scroll} px wide in ${width} px`);
    });

    // Without JavaScript: the run's page as it is now.
    const plain = await browser.newContext({ viewport: { width: 1024, height: 768 },
                                             locale: 'en-US', javaScriptEnabled: false });
    try {
      const p = await plain.newPage();
      await j.must('without JavaScript: sign in and open the run', async () => {
        await signIn(p, MAIN);
        await gotoAndLoad(p, sites.consoleUrl('main', runPath));
      });
      await j.shot('run-without-javascript', p);
      await j.check('it shows each partner and the summary', async () => {
        await see(p, /2 partners: 1 activated, 1 waiting for approval, 0 failed/);
        if (!/activated version \d+/.test(await rowText(p, 'shop-a'))) {
          throw new Error(`shop-a's row: ${await rowText(p, 'shop-a')}`);
        }
        if (!/waiting for the partner manager's approval/.test(await rowText(p, 'shop-b'))) {
          throw new Error(`shop-b's row: ${await rowText(p, 'shop-b')}`);
        }
      });
    } finally {
      await plain.close();
    }

    await j.must('back to the Publish page', () =>
      gotoAndLoad(page, sites.consoleUrl('main', '/publish')));
    await j.shot('last-runs', page);
    await j.check('the run is listed with its outcome', async () => {
      const row = page.locator('table.publish-runs tbody tr').first();
      const text = (await row.innerText()).replace(/\s+/g, ' ');
      if (!text.includes(MAIN.email) || !text.includes('every partner') ||
          !text.includes('2 partners: 1 activated, 1 waiting for approval, 0 failed')) {
        throw new Error(`the first run reads "${text}"`);
      }
    });
    await j.must('the audit log', () =>
      clickAndLoad(page, page.getByRole('link', { name: 'Audit log', exact: true })));
    await j.shot('audit', page);
    await j.check('it records the publish', async () => {
      const rows = await page.locator('tbody tr').evaluateAll((trs) => trs.map(
          (tr) => [...tr.cells].map((td) => td.innerText.trim())));
      const run = rows.find((r) => r[2] === 'publish.start' && /run \d+ to every partner/.test(r[3]));
      if (!run || run[1] !== MAIN.email) throw new Error(JSON.stringify(rows.slice(0, 4)));
    });

    // A network of thousands is searched, not listed: the search's matches are the checkboxes.
    await j.must('search the partners for "kyoto"', async () => {
      await gotoAndLoad(page, sites.consoleUrl('main', '/publish'));
      await page.getByLabel(/find partners/i).fill('kyoto');
      await clickAndLoad(page, page.getByRole('button', { name: 'Search', exact: true }));
    });
    await j.shot('search', page);
    await j.check('only Kyoto Leaf matches', async () => {
      const boxes = await page.locator('input[type=checkbox][name^="pick:"]').evaluateAll(
          (els) => els.map((e) => e.name));
      if (JSON.stringify(boxes) !== '["pick:shop-b"]') throw new Error(JSON.stringify(boxes));
    });
    await j.must('tick it and publish', async () => {
      await page.getByLabel(/Kyoto Leaf/).check();
      if (!(await page.getByLabel('Chosen partners').isChecked())) {
        throw new Error('ticking did not choose "Chosen partners"');
      }
      await clickAndLoad(page, page.getByRole('button', { name: 'Publish', exact: true }));
      expectPath(page, /^\/publish\/runs\/\d+$/);
    });
    await j.must('shop-b alone, still waiting for its manager', async () => {
      await waitRow(page, 'shop-b', /version \d+ still waiting for the partner manager's approval/);
      await see(page, /1 partner: 0 activated, 1 waiting for approval, 0 failed/,
                { timeout: LIVE_MS, scope: page.locator('[data-summary]') });
      if (await rowText(page, 'shop-a')) throw new Error('shop-a is in the run');
    });
    await j.shot('chosen-run', page);

    await j.must('by state: the partners whose last update failed', async () => {
      await gotoAndLoad(page, sites.consoleUrl('main', '/publish'));
      await page.getByLabel('State', { exact: true }).selectOption('failed');
      if (!(await page.getByLabel('The partners in one state').isChecked())) {
        throw new Error('choosing a state did not choose "The partners in one state"');
      }
      await clickAndLoad(page, page.getByRole('button', { name: 'Publish', exact: true }));
    });
    await j.shot('none-failed', page);
    await j.check('there are none: nothing is started', async () => {
      await see(page, /No partner is in that state\./);
      expectPath(page, '/publish');
    });
    await j.must('by state: the partners not up to date', async () => {
      await page.getByLabel('State', { exact: true }).selectOption('behind');
      await clickAndLoad(page, page.getByRole('button', { name: 'Publish', exact: true }));
      expectPath(page, /^\/publish\/runs\/\d+$/);
    });
    await j.must('only shop-b is behind (its version waits for approval)', async () => {
      await see(page, /1 partner not up to date/);
      await see(page, /1 partner: 0 activated, 1 waiting for approval, 0 failed/,
                { timeout: LIVE_MS, scope: page.locator('[data-summary]') });
      if (await rowText(page, 'shop-a')) throw new Error('shop-a is in the run');
    });
    await j.shot('behind-run', page);
  });
});
