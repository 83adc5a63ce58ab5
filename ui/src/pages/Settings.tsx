import { useState, type ReactNode } from 'react';
import { api } from '../api.ts';
import { DeleteButton, DuplicateButton, ErrorText, Field, ListInput, Page, TextInput, useAction, useLoad } from '../components.tsx';
import { useT } from '../i18n.ts';

type Scope = { kind: 'all' } | { kind: 'allUsers' } | { kind: 'groups'; groupIds: string[] } | { kind: 'users'; userIds: string[] } | { kind: 'patterns'; patterns: string[] };
interface Setting {
  id: string; name: string; enabled: boolean; scope: Scope; direction: 'in' | 'out' | 'both'; directCallsToActiveMembers: boolean; excludeInternal: boolean;
  exceptionListIds: string[]; channels: 'caller' | 'callee' | 'stereo' | 'separate'; stopCode: string; targetIds: string[]; explanation?: string;
  retention: 'keep' | { years?: number; days?: number };
  announcementIncoming: string | null; announcementOutgoing: string | null; consent: Consent;
}
/** The consent IVR of incoming calls (C3). */
interface Consent { mode: 'none' | 'opt-in' | 'opt-out' | 'no-choice'; key: string; timeoutMs: number; confirmRecorded?: string; confirmNotRecorded?: string }
const EMPTY: Setting = {
  id: '', name: '', enabled: true, scope: { kind: 'all' }, direction: 'both', directCallsToActiveMembers: false, excludeInternal: false, exceptionListIds: [], channels: 'stereo', stopCode: '*1', targetIds: [], retention: 'keep',
  announcementIncoming: null, announcementOutgoing: null, consent: { mode: 'none', key: '1', timeoutMs: 5000 },
};
const DTMF_KEYS = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '0', '*', '#'];

function scopeList(s: Scope): string[] {
  switch (s.kind) {
    case 'groups': return s.groupIds;
    case 'users': return s.userIds;
    case 'patterns': return s.patterns;
    case 'all': case 'allUsers': return [];
  }
}
function withScope(kind: Scope['kind'], list: string[]): Scope {
  switch (kind) {
    case 'groups': return { kind, groupIds: list };
    case 'users': return { kind, userIds: list };
    case 'patterns': return { kind, patterns: list };
    case 'all': case 'allUsers': return { kind };
  }
}

/** Recording settings (A1-A8) in their order, each with its generated explanation. */
export function Settings(): ReactNode {
  const { t } = useT();
  const { data, error, reload } = useLoad<Setting[]>('/api/settings');
  const [editing, setEditing] = useState<{ item: Setting; isNew: boolean } | null>(null);
  const { message, run } = useAction();
  const move = (i: number, d: number): void => {
    if (!data) return;
    const ids = data.map((s) => s.id);
    const [x] = ids.splice(i, 1);
    if (x === undefined) return;
    ids.splice(i + d, 0, x);
    void run(async () => { await api('PUT', '/api/settings-order', ids); reload(); });
  };
  return (
    <Page title={t('settings')} actions={<button type="button" onClick={() => { setEditing({ item: { ...EMPTY }, isNew: true }); }}>{t('add')}</button>}>
      <ErrorText error={error} />
      {message}
      {editing && <SettingForm initial={editing.item} isNew={editing.isNew} onDone={() => { setEditing(null); reload(); }} />}
      <ol className="cards-list" data-testid="settings-list">
        {data?.map((s, i) => (
          <li key={s.id} className={s.enabled ? 'card' : 'card off'}>
            <h2>{s.name} <span className="muted">({s.id})</span></h2>
            <p className="explanation">{s.explanation}</p>
            <div className="actions">
              <button type="button" onClick={() => { setEditing({ item: s, isNew: false }); }}>{t('edit')}</button>
              <DuplicateButton path={`/api/settings/${encodeURIComponent(s.id)}`} id={s.id} run={run} reload={reload} />
              <button type="button" disabled={i === 0} onClick={() => { move(i, -1); }}>{t('up')}</button>
              <button type="button" disabled={i === data.length - 1} onClick={() => { move(i, 1); }}>{t('down')}</button>
              <DeleteButton path={`/api/settings/${encodeURIComponent(s.id)}`} run={run} reload={reload} />
            </div>
          </li>
        ))}
      </ol>
    </Page>
  );
}

function SettingForm({ initial, isNew, onDone }: { initial: Setting; isNew: boolean; onDone: () => void }): ReactNode {
  const { t } = useT();
  const [s, setS] = useState<Setting>(initial);
  const { message, run } = useAction();
  const lists = useLoad<{ id: string; name: string }[]>('/api/exception-lists').data ?? [];
  const groups = useLoad<{ id: string; name: string }[]>('/api/groups').data ?? [];
  const users = useLoad<{ id: string; name: string }[]>('/api/users').data ?? [];
  const targets = useLoad<{ id: string; name: string; status: string }[]>('/api/targets').data ?? [];
  const sqlLogs = useLoad<{ id: string; name: string; status: string }[]>('/api/sql-logs').data ?? [];
  const save = (): void => {
    const body: Partial<Setting> = { ...s };
    delete body.explanation;
    void run(async () => {
      await (isNew ? api('POST', '/api/settings', body) : api('PUT', `/api/settings/${encodeURIComponent(s.id)}`, body));
      onDone();
    });
  };
  const toggle = (key: 'exceptionListIds' | 'targetIds', id: string, on: boolean): void => {
    setS({ ...s, [key]: on ? [...s[key], id] : s[key].filter((x) => x !== id) });
  };
  return (
    <form className="editor" onSubmit={(e) => { e.preventDefault(); save(); }} aria-label={t('settings')}>
      <Field label={t('id')}>{isNew ? <TextInput name="id" value={s.id} onChange={(v) => { setS({ ...s, id: v }); }} /> : <b>{s.id}</b>}</Field>
      <Field label={t('name')}><TextInput name="name" value={s.name} onChange={(v) => { setS({ ...s, name: v }); }} /></Field>
      <label className="check"><input type="checkbox" name="enabled" checked={s.enabled} onChange={(e) => { setS({ ...s, enabled: e.target.checked }); }} /> {t('enabled')}</label>
      <Field label={t('scope')}>
        <select name="scope" value={s.scope.kind} onChange={(e) => { setS({ ...s, scope: withScope(e.target.value as Scope['kind'], scopeList(s.scope)) }); }}>
          {(['all', 'allUsers', 'groups', 'users', 'patterns'] as const).map((k) => <option key={k} value={k}>{t(k)}</option>)}
        </select>
      </Field>
      {(s.scope.kind === 'groups' || s.scope.kind === 'users') && (s.scope.kind === 'groups' ? groups : users).length <= 200 ? (
        <fieldset><legend>{t(s.scope.kind)}</legend>
          {(s.scope.kind === 'groups' ? groups : users).map((x) => {
            const chosen = scopeList(s.scope);
            return (
              <label key={x.id} className="check">
                <input type="checkbox" name={`scope-${x.id}`} checked={chosen.includes(x.id)} onChange={(e) => { setS({ ...s, scope: withScope(s.scope.kind, e.target.checked ? [...chosen, x.id] : chosen.filter((c) => c !== x.id)) }); }} /> {x.name}
              </label>
            );
          })}
        </fieldset>
      ) : s.scope.kind !== 'all' && s.scope.kind !== 'allUsers' && (
        <Field label={t(s.scope.kind)}><ListInput name="scope-items" value={scopeList(s.scope)} onChange={(v) => { setS({ ...s, scope: withScope(s.scope.kind, v) }); }} /></Field>
      )}
      <Field label={t('direction')}>
        <select name="direction" value={s.direction} onChange={(e) => { setS({ ...s, direction: e.target.value as Setting['direction'] }); }}>
          <option value="both">{t('both')}</option><option value="in">{t('in')}</option><option value="out">{t('out')}</option>
        </select>
      </Field>
      <Field label={t('channels')}>
        <select name="channels" value={s.channels} onChange={(e) => { setS({ ...s, channels: e.target.value as Setting['channels'] }); }}>
          {(['stereo', 'separate', 'caller', 'callee'] as const).map((c) => <option key={c} value={c}>{c}</option>)}
        </select>
      </Field>
      <Field label={t('stopCode')}><TextInput name="stopCode" value={s.stopCode} onChange={(v) => { setS({ ...s, stopCode: v }); }} /></Field>
      <RetentionInput value={s.retention} onChange={(retention) => { setS({ ...s, retention }); }} />
      <AnnouncementFields s={s} setS={setS} />
      <label className="check"><input type="checkbox" checked={s.excludeInternal} onChange={(e) => { setS({ ...s, excludeInternal: e.target.checked }); }} /> {t('excludeInternal')}</label>
      <label className="check"><input type="checkbox" checked={s.directCallsToActiveMembers} onChange={(e) => { setS({ ...s, directCallsToActiveMembers: e.target.checked }); }} /> {t('directCalls')}</label>
      <fieldset><legend>{t('exceptions')}</legend>
        {lists.map((l) => <label key={l.id} className="check"><input type="checkbox" checked={s.exceptionListIds.includes(l.id)} onChange={(e) => { toggle('exceptionListIds', l.id, e.target.checked); }} /> {l.name}</label>)}
      </fieldset>
      <fieldset><legend>{t('targets')} / {t('sqlLogs')}</legend>
        {[...targets, ...sqlLogs].map((x) => (
          <label key={x.id} className="check"><input type="checkbox" disabled={x.status !== 'ok' && !s.targetIds.includes(x.id)} checked={s.targetIds.includes(x.id)} onChange={(e) => { toggle('targetIds', x.id, e.target.checked); }} /> {x.name} <span className="muted">({x.status})</span></label>
        ))}
      </fieldset>
      {message}
      <div className="actions"><button type="submit">{t('save')}</button><button type="button" onClick={onDone}>{t('cancel')}</button></div>
    </form>
  );
}

interface ExceptionList { id: string; name: string; entries: { kind: 'number' | 'regex'; value: string; comment: string }[] }

/** Exception lists (A6): numbers and regular expressions that are never recorded. */
export function ExceptionLists(): ReactNode {
  const { t } = useT();
  const { data, error, reload } = useLoad<ExceptionList[]>('/api/exception-lists');
  const [editing, setEditing] = useState<{ item: ExceptionList; isNew: boolean } | null>(null);
  const { message, run } = useAction();
  const [text, setText] = useState('');
  const startEdit = (item: ExceptionList, isNew: boolean): void => {
    setEditing({ item, isNew });
    setText(item.entries.map((e) => (e.kind === 'regex' ? `re:${e.value}` : e.value) + (e.comment !== '' ? ` # ${e.comment}` : '')).join('\n'));
  };
  const save = (): void => {
    if (!editing) return;
    const entries = text.split('\n').map((l) => l.trim()).filter(Boolean).map((l) => {
      const [v = '', ...c] = l.split(' # ');
      return v.startsWith('re:') ? { kind: 'regex' as const, value: v.slice(3), comment: c.join(' # ') } : { kind: 'number' as const, value: v.trim(), comment: c.join(' # ') };
    });
    const body = { ...editing.item, entries };
    void run(async () => {
      await (editing.isNew ? api('POST', '/api/exception-lists', body) : api('PUT', `/api/exception-lists/${encodeURIComponent(body.id)}`, body));
      setEditing(null);
      reload();
    });
  };
  return (
    <Page title={t('exceptionLists')} actions={<button type="button" onClick={() => { startEdit({ id: '', name: '', entries: [] }, true); }}>{t('add')}</button>}>
      <ErrorText error={error} />
      {editing && (
        <form className="editor" onSubmit={(e) => { e.preventDefault(); save(); }}>
          <Field label={t('id')}>{editing.isNew ? <TextInput name="id" value={editing.item.id} onChange={(v) => { setEditing({ ...editing, item: { ...editing.item, id: v } }); }} /> : <b>{editing.item.id}</b>}</Field>
          <Field label={t('name')}><TextInput name="name" value={editing.item.name} onChange={(v) => { setEditing({ ...editing, item: { ...editing.item, name: v } }); }} /></Field>
          <Field label={`${t('entries')} (+4930123, re:^\\+4989.*$ # comment)`}><textarea name="entries" rows={8} value={text} onChange={(e) => { setText(e.target.value); }} /></Field>
          <div className="actions"><button type="submit">{t('save')}</button><button type="button" onClick={() => { setEditing(null); }}>{t('cancel')}</button></div>
        </form>
      )}
      {message}
      <div className="table-wrap">
        <table>
          <thead><tr><th>{t('id')}</th><th>{t('name')}</th><th>{t('entries')}</th><th /></tr></thead>
          <tbody>
            {data?.map((l) => (
              <tr key={l.id}>
                <td>{l.id}</td><td>{l.name}</td><td>{l.entries.length}</td>
                <td className="actions">
                  <button type="button" onClick={() => { startEdit(l, false); }}>{t('edit')}</button>
                  <DeleteButton path={`/api/exception-lists/${encodeURIComponent(l.id)}`} run={run} reload={reload} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Page>
  );
}

/** F6: years and days, or keep (both empty). */
function RetentionInput({ value, onChange }: { value: Setting['retention']; onChange: (r: Setting['retention']) => void }): ReactNode {
  const { t } = useT();
  const years = value === 'keep' ? '' : String(value.years ?? '');
  const days = value === 'keep' ? '' : String(value.days ?? '');
  const change = (y: string, d: string): void => {
    const r: { years?: number; days?: number } = {};
    if (/^\d+$/.test(y) && Number(y) > 0) r.years = Number(y);
    if (/^\d+$/.test(d) && Number(d) > 0) r.days = Number(d);
    onChange(r.years === undefined && r.days === undefined ? 'keep' : r);
  };
  return (
    <fieldset><legend>{t('retention')} <span className="muted">({t('keep')}: —)</span></legend>
      <Field label={t('years')}><input name="retentionYears" type="number" min={0} max={100} value={years} onChange={(e) => { change(e.target.value, days); }} /></Field>
      <Field label={t('days')}><input name="retentionDays" type="number" min={0} max={36500} value={days} onChange={(e) => { change(years, e.target.value); }} /></Field>
    </fieldset>
  );
}

/** The setting's announcements (C2) and consent IVR (C3), chosen from the announcement library. */
function AnnouncementFields({ s, setS }: { s: Setting; setS: (s: Setting) => void }): ReactNode {
  const { t } = useT();
  const library = useLoad<{ id: string; name: string }[]>('/api/announcements').data ?? [];
  const choose = (name: string, value: string | null | undefined, onChange: (id: string | null) => void): ReactNode => (
    <select name={name} value={value ?? ''} onChange={(e) => { onChange(e.target.value === '' ? null : e.target.value); }}>
      <option value="">{t('noAnnouncement')}</option>
      {library.map((a) => <option key={a.id} value={a.id}>{a.name}</option>)}
    </select>
  );
  const c = s.consent;
  const setConsent = (change: Partial<Consent>): void => { setS({ ...s, consent: { ...c, ...change } }); };
  // An unset confirmation is left out of the body (the API takes an id or nothing).
  const optional = (key: 'confirmRecorded' | 'confirmNotRecorded', id: string | null): void => {
    const { confirmRecorded, confirmNotRecorded, ...rest } = c;
    const kept = { confirmRecorded, confirmNotRecorded, [key]: id ?? undefined };
    setS({ ...s, consent: { ...rest, ...(kept.confirmRecorded !== undefined ? { confirmRecorded: kept.confirmRecorded } : {}), ...(kept.confirmNotRecorded !== undefined ? { confirmNotRecorded: kept.confirmNotRecorded } : {}) } });
  };
  return (
    <fieldset><legend>{t('announcements')}</legend>
      <Field label={t('announcementIncoming')}>{choose('announcementIncoming', s.announcementIncoming, (id) => { setS({ ...s, announcementIncoming: id }); })}</Field>
      <Field label={t('announcementOutgoing')}>{choose('announcementOutgoing', s.announcementOutgoing, (id) => { setS({ ...s, announcementOutgoing: id }); })}</Field>
      <fieldset><legend>{t('consent')}</legend>
        <Field label={t('consentMode')}>
          <select name="consentMode" value={c.mode} onChange={(e) => { setConsent({ mode: e.target.value as Consent['mode'] }); }}>
            <option value="none">{t('consentNone')}</option><option value="opt-in">{t('optIn')}</option>
            <option value="opt-out">{t('optOut')}</option><option value="no-choice">{t('noChoice')}</option>
          </select>
        </Field>
        {c.mode !== 'none' && (<>
          {c.mode !== 'no-choice' && (<>
            <Field label={t('consentKey')}>
              <select name="consentKey" value={c.key} onChange={(e) => { setConsent({ key: e.target.value }); }}>{DTMF_KEYS.map((k) => <option key={k} value={k}>{k}</option>)}</select>
            </Field>
            <Field label={t('consentTimeout')}>
              <input name="consentTimeout" type="number" min={1} max={60} step={1} value={c.timeoutMs / 1000} onChange={(e) => { setConsent({ timeoutMs: Math.round(Number(e.target.value) * 1000) }); }} />
            </Field>
          </>)}
          <Field label={t('confirmRecorded')}>{choose('confirmRecorded', c.confirmRecorded, (id) => { optional('confirmRecorded', id); })}</Field>
          {c.mode !== 'no-choice' && <Field label={t('confirmNotRecorded')}>{choose('confirmNotRecorded', c.confirmNotRecorded, (id) => { optional('confirmNotRecorded', id); })}</Field>}
        </>)}
      </fieldset>
    </fieldset>
  );
}
