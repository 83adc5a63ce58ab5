// Legal holds (F6): list, set, release (admins; with the two-person rule a second admin confirms).
import { useState, type ReactNode } from 'react';
import { api, when } from '../api.ts';
import { ErrorText, Field, Page, TextInput, useAction, useLoad } from '../components.tsx';
import { useT } from '../i18n.ts';
import type { Me } from '../App.tsx';

interface Hold {
  id: number; state: 'active' | 'release-requested' | 'released'; recordingId: string | null; number: string | null; fromMs: number | null; toMs: number | null;
  reason: string; createdBy: string; createdMs: number; releaseRequestedBy: string | null; releasedBy: string | null; releasedMs: number | null;
}

/** The legal holds page: what each hold covers, who set it, and its release. */
export function Holds({ me }: { me: Me }): ReactNode {
  const { t, lang } = useT();
  const { data, error, reload } = useLoad<{ twoPersonRelease: boolean; holds: Hold[] }>('/api/holds');
  const [form, setForm] = useState({ recordingId: '', number: '', from: '', to: '', reason: '' });
  const { message, run } = useAction();
  const add = (): void => {
    const body: Record<string, string> = { reason: form.reason };
    if (form.recordingId !== '') body['recordingId'] = form.recordingId;
    if (form.number !== '') body['number'] = form.number;
    if (form.from !== '') body['from'] = new Date(form.from).toISOString();
    if (form.to !== '') body['to'] = new Date(form.to).toISOString();
    void run(async () => { await api('POST', '/api/holds', body); setForm({ recordingId: '', number: '', from: '', to: '', reason: '' }); reload(); }, t('saved'));
  };
  const release = (id: number): void => { void run(async () => { await api('POST', `/api/holds/${id}/release`); reload(); }); };
  const covers = (h: Hold): string => [
    h.recordingId !== null ? `${t('recordingId')} ${h.recordingId}` : '', h.number !== null ? `${t('number')} ${h.number}` : '',
    h.fromMs !== null ? `${t('from')} ${when(h.fromMs, lang)}` : '', h.toMs !== null ? `${t('to')} ${when(h.toMs, lang)}` : '',
  ].filter(Boolean).join(' · ');
  const set = (k: keyof typeof form) => (v: string): void => { setForm({ ...form, [k]: v }); };
  return (
    <Page title={t('holds')}>
      <p className="muted">{t('holdHint')} {data?.twoPersonRelease === true && t('twoPerson')}</p>
      <ErrorText error={error} />
      {message}
      <form className="editor" aria-label={t('addHold')} onSubmit={(e) => { e.preventDefault(); add(); }}>
        <Field label={t('recordingId')}><TextInput name="recordingId" value={form.recordingId} onChange={set('recordingId')} /></Field>
        <Field label={t('number')}><TextInput name="number" value={form.number} onChange={set('number')} /></Field>
        <Field label={t('from')}><TextInput name="from" type="datetime-local" value={form.from} onChange={set('from')} /></Field>
        <Field label={t('to')}><TextInput name="to" type="datetime-local" value={form.to} onChange={set('to')} /></Field>
        <Field label={t('reason')}><TextInput name="reason" value={form.reason} onChange={set('reason')} /></Field>
        <button type="submit">{t('addHold')}</button>
      </form>
      <div className="table-wrap">
        <table data-testid="holds-table">
          <thead><tr><th>#</th><th>{t('hold')}</th><th>{t('reason')}</th><th>{t('actor')}</th><th>{t('status')}</th><th /></tr></thead>
          <tbody>
            {data?.holds.map((h) => (
              <tr key={h.id}>
                <td>{h.id}</td><td>{covers(h)}</td><td>{h.reason}</td><td>{h.createdBy} · {when(h.createdMs, lang)}</td>
                <td>{h.state === 'released' ? `${t('released')} (${h.releasedBy ?? ''}, ${when(h.releasedMs, lang)})` : h.state === 'release-requested' ? `${t('releaseRequested')} ${h.releaseRequestedBy ?? ''}` : t('active')}</td>
                <td>{h.state !== 'released' && me.roles.includes('admin') && <button type="button" onClick={() => { release(h.id); }}>{t('release')}</button>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Page>
  );
}
