import { describe, expect, it } from 'vitest';
import { CallsealError } from './errors.ts';
import { silentLogger } from './log.ts';
import { Teardown, TeardownError } from './teardown.ts';

describe('Teardown', () => {
  it('runs the steps last-registered first', async () => {
    const ran: string[] = [];
    const t = new Teardown(silentLogger());
    t.add('database', () => { ran.push('database'); });
    t.add('media', async () => { await Promise.resolve(); ran.push('media'); });
    t.add('web', () => { ran.push('web'); });
    expect(t.order).toEqual(['web', 'media', 'database']);
    await t.run();
    expect(ran).toEqual(['web', 'media', 'database']);
  });

  it('runs every step when some throw, then rejects naming each failed step', async () => {
    const ran: string[] = [];
    const t = new Teardown(silentLogger());
    t.add('database', () => { ran.push('database'); });
    t.add('media', () => { throw new CallsealError('CS_MEDIA_WORKER_FAILED', 'worker stuck'); });
    t.add('sip', () => Promise.reject(new CallsealError('CS_STATE_CLOSED', 'socket gone')));
    t.add('web', () => { ran.push('web'); });
    const err = await t.run().then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(TeardownError);
    const te = err as TeardownError;
    expect(te.code).toBe('CS_SHUTDOWN_FAILED');
    expect(te.failures.map((f) => f.step)).toEqual(['sip', 'media']);
    expect(te.message).toContain('[media] worker stuck');
    expect(ran).toEqual(['web', 'database']);
  });

  it('runs once however often it is called, and takes no step once running', async () => {
    let n = 0;
    const t = new Teardown(silentLogger());
    t.add('count', () => { n++; });
    await Promise.all([t.run(), t.run()]);
    await t.run();
    expect(n).toBe(1);
    expect(() => { t.add('late', () => undefined); }).toThrow(CallsealError);
  });
});
