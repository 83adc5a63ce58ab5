import { useState, type ReactNode } from 'react';
import { api, when } from '../api.ts';
import { DeleteButton, ErrorText, Field, Page, TextInput, useAction, useLoad } from '../components.tsx';
import { useT } from '../i18n.ts';
import type { Me } from '../App.tsx';

interface Account { username: string; displayName: string; roles: string[]; directoryUserId: string | null; disabled: boolean; lastLoginMs: number | null }
const ROLES = ['admin', 'auditor', 'member'] as const;

/** Accounts and roles (H1): admins configure, auditors search/listen/verify, members toggle their own groups. */
export function Accounts({ me }: { me: Me }): ReactNode {
  const { t, lang } = useT();
  const { data, error, reload } = useLoad<Account[]>('/api/accounts');
  const [form, setForm] = useState<{ a: Account; password: string; isNew: boolean } | null>(null);
  const { message, run } = useAction();
  const save = (): void => {
    if (!form) return;
    const body = { displayName: form.a.displayName, roles: form.a.roles, directoryUserId: form.a.directoryUserId, disabled: form.a.disabled, ...(form.password !== '' ? { password: form.password } : {}) };
    void run(async () => {
      await (form.isNew ? api('POST', '/api/accounts', { username: form.a.username, ...body }) : api('PUT', `/api/accounts/${encodeURIComponent(form.a.username)}`, body));
      setForm(null);
      reload();
    });
  };
  return (
    <Page title={t('accounts')} actions={<button type="button" onClick={() => { setForm({ a: { username: '', displayName: '', roles: ['auditor'], directoryUserId: null, disabled: false, lastLoginMs: null }, password: '', isNew: true }); }}>{t('add')}</button>}>
      <ErrorText error={error} />
      {form && (
        <form className="editor" onSubmit={(e) => { e.preventDefault(); save(); }}>
          <Field label={t('username')}>{form.isNew ? <TextInput name="username" value={form.a.username} onChange={(v) => { setForm({ ...form, a: { ...form.a, username: v } }); }} /> : <b>{form.a.username}</b>}</Field>
          <Field label={t('displayName')}><TextInput name="displayName" value={form.a.displayName} onChange={(v) => { setForm({ ...form, a: { ...form.a, displayName: v } }); }} /></Field>
          <fieldset><legend>{t('roles')}</legend>
            {ROLES.map((r) => (
              <label key={r} className="check"><input type="checkbox" name={`role-${r}`} checked={form.a.roles.includes(r)} onChange={(e) => { setForm({ ...form, a: { ...form.a, roles: e.target.checked ? [...form.a.roles, r] : form.a.roles.filter((x) => x !== r) } }); }} /> {r}</label>
            ))}
          </fieldset>
          <Field label={t('directoryUser')}><TextInput name="directoryUserId" value={form.a.directoryUserId ?? ''} onChange={(v) => { setForm({ ...form, a: { ...form.a, directoryUserId: v === '' ? null : v } }); }} /></Field>
          <Field label={form.isNew ? t('password') : t('newPassword')}><TextInput name="password" type="password" value={form.password} onChange={(v) => { setForm({ ...form, password: v }); }} /></Field>
          <label className="check"><input type="checkbox" checked={form.a.disabled} onChange={(e) => { setForm({ ...form, a: { ...form.a, disabled: e.target.checked } }); }} /> {t('disabled')}</label>
          <div className="actions"><button type="submit">{t('save')}</button><button type="button" onClick={() => { setForm(null); }}>{t('cancel')}</button></div>
        </form>
      )}
      {message}
      <div className="table-wrap">
        <table data-testid="accounts-table">
          <thead><tr><th>{t('username')}</th><th>{t('displayName')}</th><th>{t('roles')}</th><th>{t('directoryUser')}</th><th>{t('lastLogin')}</th><th /></tr></thead>
          <tbody>
            {data?.map((a) => (
              <tr key={a.username} className={a.disabled ? 'off' : ''}>
                <td>{a.username}</td><td>{a.displayName}</td><td>{a.roles.join(', ')}</td><td>{a.directoryUserId}</td><td>{when(a.lastLoginMs, lang)}</td>
                <td className="actions">
                  <button type="button" onClick={() => { setForm({ a, password: '', isNew: false }); }}>{t('edit')}</button>
                  {a.username !== me.username && <DeleteButton path={`/api/accounts/${encodeURIComponent(a.username)}`} run={run} reload={reload} />}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <ChangePassword />
    </Page>
  );
}

function ChangePassword(): ReactNode {
  const { t } = useT();
  const [current, setCurrent] = useState('');
  const [password, setPassword] = useState('');
  const { message, run } = useAction();
  return (
    <form className="editor" onSubmit={(e) => { e.preventDefault(); void run(async () => { await api('PUT', '/api/me/password', { current, password }); setCurrent(''); setPassword(''); }, t('saved')); }}>
      <h2>{t('changePassword')}</h2>
      <Field label={t('currentPassword')}><TextInput name="current" type="password" value={current} onChange={setCurrent} /></Field>
      <Field label={t('newPassword')}><TextInput name="new" type="password" value={password} onChange={setPassword} /></Field>
      <button type="submit">{t('save')}</button>
      {message}
    </form>
  );
}

interface AuditEntry { seq: number; atMs: number; actor: string; address: string; action: string; object: string; details: Record<string, unknown>; outcome: string }

/** The audit trail (H6), append-only, with the state of its hash chain. */
export function Audit(): ReactNode {
  const { t, lang } = useT();
  const [actor, setActor] = useState('');
  const [action, setAction] = useState('');
  const q = new URLSearchParams({ limit: '500', ...(actor !== '' ? { actor } : {}), ...(action !== '' ? { action } : {}) });
  const { data, error } = useLoad<{ entries: AuditEntry[]; chain: { entries: number; brokenAt?: number } }>(`/api/audit?${q.toString()}`);
  return (
    <Page title={t('audit')}>
      <div className="filters">
        <Field label={t('actor')}><TextInput name="actor" value={actor} onChange={setActor} /></Field>
        <Field label={t('action')}><TextInput name="action" value={action} onChange={setAction} /></Field>
      </div>
      <ErrorText error={error} />
      {data && <p className={data.chain.brokenAt === undefined ? 'ok' : 'error'}>{data.chain.brokenAt === undefined ? `${t('chainIntact')} (${data.chain.entries})` : `${t('chainBroken')} ${data.chain.brokenAt}`}</p>}
      <div className="table-wrap">
        <table data-testid="audit-table">
          <thead><tr><th>{t('time')}</th><th>{t('actor')}</th><th>{t('action')}</th><th>{t('object')}</th><th>{t('outcome')}</th></tr></thead>
          <tbody>
            {data?.entries.map((e) => (
              <tr key={e.seq}>
                <td>{when(e.atMs, lang)}</td><td>{e.actor} <span className="muted">{e.address}</span></td><td>{e.action}</td>
                <td>{e.object}{typeof e.details['baseName'] === 'string' && <span className="muted"> {e.details['baseName']}</span>}</td><td>{e.outcome}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Page>
  );
}

/** A member's own recording groups: the reference's function key, in the browser (A4). */
export function MyGroups(): ReactNode {
  const { t } = useT();
  const { data, error, reload } = useLoad<{ groups: { groupId: string; name: string; active: boolean }[] }>('/api/me');
  const { message, run } = useAction();
  return (
    <Page title={t('myGroups')}>
      <p>{t('memberHint')}</p>
      <ErrorText error={error} />
      {data?.groups.length === 0 && <p>{t('noGroups')}</p>}
      <ul className="toggles">
        {data?.groups.map((g) => (
          <li key={g.groupId}>
            <label className="check">
              <input type="checkbox" checked={g.active} onChange={(e) => { void run(async () => { await api('PUT', `/api/me/groups/${encodeURIComponent(g.groupId)}`, { active: e.target.checked }); reload(); }); }} />
              {' '}{g.name} — {g.active ? t('active') : t('inactive')}
            </label>
          </li>
        ))}
      </ul>
      {message}
    </Page>
  );
}
