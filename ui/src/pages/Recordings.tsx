import { useState, type ReactNode, type SyntheticEvent } from 'react';
import { api, bytes, duration, get, when } from '../api.ts';
import { ErrorText, Field, Page, useAction, useLoad } from '../components.tsx';
import { useT } from '../i18n.ts';

interface Party { number: string; name: string }
interface Summary {
  id: string; baseName: string; startMs: number; durationMs: number; caller: Party; callee: Party; direction: string; setting: string;
  interrupted: boolean; local: boolean; readable: boolean; archive: { targetId: string; state: string; lastError: string | null }[];
  retention: 'keep' | { years?: number; days?: number }; retainUntilMs: number | null;
  deletion: { startedMs: number; record: string | null; complete: boolean } | null;
  holds: { id: number; reason: string; createdBy: string; createdMs: number; releaseRequested: boolean }[];
}
interface Detail extends Summary {
  callId: string; codec: string; channels: string; chain: { epoch: number; sequence: number };
  files: { name: string; size: number | null; playable: boolean }[];
  accesses: { seq: number; atMs: number; actor: string; action: string; details: Record<string, unknown> }[];
}
interface Check { ok: boolean; signature: string; matchesLog: boolean; files: { name: string; ok: boolean; problem?: string }[] }

function party(p: Party): ReactNode {
  return <>{p.name !== '' && <span>{p.name} </span>}<span className="num">{p.number}</span></>;
}

/** The recording browser (H3): search, open, play, download, verify. */
export function Recordings(): ReactNode {
  const { t, lang } = useT();
  const [form, setForm] = useState({ text: '', from: '', to: '', direction: '', setting: '' });
  const [query, setQuery] = useState('');
  // The export takes the search's number (when the text is one) and period (H7).
  const [exportQuery, setExportQuery] = useState('');
  const [open, setOpen] = useState<string | null>(null);
  const { data, error } = useLoad<{ total: number; items: Summary[] }>(`/api/recordings?limit=100${query}`);
  const submit = (e: SyntheticEvent): void => {
    e.preventDefault();
    const p = new URLSearchParams();
    if (form.text !== '') p.set('text', form.text);
    if (form.from !== '') p.set('from', new Date(form.from).toISOString());
    if (form.to !== '') p.set('to', new Date(form.to).toISOString());
    if (form.direction !== '') p.set('direction', form.direction);
    if (form.setting !== '') p.set('setting', form.setting);
    setQuery(p.size > 0 ? `&${p.toString()}` : '');
    const x = new URLSearchParams();
    if (/^[0-9+*#()\s./-]+$/.test(form.text)) x.set('number', form.text);
    if (form.from !== '') x.set('from', new Date(form.from).toISOString());
    if (form.to !== '') x.set('to', new Date(form.to).toISOString());
    setExportQuery(x.size > 0 ? x.toString() : '');
  };
  const set = (k: keyof typeof form) => (e: { target: { value: string } }): void => { setForm({ ...form, [k]: e.target.value }); };
  return (
    <Page title={t('recordings')}>
      <form className="filters" onSubmit={submit} role="search">
        <Field label={t('searchText')}><input name="text" value={form.text} onChange={set('text')} /></Field>
        <Field label={t('from')}><input name="from" type="datetime-local" value={form.from} onChange={set('from')} /></Field>
        <Field label={t('to')}><input name="to" type="datetime-local" value={form.to} onChange={set('to')} /></Field>
        <Field label={t('direction')}>
          <select name="direction" value={form.direction} onChange={set('direction')}>
            <option value="">{t('any')}</option><option value="in">{t('in')}</option><option value="out">{t('out')}</option>
            <option value="internal">{t('internal')}</option><option value="unknown">{t('unknown')}</option>
          </select>
        </Field>
        <Field label={t('setting')}><input name="setting" value={form.setting} onChange={set('setting')} /></Field>
        <button type="submit">{t('search')}</button>
        <a className="button" href={`/api/recordings.csv?limit=500${query}`}>{t('csvExport')}</a>
        {exportQuery !== '' ? <a className="button" href={`/api/export?${exportQuery}`} download data-testid="export">{t('exportZip')}</a> : <span className="muted">{t('exportHint')}</span>}
      </form>
      <ErrorText error={error} />
      {data && <p className="muted">{data.total} {t('results')}</p>}
      {data && (
        <div className="table-wrap">
          <table data-testid="recordings-table">
            <thead><tr><th>{t('started')}</th><th>{t('caller')}</th><th>{t('callee')}</th><th>{t('direction')}</th><th>{t('setting')}</th><th>{t('duration')}</th><th>{t('archive')}</th></tr></thead>
            <tbody>
              {data.items.map((r) => (
                <tr key={r.id} className={open === r.id ? 'selected' : ''}>
                  <td><button type="button" className="link" onClick={() => { setOpen(r.id); }}>{when(r.startMs, lang)}</button></td>
                  <td>{party(r.caller)}</td><td>{party(r.callee)}</td><td>{t(r.direction === 'in' || r.direction === 'out' || r.direction === 'internal' ? r.direction : 'unknown')}</td>
                  <td>{r.setting}</td><td>{duration(r.durationMs)}{r.interrupted && <span className="tag">{t('interrupted')}</span>}</td>
                  <td>{r.archive.length === 0 ? t('local') : r.archive.map((a) => `${a.targetId}: ${a.state}`).join(', ')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {open !== null && <RecordingDetail id={open} onClose={() => { setOpen(null); }} />}
    </Page>
  );
}

function RecordingDetail({ id, onClose }: { id: string; onClose: () => void }): ReactNode {
  const { t, lang } = useT();
  const { data, error, reload } = useLoad<Detail>(`/api/recordings/${encodeURIComponent(id)}`);
  const [check, setCheck] = useState<Check>();
  const { message, run } = useAction();
  const base = `/api/recordings/${encodeURIComponent(id)}`;
  const verify = (): void => { void run(async () => { setCheck(await get<Check>(`${base}/verify`)); reload(); }); };
  const deleteLocal = (): void => { if (confirm(t('confirmDelete'))) void run(async () => { await api('DELETE', `${base}/local`); reload(); }); };
  return (
    <section className="detail" aria-label={data?.baseName ?? id}>
      <header className="page-head"><h2>{data?.baseName}</h2><button type="button" onClick={onClose}>{t('close')}</button></header>
      <ErrorText error={error} />
      {data && (
        <>
          <dl className="facts">
            <dt>{t('caller')}</dt><dd>{party(data.caller)}</dd><dt>{t('callee')}</dt><dd>{party(data.callee)}</dd>
            <dt>{t('started')}</dt><dd>{when(data.startMs, lang)}</dd><dt>{t('duration')}</dt><dd>{duration(data.durationMs)}</dd>
            <dt>{t('setting')}</dt><dd>{data.setting}</dd><dt>Call-ID</dt><dd className="num">{data.callId}</dd>
            <dt>{t('codec')}</dt><dd>{data.codec} · {data.channels}</dd><dt>{t('chainLink')}</dt><dd>{data.chain.epoch}:{data.chain.sequence}</dd>
            <dt>{t('local')}</dt><dd>{data.local ? t('yes') : t('no')}</dd>
            <dt>{t('retention')}</dt><dd>{data.retention === 'keep' ? t('keep') : `${data.retention.years !== undefined ? `${data.retention.years} ${t('years')} ` : ''}${data.retention.days !== undefined ? `${data.retention.days} ${t('days')}` : ''}`}</dd>
            <dt>{t('retainUntil')}</dt><dd data-testid="retain-until">{data.retainUntilMs !== null ? when(data.retainUntilMs, lang) : t('keep')}</dd>
            <dt>{t('hold')}</dt><dd data-testid="holds">{data.holds.length === 0 ? t('none') : data.holds.map((h) => `#${h.id} ${h.reason} (${h.createdBy})`).join('; ')}</dd>
            {data.deletion !== null && <><dt>{t('deletedByRetention')}</dt><dd>{when(data.deletion.startedMs, lang)} · {data.deletion.record}</dd></>}
            <dt>{t('archive')}</dt><dd>{data.archive.length === 0 ? t('none') : data.archive.map((a) => `${a.targetId}: ${a.state}${a.lastError !== null ? ` (${a.lastError})` : ''}`).join(', ')}</dd>
          </dl>
          {data.readable && data.files.some((f) => f.playable) && (
            <div className="players">
              {data.files.filter((f) => f.playable).map((f) => (
                <figure key={f.name}><figcaption>{t('play')}: {f.name}</figcaption><audio controls preload="none" src={`${base}/audio?file=${encodeURIComponent(f.name)}`} data-file={f.name} onPlay={() => { setTimeout(reload, 500); }} /></figure>
              ))}
            </div>
          )}
          <h3>{t('files')}</h3>
          <ul className="files">
            {data.files.map((f) => (
              <li key={f.name}>{data.readable ? <a href={`${base}/files/${encodeURIComponent(f.name)}`} download>{f.name}</a> : f.name} {f.size !== null && <span className="muted">{bytes(f.size)}</span>}</li>
            ))}
          </ul>
          <div className="actions">
            {data.readable && <a className="button" href={`${base}/kit.zip`} download data-testid="kit">{t('kit')}</a>}
            {data.readable && <button type="button" onClick={verify}>{t('verify')}</button>}
            {data.local && data.archive.some((a) => a.state === 'done') && <button type="button" className="danger" onClick={deleteLocal}>{t('delete')}: {t('local')}</button>}
          </div>
          {message}
          {check && (
            <div className={check.ok ? 'ok' : 'error'} role="status" data-testid="verify-result">
              {check.ok ? t('verified') : t('notVerified')}
              {!check.ok && <ul>{check.files.filter((f) => !f.ok).map((f) => <li key={f.name}>{f.name}: {f.problem}</li>)}<li>{t('signature')}: {check.signature}</li></ul>}
            </div>
          )}
          <h3>{t('accesses')}</h3>
          <ul className="accesses">{data.accesses.map((a) => <li key={a.seq}>{when(a.atMs, lang)} · {a.actor} · {a.action}</li>)}</ul>
        </>
      )}
    </section>
  );
}
