import { describe, expect, it } from 'vitest';
import { openDatabase } from '../store/index.ts';
import { AuditLog } from './audit.ts';
import { AccountStore } from './accounts.ts';

describe('audit trail', () => {
  it('links every entry to the previous one and finds an entry edited behind its back', () => {
    const db = openDatabase(':memory:');
    const audit = new AuditLog(db);
    for (let i = 0; i < 5; i++) audit.append({ actor: 'alice', address: '127.0.0.1', action: 'play', object: `recording:${i}` }, 1000 + i);
    expect(audit.verify()).toEqual({ entries: 5, brokenAt: undefined });
    expect(audit.query({ actor: 'alice', limit: 2 }).map((e) => e.object)).toEqual(['recording:4', 'recording:3']);
    expect(() => { db.exec("UPDATE audit SET actor = 'bob' WHERE seq = 3"); }).toThrow(/append-only/);
    // Somebody with write access to the file removes the trigger and edits an entry: the chain shows it.
    db.exec("DROP TRIGGER audit_no_update; UPDATE audit SET actor = 'bob' WHERE seq = 3");
    expect(audit.verify()).toEqual({ entries: 3, brokenAt: 3 });
  });
});

describe('accounts', () => {
  it('checks passwords, ends idle sessions and those of a disabled account', async () => {
    const db = openDatabase(':memory:');
    const accounts = new AccountStore(db, { idleMinutes: 30, maxHours: 12 });
    await accounts.create({ username: 'alice', displayName: 'Alice', roles: ['auditor'], password: 'correct horse battery' }, 0);
    expect(await accounts.authenticate('alice', 'wrong password!')).toBeUndefined();
    expect(await accounts.authenticate('nobody', 'correct horse battery')).toBeUndefined();
    expect((await accounts.authenticate('alice', 'correct horse battery', 5))?.lastLoginMs).toBe(5);
    const s = accounts.openSession('alice', '127.0.0.1', 0);
    expect(accounts.session(s.id, 29 * 60_000)?.account.username).toBe('alice');
    // Touched at 29 min: idle until 59 min; a request at 60 min is too late.
    expect(accounts.session(s.id, 60 * 60_000)).toBeUndefined();
    const s2 = accounts.openSession('alice', '127.0.0.1', Date.now());
    await accounts.update('alice', { displayName: 'Alice', roles: ['auditor'], disabled: true });
    expect(accounts.session(s2.id)).toBeUndefined();
    expect(await accounts.authenticate('alice', 'correct horse battery')).toBeUndefined();
    expect(JSON.stringify(accounts.list())).not.toMatch(/argon2/);
  });
});
