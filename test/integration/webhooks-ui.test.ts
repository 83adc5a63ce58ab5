/**
 * The webhooks page and the live view's mode in Debian's Chromium (playwright-core): the admin adds
 * a webhook endpoint (the generated secret is shown once), a sipp call shows in the live view as a
 * SIPREC call, and the endpoint's receiver (a real HTTP server in the test) gets its
 * `recording.started`, which the page's delivery list shows as delivered. Screenshots go to
 * test-artifacts/ui/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startCallseal, type CallsealProcess } from '../helpers/callseal.ts';
import { ALICE, BOB, rsMetadata, runSipp, siprecScenario, type SippResult } from '../helpers/sipp.ts';
import { twoTonePcap } from '../helpers/pcap.ts';
import { until } from '../helpers/api.ts';

const ADMIN_PASSWORD = 'webhooks-ui-admin-1';
const SHOTS = resolve(import.meta.dirname, '../../test-artifacts/ui');

let cs: CallsealProcess;
let browser: Browser;
let receiver: http.Server;
let receiverUrl: string;
const events: string[] = [];

async function openPage(page: Page, navText: string, heading: string): Promise<void> {
  await page.locator('nav a', { hasText: navText }).click();
  await page.locator('section.page > header.page-head h1').getByText(heading, { exact: true }).waitFor();
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  receiver = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => { events.push(String(req.headers['callseal-event'])); res.writeHead(204).end(); });
  });
  await new Promise<void>((r) => { receiver.listen(0, '127.0.0.1', r); });
  receiverUrl = `http://127.0.0.1:${String((receiver.address() as AddressInfo).port)}/hook`;
  cs = await startCallseal({ env: { CALLSEAL_ADMIN_PASSWORD: ADMIN_PASSWORD } });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
}, 60_000);

afterAll(async () => {
  await browser.close();
  await cs.stop();
  receiver.closeAllConnections();
  await new Promise<void>((r) => { receiver.close(() => { r(); }); });
});

describe('webhooks and the call mode in the UI (Chromium)', () => {
  it('the admin adds a webhook; the live view shows the SIPREC call\'s mode; the delivery shows as done', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US' });
    const page = await context.newPage();
    page.on('pageerror', (err) => { throw err; });
    await page.goto(`http://127.0.0.1:${String(cs.httpPort)}/`);
    await page.locator('input[name=username]').fill('admin');
    await page.locator('input[name=password]').fill(ADMIN_PASSWORD);
    await page.locator('form.login button[type=submit]').click();
    await page.locator('header.top').waitFor();

    await openPage(page, 'Webhooks', 'Webhooks');
    await page.locator('section.page > header.page-head').getByRole('button', { name: 'Add', exact: true }).click();
    const form = page.locator('form.editor');
    await form.locator('input[name=id]').fill('cti');
    await form.locator('input[name=name]').fill('CTI server');
    // A scheme other than http(s) is refused and named.
    await form.locator('input[name=url]').fill('ftp://127.0.0.1/hook');
    await form.getByRole('button', { name: 'Save' }).click();
    await page.locator('[role=alert]', { hasText: 'only http and https' }).waitFor();
    await form.locator('input[name=url]').fill(receiverUrl);
    await form.locator('input[name="event-recording.sealed"]').uncheck();
    await form.getByRole('button', { name: 'Save' }).click();
    await expect(page.locator('[data-testid=webhook-secret] code').textContent()).resolves.toMatch(/^[A-Za-z0-9_-]{43}$/);
    const row = page.locator('[data-testid=webhooks-table] tbody tr', { hasText: 'CTI server' });
    await row.waitFor();
    await expect(row.textContent()).resolves.toContain('recording.started, recording.stopped, call.ended');
    await page.screenshot({ path: join(SHOTS, 'admin-webhooks.png'), fullPage: true });

    await openPage(page, 'Live', 'Running recordings');
    const dir = mkdtempSync(join(tmpdir(), 'callseal-webhooks-ui-'));
    const pcap = join(dir, 'tones.pcap');
    const pcapMs = twoTonePcap(pcap, 2);
    const sipp: Promise<SippResult> = runSipp(dir, siprecScenario({ metadata: rsMetadata(ALICE, BOB), pcap, holdMs: pcapMs + 3000 }), `127.0.0.1:${String(cs.sipPort)}`);
    const live = page.locator('[data-testid=live-table] tbody tr', { hasText: '+4930123456' });
    await live.waitFor({ timeout: 15_000 });
    const mode = live.locator('[data-testid=live-mode]');
    await expect(mode.getAttribute('data-mode')).resolves.toBe('siprec');
    await expect(mode.textContent()).resolves.toBe('SIPREC');
    await expect(page.locator('[data-testid=live-table] thead th').nth(1).textContent()).resolves.toBe('Mode');
    await page.screenshot({ path: join(SHOTS, 'live-mode.png'), fullPage: true });
    const result = await sipp;
    expect(result.code, result.errors).toBe(0);
    await until('the call.ended event', () => events.includes('call.ended'), 20_000);
    expect(events).toEqual(['recording.started', 'recording.stopped', 'call.ended']);

    await openPage(page, 'Webhooks', 'Webhooks');
    await page.locator('[data-testid=webhooks-table] tbody tr', { hasText: 'CTI server' }).getByRole('button', { name: 'Deliveries' }).click();
    const delivered = page.locator('[data-testid=webhook-deliveries] tbody tr');
    await expect.poll(() => delivered.count(), { timeout: 10_000 }).toBe(3);
    await expect(delivered.filter({ hasText: 'recording.started' }).textContent()).resolves.toContain('done (1) HTTP 204');
    await page.screenshot({ path: join(SHOTS, 'admin-webhook-deliveries.png'), fullPage: true });
    await context.close();
  });
});
