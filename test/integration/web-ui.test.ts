/**
 * The web UI end to end in Debian's Chromium (playwright-core): the admin logs in, creates a
 * setting and an auditor account; the auditor watches a sipp call in the live view, finds it in the
 * recording browser, plays it to the end, verifies it and downloads the verification kit, which
 * verify.sh (openssl, sha256sum) accepts. Hostile names show as text. Pages are checked at
 * 1280×800 and on a phone-sized viewport, in English, German and French. Screenshots go to
 * test-artifacts/ui/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { startCallseal, run, type CallsealProcess } from '../helpers/callseal.ts';
import { ALICE, BOB, rsMetadata, runSipp, siprecScenario, type SippResult } from '../helpers/sipp.ts';
import { twoTonePcap } from '../helpers/pcap.ts';
import { startMailCatcher, type MailCatcher } from '../helpers/servers.ts';
import { login } from '../helpers/web.ts';

const ADMIN_PASSWORD = 'ui-admin-password-1';
const AUDITOR_PASSWORD = 'ui-auditor-password-1';
const HOSTILE = '<img src=x onerror="window.__pwned=1">Mallory';
const SHOTS = resolve(import.meta.dirname, '../../test-artifacts/ui');

let cs: CallsealProcess;
let browser: Browser;
let dir: string;
let pcap: string;
let pcapMs: number;
let base: string;
let mail: MailCatcher;

async function newPage(options: { viewport?: { width: number; height: number }; locale?: string; isMobile?: boolean } = {}): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: options.viewport ?? { width: 1280, height: 800 }, locale: options.locale ?? 'en-US', acceptDownloads: true, ...(options.isMobile ? { isMobile: true, hasTouch: true } : {}) });
  const page = await context.newPage();
  page.on('pageerror', (err) => { throw err; });
  return { context, page };
}

async function logIn(page: Page, username: string, password: string): Promise<void> {
  await page.goto(base);
  await page.locator('input[name=username]').fill(username);
  await page.locator('input[name=password]').fill(password);
  await page.locator('form.login button[type=submit]').click();
  await page.locator('header.top').waitFor();
}

/**
 * Opens a page from the side navigation and waits until it is the page shown: the route changes on
 * `hashchange`, after the click returns, so until then the previous page (and its buttons) is
 * still there.
 */
async function openPage(page: Page, navText: string, heading: string = navText): Promise<void> {
  await page.locator('nav a', { hasText: navText }).click();
  await page.locator('section.page > header.page-head h1').getByText(heading, { exact: true }).waitFor();
}

/** A button in the header of the page shown (its main action, such as Add), never one of the list's. */
function pageAction(page: Page, name: string): Locator {
  return page.locator('section.page > header.page-head').getByRole('button', { name, exact: true });
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

async function noHorizontalScroll(page: Page): Promise<void> {
  // Page scripts are strings: the tests are typed for Node, not for the DOM.
  // On a phone the layout viewport grows with overflowing content, so compare with the device width.
  const scroll = await page.evaluate<number>('document.documentElement.scrollWidth');
  expect(scroll).toBeLessThanOrEqual(page.viewportSize()?.width ?? 0);
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  mail = await startMailCatcher();
  // Warn at any fill level, so the dashboard's disk warning shows.
  cs = await startCallseal({ env: { CALLSEAL_ADMIN_PASSWORD: ADMIN_PASSWORD }, config: { http: { diskWarnPercent: 100 } } });
  base = `http://127.0.0.1:${cs.httpPort}/`;
  dir = mkdtempSync(join(tmpdir(), 'callseal-ui-'));
  pcap = join(dir, 'tones.pcap');
  pcapMs = twoTonePcap(pcap, 2);
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run', '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
  });
}, 60_000);

afterAll(async () => {
  await browser.close();
  await cs.stop();
  await mail.stop();
});

describe('web UI in Chromium', () => {
  it('the admin logs in, creates a setting and removes the default one', async () => {
    const { context, page } = await newPage();
    await logIn(page, 'admin', ADMIN_PASSWORD);
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    await page.locator('[role=alert]', { hasText: 'Disk space is running out' }).waitFor();
    await page.locator('ul.errors li', { hasText: 'free disk space for recordings' }).waitFor();
    // Administration only: no recording browser for admins.
    await expect(page.locator('nav a', { hasText: 'Recordings' }).count()).resolves.toBe(0);
    await shot(page, 'admin-dashboard');

    await openPage(page, 'Settings');
    // The setting editor (labelled "Settings"), not any other form.
    const form = page.locator('form.editor[aria-label="Settings"]');
    await pageAction(page, 'Add').click();
    await form.locator('input[name=id]').fill('trading');
    await form.locator('input[name=name]').fill('Trading desk');
    await form.locator('select[name=scope]').selectOption('patterns');
    await form.locator('input[name=scope-items]').fill('+4989765432');
    await form.locator('select[name=direction]').selectOption('both');
    await form.getByRole('button', { name: 'Save' }).click();
    const card = page.locator('[data-testid=settings-list] li', { hasText: 'Trading desk' });
    await card.waitFor();
    await expect(card.locator('.explanation').textContent()).resolves.toContain('+4989765432');
    page.once('dialog', (d) => { void d.accept(); });
    await page.locator('[data-testid=settings-list] li', { hasText: 'Record all calls' }).getByRole('button', { name: 'Delete' }).click();
    await page.locator('[data-testid=settings-list] li', { hasText: 'Record all calls' }).waitFor({ state: 'detached' });
    await shot(page, 'admin-settings');

    // A bad value is named, not swallowed.
    await pageAction(page, 'Add').click();
    await form.locator('input[name=id]').fill('bad id with spaces');
    await form.locator('input[name=name]').fill('x');
    await form.getByRole('button', { name: 'Save' }).click();
    await form.locator('[role=alert]', { hasText: /id: letters, digits/ }).waitFor();
    await form.getByRole('button', { name: 'Cancel' }).click();
    await form.waitFor({ state: 'detached' });

    await openPage(page, 'Accounts');
    for (const [username, displayName] of [['audrey', 'Audrey Auditor'], ['mallory', HOSTILE]] as const) {
      await pageAction(page, 'Add').click();
      // The new-account editor; the password change form below is a form.editor too.
      const f = page.locator('form.editor', { has: page.locator('input[name=username]') });
      await f.locator('input[name=username]').fill(username);
      await f.locator('input[name=displayName]').fill(displayName);
      await f.locator('input[name=password]').fill(AUDITOR_PASSWORD);
      await f.getByRole('button', { name: 'Save' }).click();
      await page.locator('[data-testid=accounts-table] td', { hasText: username }).first().waitFor();
      await f.waitFor({ state: 'detached' });
    }
    // The hostile display name is text, never markup.
    await expect(page.locator('[data-testid=accounts-table]').textContent()).resolves.toContain(HOSTILE);
    await expect(page.locator('[data-testid=accounts-table] img').count()).resolves.toBe(0);
    await expect(page.evaluate<unknown>('window.__pwned')).resolves.toBeUndefined();
    await shot(page, 'admin-accounts');

    // A directory user with a hostile name: text in the directory too.
    await openPage(page, 'Directory');
    // The Directory page has two Add buttons: one under "users", one under "groups".
    const sectionAdd = (heading: string): Locator => page.locator(`section.page > h2:text-is("${heading}") + div.actions`).getByRole('button', { name: 'Add', exact: true });
    await sectionAdd('users').click();
    const userForm = page.locator('form.editor', { has: page.locator('input[name=user-id]') });
    await userForm.locator('input[name=user-id]').fill('mallory');
    await userForm.locator('input[name=user-name]').fill(HOSTILE);
    await userForm.locator('input[name=extensions]').fill('399');
    await userForm.getByRole('button', { name: 'Save' }).click();
    await page.locator('[data-testid=users-table] td', { hasText: 'onerror' }).waitFor();
    await userForm.waitFor({ state: 'detached' });
    await expect(page.locator('[data-testid=users-table] td', { hasText: 'onerror' }).textContent()).resolves.toBe(HOSTILE);
    await expect(page.locator('main img').count()).resolves.toBe(0);

    // A group, then a setting for it chosen from the list of groups.
    await sectionAdd('groups').click();
    const groupForm = page.locator('form.editor', { has: page.locator('input[name=group-id]') });
    await groupForm.locator('input[name=group-id]').fill('desk');
    await groupForm.locator('input[name=group-name]').fill('Desk');
    await groupForm.locator('input[name=group-numbers]').fill('+4989700');
    await groupForm.locator('input[name=group-members]').fill('mallory');
    await groupForm.getByRole('button', { name: 'Save' }).click();
    await page.locator('[data-testid=groups-table] td', { hasText: '+4989700' }).waitFor();
    await openPage(page, 'Settings');
    await pageAction(page, 'Add').click();
    await form.locator('input[name=id]').fill('desk');
    await form.locator('input[name=name]').fill('Desk group');
    await form.locator('select[name=scope]').selectOption('groups');
    await form.locator('input[name=scope-desk]').check();
    await form.getByRole('button', { name: 'Save' }).click();
    await page.locator('[data-testid=settings-list] li', { hasText: 'Desk group' }).locator('.explanation', { hasText: 'group Desk' }).waitFor();

    // E-mail alerts: SMTP entered in the page, a test mail reaches the SMTP server.
    await openPage(page, 'E-mail alerts');
    await pageAction(page, 'Edit').click();
    const smtp = page.locator('form.editor', { has: page.locator('input[name=host]') });
    await smtp.locator('input[name=host]').fill('127.0.0.1');
    await smtp.locator('input[name=port]').fill(String(mail.port));
    await smtp.locator('input[name=from]').fill('callseal@example.test');
    await smtp.locator('input[name=to]').fill('compliance@example.test, ops@example.test');
    await smtp.getByRole('button', { name: 'Save' }).click();
    // The facts are reloaded after the save: wait for the new value, not for the element.
    await page.locator('[data-testid=alerts]', { hasText: 'compliance@example.test, ops@example.test' }).waitFor();
    await page.getByRole('button', { name: 'Send test mail' }).click();
    await page.locator('p.ok', { hasText: 'sent' }).waitFor();
    await expect.poll(() => mail.messages.length, { timeout: 10_000 }).toBeGreaterThan(0);
    expect(mail.messages.at(-1)).toMatchObject({ to: 'compliance@example.test,ops@example.test', subject: expect.stringContaining('test mail') as unknown });
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.locator('form.login').waitFor();
    await context.close();
  });

  it('the auditor sees the call live, finds it, plays it to the end, verifies it and downloads the kit', async () => {
    const { context, page } = await newPage();
    await logIn(page, 'audrey', AUDITOR_PASSWORD);
    await page.locator('nav a', { hasText: 'Live' }).click();
    await page.getByRole('heading', { name: 'Running recordings' }).waitFor();

    const sipp: Promise<SippResult> = runSipp(dir, siprecScenario({ metadata: rsMetadata(ALICE, BOB), pcap, holdMs: pcapMs + 4000 }), `127.0.0.1:${cs.sipPort}`);
    const row = page.locator('[data-testid=live-table] tbody tr', { hasText: '+4930123456' });
    await row.waitFor({ timeout: 15_000 });
    await expect(row.textContent()).resolves.toContain('Trading desk');
    // The packet count grows while the call runs (the page is updated by server-sent events).
    await expect.poll(async () => Number(await row.locator('td:nth-child(7)').textContent()), { timeout: 10_000 }).toBeGreaterThan(50);
    await shot(page, 'auditor-live');
    const result = await sipp;
    expect(result.code, result.errors).toBe(0);
    await row.waitFor({ state: 'detached', timeout: 15_000 });
    await cs.waitForLog((l) => l['msg'] === 'recording finished');

    await page.locator('nav a', { hasText: 'Recordings' }).click();
    await page.locator('input[name=text]').fill('4989765432');
    await page.getByRole('button', { name: 'Search' }).click();
    const hit = page.locator('[data-testid=recordings-table] tbody tr', { hasText: 'Alice Anders' });
    await hit.waitFor();
    await expect(page.locator('[data-testid=recordings-table] tbody tr').count()).resolves.toBe(1);
    await hit.locator('button.link').click();
    const detail = page.locator('section.detail');
    await detail.locator('audio').waitFor();

    // Play to the end: the audio element reaches `ended`.
    const played = await page.evaluate<number>(`(async () => {
      const audio = document.querySelector('section.detail audio');
      audio.muted = true;
      const ended = new Promise((res, rej) => {
        audio.addEventListener('ended', () => res(audio.duration));
        audio.addEventListener('error', () => rej(new Error('media error ' + String(audio.error && audio.error.code))));
      });
      await audio.play();
      return ended;
    })()`);
    expect(played).toBeGreaterThan((pcapMs + 3000) / 1000);
    await shot(page, 'auditor-recording');

    await detail.getByRole('button', { name: 'Verify' }).click();
    await expect(page.locator('[data-testid=verify-result]').textContent()).resolves.toContain('Verified');

    const [download] = await Promise.all([page.waitForEvent('download'), detail.locator('[data-testid=kit]').click()]);
    const kitDir = mkdtempSync(join(dir, 'kit-'));
    await download.saveAs(join(kitDir, 'kit.zip'));
    run('unzip', ['-q', 'kit.zip'], kitDir);
    const baseName = download.suggestedFilename().replace(/\.zip$/, '');
    expect(run('bash', ['verify.sh', '--cert', 'callseal-cert.pem', baseName], kitDir)).toMatch(/OK/);

    // The accesses are in the audit trail, shown to the auditor.
    await page.locator('nav a', { hasText: 'Audit trail' }).click();
    const audit = page.locator('[data-testid=audit-table]');
    await audit.locator('td', { hasText: 'export-kit' }).first().waitFor();
    for (const action of ['play', 'verify', 'login']) await expect(audit.locator('td', { hasText: new RegExp(`^${action}$`) }).count()).resolves.toBeGreaterThan(0);
    await shot(page, 'auditor-audit');
    await noHorizontalScroll(page);
    await context.close();
  });

  it('the auditor exports the search as a ZIP and sets a legal hold by number, which the recording shows', async () => {
    const { context, page } = await newPage();
    await logIn(page, 'audrey', AUDITOR_PASSWORD);
    await openPage(page, 'Recordings');
    await page.locator('input[name=text]').fill('+49 89 765432');
    await page.getByRole('button', { name: 'Search' }).click();
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('[data-testid=export]').click()]);
    const exportDir = mkdtempSync(join(dir, 'export-'));
    await download.saveAs(join(exportDir, 'export.zip'));
    run('unzip', ['-q', 'export.zip'], exportDir);
    expect(run('sha256sum', ['-c', 'manifest.txt'], exportDir)).toMatch(/_hash\.txt: OK/);
    run('sh', ['-c', 'openssl x509 -in callseal-cert.pem -noout -pubkey > pub.pem'], exportDir);
    expect(run('openssl', ['dgst', '-sha256', '-verify', 'pub.pem', '-signature', 'manifest.sig', 'manifest.txt'], exportDir)).toContain('Verified OK');
    const hash = run('find', ['recordings', '-name', '*_hash.txt'], exportDir).trim();
    expect(run('bash', ['verify.sh', hash.replace(/_hash\.txt$/, '')], exportDir)).toMatch(/OK/);

    await openPage(page, 'Legal holds');
    await page.locator('input[name=number]').fill('089 765432');
    await page.locator('input[name=reason]').fill('client request 2026-04');
    await page.getByRole('button', { name: 'Set a legal hold' }).click();
    await page.locator('[data-testid=holds-table] td', { hasText: 'client request 2026-04' }).waitFor();
    await expect(page.locator('[data-testid=holds-table] tbody tr').first().textContent()).resolves.toContain('+4989765432');
    // An auditor sets holds; only admins release them.
    await expect(page.getByRole('button', { name: 'Release' }).count()).resolves.toBe(0);
    await shot(page, 'auditor-holds');

    await openPage(page, 'Recordings');
    await page.locator('input[name=text]').fill('4989765432');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.locator('[data-testid=recordings-table] tbody tr button.link').first().click();
    await expect(page.locator('[data-testid=holds]').textContent()).resolves.toContain('client request 2026-04');
    await expect(page.locator('[data-testid=retain-until]').textContent()).resolves.toContain('keep');
    await context.close();
  });

  it('a member sees only its own groups and switches its recording off', async () => {
    const admin = await login(cs.httpPort, 'admin', ADMIN_PASSWORD);
    expect((await admin.call('POST', '/api/accounts', { username: 'molly', displayName: 'Molly Member', roles: ['member'], directoryUserId: 'mallory', password: AUDITOR_PASSWORD })).status).toBe(201);
    const { context, page } = await newPage();
    await logIn(page, 'molly', AUDITOR_PASSWORD);
    // allTextContents() does not wait: poll until the navigation for the member's roles is rendered.
    await expect.poll(() => page.locator('nav a').allTextContents()).toEqual(['My recording groups', 'Certificate']);
    const toggle = page.locator('ul.toggles label', { hasText: 'Desk' });
    await expect(toggle.textContent()).resolves.toContain('active');
    await toggle.locator('input').click();
    await page.locator('ul.toggles label', { hasText: 'inactive' }).waitFor();
    const group = (await admin.call('GET', '/api/groups/desk')).json as { members: { userId: string; active: boolean }[] };
    expect(group.members).toEqual([{ userId: 'mallory', active: false }]);
    await shot(page, 'member-groups');
    await context.close();
  });

  it('shows a hostile display name as text in the header', async () => {
    const { context, page } = await newPage();
    await logIn(page, 'mallory', AUDITOR_PASSWORD);
    await expect(page.locator('header .who').textContent()).resolves.toContain(HOSTILE);
    await expect(page.locator('header img').count()).resolves.toBe(0);
    await expect(page.evaluate<unknown>('window.__pwned')).resolves.toBeUndefined();
    await context.close();
  });

  it('is readable on a phone-sized viewport', async () => {
    const { context, page } = await newPage({ viewport: { width: 390, height: 844 }, isMobile: true });
    await logIn(page, 'audrey', AUDITOR_PASSWORD);
    await expect(page.locator('nav.side').isVisible()).resolves.toBe(false);
    await page.getByRole('button', { name: 'Menu' }).click();
    await page.locator('nav.side a', { hasText: 'Recordings' }).click();
    await page.locator('[data-testid=recordings-table] tbody tr').first().waitFor();
    await noHorizontalScroll(page);
    await shot(page, 'phone-recordings');
    await page.locator('[data-testid=recordings-table] button.link').first().click();
    await page.locator('section.detail audio').waitFor();
    await noHorizontalScroll(page);
    await shot(page, 'phone-recording-detail');
    await page.getByRole('button', { name: 'Menu' }).click();
    await page.locator('nav.side a', { hasText: 'Certificate' }).click();
    await page.locator('[data-testid=fingerprint]').waitFor();
    await noHorizontalScroll(page);
    await shot(page, 'phone-certificate');
    await context.close();
  });

  it('follows the browser language (German) and switches to French', async () => {
    const { context, page } = await newPage({ locale: 'de-DE' });
    await page.goto(base);
    await page.getByRole('button', { name: 'Anmelden' }).waitFor();
    await page.locator('select[name=language]').selectOption('fr');
    await page.getByRole('button', { name: 'Se connecter' }).waitFor();
    await page.locator('input[name=username]').fill('audrey');
    await page.locator('input[name=password]').fill(AUDITOR_PASSWORD);
    await page.getByRole('button', { name: 'Se connecter' }).click();
    await page.locator('nav a', { hasText: 'Enregistrements' }).waitFor();
    await expect(page.evaluate<string>('document.documentElement.lang')).resolves.toBe('fr');
    await page.locator('nav a', { hasText: 'Certificat' }).click();
    const fingerprint = await page.locator('[data-testid=fingerprint]').textContent();
    const ossl = run('openssl', ['x509', '-in', join(cs.home, 'recordings', 'callseal-cert.pem'), '-noout', '-fingerprint', '-sha256']).trim().split('=')[1];
    expect(fingerprint).toBe(ossl);
    await shot(page, 'fr-certificate');
    await page.locator('select[name=language]').selectOption('de');
    await page.getByRole('heading', { name: 'Zertifikat', exact: true }).waitFor();
    await context.close();
  });
});
