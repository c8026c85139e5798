// The main manager's console in a real Chromium: signing in, the navigation, and the managers'
// accounts (issue #14; the areas have their own main_console_*.test.mjs files):
//
//   node main_console.test.mjs TIEUP_BINARY [ARTIFACT_DIR]
//
// The demo's sites (console_harness.mjs). Each journey runs in a fresh browser context and keeps
// a full-page screenshot of every step in ARTIFACT_DIR/<journey>/NN-step.png:
//   main_console_sign_in    main's console asks to sign in, takes the demo's main manager, shows
//                           every area in the navigation and both partners on the home page;
//                           the session is main's alone (shop-a's console still asks);
//   main_console_managers   a second manager added on the Managers page gets a one-time link,
//                           sets a password with it and signs in; the audit log shows who added
//                           whom; removing oneself is refused.
import path from 'node:path';
import { after, before, test } from 'node:test';

import { runJourney } from './harness.mjs';
import {
  MAIN, artifacts, clickAndLoad, consoleBasics, expectFlash, expectPath, gotoAndLoad,
  newContext, see, signIn, signedIn, sites, startConsoleSuite, stopConsoleSuite,
} from './console_harness.mjs';

const NAV = ['Partners', 'Publish', 'Content', 'Orders', 'Products', 'Users', 'Ledger & fees',
             'Managers', 'Audit log'];
const basics = (j, who = MAIN.email, page = j.page) =>
  consoleBasics(j, { title: MAIN.consoleTitle, who, nav: NAV }, page);

before(async () => { await startConsoleSuite('main-console-logs'); });
after(async () => { await stopConsoleSuite(); });

test('main_console_sign_in: sign in, the areas, both partners', async (t) => {
  await runJourney('main_console_sign_in', t, await newContext(),
                   path.join(artifacts, 'main_console_sign_in'), async (j) => {
    const page = j.page;
    await j.must("open main's console", () => gotoAndLoad(page, sites.consoleUrl('main', '/')));
    await j.shot('asks-to-sign-in', page);
    await j.check('it asks to sign in', () => expectPath(page, '/sign-in'));
    await basics(j, null);
    await j.must('sign in as the main manager', async () => {
      await signIn(page, MAIN);
      expectPath(page, '/');
    });
    await j.shot('partners', page);
    await basics(j);
    await j.check("both of the demo's partners on the home page", async () => {
      await see(page, /Tea House Asahi/);
      await see(page, /Kyoto Leaf/);
    });
    await j.check("the session is main's alone: shop-a's console still asks to sign in",
                  async () => {
      const p = await page.context().newPage();
      await gotoAndLoad(p, sites.consoleUrl('shop-a', '/'));
      expectPath(p, '/sign-in');
      await p.close();
    });
  });
});

test('main_console_managers: a second manager, the one-time link, the audit log', async (t) => {
  await runJourney('main_console_managers', t, await newContext(),
                   path.join(artifacts, 'main_console_managers'), async (j) => {
    const page = j.page;
    await signedIn(j, MAIN);
    const clerk = { ...MAIN, email: 'publisher@main.example', password: 'sakura-publisher-9' };
    await j.must('the Managers page', () =>
      clickAndLoad(page, page.getByRole('link', { name: 'Managers', exact: true })));
    await j.shot('managers', page);
    await basics(j);
    await j.check('the demo manager is listed as oneself', () =>
      see(page, /manager@main\.example\s*\(you\)/));
    await j.must('add publisher@main.example', async () => {
      await page.getByLabel(/^e-mail/i).fill(clerk.email);
      await page.getByLabel(/^name/i).fill('Publisher');
      await clickAndLoad(page, page.getByRole('button', { name: /^add$/i }));
    });
    await j.shot('link', page);
    const link = await j.must('the one-time link is shown', async () => {
      await see(page, /Manager added/);
      const text = (await page.locator('#setup-link').innerText()).trim();
      if (!text.startsWith(sites.consoleUrl('main', '/set-password?token='))) {
        throw new Error(`the link reads "${text}"`);
      }
      return text;
    });
    const c = await newContext();
    try {
      const p = await c.newPage();
      await j.must('the new manager sets a password with the link', async () => {
        await gotoAndLoad(p, link);
        await p.getByLabel(/^new password/i).fill(clerk.password);
        await p.getByLabel(/same password again/i).fill(clerk.password);
        await clickAndLoad(p, p.getByRole('button', { name: /set the password/i }));
        await see(p, /Your password is set/);
      });
      await j.must('and signs in', async () => {
        await signIn(p, clerk);
        expectPath(p, '/');
      });
      await j.shot('new-manager-signed-in', p);
      await basics(j, clerk.email, p);
    } finally {
      await c.close();
    }
    await j.must('the audit log', () =>
      clickAndLoad(page, page.getByRole('link', { name: 'Audit log', exact: true })));
    await j.shot('audit', page);
    await j.check('it says the main manager added publisher@main.example', async () => {
      const rows = await page.locator('tbody tr').evaluateAll((trs) => trs.map(
          (tr) => [...tr.cells].map((td) => td.innerText.trim())));
      const added = rows.find((r) => r[2] === 'manager.add' && r[3].includes(clerk.email));
      if (!added || added[1] !== MAIN.email) {
        throw new Error(`rows: ${JSON.stringify(rows.slice(0, 5))}`);
      }
    });
    await j.must('removing oneself', async () => {
      await gotoAndLoad(page, sites.consoleUrl('main', '/managers'));
      // The demo manager's own row has no Remove button; post the form another row has with
      // one's own address instead.
      const form = page.locator('form:has(input[name=action][value=remove])').first();
      await form.locator('input[name=email]').evaluate((e, me) => { e.value = me; }, MAIN.email);
      await clickAndLoad(page, form.getByRole('button', { name: /remove/i }));
    });
    await j.shot('remove-self-refused', page);
    await j.check('refused: another manager can', () =>
      expectFlash(page, /cannot remove yourself; another manager can/));
  });
});
