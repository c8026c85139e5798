// The partner console's settings, home page, preview and rollback confirmation in a real
// Chromium (issue #13 items 1, 3, 4 and 8):
//
//   node console_settings.test.mjs TIEUP_BINARY [ARTIFACT_DIR]
//
// The demo's sites (console_harness.mjs) with shop-b's first update waiting for its manager. The
// journeys run in order, each in a fresh browser context, keeping a full-page screenshot of every
// step in ARTIFACT_DIR/<journey>/NN-step.png:
//   console_settings_preview   the preview of the waiting update: a banner says it is version 1,
//                              not live; a link inside it leads to another page of the preview;
//                              the banner's link leads back to the review in the console;
//   console_settings_home      approved: the home page says what is live, since when, from which
//                              main site, by which update;
//   console_settings_poll      Settings: the poll interval set to 60 s is written to site.toml
//                              (the file's own comments kept) and recorded in the audit log; the
//                              page says it takes effect at the next restart; 3 s is refused with
//                              the loader's message, and site.toml keeps 60;
//   console_settings_mail      the mail relay and sender saved under [variables]; a sender
//                              without a domain and TLS files that are not there refused;
//   console_settings_rollback  main publishes a new front page, approved and live; the rollback
//                              confirmation names version 1 (its update, when it was live) and
//                              the page that changes back; rolled back, it says there is nothing
//                              earlier to roll back to.
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { runJourney, waitUntil } from './harness.mjs';
import {
  HEADING_V1, SHOP_B, artifacts, clickAndLoad, consoleBasics, expectFlash, expectPath,
  gotoAndLoad, mainPublishesHeading, newContext, notSee, openReview, pathOf, publicText, see,
  signedIn, sites, startConsoleSuite, stopConsoleSuite, waitPublicHeading,
} from './console_harness.mjs';

const HEADING_V2 = 'Fresh tea from Uji and Shizuoka, new this week';

before(async () => { await startConsoleSuite('console-settings-logs'); });
after(async () => { await stopConsoleSuite(); });

function siteToml() {
  return fs.readFileSync(path.join(sites.siteDir('shop-b'), 'site.toml'), 'utf8');
}

// The rows of the audit log: [when, who, action, detail, address].
async function auditRows(page) {
  await gotoAndLoad(page, sites.consoleUrl('shop-b', '/audit'));
  return page.locator('tbody tr').evaluateAll((trs) => trs.map(
      (tr) => [...tr.cells].map((td) => td.innerText.trim())));
}

const bannerText = (tab) => tab.locator('#tieup-preview-banner').innerText();

test('console_settings_preview: the banner, links kept in the preview, back to the review',
     async (t) => {
  await runJourney('console_settings_preview', t, await newContext(),
                   path.join(artifacts, 'console_settings_preview'), async (j) => {
    const page = j.page;
    await signedIn(j);
    await j.must('the Review link on the home page', () =>
      clickAndLoad(page, page.getByRole('link', { name: /^review$/i }).first()));
    const id = pathOf(page).split('/').pop();
    await j.shot('review');
    const [tab] = await j.must('open the preview of the whole site', () => Promise.all([
      page.context().waitForEvent('page'),
      page.getByRole('link', { name: /preview the whole site/i }).click()]));
    await tab.waitForLoadState('load');
    await j.shot('preview-front', tab);
    const prefix = pathOf(tab).replace(/index\.html$/, '');
    await j.check('the preview is under /.tieup/preview/', () => {
      if (!prefix.startsWith('/.tieup/preview/')) throw new Error(`it is at ${tab.url()}`);
    });
    await j.check('the banner says: a preview of version 1, not live', async () => {
      const text = await bannerText(tab);
      if (!/Preview of version 1: not live\./.test(text)) throw new Error(`it reads "${text}"`);
      if (!/Visitors see none of these pages until this update is approved/.test(text)) {
        throw new Error(`it does not say nothing is live yet: "${text}"`);
      }
    });
    await j.check('the page itself is there, in the main site\'s layout', async () => {
      await see(tab, new RegExp(HEADING_V1));
      const header = await tab.getByRole('banner').first().innerText();
      if (!header.includes('Sakura Tea')) throw new Error(`the page's header reads "${header}"`);
    });
    await j.check('every link to the site\'s own pages stays in the preview', async () => {
      const hrefs = await tab.locator('a[href]').evaluateAll((as) => as.map(
          (a) => new URL(a.href, location.href)).filter((u) => u.origin === location.origin)
          .map((u) => u.pathname));
      const out = hrefs.filter((p) => !p.startsWith('/.tieup/preview/'));
      if (hrefs.length === 0) throw new Error('no links at all');
      if (out.length > 0) throw new Error(`links leave the preview: ${out.join(', ')}`);
    });
    await j.must('click "Teas" in the page\'s navigation', () =>
      clickAndLoad(tab, tab.getByRole('link', { name: 'Teas', exact: true })));
    await j.shot('preview-teas', tab);
    await j.check('still in the preview, on its Teas page, with the banner', async () => {
      if (pathOf(tab) !== `${prefix}products/`) throw new Error(`it is at ${tab.url()}`);
      await see(tab, /Sencha/);
      if (!/Preview of version 1/.test(await bannerText(tab))) throw new Error('no banner');
    });
    await j.must('the banner\'s link back to the review', () =>
      clickAndLoad(tab, tab.getByRole('link', { name: /back to the review in the console/i })));
    await j.shot('back-to-review', tab);
    await j.check(`the console's review of ${id}`, async () => {
      if (!tab.url().startsWith(sites.consoleUrl('shop-b', `/updates/${id}`))) {
        throw new Error(`it is at ${tab.url()}`);
      }
      await see(tab, new RegExp(`^Review update ${id}$`, 'm'));
    });
    await tab.close();
  });
});

test('console_settings_home: approved; the home page says what is live, since when, from where',
     async (t) => {
  await runJourney('console_settings_home', t, await newContext(),
                   path.join(artifacts, 'console_settings_home'), async (j) => {
    const page = j.page;
    await signedIn(j);
    await j.must('the Review link on the home page', () =>
      clickAndLoad(page, page.getByRole('link', { name: /^review$/i }).first()));
    const id = pathOf(page).split('/').pop();
    await j.must('Approve', () => clickAndLoad(page, page.locator('#approve')));
    await j.must('the front page is live', () => waitPublicHeading(HEADING_V1));
    // The activation is recorded as main's answer arrives: reload until the home page has it.
    await j.check('the home page: version 1, live since a time, from Sakura Tea, by the update',
                  () => waitUntil('the live version on the home page', async () => {
                    await gotoAndLoad(page, sites.consoleUrl('shop-b', '/'));
                    const live = await page.locator('#live').innerText();
                    return /version 1, live since \S/.test(live) &&
                        /From the main site Sakura Tea \(https:\/\/127\.0\.0\.1:\d+\)/.test(live) &&
                        new RegExp(`came as update ${id}\\b`).test(live);
                  }, { deadlineMs: 15000, everyMs: 300 }).catch(async (e) => {
                    throw new Error(`${e.message}: "${await page.locator('#live').innerText()}"`);
                  }));
    await j.shot('home');
    await consoleBasics(j, { who: SHOP_B.email });
    await j.check('nothing waits, no alert', async () => {
      await see(page, /every update from the main site is handled/);
      await see(page, /Nothing failed in the last 24 hours/);
    });
    await j.check('main\'s signature on it holds until a date', () =>
      see(page, /The main site's signature on it holds until \S/));
  });
});

test('console_settings_poll: the poll interval saved to site.toml and the audit log; 3 s refused',
     async (t) => {
  await runJourney('console_settings_poll', t, await newContext(),
                   path.join(artifacts, 'console_settings_poll'), async (j) => {
    const page = j.page;
    await signedIn(j);
    await j.must('Settings in the navigation', () =>
      clickAndLoad(page, page.getByRole('navigation').getByRole('link', { name: 'Settings' })));
    await j.shot('settings');
    await consoleBasics(j, { who: SHOP_B.email });
    await j.check('the page says where the settings are and when a change takes effect',
                  async () => {
      expectPath(page, '/settings');
      await see(page, /site\.toml/);
      await see(page, /takes effect at the next restart of tieup partner serve/);
      const managers = page.locator('#managers').getByRole('link', { name: /managers page/i });
      if ((await managers.count()) !== 1) throw new Error('no link to the Managers page');
    });
    const field = page.getByLabel(/ask the main site for updates every/i);
    await j.check('the poll interval reads 0 (main pushes)', async () => {
      if ((await field.inputValue()) !== '0') throw new Error(`it reads ${await field.inputValue()}`);
    });
    await field.fill('60');
    await j.must('Save the poll interval', () =>
      clickAndLoad(page, page.getByRole('button', { name: /save the poll interval/i })));
    await j.shot('saved');
    await j.check('saved, and when it takes effect', () =>
      expectFlash(page, /Saved in site\.toml: partner\.poll_seconds: 0 -> 60\. It takes effect when 'tieup partner serve' is restarted\./));
    await j.check('the field reads 60; the page says 0 runs until the restart', async () => {
      if ((await field.inputValue()) !== '60') throw new Error(`it reads ${await field.inputValue()}`);
      await see(page, /Running now: 0; the saved value takes effect at the next restart/);
    });
    await j.check('site.toml says poll_seconds = 60, its comments kept', () => {
      const toml = siteToml();
      if (!/^poll_seconds = 60 {2}# pull mode/m.test(toml)) {
        throw new Error(`site.toml reads: ${toml.match(/^poll_seconds.*$/m)?.[0]}`);
      }
      if (!toml.startsWith('# tieup site configuration.')) throw new Error('its comments are gone');
      const mode = fs.statSync(path.join(sites.siteDir('shop-b'), 'site.toml')).mode & 0o777;
      if (mode !== 0o600) throw new Error(`its mode is ${mode.toString(8)}`);
    });

    await field.fill('3');
    const refused = await j.must('Save a poll interval of 3 seconds', () =>
      clickAndLoad(page, page.getByRole('button', { name: /save the poll interval/i })));
    await j.shot('refused');
    await j.check('refused with the reason, next to the field', async () => {
      if (refused?.status() !== 422) throw new Error(`HTTP ${refused?.status()}`);
      const error = (await page.locator('#poll-error').innerText()).trim();
      if (error !== "Not saved: site.toml: 'partner.poll_seconds' must be 0 (main pushes) or at " +
                    'least 5. site.toml is unchanged.') {
        throw new Error(`the message reads "${error}"`);
      }
      if ((await field.inputValue()) !== '3') throw new Error('the value typed is gone');
    });
    await j.check('site.toml still says 60', () => {
      if (!/^poll_seconds = 60 /m.test(siteToml())) throw new Error('site.toml changed');
    });

    await page.setViewportSize({ width: 375, height: 800 });
    await gotoAndLoad(page, sites.consoleUrl('shop-b', '/settings'));
    await j.shot('phone');
    await j.check('on a phone: nothing wider than the screen', async () => {
      const [scroll, width] = await page.evaluate(
          () => [document.documentElement.scrollWidth, window.innerWidth]);
      if (scroll > width) throw new Error(`the page is ${scroll} px wide in a ${width} px window`);
    });
    await page.setViewportSize({ width: 1024, height: 768 });

    const rows = await j.must('the audit log', () => auditRows(page));
    await j.shot('audit');
    await j.check('the change is in the audit log, before -> after, and the refusal', () => {
      const by = (detail) => rows.some((r) => r[1] === SHOP_B.email && r[2] === 'settings.change' &&
                                            detail.test(r[3]));
      if (!by(/^partner\.poll_seconds: 0 -> 60$/)) throw new Error('the change is not listed');
      if (!by(/^poll refused: .*at least 5/)) throw new Error('the refusal is not listed');
    });
  });
});

test('console_settings_mail: the mail relay saved; a bad sender and missing TLS files refused',
     async (t) => {
  await runJourney('console_settings_mail', t, await newContext(),
                   path.join(artifacts, 'console_settings_mail'), async (j) => {
    const page = j.page;
    await signedIn(j);
    await gotoAndLoad(page, sites.consoleUrl('shop-b', '/settings'));
    await page.getByLabel(/^sender address/i).fill('shop@kyoto-leaf.example');
    await page.getByLabel(/mail relay/i).fill('mail.example.jp');
    await page.getByLabel(/relay port/i).fill('587');
    await j.must('Save the mail settings', () =>
      clickAndLoad(page, page.getByRole('button', { name: /save the mail settings/i })));
    await j.shot('saved');
    await j.check('saved: each change named', () => expectFlash(page, new RegExp(
        'Saved in site\\.toml: variables\\.shop\\.mail_from: \\(not set\\) -> ' +
        '"shop@kyoto-leaf\\.example"; variables\\.shop\\.smtp_host: \\(not set\\) -> ' +
        '"mail\\.example\\.jp"; variables\\.shop\\.smtp_port: \\(not set\\) -> "587"\\.')));
    await j.check('site.toml holds them beside the shop\'s other settings', () => {
      const toml = siteToml();
      for (const line of ['"shop.currency" = "JPY"', '"shop.mail_from" = "shop@kyoto-leaf.example"',
                          '"shop.smtp_host" = "mail.example.jp"', '"shop.smtp_port" = "587"']) {
        if (!toml.includes(`\n${line}\n`)) throw new Error(`no line ${line}`);
      }
    });

    await page.getByLabel(/^sender address/i).fill('shop@localhost');
    await j.must('Save a sender without a domain', () =>
      clickAndLoad(page, page.getByRole('button', { name: /save the mail settings/i })));
    await j.shot('bad-sender');
    await j.check('refused: the sender address needs a domain', async () => {
      const error = await page.locator('#mail-error').innerText();
      if (!/^Not saved: the sender address: e-mail address 'shop@localhost' needs a domain with a dot after the '@'/.test(error)) {
        throw new Error(`the message reads "${error}"`);
      }
      if (!siteToml().includes('"shop.mail_from" = "shop@kyoto-leaf.example"')) {
        throw new Error('site.toml changed');
      }
    });

    await gotoAndLoad(page, sites.consoleUrl('shop-b', '/settings'));
    await page.getByLabel(/https certificate file/i).fill('keys/console.crt');
    await page.getByLabel(/private key file/i).fill('keys/console.key');
    await j.must('Save a certificate and key that are not there', () =>
      clickAndLoad(page, page.getByRole('button', { name: /save the console's address/i })));
    await j.shot('no-certificate');
    await j.check('refused: the console could not start with them', async () => {
      const error = await page.locator('#console-error').innerText();
      if (!/^Not saved: cannot read the console's TLS certificate/.test(error)) {
        throw new Error(`the message reads "${error}"`);
      }
      if (!/^tls_certificate = ""/m.test(siteToml())) throw new Error('site.toml changed');
    });
    await page.getByLabel(/private key file/i).fill('');
    await j.must('Save a certificate without its key', () =>
      clickAndLoad(page, page.getByRole('button', { name: /save the console's address/i })));
    await j.shot('certificate-alone');
    await j.check('refused: the two go together (the loader\'s rule)', async () => {
      const error = await page.locator('#console-error').innerText();
      if (!/console\.tls_certificate' and console\.tls_key go together/.test(error)) {
        throw new Error(`the message reads "${error}"`);
      }
    });
  });
});

test('console_settings_rollback: the confirmation names the version that becomes live',
     async (t) => {
  await runJourney('console_settings_rollback', t, await newContext(),
                   path.join(artifacts, 'console_settings_rollback'), async (j) => {
    const page = j.page;
    await signedIn(j);
    const update = await j.must("main's manager publishes a new front page", () =>
      mainPublishesHeading(HEADING_V1, HEADING_V2));
    await openReview(j, update.id);
    await j.must('Approve', () => clickAndLoad(page, page.locator('#approve')));
    await j.must('the new front page is live', () => waitPublicHeading(HEADING_V2));
    await gotoAndLoad(page, sites.consoleUrl('shop-b', '/updates'));
    await j.must('the link to roll back', () =>
      clickAndLoad(page, page.getByRole('link', { name: /roll back/i })));
    await j.shot('confirm');
    await consoleBasics(j, { who: SHOP_B.email });
    const updates = await sites.tieup('partner', 'updates', sites.siteDir('shop-b'));
    // `tieup partner updates` lists the record: "TIME u1     v1    activated    ...".
    const first = updates.match(/^\S+ (u\d+)\s+v1\s+activated\b/m)?.[1];
    await j.check('it names what is live and the version that becomes live, with its update',
                  async () => {
      await see(page, new RegExp(`Version ${update.version} of the tie-up pages is live`));
      await see(page, /^Version 1 becomes live again$/m);
      const text = await page.locator('#becomes-live').innerText();
      if (!/makes the previous version live again, at once, for every visitor: version 1/.test(
          text)) {
        throw new Error(`it reads "${text}"`);
      }
      if (!/was live from \S.* until \S/.test(text)) throw new Error(`no dates: "${text}"`);
      if (first && !text.includes(`came as update ${first}`)) {
        throw new Error(`it does not name ${first}: "${text}"`);
      }
    });
    await j.check('it says what changes: the front page changes back', async () => {
      const what = await page.locator('#what-changes').innerText();
      if (!/1 changed, 0 back, 0 gone/.test(what)) throw new Error(`it reads "${what}"`);
      if (!/\/index\.html/.test(what)) throw new Error(`/index.html is not listed: "${what}"`);
    });
    await j.must('Roll back now', () => clickAndLoad(page, page.locator('#rollback')));
    await j.shot('rolled-back');
    await j.check('version 1 is live again', async () => {
      await expectFlash(page, /Rolled back: the tie-up pages of version 1 are live again/);
      await waitPublicHeading(HEADING_V1);
      if ((await publicText('/')).includes(HEADING_V2)) throw new Error('the new page is served');
    });
    await gotoAndLoad(page, sites.consoleUrl('shop-b', '/rollback'));
    await j.shot('nothing-to-roll-back');
    await j.check('now there is nothing earlier to roll back to, and no button', async () => {
      await see(page, /There is nothing to roll back to: no earlier version/);
      if ((await page.locator('#rollback').count()) !== 0) throw new Error('a Roll back button');
    });
    await gotoAndLoad(page, sites.consoleUrl('shop-b', '/'));
    await j.shot('home');
    await j.check('the home page: version 1 live again by a rollback; version 2 rolled back',
                  async () => {
      await see(page, /Made live again by a rollback/);
      await see(page, new RegExp(`Update ${update.id} \\(version ${update.version}, received ` +
                                 '[^)]*\\): was live; you rolled it back'));
      await notSee(page, /\bundefined\b/);
    });
  });
});
