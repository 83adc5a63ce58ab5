/**
 * The announcement library and the setting's announcement and consent fields in Debian's Chromium
 * (playwright-core), in the style of web-ui.test.ts: the admin uploads a WAV made by sox and an MP3
 * made by ffmpeg, sees their duration and SHA-256 (checked against sha256sum), plays one in the
 * browser to its end, assigns them to a setting with an opt-out IVR, is refused the deletion of one
 * in use, and deletes a free one; the auditor sees the list without the admin's controls; the page
 * reads in German and French. Screenshots go to test-artifacts/ui/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startCallseal, type CallsealProcess } from '../helpers/callseal.ts';
import { login, type WebClient } from '../helpers/web.ts';

const ADMIN_PASSWORD = 'ann-ui-admin-password-1';
const SHOTS = resolve(import.meta.dirname, '../../test-artifacts/ui');

let cs: CallsealProcess;
let browser: Browser;
let dir: string;
let base: string;
let api: WebClient;
let wav: string;
let mp3: string;

async function newPage(locale = 'en-US'): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale });
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

async function openPage(page: Page, navText: string): Promise<void> {
  await page.locator('nav a', { hasText: navText }).click();
  await page.locator('section.page > header.page-head h1').getByText(navText, { exact: true }).waitFor();
}

function sha256sum(path: string): string {
  return execFileSync('sha256sum', [path], { encoding: 'utf8' }).split(' ')[0] ?? '';
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), 'callseal-ann-ui-'));
  wav = join(dir, 'welcome.wav');
  execFileSync('sox', ['-D', '-n', '-r', '22050', '-c', '1', '-b', '16', wav, 'synth', '1.2', 'sine', '500-1500', 'vol', '0.4']);
  mp3 = join(dir, 'objection-noted.mp3');
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'sine=frequency=660:duration=0.8:sample_rate=24000', '-c:a', 'libmp3lame', '-b:a', '48k', mp3]);
  cs = await startCallseal({ env: { CALLSEAL_ADMIN_PASSWORD: ADMIN_PASSWORD } });
  base = `http://127.0.0.1:${cs.httpPort}/`;
  api = await login(cs.httpPort, 'admin', ADMIN_PASSWORD);
  expect((await api.call('POST', '/api/accounts', { username: 'audrey', displayName: 'Audrey', roles: ['auditor'], password: 'ann-ui-auditor-1' })).status).toBe(201);
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run', '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
  });
}, 90_000);

afterAll(async () => {
  await browser.close();
  await cs.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('announcements in the web UI', () => {
  it('the admin uploads a WAV and an MP3, sees duration and SHA-256, and plays one to its end', async () => {
    const { context, page } = await newPage();
    await logIn(page, 'admin', ADMIN_PASSWORD);
    await openPage(page, 'Announcements');
    const form = page.locator('form.editor[aria-label="Upload"]');
    await form.locator('input[name=file]').setInputFiles(wav);
    await form.locator('input[name=name]').fill('Welcome');
    await form.getByRole('button', { name: 'Upload' }).click();
    const rows = page.locator('[data-testid=announcements] tbody tr');
    await rows.filter({ hasText: 'Welcome' }).waitFor();
    // Without a name the file's name is used.
    await form.locator('input[name=file]').setInputFiles(mp3);
    await form.getByRole('button', { name: 'Upload' }).click();
    await rows.filter({ hasText: 'objection-noted' }).waitFor();
    const welcome = rows.filter({ hasText: 'Welcome' });
    await expect(welcome.locator('td:nth-child(2)').textContent()).resolves.toBe('0:01');
    await expect(welcome.locator('code.hash').textContent()).resolves.toBe(sha256sum(wav));
    await expect(rows.filter({ hasText: 'objection-noted' }).locator('code.hash').textContent()).resolves.toBe(sha256sum(mp3));
    await expect(rows.filter({ hasText: 'objection-noted' }).locator('td:nth-child(3)').textContent()).resolves.toBe('mp3');

    const played = await page.evaluate<number>(`(async () => {
      const audio = document.querySelector('[data-testid=announcements] tbody tr audio');
      audio.muted = true;
      const ended = new Promise((res, rej) => {
        audio.addEventListener('ended', () => res(audio.duration));
        audio.addEventListener('error', () => rej(new Error('media error ' + String(audio.error && audio.error.code))));
      });
      await audio.play();
      return ended;
    })()`);
    expect(played).toBeCloseTo(1.2, 1);
    await page.screenshot({ path: join(SHOTS, 'admin-announcements.png'), fullPage: true });
    await context.close();
  });

  it('the admin assigns them to a setting with an opt-out IVR; a used one cannot be deleted, a free one can', async () => {
    const list = (await api.call('GET', '/api/announcements')).json as { id: string; name: string }[];
    const welcome = list.find((a) => a.name === 'Welcome')?.id ?? '';
    const noted = list.find((a) => a.name === 'objection-noted')?.id ?? '';
    const { context, page } = await newPage();
    await logIn(page, 'admin', ADMIN_PASSWORD);
    await openPage(page, 'Settings');
    await page.locator('[data-testid=settings-list] li', { hasText: 'Record all calls' }).getByRole('button', { name: 'Edit' }).click();
    const form = page.locator('form.editor[aria-label="Settings"]');
    await form.locator('select[name=announcementIncoming]').selectOption({ label: 'Welcome' });
    await form.locator('select[name=consentMode]').selectOption('opt-out');
    await form.locator('select[name=consentKey]').selectOption('#');
    await form.locator('input[name=consentTimeout]').fill('4');
    await form.locator('select[name=confirmNotRecorded]').selectOption({ label: 'objection-noted' });
    await page.screenshot({ path: join(SHOTS, 'admin-setting-consent.png'), fullPage: true });
    await form.getByRole('button', { name: 'Save' }).click();
    await form.waitFor({ state: 'detached' });
    const setting = (await api.call('GET', '/api/settings/record-all')).json as Record<string, unknown>;
    expect(setting).toMatchObject({ announcementIncoming: welcome, announcementOutgoing: null, consent: { mode: 'opt-out', key: '#', timeoutMs: 4000, confirmNotRecorded: noted } });

    await openPage(page, 'Announcements');
    const row = page.locator('[data-testid=announcements] tbody tr', { hasText: 'Welcome' });
    await expect(row.locator('td:nth-child(6)').textContent()).resolves.toBe('record-all');
    page.once('dialog', (d) => { void d.accept(); });
    await row.getByRole('button', { name: 'Delete' }).click();
    await page.locator('[role=alert]', { hasText: 'is used by the settings "record-all"' }).waitFor();
    await expect(page.locator('[data-testid=announcements] tbody tr').count()).resolves.toBe(2);

    // Free the confirmation, then delete it from the library.
    expect((await api.call('PUT', '/api/settings/record-all', { ...setting, explanation: undefined, consent: { mode: 'opt-out', key: '#', timeoutMs: 4000 } })).status).toBe(200);
    await page.reload();
    const free = page.locator('[data-testid=announcements] tbody tr', { hasText: 'objection-noted' });
    page.once('dialog', (d) => { void d.accept(); });
    await free.getByRole('button', { name: 'Delete' }).click();
    await free.waitFor({ state: 'detached' });
    await context.close();
  });

  it('the auditor sees the library without upload or delete', async () => {
    const { context, page } = await newPage();
    await logIn(page, 'audrey', 'ann-ui-auditor-1');
    await openPage(page, 'Announcements');
    await page.locator('[data-testid=announcements] tbody tr', { hasText: 'Welcome' }).waitFor();
    await expect(page.locator('form.editor').count()).resolves.toBe(0);
    await expect(page.getByRole('button', { name: 'Delete' }).count()).resolves.toBe(0);
    await context.close();
  });

  it('reads in German and French', async () => {
    for (const [locale, nav, upload] of [['de-DE', 'Ansagen', 'Hochladen'], ['fr-FR', 'Annonces', 'Téléverser']] as const) {
      const { context, page } = await newPage(locale);
      await logIn(page, 'admin', ADMIN_PASSWORD);
      await openPage(page, nav);
      await page.getByRole('button', { name: upload }).waitFor();
      await page.screenshot({ path: join(SHOTS, `admin-announcements-${locale}.png`), fullPage: true });
      await context.close();
    }
  });
});
