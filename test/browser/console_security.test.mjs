// The security service (issue 17 items 4-6) as the two managers see it, in a real Chromium:
//
//   node console_security.test.mjs TIEUP_BINARY [ARTIFACT_DIR]
//
// The demo's sites (console_harness.mjs); shop-a gets main's security service. One journey, a
// full-page screenshot of every step in ARTIFACT_DIR/console_security/NN-step.png:
//   main's manager blocks a scanner's user agent on the Security page; shop-a refuses it with the
//   WAF's page; shop-a's WAF summary shows as an alert about shop-a on main's Security page;
//   main's probes of shop-a's public pages find every page as main signed it; shop-a's manager
//   sees the alert and main's blocklist on shop-a's Security page; shop-a's
//   front page is changed on disk three times: its tie-up pages stop, its Security page says
//   so, and the manager serves them again with one button; main unblocks the scanner.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { runJourney, waitUntil } from './harness.mjs';
import {
  MAIN, SHOP_A, artifacts, clickAndLoad, consoleBasics, expectFlash, gotoAndLoad, newContext,
  see, signIn, sites, startConsoleSuite, stopConsoleSuite,
} from './console_harness.mjs';

const SCANNER = 'Mozilla/5.0 (evil-scanner 2.1)';

before(async () => { await startConsoleSuite('console-security-logs'); });
after(async () => { await stopConsoleSuite(); });

async function front(userAgent = 'Mozilla/5.0 (X11; Linux x86_64)') {
  const r = await fetch(sites.url('shop-a', '/'), {
    headers: { 'user-agent': userAgent, accept: 'text/html' },
    signal: AbortSignal.timeout(3000),
  });
  return { status: r.status, body: Buffer.from(await r.arrayBuffer()) };
}

async function waitFront(status, userAgent) {
  await waitUntil(`shop-a's front page answering ${status}`, async () =>
    (await front(userAgent)).status === status, { deadlineMs: 60000, everyMs: 250 });
}

// Flips the first bytes of the stored blob of `body` in shop-a's blob store (same length).
function deface(body) {
  const hash = crypto.createHash('sha256').update(body).digest('hex');
  const file = path.join(sites.siteDir('shop-a'), 'blobs', hash.slice(0, 2), hash);
  const fd = fs.openSync(file, 'r+');
  const head = Buffer.alloc(8);
  fs.readSync(fd, head, 0, 8, 0);
  for (let i = 0; i < head.length; i++) head[i] = ~head[i] & 0xff;
  fs.writeSync(fd, head, 0, 8, 0);
  fs.closeSync(fd);
  return file;
}

test('console_security: block, the alert at main and at the partner, a stop and resume',
     async (t) => {
  await runJourney('console_security', t, await newContext(),
                   path.join(artifacts, 'console_security'), async (j) => {
    const page = j.page;
    const mainDir = sites.siteDir('main');
    await j.must('shop-a serves main\'s front page', () => waitFront(200));
    await j.must('main gives shop-a its security service', () =>
      sites.tieup('main', 'partner', 'set', mainDir, 'shop-a', '--options', 'security'));

    await j.must('sign in to main\'s console', async () => {
      await signIn(page, MAIN);
    });
    await j.must('open the Security page', async () => {
      await clickAndLoad(page, page.getByRole('link', { name: 'Security', exact: true }));
      await see(page, /Network blocklist/);
      await see(page, /Nothing is blocked yet/);
    });
    await consoleBasics(j, { title: MAIN.consoleTitle, who: MAIN.email,
                             nav: ['Partners', 'Ledger & fees', 'Security'] });
    await j.shot('main-security-empty');
    await j.must('block the scanner for a day', async () => {
      await page.getByLabel('Block', { exact: true }).selectOption('agent');
      await page.getByLabel('Value').fill('evil-scanner');
      await page.getByLabel('For').fill('1d');
      await page.getByLabel('Why').fill('probing for admin pages');
      await clickAndLoad(page, page.getByRole('button', { name: 'Block', exact: true }));
    });
    await j.check('the flash and the list say what is blocked', async () => {
      await expectFlash(page, /Blocked agent evil-scanner \(probing for admin pages; until/);
      await see(page, /The newest signed list is number 1/);
      await see(page, /evil-scanner/, { scope: page.locator('#blocklist') });
    });
    await j.shot('main-blocked');

    await j.must('shop-a refuses the scanner', () => waitFront(403, SCANNER));
    await j.check('with the WAF\'s page, and serves everyone else', async () => {
      const refused = await front(SCANNER);
      if (!/This request was refused/.test(refused.body.toString())) {
        throw new Error(refused.body.toString().slice(0, 300));
      }
      if ((await front()).status !== 200) throw new Error('a browser is refused too');
    });
    await j.must('main\'s Security page shows shop-a\'s alert', async () => {
      await waitUntil('the alert about shop-a at main', async () => {
        await gotoAndLoad(page, sites.consoleUrl('main', '/security?site=shop-a'));
        return /refused by the network blocklist/.test(await page.locator('body').innerText());
      }, { deadlineMs: 60000, everyMs: 1000 });
    });
    await j.check('a warning about shop-a, kind waf', async () => {
      await see(page, /warning/, { scope: page.locator('#alerts') });
      await see(page, /waf/, { scope: page.locator('#alerts') });
    });
    await j.check('shop-a has the newest list', () =>
      see(page, /shop-a: has it/, { scope: page.locator('#blocklist-partners') }));
    await j.shot('main-alert-from-shop-a');
    await j.must('main\'s probes of shop-a\'s pages show on the Security page', async () => {
      await waitUntil('a round of probes of shop-a', async () => {
        await gotoAndLoad(page, sites.consoleUrl('main', '/security'));
        return /pages, last/.test(await page.locator('#probes').innerText());
      }, { deadlineMs: 60000, everyMs: 1000 });
    });
    await j.check('every page shop-a serves is what main signed', () =>
      see(page, /every page as main signed it/, { scope: page.locator('#probes') }));
    await j.shot('main-probes');

    // shop-a's manager.
    const partner = await (await newContext()).newPage();
    await j.must('shop-a\'s manager opens the Security page', async () => {
      await signIn(partner, SHOP_A);
      await gotoAndLoad(partner, sites.consoleUrl('shop-a', '/security'));
      await see(partner, /refused by the network blocklist/, { scope: partner.locator('#alerts') });
      await see(partner, /agent\s+evil-scanner/, { scope: partner.locator('#blocklist') });
    });
    await consoleBasics(j, { title: SHOP_A.consoleTitle, who: SHOP_A.email,
                             nav: ['Home', 'Updates', 'Security'] }, partner);
    await j.shot('partner-security', partner);

    await j.must('shop-a\'s front page is changed on disk three times', async () => {
      const good = (await front()).body;
      for (let i = 0; i < 2; i++) {
        const file = deface(good);
        await waitUntil('the front page restored on disk', async () =>
          Buffer.compare(fs.readFileSync(file), good) === 0, { deadlineMs: 20000, everyMs: 100 });
      }
      deface(good);
    });
    await j.must('the tie-up pages stop', () => waitFront(503));
    await j.must('a visitor sees that they are unavailable for now', async () => {
      await partner.goto(sites.url('shop-a', '/'));
      await see(partner, /is checking these pages after a fault/);
    });
    await j.shot('visitor-stopped', partner);
    await j.must('the Security page says they are stopped and why', async () => {
      await gotoAndLoad(partner, sites.consoleUrl('shop-a', '/security'));
      await see(partner, /The tie-up pages are stopped/);
      await see(partner, /changed on disk 3 times within 10 minutes/);
    });
    await j.shot('partner-stopped', partner);
    await j.must('serve them again', () =>
      clickAndLoad(partner, partner.getByRole('button', { name: 'Serve the tie-up pages again' })));
    await j.check('the flash says so', () => expectFlash(partner, /served again/));
    await j.must('the front page is served again', () => waitFront(200));
    await j.shot('partner-resumed', partner);

    await j.must('main sees the critical alert', async () => {
      await waitUntil('the area-stopped alert at main', async () => {
        await gotoAndLoad(page, sites.consoleUrl('main', '/security?severity=critical'));
        return /area-stopped/.test(await page.locator('body').innerText());
      }, { deadlineMs: 30000, everyMs: 1000 });
    });
    await j.shot('main-critical');
    await j.must('main unblocks the scanner', async () => {
      await gotoAndLoad(page, sites.consoleUrl('main', '/security'));
      await clickAndLoad(page, page.getByRole('button', { name: 'Unblock' }));
      await expectFlash(page, /Unblocked agent evil-scanner/);
    });
    await j.must('shop-a serves the scanner again', () => waitFront(200, SCANNER));
    await j.shot('main-unblocked');
  });
});
