// A partner trading with a second main site (issue 15 item 7), as its manager and its visitors
// see it, in a real Chromium:
//
//   node console_several_mains.test.mjs TIEUP_BINARY [ARTIFACT_DIR]
//
// The demo's sites (console_harness.mjs) and a second main site, "Kyoto Books", made here with
// `tieup main init`. shop-a enrolls with it for the tie-up area of its own host name
// (books.localhost, which Chromium is told to send to shop-a's address, 127.0.0.2) with its manager approving updates. One
// journey, a full-page screenshot of every step in ARTIFACT_DIR/console_several_mains/NN-step.png:
//   Kyoto Books publishes; shop-a's console lists the second main on its Updates page with one
//   update waiting; its manager reviews it (the diff, and a preview on the area's host name,
//   which is not live yet) and approves it; a visitor of
//   books.localhost sees Kyoto Books' page on shop-a's port, while shop-a's own address still
//   serves Sakura Tea's. Then a third main, Kyoto Guide, takes the path prefix /kyoto/: a visitor
//   of /kyoto/ sees its pages, styled, and its links stay under /kyoto/.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { TieupProcess, freePorts, httpStatus, runJourney, waitUntil } from './harness.mjs';
import {
  SHOP_A, artifacts, bodyText, clickAndLoad, consoleBasics, expectFlash, expectPath, gotoAndLoad,
  newContext, see, signedIn, sites, startConsoleSuite, stopConsoleSuite,
} from './console_harness.mjs';

const HOST = 'books.localhost';
let second;  // the second main's process

// The body of GET `url` sent with the Host header `host` (as a browser for that name would).
function getFromHost(url, host) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { Host: host }, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

before(async () => { await startConsoleSuite('console-several-mains-logs'); });
after(async () => {
  await second?.stop();
  await stopConsoleSuite();
});

test('console_several_mains: a second main publishes, the manager approves in the console',
     async (t) => {
  await runJourney('console_several_mains', t, await newContext(),
                   path.join(artifacts, 'console_several_mains'), async (j) => {
    const page = j.page;
    const dir = path.join(sites.dir, 'books');
    const shopA = sites.siteDir('shop-a');
    const [publicPort, syncPort, partnerSync, consolePort] = await freePorts(4);

    await j.must('a second main site, Kyoto Books, is made and served', async () => {
      await sites.tieup('main', 'init', dir, '--name', 'Kyoto Books', '--public',
                        `127.0.0.1:${publicPort}`, '--sync', `127.0.0.1:${syncPort}`,
                        '--console', `127.0.0.1:${consolePort}`);
      fs.writeFileSync(path.join(dir, 'authoring/pages/tea.md'),
                       '---\ntitle: Tea books\n---\n# Tea books\n\nThe Book of Tea, by Okakura.\n');
      second = new TieupProcess(sites.binary, ['main', 'serve', dir],
                                path.join(sites.logDir, 'books.log'));
      await second.waitReady('Kyoto Books serving', async () =>
        (await httpStatus(`http://127.0.0.1:${publicPort}/`)) === 200);
    });
    const code = await j.must('Kyoto Books adds shop-a, approved by its manager', async () => {
      const out = await sites.tieup('main', 'partner', 'add', dir, '--id', 'shop-a', '--name',
                                    'Tea House Asahi', '--public-url',
                                    sites.url('shop-a', '').replace('127.0.0.2', HOST),
                                    '--sync-url', `https://127.0.0.1:${partnerSync}`,
                                    '--approval', 'manager');
      const m = out.match(/code[^\n]*:\n\s+(\S+)/);
      if (!m) throw new Error(out);
      return m[1];
    });
    await j.must(`shop-a enrolls with it for the host ${HOST} and restarts`, async () => {
      await sites.stop('shop-a');
      const out = await sites.tieup('partner', 'enroll', shopA, '--main',
                                    `https://127.0.0.1:${syncPort}`, '--token', code,
                                    '--area-host', HOST, '--sync-address',
                                    `127.0.0.1:${partnerSync}`);
      if (!/its tie-up area is the host books\.localhost/.test(out)) throw new Error(out);
      await sites.start('shop-a');
    });
    await j.must('Kyoto Books publishes: the update waits for shop-a\'s manager', async () => {
      await sites.tieup('main', 'publish', dir, '--all');
      await waitUntil('the update waiting', async () =>
        /shop-a .*waiting for the partner manager/.test(
            await sites.tieup('main', 'status', dir)));
    });

    await signedIn(j, SHOP_A);
    await j.must('the Updates page lists Kyoto Books with one update waiting', async () => {
      await gotoAndLoad(page, sites.consoleUrl('shop-a', '/updates'));
      await see(page, /Other main sites/);
      const row = page.getByRole('row', { name: new RegExp(`tie-up area for host ${HOST}`) });
      await see(page, /1/, { scope: row });
    });
    await consoleBasics(j, { title: SHOP_A.consoleTitle });
    await j.shot('updates-other-mains');
    await j.must('its updates: one waiting for a review', async () => {
      await clickAndLoad(page, page.getByRole('link', { name: 'Its updates' }));
      expectPath(page, '/mains/books-localhost/updates');
      await see(page, /Updates from main at https:\/\/127\.0\.0\.1:\d+ \(tie-up area for host books\.localhost\)/);
      await see(page, /Waiting for your review/);
    });
    await j.shot('second-main-updates');
    await j.must('the review shows what changes, with a preview on the area\'s host', async () => {
      await clickAndLoad(page, page.getByRole('link', { name: 'Review' }).first());
      await see(page, /Version 1 from main at https:/);
      await see(page, /\/tea\.html/);
      const href = await page.getByRole('link', { name: /Preview the whole site/ })
                                 .getAttribute('href');
      if (!href.startsWith(`http://${HOST}:`)) throw new Error(`the preview is at ${href}`);
    });
    await consoleBasics(j, { title: SHOP_A.consoleTitle });
    await j.shot('second-main-review');
    const reviewUrl = page.url();
    await j.must('the preview shows Kyoto Books\' page before it is live', async () => {
      const href = await page.getByRole('link', { name: /Preview the whole site/ })
                                 .getAttribute('href');
      await gotoAndLoad(page, href + 'tea.html');
      await see(page, /Okakura/);
      if (/Okakura/.test(await getFromHost(sites.url('shop-a', '/tea.html'), HOST))) {
        throw new Error('live before the approval');
      }
    });
    await j.shot('second-main-preview');
    await gotoAndLoad(page, reviewUrl);
    await j.must('the manager approves it', async () => {
      await clickAndLoad(page, page.getByRole('button', { name: /Approve/ }));
      expectPath(page, '/mains/books-localhost/updates');
      await expectFlash(page, /approved: main has been told/);
    });
    await j.shot('second-main-approved');

    await j.must(`a visitor of ${HOST} sees Kyoto Books' page on shop-a's port`, async () => {
      const url = sites.url('shop-a', '/tea.html').replace('127.0.0.2', HOST);
      await waitUntil('the page live', async () => {
        await gotoAndLoad(page, url);
        return /Okakura/.test(await bodyText(page));
      }, { deadlineMs: 30000, everyMs: 300 });
      await see(page, /Kyoto Books/);
    });
    await j.shot('visitor-second-main');
    await j.must('its rollback page says there is nothing before its first version', async () => {
      await gotoAndLoad(page, sites.consoleUrl('shop-a', '/mains/books-localhost/updates'));
      await clickAndLoad(page, page.getByRole('link', { name: /Roll back to the previous/ }));
      expectPath(page, '/mains/books-localhost/rollback');
      await see(page, /of main at https:\/\/127\.0\.0\.1:\d+ \(tie-up area for host books\.localhost\) is live/);
      await see(page, /Version 1 of the tie-up pages/);
      await see(page, /nothing to roll back to/);
    });
    await j.shot('second-main-rollback');
    await j.must("shop-a's own address still serves Sakura Tea's pages", async () => {
      await gotoAndLoad(page, sites.url('shop-a', '/'));
      await see(page, /Sakura Tea/);
    });
    await j.shot('visitor-first-main');

    // A third main, Kyoto Guide, takes the path prefix /kyoto/: it publishes its site as to any
    // partner, and shop-a serves it under /kyoto/ with its links, styles and shop moved there.
    const guide = path.join(sites.dir, 'guide');
    const [guidePublic, guideSync, guidePartnerSync] = await freePorts(3);
    let third;
    await j.must('a third main, Kyoto Guide, is made, served and adds shop-a', async () => {
      await sites.tieup('main', 'init', guide, '--name', 'Kyoto Guide', '--public',
                        `127.0.0.1:${guidePublic}`, '--sync', `127.0.0.1:${guideSync}`);
      fs.writeFileSync(path.join(guide, 'authoring/pages/index.md'),
                       '---\ntitle: Kyoto\n---\n# Kyoto\n\nTemples and [tea houses](/tea.html).\n');
      fs.writeFileSync(path.join(guide, 'authoring/pages/tea.md'),
                       '---\ntitle: Tea houses\n---\n# Tea houses\n\nUji matcha by the river.\n');
      third = new TieupProcess(sites.binary, ['main', 'serve', guide],
                               path.join(sites.logDir, 'guide.log'));
      await third.waitReady('Kyoto Guide serving', async () =>
        (await httpStatus(`http://127.0.0.1:${guidePublic}/`)) === 200);
      const out = await sites.tieup('main', 'partner', 'add', guide, '--id', 'shop-a', '--name',
                                    'Tea House Asahi', '--public-url', sites.url('shop-a', '/kyoto/'),
                                    '--sync-url', `https://127.0.0.1:${guidePartnerSync}`);
      const m = out.match(/code[^\n]*:\n\s+(\S+)/);
      if (!m) throw new Error(out);
      await sites.stop('shop-a');
      const enrolled = await sites.tieup('partner', 'enroll', shopA, '--main',
                                         `https://127.0.0.1:${guideSync}`, '--token', m[1],
                                         '--area-prefix', '/kyoto/', '--sync-address',
                                         `127.0.0.1:${guidePartnerSync}`);
      if (!/its tie-up area is \/kyoto\//.test(enrolled)) throw new Error(enrolled);
      await sites.start('shop-a');
      await sites.tieup('main', 'publish', guide, '--all');
    });
    try {
      await j.must('a visitor of /kyoto/ sees Kyoto Guide\'s page, styled, on shop-a\'s port',
                   async () => {
        await waitUntil('the page live', async () => {
          await gotoAndLoad(page, sites.url('shop-a', '/kyoto/'));
          return /Temples/.test(await bodyText(page));
        }, { deadlineMs: 30000, everyMs: 300 });
        await see(page, /Kyoto Guide/);
        // Its style sheet came from /kyoto/assets/style.css: the rules are applied.
        const rules = await page.evaluate(() => [...document.styleSheets].map(
            (sheet) => [sheet.href, sheet.cssRules.length]));
        if (!rules.some(([href, n]) => /\/kyoto\/assets\/style\.css$/.test(href) && n > 0)) {
          throw new Error(`style sheets: ${JSON.stringify(rules)}`);
        }
      });
      await j.shot('visitor-prefix-main');
      await j.must('its links stay under /kyoto/: the tea houses page, then its home', async () => {
        await clickAndLoad(page, page.getByRole('link', { name: 'tea houses' }));
        expectPath(page, '/kyoto/tea.html');
        await see(page, /Uji matcha by the river/);
        await clickAndLoad(page, page.getByRole('link', { name: 'Kyoto Guide' }));
        expectPath(page, '/kyoto/');
      });
      await j.shot('visitor-prefix-main-link');
      await j.must("its cart is Kyoto Guide's shop, under /kyoto/", async () => {
        await clickAndLoad(page, page.getByRole('link', { name: /Cart/ }));
        expectPath(page, '/kyoto/shop/cart');
        await see(page, /Kyoto Guide/);
        await see(page, /cart is empty/i);
      });
      await j.shot('visitor-prefix-main-cart');
      await j.must("shop-a's own address still serves Sakura Tea's pages", async () => {
        await gotoAndLoad(page, sites.url('shop-a', '/'));
        await see(page, /Sakura Tea/);
      });
    } finally {
      await third?.stop();
    }
  });
});
