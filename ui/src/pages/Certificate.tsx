import type { ReactNode } from 'react';
import { ErrorText, Page, useLoad } from '../components.tsx';
import { useT } from '../i18n.ts';
import type { Me } from '../App.tsx';

interface Cert { pem: string; subject: string; fingerprint: string; notBefore: string; notAfter: string; epoch: number; modulusBits: number; spkiSha256: string; qrSvg: string }

/** The signing certificate (E4): PEM, fingerprint, QR code, print view, CSR. */
export function Certificate({ me }: { me: Me }): ReactNode {
  const { t, lang } = useT();
  const { data, error } = useLoad<Cert>('/api/certificate');
  return (
    <Page title={t('certificate')} actions={<button type="button" className="no-print" onClick={() => { window.print(); }}>{t('print')}</button>}>
      <ErrorText error={error} />
      {data && (
        <div className="cert">
          <dl className="facts">
            <dt>{t('subject')}</dt><dd>{data.subject}</dd>
            <dt>{t('fingerprint')}</dt><dd className="num" data-testid="fingerprint">{data.fingerprint}</dd>
            <dt>{t('validUntil')}</dt><dd>{new Date(data.notAfter).toLocaleDateString(lang)}</dd>
            <dt>{t('keySize')}</dt><dd>RSA {data.modulusBits} bit · {t('epoch')} {data.epoch}</dd>
          </dl>
          <p className="hint">{t('certHint')}</p>
          <img className="qr" alt="QR code of the certificate (PEM)" src={`data:image/svg+xml;base64,${btoa(data.qrSvg)}`} />
          <h2>{t('pem')}</h2>
          <pre className="pem">{data.pem}</pre>
          <div className="actions no-print">
            <a className="button" href="/api/certificate.pem" download>{t('download')} PEM</a>
            {me.roles.includes('admin') && <a className="button" href="/api/certificate/csr" download>{t('csr')}</a>}
          </div>
        </div>
      )}
    </Page>
  );
}
