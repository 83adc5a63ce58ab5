import { useState, type ReactNode } from 'react';
import { api, when } from '../api.ts';
import { DeleteButton, ErrorText, Field, Page, TextInput, useAction, useLoad } from '../components.tsx';
import { useT } from '../i18n.ts';

const KINDS = ['recording.started', 'recording.stopped', 'call.ended', 'recording.sealed'] as const;
type Kind = (typeof KINDS)[number];
interface Endpoint { id: string; name: string; url: string; events: Kind[]; enabled: boolean; updatedMs: number }
interface Delivery { seq: number; kind: string; state: string; attempts: number; createdMs: number; lastStatus: number | null; lastError: string | null }
interface Form { id: string; name: string; url: string; secret: string; events: Kind[]; enabled: boolean; isNew: boolean }

function Deliveries({ id }: { id: string }): ReactNode {
  const { t, lang } = useT();
  const { data, error } = useLoad<Delivery[]>(`/api/webhooks/${encodeURIComponent(id)}/deliveries`);
  return (
    <>
      <ErrorText error={error} />
      <table data-testid="webhook-deliveries">
        <thead><tr><th>{t('started')}</th><th>{t('events')}</th><th>{t('status')}</th></tr></thead>
        <tbody>
          {data?.map((d) => (
            <tr key={d.seq}><td>{when(d.createdMs, lang)}</td><td>{d.kind}</td>
              <td className={d.state === 'done' ? 'ok' : d.state === 'failed' ? 'error' : ''}>{d.state} ({d.attempts}){d.lastStatus !== null && ` HTTP ${d.lastStatus}`}{d.lastError !== null && ` ${d.lastError}`}</td></tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

/** Webhook endpoints (H8): signed POSTs of the live recording events; secrets go in and never come back. */
export function Webhooks(): ReactNode {
  const { t } = useT();
  const { data, error, reload } = useLoad<Endpoint[]>('/api/webhooks');
  const [form, setForm] = useState<Form | null>(null);
  const [secretOnce, setSecretOnce] = useState<string | null>(null);
  const [shown, setShown] = useState<string | null>(null);
  const { message, run } = useAction();
  const save = (): void => {
    if (!form) return;
    const body = { name: form.name, url: form.url, events: form.events, enabled: form.enabled, ...(form.secret !== '' ? { secret: form.secret } : {}) };
    void run(async () => {
      if (form.isNew) {
        const r = await api<{ secret?: string }>('POST', '/api/webhooks', { id: form.id, ...body });
        setSecretOnce(r.secret ?? null);
      } else {
        await api('PUT', `/api/webhooks/${encodeURIComponent(form.id)}`, body);
      }
      setForm(null);
      reload();
    });
  };
  const toggle = (k: Kind, on: boolean): void => {
    if (form) setForm({ ...form, events: on ? [...form.events, k] : form.events.filter((e) => e !== k) });
  };
  return (
    <Page title={t('webhooks')} actions={<button type="button" onClick={() => { setForm({ id: '', name: '', url: 'https://', secret: '', events: [...KINDS], enabled: true, isNew: true }); }}>{t('add')}</button>}>
      <p className="muted">{t('webhooksHint')}</p>
      <ErrorText error={error} />
      {form && (
        <form className="editor" onSubmit={(e) => { e.preventDefault(); save(); }}>
          {form.isNew && <Field label={t('id')}><TextInput name="id" value={form.id} onChange={(v) => { setForm({ ...form, id: v }); }} /></Field>}
          <Field label={t('name')}><TextInput name="name" value={form.name} onChange={(v) => { setForm({ ...form, name: v }); }} /></Field>
          <Field label={t('url')}><TextInput name="url" type="url" value={form.url} onChange={(v) => { setForm({ ...form, url: v }); }} /></Field>
          <Field label={t('secret')}><TextInput name="secret" type="password" value={form.secret} onChange={(v) => { setForm({ ...form, secret: v }); }} /></Field>
          <fieldset><legend>{t('events')}</legend>
            {KINDS.map((k) => <label key={k} className="check"><input type="checkbox" name={`event-${k}`} checked={form.events.includes(k)} onChange={(e) => { toggle(k, e.target.checked); }} /> {k}</label>)}
          </fieldset>
          <label className="check"><input type="checkbox" name="enabled" checked={form.enabled} onChange={(e) => { setForm({ ...form, enabled: e.target.checked }); }} /> {t('enabled')}</label>
          <div className="actions"><button type="submit">{t('save')}</button><button type="button" onClick={() => { setForm(null); }}>{t('cancel')}</button></div>
        </form>
      )}
      {message}
      {secretOnce !== null && <p className="notice" data-testid="webhook-secret">{t('secretOnce')} <code>{secretOnce}</code> <button type="button" onClick={() => { setSecretOnce(null); }}>{t('close')}</button></p>}
      <div className="table-wrap">
        <table data-testid="webhooks-table">
          <thead><tr><th>{t('id')}</th><th>{t('name')}</th><th>{t('url')}</th><th>{t('events')}</th><th>{t('enabled')}</th><th /></tr></thead>
          <tbody>
            {data?.map((x) => (
              <tr key={x.id}>
                <td>{x.id}</td><td>{x.name}</td><td className="num">{x.url}</td><td>{x.events.join(', ')}</td><td>{x.enabled ? '✓' : '–'}</td>
                <td className="actions">
                  <button type="button" onClick={() => { setForm({ id: x.id, name: x.name, url: x.url, secret: '', events: x.events, enabled: x.enabled, isNew: false }); }}>{t('edit')}</button>
                  <button type="button" onClick={() => { void run(async () => { const r = await api<{ ok: boolean; status: number | null; error?: string }>('POST', `/api/webhooks/${encodeURIComponent(x.id)}/test`); if (!r.ok) throw new Error(r.error ?? `HTTP ${String(r.status)}`); }, t('test')); }}>{t('test')}</button>
                  <button type="button" onClick={() => { setShown(shown === x.id ? null : x.id); }}>{t('deliveries')}</button>
                  <DeleteButton path={`/api/webhooks/${encodeURIComponent(x.id)}`} run={run} reload={reload} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {shown !== null && <Deliveries key={shown} id={shown} />}
    </Page>
  );
}
