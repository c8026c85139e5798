// Main withdraws its pages from a partner (issue 15 item 4) as the partner's visitors and
// manager see it, in a real Chromium:
//
//   node console_withdrawal.test.mjs TIEUP_BINARY [ARTIFACT_DIR]
//
// The demo's sites (console_harness.mjs); shop-a serves main's pages. One journey, a full-page
// screenshot of every step in ARTIFACT_DIR/console_withdrawal/NN-step.png:
//   main suspends shop-a: shop-a's front page (a tie-up page) is a notice in shop-a's own look,
//   "suspended", HTTP 503; shop-a's console home says the main site's pages are withdrawn and why;
//   main resumes: the front page is main's again; main revokes: the notice says the partnership
//   has ended, HTTP 410.
import path from 'node:path';
import { after, before, test } from 'node:test';

import { runJourney, waitUntil } from './harness.mjs';
import {
  SHOP_A, artifacts, consoleBasics, gotoAndLoad, newContext, see, signedIn, sites,
  startConsoleSuite, stopConsoleSuite,
} from './console_harness.mjs';

before(async () => { await startConsoleSuite('console-withdrawal-logs'); });
after(async () => { await stopConsoleSuite(); });

async function frontStatus() {
  const r = await fetch(sites.url('shop-a', '/'), { signal: AbortSignal.timeout(2000) });
  return r.status;
}

async function waitFront(status) {
  await waitUntil(`shop-a's front page answering ${status}`, async () =>
    (await frontStatus()) === status, { deadlineMs: 30000, everyMs: 200 });
}

test('console_withdrawal: suspended, resumed, revoked', async (t) => {
  await runJourney('console_withdrawal', t, await newContext(),
                   path.join(artifacts, 'console_withdrawal'), async (j) => {
    const page = j.page;
    const mainDir = sites.siteDir('main');
    await j.must('shop-a serves main\'s front page', () => waitFront(200));

    await j.must('main suspends shop-a', async () => {
      const out = await sites.tieup('main', 'partner', 'suspend', mainDir, 'shop-a');
      if (!/the partner has it/.test(out)) throw new Error(out);
    });
    await j.must('the front page answers 503', () => waitFront(503));
    await j.must('a visitor sees the suspension notice', async () => {
      await page.goto(sites.url('shop-a', '/'));
      await see(page, /partnership between .* and Sakura Tea is suspended/i);
    });
    await j.shot('suspended-notice');

    await signedIn(j, SHOP_A);
    await j.must('the console home says the main site\'s pages are withdrawn', async () => {
      await gotoAndLoad(page, sites.consoleUrl('shop-a', '/'));
      await see(page, /The main site's pages are withdrawn/);
      await see(page, /suspended its partnership/);
      await see(page, /Your own pages are not affected/);
    });
    await consoleBasics(j, { title: SHOP_A.consoleTitle });
    await j.shot('console-home-withdrawn');

    await j.must('main resumes shop-a: the front page is back', async () => {
      await sites.tieup('main', 'partner', 'resume', mainDir, 'shop-a');
      await waitFront(200);
    });
    await j.must('the console home no longer says so', async () => {
      await gotoAndLoad(page, sites.consoleUrl('shop-a', '/'));
      if ((await page.locator('#withdrawal').count()) !== 0) throw new Error('the box is still there');
    });
    await j.shot('console-home-resumed');

    await j.must('main revokes shop-a: 410 and the ended notice', async () => {
      await sites.tieup('main', 'partner', 'revoke', mainDir, 'shop-a');
      await waitFront(410);
      await page.goto(sites.url('shop-a', '/'));
      await see(page, /partnership between .* and Sakura Tea has ended/i);
    });
    await j.shot('revoked-notice');
  });
});
