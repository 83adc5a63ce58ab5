import { useState, type ReactNode } from 'react';
import { api } from '../api.ts';
import { DeleteButton, ErrorText, Field, ListInput, Page, TextInput, useAction, useLoad } from '../components.tsx';
import { useT } from '../i18n.ts';

interface User { id: string; name: string; extensions: string[]; directNumbers: string[]; mobileNumbers: string[] }
interface Group { id: string; name: string; numbers: string[]; members: { userId: string; active: boolean }[] }

/** The directory: users, groups and their memberships (A3, A4); CSV import and export. */
export function Directory(): ReactNode {
  const { t } = useT();
  const users = useLoad<User[]>('/api/users');
  const groups = useLoad<Group[]>('/api/groups');
  const [user, setUser] = useState<{ item: User; isNew: boolean } | null>(null);
  const [group, setGroup] = useState<{ item: Group; isNew: boolean } | null>(null);
  const { message, run } = useAction();
  const reload = (): void => { users.reload(); groups.reload(); };
  const importCsv = (kind: 'users' | 'groups', file: File | undefined): void => {
    if (!file) return;
    void run(async () => { await api('PUT', `/api/${kind}.csv`, await file.text()); reload(); }, t('saved'));
  };
  const saveUser = (): void => {
    if (!user) return;
    void run(async () => {
      await (user.isNew ? api('POST', '/api/users', user.item) : api('PUT', `/api/users/${encodeURIComponent(user.item.id)}`, user.item));
      setUser(null);
      reload();
    });
  };
  const saveGroup = (): void => {
    if (!group) return;
    void run(async () => {
      await (group.isNew ? api('POST', '/api/groups', group.item) : api('PUT', `/api/groups/${encodeURIComponent(group.item.id)}`, group.item));
      setGroup(null);
      reload();
    });
  };
  const name = (id: string): string => users.data?.find((u) => u.id === id)?.name ?? id;
  return (
    <Page title={t('directory')}>
      <ErrorText error={users.error ?? groups.error} />
      {message}
      <h2>{t('users')}</h2>
      <div className="actions">
        <button type="button" onClick={() => { setUser({ item: { id: '', name: '', extensions: [], directNumbers: [], mobileNumbers: [] }, isNew: true }); }}>{t('add')}</button>
        <a className="button" href="/api/users.csv" download>{t('exportCsv')}</a>
        <label className="button">{t('importCsv')}<input type="file" accept=".csv,text/csv" hidden onChange={(e) => { importCsv('users', e.target.files?.[0]); }} /></label>
      </div>
      {user && (
        <form className="editor" onSubmit={(e) => { e.preventDefault(); saveUser(); }}>
          <Field label={t('id')}>{user.isNew ? <TextInput name="user-id" value={user.item.id} onChange={(v) => { setUser({ ...user, item: { ...user.item, id: v } }); }} /> : <b>{user.item.id}</b>}</Field>
          <Field label={t('name')}><TextInput name="user-name" value={user.item.name} onChange={(v) => { setUser({ ...user, item: { ...user.item, name: v } }); }} /></Field>
          <Field label={t('extensions')}><ListInput name="extensions" value={user.item.extensions} onChange={(v) => { setUser({ ...user, item: { ...user.item, extensions: v } }); }} /></Field>
          <Field label={t('directNumbers')}><ListInput name="directNumbers" value={user.item.directNumbers} onChange={(v) => { setUser({ ...user, item: { ...user.item, directNumbers: v } }); }} /></Field>
          <Field label={t('mobileNumbers')}><ListInput name="mobileNumbers" value={user.item.mobileNumbers} onChange={(v) => { setUser({ ...user, item: { ...user.item, mobileNumbers: v } }); }} /></Field>
          <div className="actions"><button type="submit">{t('save')}</button><button type="button" onClick={() => { setUser(null); }}>{t('cancel')}</button></div>
        </form>
      )}
      <div className="table-wrap">
        <table data-testid="users-table">
          <thead><tr><th>{t('id')}</th><th>{t('name')}</th><th>{t('extensions')}</th><th>{t('directNumbers')}</th><th>{t('mobileNumbers')}</th><th /></tr></thead>
          <tbody>
            {users.data?.map((u) => (
              <tr key={u.id}>
                <td>{u.id}</td><td>{u.name}</td><td>{u.extensions.join(', ')}</td><td>{u.directNumbers.join(', ')}</td><td>{u.mobileNumbers.join(', ')}</td>
                <td className="actions">
                  <button type="button" onClick={() => { setUser({ item: u, isNew: false }); }}>{t('edit')}</button>
                  <DeleteButton path={`/api/users/${encodeURIComponent(u.id)}`} run={run} reload={reload} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h2>{t('groups')}</h2>
      <div className="actions">
        <button type="button" onClick={() => { setGroup({ item: { id: '', name: '', numbers: [], members: [] }, isNew: true }); }}>{t('add')}</button>
        <a className="button" href="/api/groups.csv" download>{t('exportCsv')}</a>
        <label className="button">{t('importCsv')}<input type="file" accept=".csv,text/csv" hidden onChange={(e) => { importCsv('groups', e.target.files?.[0]); }} /></label>
      </div>
      {group && (
        <form className="editor" onSubmit={(e) => { e.preventDefault(); saveGroup(); }}>
          <Field label={t('id')}>{group.isNew ? <TextInput name="group-id" value={group.item.id} onChange={(v) => { setGroup({ ...group, item: { ...group.item, id: v } }); }} /> : <b>{group.item.id}</b>}</Field>
          <Field label={t('name')}><TextInput name="group-name" value={group.item.name} onChange={(v) => { setGroup({ ...group, item: { ...group.item, name: v } }); }} /></Field>
          <Field label={t('numbers')}><ListInput name="group-numbers" value={group.item.numbers} onChange={(v) => { setGroup({ ...group, item: { ...group.item, numbers: v } }); }} /></Field>
          <Field label={t('members')}><ListInput name="group-members" value={group.item.members.map((m) => m.userId)} onChange={(v) => { setGroup({ ...group, item: { ...group.item, members: v.map((userId) => ({ userId, active: group.item.members.find((m) => m.userId === userId)?.active ?? true })) } }); }} /></Field>
          <div className="actions"><button type="submit">{t('save')}</button><button type="button" onClick={() => { setGroup(null); }}>{t('cancel')}</button></div>
        </form>
      )}
      <div className="table-wrap">
        <table data-testid="groups-table">
          <thead><tr><th>{t('id')}</th><th>{t('name')}</th><th>{t('numbers')}</th><th>{t('members')}</th><th /></tr></thead>
          <tbody>
            {groups.data?.map((g) => (
              <tr key={g.id}>
                <td>{g.id}</td><td>{g.name}</td><td>{g.numbers.join(', ')}</td>
                <td>{g.members.map((m) => (
                  <label key={m.userId} className="check">
                    <input type="checkbox" checked={m.active} onChange={(e) => { void run(async () => { await api('POST', `/api/groups/${encodeURIComponent(g.id)}/members/${encodeURIComponent(m.userId)}/${e.target.checked ? 'login' : 'logout'}`); reload(); }); }} />
                    {' '}{name(m.userId)} ({m.active ? t('active') : t('inactive')})
                  </label>
                ))}</td>
                <td className="actions">
                  <button type="button" onClick={() => { setGroup({ item: g, isNew: false }); }}>{t('edit')}</button>
                  <DeleteButton path={`/api/groups/${encodeURIComponent(g.id)}`} run={run} reload={reload} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Page>
  );
}
