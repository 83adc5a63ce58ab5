// The announcement library (C1): upload WAV or MP3, list with duration and SHA-256, play in the browser, delete.
import { useState, type ReactNode } from 'react';
import { duration, uploadFile, when } from '../api.ts';
import { DeleteButton, ErrorText, Field, Page, TextInput, useAction, useLoad } from '../components.tsx';
import { useT } from '../i18n.ts';
import type { Me } from '../App.tsx';

/** One announcement as the API lists it. */
export interface Announcement {
  id: string; name: string; format: string; sha256: string; sizeBytes: number; durationMs: number; uploadedBy: string; uploadedMs: number; usedBy: string[];
}

export function Announcements({ me }: { me: Me }): ReactNode {
  const { t, lang } = useT();
  const { data, error, reload } = useLoad<Announcement[]>('/api/announcements');
  const { message, run } = useAction();
  const [file, setFile] = useState<File | null>(null);
  const [name, setName] = useState('');
  // A new key remounts the form after an upload, which clears the file input (not bound to state).
  const [formKey, setFormKey] = useState(0);
  const admin = me.roles.includes('admin');
  const upload = (): void => {
    if (!file) return;
    const label = name.trim() !== '' ? name.trim() : file.name.replace(/\.[^.]+$/, '');
    void run(async () => {
      await uploadFile(`/api/announcements?name=${encodeURIComponent(label)}`, file);
      setFile(null);
      setName('');
      setFormKey((k) => k + 1);
      reload();
    }, t('saved'));
  };
  return (
    <Page title={t('announcements')}>
      <p className="muted">{t('announcementHint')}</p>
      <ErrorText error={error} />
      {admin && (
        <form key={formKey} className="editor" aria-label={t('upload')} onSubmit={(e) => { e.preventDefault(); upload(); }}>
          <Field label={t('audioFile')}><input name="file" type="file" accept=".wav,.mp3,audio/wav,audio/mpeg" onChange={(e) => { setFile(e.target.files?.[0] ?? null); }} /></Field>
          <Field label={t('name')}><TextInput name="name" value={name} onChange={setName} /></Field>
          <div className="actions"><button type="submit" disabled={!file}>{t('upload')}</button></div>
        </form>
      )}
      {message}
      <table data-testid="announcements">
        <thead><tr><th>{t('name')}</th><th>{t('duration')}</th><th>{t('format')}</th><th>{t('sha256')}</th><th>{t('uploaded')}</th><th>{t('usedBy')}</th><th>{t('play')}</th>{admin && <th />}</tr></thead>
        <tbody>
          {data?.map((a) => (
            <tr key={a.id} data-id={a.id}>
              <td>{a.name}</td>
              <td>{duration(a.durationMs)}</td>
              <td>{a.format}</td>
              <td><code className="hash" title={a.sha256}>{a.sha256}</code></td>
              <td>{when(a.uploadedMs, lang)} <span className="muted">{a.uploadedBy}</span></td>
              <td>{a.usedBy.join(', ')}</td>
              <td><audio controls preload="none" src={`/api/announcements/${encodeURIComponent(a.id)}/audio`} /></td>
              {admin && <td><DeleteButton path={`/api/announcements/${encodeURIComponent(a.id)}`} run={run} reload={reload} /></td>}
            </tr>
          ))}
        </tbody>
      </table>
    </Page>
  );
}
