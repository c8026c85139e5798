// Single sign-on across the network, in Debian's Chromium: one customer, one password, typed
// only on main's page.
//
//   single_sign_on   shop-a's header "Sign in" leads to main's sign-in page, which names shop-a
//                    ("continue to Tea House Asahi") in main's layout; its "Register" link is
//                    main's registration page, for shop-a; the customer registers there ("Check
//                    your mail"), opens the link of the mail (read from main's outbox),
//                    confirms, and is back on shop-a's product page, signed in; signs out,
//                    signs in again through main (the password typed at main) and is back on
//                    the page they came from, "Signed in as Emi" in the header. At shop-b and
//                    at main's own site the customer is then signed in without typing anything.
//                    Signing out at shop-b offers "Sign out everywhere"; main asks to confirm,
//                    then sends the customer back to shop-b's signed-out page; shop-a's session
//                    has ended too (main told shop-a), and signing in asks for the password again.
//   password_reset   at main's sign-in page (reached from shop-a), "Forgot your password?": the
//                    address typed, "Check your mail"; the link in the mail (read from main's
//                    outbox, SITE_DIR/mail/pending) opens the new-password form; the new
//                    password set, "Your password is changed"; signing in through shop-a with it
//                    works; the link does not work twice.
//   account_at_main  an account registered at main's own page; on the account page, "change"
//                    the e-mail address (the current password asked), the link mailed to the
//                    new address confirms it; "Delete your account" says what happens, asks
//                    for the password and a ticked box, signs out; the address no longer signs
//                    in.
//   customer_copies  a customer registered through shop-a keeps a postal address on main's
//                    account page ("Your address is saved"); main's manager lets shop-a keep
//                    name, e-mail and address (`tieup main partner set ... --customer-copy`);
//                    shop-a's checkout then starts with them for that customer, and shop-a's
//                    manager finds the customer on the console's Customers page (search
//                    included). Ordered at shop-a (tea main processes, a wagashi shop-a
//                    processes itself): main's account page lists both, shop-a's "(at ...)"
//                    and linked to its status page at shop-a.
//
// The demo's sites each run on a loopback address of their own (main 127.0.0.1, shop-a
// 127.0.0.2, shop-b 127.0.0.3), as the issue asks: a browser keeps cookies per host name, not
// per port, so sites on one address would share them and single sign-on could look done when
// it is not.
import path from 'node:path';
import { after, before, test } from 'node:test';

import {
  artifacts, bodyText, clickAndLoad, gotoAndLoad, newContext, notSee, see, SHOP_A, signedIn, sites,
  startConsoleSuite, stopConsoleSuite,
} from './console_harness.mjs';
import { runJourney, waitUntil } from './harness.mjs';

const EMAIL = 'emi@example.test';
const PASSWORD = 'one password everywhere';

// Chromium and the demo's sites, shop-b included.
before(() => startConsoleSuite('sso-logs'));
after(() => stopConsoleSuite());

function expectAt(page, site, pathPrefix) {
  const u = new URL(page.url());
  const want = new URL(sites.url(site, pathPrefix));
  if (u.host !== want.host || !u.pathname.startsWith(want.pathname)) {
    throw new Error(`at ${page.url()}, not ${want.href}...`);
  }
}

test('single_sign_on: one password typed at main, signed in at shop-a, shop-b and main; ' +
     'signing out everywhere', async (t) => {
  const context = await newContext();
  await runJourney('single_sign_on', t, context, path.join(artifacts, 'single_sign_on'),
                   async (j) => {
    const page = j.page;
    const header = page.getByRole('banner');

    // Registering at shop-a, from main's sign-in page.
    await gotoAndLoad(page, sites.url('shop-a', '/products/sencha.html'));
    await j.must('the sign-in link in shop-a\'s header leads to main', async () => {
      await clickAndLoad(page, header.getByRole('link', { name: 'Sign in' }));
      expectAt(page, 'main', '/oidc/authorize');
    });
    await j.shot('main-sign-in-for-shop-a');
    await j.check('main\'s page names the shop the customer came from', () =>
      see(page, /Sign in once to continue to Tea House Asahi/));
    await j.check('in main\'s layout', () => see(page, /Sakura Tea/));
    await j.must('"Register" leads to main\'s registration, for shop-a', async () => {
      await clickAndLoad(page, page.getByRole('link', { name: 'Register' }));
      expectAt(page, 'main', '/account/register');
      await see(page, /Create an account[\s\S]*continue to Tea House Asahi/);
    });
    await j.must('fill in the registration form', async () => {
      await page.getByLabel('Email').fill(EMAIL);
      await page.getByLabel('Name shown to others').fill('Emi');
      await page.getByLabel(/^Password/).fill(PASSWORD);
    });
    await j.shot('register-at-main');
    await j.must('"Check your mail"', async () => {
      await clickAndLoad(page, page.getByRole('button', { name: 'Create account' }));
      await see(page, /Check your mail[\s\S]*emi@example\.test/);
    });
    await j.shot('check-your-mail');
    const link = await j.must('the mail holds a confirmation link',
                              () => sites.mailLink(EMAIL, '/account/register/confirm'));
    await j.must('the link asks to confirm', async () => {
      await gotoAndLoad(page, link);
      await see(page, /Create the account emi@example\.test[\s\S]*continue to Tea House Asahi/);
    });
    await j.shot('confirm-registration');
    await j.must('confirmed: back on shop-a\'s product page, signed in', async () => {
      await clickAndLoad(page, page.getByRole('button', { name: 'Create my account' }));
      expectAt(page, 'shop-a', '/products/sencha.html');
      await header.getByRole('link', { name: 'Signed in as Emi' }).waitFor({ timeout: 15000 });
    });
    await j.shot('registered-at-shop-a');
    await j.must('sign out at shop-a', async () => {
      await gotoAndLoad(page, sites.url('shop-a', '/account/'));
      await clickAndLoad(page, page.getByRole('button', { name: 'Sign out' }));
      await see(page, /You are signed out on this site/);
    });
    // Another day: the browser was closed, so main's session cookie is gone too.
    await context.clearCookies();

    // Signing in: the password is typed at main, and the customer is back where they were.
    await gotoAndLoad(page, sites.url('shop-a', '/products/sencha.html'));
    await j.must('"Sign in" leads to main again', async () => {
      await clickAndLoad(page, header.getByRole('link', { name: 'Sign in' }));
      expectAt(page, 'main', '/oidc/authorize');
    });
    await j.must('type the password at main', async () => {
      await page.getByLabel('Email').fill(EMAIL);
      await page.getByLabel('Password').fill(PASSWORD);
    });
    await j.shot('password-at-main');
    await j.must('back on the product page at shop-a, signed in', async () => {
      await clickAndLoad(page, page.getByRole('button', { name: 'Sign in and continue' }));
      expectAt(page, 'shop-a', '/products/sencha.html');
      await header.getByRole('link', { name: 'Signed in as Emi' }).waitFor({ timeout: 15000 });
    });
    await j.shot('signed-in-at-shop-a');

    // shop-b: one click, no password.
    await j.must('shop-b\'s sign-in comes straight back, signed in', async () => {
      await gotoAndLoad(page, sites.url('shop-b', '/account/login'));
      expectAt(page, 'shop-b', '/');
      await gotoAndLoad(page, sites.url('shop-b', '/account/'));
      await see(page, /Your account[\s\S]*Signed in as Emi/);
    });
    await j.shot('signed-in-at-shop-b');
    await j.check('no password was asked for', () => notSee(page, /Password/));
    // main's own site.
    await j.must('main\'s own account page knows the customer', async () => {
      await gotoAndLoad(page, sites.url('main', '/account/'));
      await see(page, /Your account[\s\S]*Signed in as Emi/);
    });
    await j.shot('signed-in-at-main');
    await j.must('shop-a still knows the customer', async () => {
      await gotoAndLoad(page, sites.url('shop-a', '/account/'));
      await see(page, /Signed in as Emi/);
    });

    // Signing out everywhere, from shop-b.
    await gotoAndLoad(page, sites.url('shop-b', '/account/'));
    await j.must('sign out at shop-b', async () => {
      await clickAndLoad(page, page.getByRole('button', { name: 'Sign out' }));
      await see(page, /You are signed out on this site/);
    });
    await j.shot('signed-out-at-shop-b');
    await j.must('"Sign out everywhere" leads to main, which asks to confirm', async () => {
      await clickAndLoad(page, page.getByRole('link', { name: 'Sign out everywhere' }));
      expectAt(page, 'main', '/oidc/logout');
      await see(page, /Sign out everywhere\?[\s\S]*signed in as Emi/i);
    });
    await j.shot('confirm-at-main');
    await j.must('confirm: back at shop-b, signed out of every shop', async () => {
      await clickAndLoad(page, page.getByRole('button', { name: 'Sign out everywhere' }));
      expectAt(page, 'shop-b', '/account/signed-out');
      await see(page, /You are signed out of every shop of the network/);
    });
    await j.shot('signed-out-everywhere');
    await j.check('main no longer knows the customer', async () => {
      await gotoAndLoad(page, sites.url('main', '/account/'));
      await notSee(page, /Signed in as Emi/);
    });
    await j.check('shop-a\'s session ended too (main told shop-a)', async () => {
      await waitUntil('shop-a to forget the customer', async () => {
        await gotoAndLoad(page, sites.url('shop-a', '/account/'));
        return !/Signed in as Emi/.test(await bodyText(page));
      }, { deadlineMs: 15000, everyMs: 250 });
    });
    await j.shot('shop-a-signed-out');
    await j.check('signing in at shop-a asks for the password again', async () => {
      await gotoAndLoad(page, sites.url('shop-a', '/account/login'));
      expectAt(page, 'main', '/oidc/authorize');
      await page.getByLabel('Password').waitFor({ timeout: 15000 });
    });
    await j.shot('password-asked-again');
  });
});

test('password_reset: forgot the password at main\'s sign-in page, the link from the mail, ' +
     'signed in at shop-a with the new one', async (t) => {
  const context = await newContext();
  const email = 'ren@example.test';
  await runJourney('password_reset', t, context, path.join(artifacts, 'password_reset'),
                   async (j) => {
    const page = j.page;
    await j.must('an account registered through shop-a (as its browser would)', async () => {
      await gotoAndLoad(page, sites.url('shop-a', '/account/register'));
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Name shown to others').fill('Ren');
      await page.getByLabel(/^Password/).fill('the first password');
      await clickAndLoad(page, page.getByRole('button', { name: 'Create account' }));
      await gotoAndLoad(page, await sites.mailLink(email, '/account/register/confirm'));
      await clickAndLoad(page, page.getByRole('button', { name: 'Create my account' }));
      await page.getByRole('banner').getByRole('link', { name: 'Signed in as Ren' })
          .waitFor({ timeout: 15000 });
    });
    // Another day, another browser session: nobody is signed in.
    await context.clearCookies();
    await gotoAndLoad(page, sites.url('shop-a', '/account/login'));
    await j.must('main\'s sign-in page has "Forgot your password?"', async () => {
      expectAt(page, 'main', '/oidc/authorize');
      await clickAndLoad(page, page.getByRole('link', { name: 'Forgot your password?' }));
      expectAt(page, 'main', '/account/reset');
    });
    await j.shot('forgot');
    await j.must('ask for the link', async () => {
      await page.getByLabel('Email').fill(email);
      await clickAndLoad(page, page.getByRole('button', { name: 'Send the link' }));
      await see(page, /Check your mail[\s\S]*If an account exists for ren@example\.test/);
    });
    await j.shot('check-your-mail');
    const link = await j.must('the mail holds a link',
                              () => sites.mailLink(email, '/account/reset/confirm'));
    await j.must('the link opens the new-password form', async () => {
      await gotoAndLoad(page, link);
      await see(page, /Choose a new password/);
    });
    await j.shot('new-password-form');
    await j.must('set the new password', async () => {
      await page.getByLabel(/New password/).fill('the second password');
      await clickAndLoad(page, page.getByRole('button', { name: 'Set the new password' }));
      await see(page, /Your password is changed/);
    });
    await j.shot('password-changed');
    await j.must('sign in at shop-a with the new password', async () => {
      await gotoAndLoad(page, sites.url('shop-a', '/account/login'));
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password').fill('the second password');
      await clickAndLoad(page, page.getByRole('button', { name: 'Sign in and continue' }));
      expectAt(page, 'shop-a', '/');
      await page.getByRole('banner').getByRole('link', { name: 'Signed in as Ren' })
          .waitFor({ timeout: 15000 });
    });
    await j.shot('signed-in-with-new-password');
    await j.check('the link does not work twice', async () => {
      await gotoAndLoad(page, link);
      await see(page, /This link no longer works/);
    });
    await j.shot('link-used');
  });
});

test('account_at_main: a new e-mail address by the mailed link, then the account deleted',
     async (t) => {
  const context = await newContext();
  const first = 'mei@example.test';
  const second = 'mei.sato@example.test';
  const password = 'mei keeps one password';
  await runJourney('account_at_main', t, context, path.join(artifacts, 'account_at_main'),
                   async (j) => {
    const page = j.page;
    const header = page.getByRole('banner');
    await j.must('an account registered at main', async () => {
      await gotoAndLoad(page, sites.url('main', '/account/register'));
      await page.getByLabel('Email').fill(first);
      await page.getByLabel('Name shown to others').fill('Mei');
      await page.getByLabel(/^Password/).fill(password);
      await clickAndLoad(page, page.getByRole('button', { name: 'Create account' }));
      await gotoAndLoad(page, await sites.mailLink(first, '/account/register/confirm'));
      await clickAndLoad(page, page.getByRole('button', { name: 'Create my account' }));
      await see(page, /Welcome, Mei/);
    });
    await j.shot('welcome-at-main');
    await j.must('the account page from the header', async () => {
      await clickAndLoad(page, header.getByRole('link', { name: 'Signed in as Mei' }));
      await see(page, /Email: mei@example\.test/);
    });
    await j.shot('account');
    await j.must('"change" the address: the form asks for the current password', async () => {
      await clickAndLoad(page, page.getByRole('link', { name: 'change' }));
      await page.getByLabel('New email address').fill(second);
      await page.getByLabel('Current password').fill(password);
    });
    await j.shot('change-email');
    await j.must('"Check your mail" at the new address', async () => {
      await clickAndLoad(page, page.getByRole('button', { name: 'Send the link' }));
      await see(page, /We have sent a mail to mei\.sato@example\.test/);
    });
    await j.shot('check-new-address');
    await j.must('the link asks to confirm the change', async () => {
      await gotoAndLoad(page, await sites.mailLink(second, '/account/email/confirm'));
      await see(page, /from mei@example\.test to mei\.sato@example\.test/);
    });
    await j.shot('confirm-change');
    await j.must('changed', async () => {
      await clickAndLoad(page, page.getByRole('button', { name: 'Change my address' }));
      await see(page, /Your account's address is now mei\.sato@example\.test/);
    });
    await j.shot('address-changed');
    await j.check('the account page shows the new address', async () => {
      await gotoAndLoad(page, sites.url('main', '/account/'));
      await see(page, /Email: mei\.sato@example\.test/);
    });

    await j.must('"Delete your account" says what happens', async () => {
      await clickAndLoad(page, page.getByRole('link', { name: 'Delete your account' }));
      await see(page, /cannot be undone[\s\S]*orders themselves[\s\S]*are kept/);
    });
    await j.shot('delete-account');
    await j.must('the password and the box ticked: deleted, signed out', async () => {
      await page.getByLabel('Current password').fill(password);
      await page.getByLabel('I want my account deleted').check();
      await clickAndLoad(page, page.getByRole('button', { name: 'Delete my account' }));
      await see(page, /Your account is deleted and you are signed out everywhere/);
      await header.getByRole('link', { name: 'Sign in' }).waitFor({ timeout: 15000 });
    });
    await j.shot('account-deleted');
    await j.check('signing in with the address no longer works', async () => {
      await gotoAndLoad(page, sites.url('shop-a', '/account/login'));
      await page.getByLabel('Email').fill(second);
      await page.getByLabel('Password').fill(password);
      await clickAndLoad(page, page.getByRole('button', { name: 'Sign in and continue' }));
      await see(page, /Wrong email address or password/);
    });
    await j.shot('sign-in-refused');
  });
});

test('customer_copies: the address kept at main fills shop-a\'s checkout; shop-a\'s manager ' +
     'sees the customer', async (t) => {
  const context = await newContext();
  const email = 'kai@example.test';
  const password = 'kai keeps one password';
  await runJourney('customer_copies', t, context, path.join(artifacts, 'customer_copies'),
                   async (j) => {
    const page = j.page;
    const header = page.getByRole('banner');
    await j.must('registered through shop-a, back there signed in', async () => {
      await gotoAndLoad(page, sites.url('shop-a', '/products/sencha.html'));
      await clickAndLoad(page, header.getByRole('link', { name: 'Sign in' }));
      await clickAndLoad(page, page.getByRole('link', { name: 'Register' }));
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Name shown to others').fill('Kai');
      await page.getByLabel(/^Password/).fill(password);
      await clickAndLoad(page, page.getByRole('button', { name: 'Create account' }));
      await gotoAndLoad(page, await sites.mailLink(email, '/account/register/confirm'));
      await clickAndLoad(page, page.getByRole('button', { name: 'Create my account' }));
      expectAt(page, 'shop-a', '/products/sencha.html');
      await header.getByRole('link', { name: 'Signed in as Kai' }).waitFor({ timeout: 15000 });
    });
    await j.must('main\'s account page: the address form', async () => {
      await gotoAndLoad(page, sites.url('main', '/account/'));
      await page.getByLabel('Recipient').fill('Kai Kato');
      await page.getByLabel('Address', { exact: true }).fill('4-5 Sanjo-dori');
      await page.getByLabel('Postal code').fill('604-8005');
      await page.getByLabel('City').fill('Kyoto');
      await page.getByLabel('Country').fill('Japan');
    });
    await j.shot('address-form');
    await j.must('"Save the address": saved, shown in the form', async () => {
      await clickAndLoad(page, page.getByRole('button', { name: 'Save the address' }));
      await see(page, /Your address is saved: checkout starts with it/);
      if (await page.getByLabel('City').inputValue() !== 'Kyoto') {
        throw new Error('the form does not show the saved city');
      }
    });
    await j.shot('address-saved');

    const mainDir = sites.siteDir('main');
    const shopDir = sites.siteDir('shop-a');
    await j.must('main\'s manager lets shop-a keep name, e-mail and address', async () => {
      const out = await sites.tieup('main', 'partner', 'set', mainDir, 'shop-a',
                                   '--customer-copy', 'name,email,address');
      if (!/customer copy: \(none\) -> address,email,name/.test(out)) {
        throw new Error(`unexpected answer: ${out}`);
      }
      await waitUntil('shop-a holds the copy', async () =>
        (await sites.tieup('partner', 'customers', shopDir)).includes('Kai Kato'));
    });
    await j.must('shop-a\'s checkout starts with the customer\'s details', async () => {
      await gotoAndLoad(page, sites.url('shop-a', '/products/sencha.html'));
      await clickAndLoad(page, page.getByRole('button', { name: /add to cart/i }));
      await clickAndLoad(page, page.getByRole('link', { name: /checkout/i })
                                   .or(page.getByRole('button', { name: /checkout/i })).first());
      const want = { '^full name': 'Kai Kato', '^city': 'Kyoto', 'e-?mail': email,
                     'postal code': '604-8005' };
      for (const [label, value] of Object.entries(want)) {
        const got = await page.getByLabel(new RegExp(label, 'i')).inputValue();
        if (got !== value) throw new Error(`${label}: "${got}", not "${value}"`);
      }
    });
    await j.shot('checkout-filled-in');

    let partnerOrder = '';
    await j.must('with a wagashi of shop-a\'s own, the order is placed as filled in', async () => {
      await gotoAndLoad(page, sites.url('shop-a', '/local/'));
      await clickAndLoad(page, page.getByRole('link', { name: /wagashi/i }).first());
      await clickAndLoad(page, page.getByRole('button', { name: /add to cart/i }));
      await clickAndLoad(page, page.getByRole('link', { name: /checkout/i })
                                   .or(page.getByRole('button', { name: /checkout/i })).first());
      await clickAndLoad(page, page.getByRole('button', { name: /place order/i }));
      await see(page, /thank you/i);
      partnerOrder = ((await bodyText(page)).match(/\bSHOPA-\d{6}\b/) ?? [''])[0];
      if (!partnerOrder) throw new Error('no order number of shop-a on the thank-you page');
    });
    await j.shot('ordered-at-shop-a');
    await j.must('main\'s account page lists shop-a\'s own order, linked to its page there',
                 async () => {
      await gotoAndLoad(page, sites.url('main', '/account/'));
      const orders = page.getByRole('table');
      await see(page, new RegExp(`${partnerOrder} \\(at [^)]+\\)`), { scope: orders });
      await see(page, /M-\d{6} \(through Tea House Asahi\)/, { scope: orders });
      await notSee(page, /cannot be shown/);
      await clickAndLoad(page, orders.getByRole('link', { name: partnerOrder }));
      expectAt(page, 'shop-a', '/shop/orders/');
      await see(page, new RegExp(partnerOrder));
    });
    await j.shot('order-page-at-shop-a');
    await gotoAndLoad(page, sites.url('main', '/account/'));
    await j.shot('account-orders-across-the-network');

    const manager = await context.newPage();
    j.page = manager;
    await signedIn(j, SHOP_A);
    await j.must('the console\'s Customers page lists the customer', async () => {
      await clickAndLoad(manager, manager.getByRole('link', { name: 'Customers', exact: true }));
      await see(manager, /lets you keep these details of your shop's customers: name, e-mail address, postal address/);
      await see(manager, /Kai Kato, 4-5 Sanjo-dori, 604-8005 Kyoto, Japan/);
      await see(manager, /kai@example\.test/);
    });
    await j.shot('console-customers');
    await j.check('a search narrows the list', async () => {
      await manager.getByLabel('Find a customer').fill('nobody-here');
      await clickAndLoad(manager, manager.getByRole('button', { name: 'Find' }));
      await see(manager, /No customer matches “nobody-here”/);
      await manager.getByLabel('Find a customer').fill('kyoto');
      await clickAndLoad(manager, manager.getByRole('button', { name: 'Find' }));
      await see(manager, /Kai Kato/);
    });
    await j.shot('console-customers-search');
  });
});
