// German, English and French (H4). The language follows the browser and can be switched; the choice is kept.
import { createContext, useContext } from 'react';

const en = {
  mode: 'Mode', modeSiprec: 'SIPREC', modeInline: 'In-line', webhooks: 'Webhooks', url: 'URL', secret: 'Secret (empty: keep, or generate for a new one)',
  events: 'Events', pending: 'Pending', deliveries: 'Deliveries', secretOnce: 'The generated secret, shown only now:',
  webhooksHint: 'Each live recording event is sent as a signed JSON POST (header callseal-signature: t=…,v1=HMAC-SHA256 of "t.body"). Only http and https URLs; redirects are not followed.',
  endpoint: 'Endpoint (https://...)', region: 'Region', bucket: 'Bucket', accessKeyId: 'Access key id', secretAccessKey: 'Secret access key', pathStyle: 'Path-style addressing',
  prefix: 'Key prefix', lockMode: 'Object Lock mode', checksumSha256: 'Also send SHA-256 checksums (AWS S3)', signInKind: 'Sign-in', tenant: 'Tenant (directory id or domain)',
  clientId: 'Application (client) id', clientSecret: 'Client secret', certificatePem: 'Certificate (PEM, instead of a secret)', privateKeyPem: 'Certificate private key (PEM)',
  driveId: 'Drive id', siteId: 'SharePoint site id', userId: 'User (id or UPN)', retentionLabel: 'Retention label', authorityHost: 'Sign-in host', graphBaseUrl: 'Microsoft Graph URL',
  signIn: 'Sign in',
  epoch: 'chain epoch', codec: 'Codec', chainLink: 'Chain link (epoch:sequence)', signature: 'Signature', keySize: 'Key', connected: 'connected', disconnected: 'disconnected',
  tlsOnConnect: 'TLS from the start (port 465)', useFile: 'Use the configuration file', source: 'Source', sourceUi: 'entered here', sourceFile: 'configuration file', passwordKept: 'empty: keep the stored password',
  appTitle: 'callseal', login: 'Log in', logout: 'Log out', username: 'User name', password: 'Password', wrongLogin: 'Wrong user name or password',
  language: 'Language', dashboard: 'Dashboard', live: 'Live', recordings: 'Recordings', settings: 'Settings', directory: 'Directory',
  exceptionLists: 'Exception lists', targets: 'Storage targets', sqlLogs: 'SQL logs', alerts: 'E-mail alerts', certificate: 'Certificate',
  accounts: 'Accounts', audit: 'Audit trail', myGroups: 'My recording groups', menu: 'Menu',
  sipListener: 'SIP listener', recordingsToday: 'Recordings today', totalSealed: 'Sealed in total', diskFree: 'Disk space left',
  outboxBacklog: 'Archive backlog', failingTargets: 'Failing targets', lastErrors: 'Last errors', none: 'none', running: 'Running recordings',
  diskWarning: 'Disk space is running out', caller: 'Caller', callee: 'Callee', setting: 'Setting', duration: 'Duration', packets: 'Packets', loss: 'Loss',
  started: 'Started', noLive: 'No call is being recorded right now.', search: 'Search', searchText: 'Number, name or call ID', from: 'From', to: 'To',
  direction: 'Direction', any: 'any', in: 'incoming', out: 'outgoing', internal: 'internal', unknown: 'unknown', results: 'results',
  play: 'Play', download: 'Download', kit: 'Verification kit (ZIP)', verify: 'Verify', verified: 'Verified: hashes, signature and log entry match',
  notVerified: 'Verification failed', interrupted: 'interrupted', archive: 'Archive', local: 'Local copy', yes: 'yes', no: 'no', files: 'Files',
  accesses: 'Accesses', close: 'Close', csvExport: 'Export as CSV', name: 'Name', enabled: 'Enabled', scope: 'Applies to', explanation: 'Explanation',
  add: 'Add', save: 'Save', cancel: 'Cancel', delete: 'Delete', duplicate: 'Duplicate', edit: 'Edit', up: 'Up', down: 'Down', id: 'ID',
  channels: 'Channels', stopCode: 'Stop code', exceptions: 'Exception lists', excludeInternal: 'Not for internal calls', directCalls: 'Also direct calls to active members',
  all: 'all calls', allUsers: 'all users', groups: 'groups', users: 'users', patterns: 'number patterns', both: 'both', saved: 'Saved',
  extensions: 'Extensions', directNumbers: 'Direct numbers', mobileNumbers: 'Mobile numbers', numbers: 'Numbers', members: 'Members', active: 'active', inactive: 'inactive',
  importCsv: 'Import CSV', exportCsv: 'Export CSV', entries: 'Entries', kind: 'Kind', test: 'Test', status: 'Status', pathTemplate: 'Folder template',
  host: 'Host', port: 'Port', share: 'Share', folder: 'Folder', hostKey: 'Host key (SHA256:...)', domain: 'Domain', path: 'Path', createTable: 'Create table',
  database: 'Database', dialect: 'Database type', table: 'Table', user: 'User', recipients: 'Recipients', sender: 'Sender', smtpServer: 'SMTP server',
  sendTest: 'Send test mail', notConfigured: 'not configured (see the configuration file, alerts.smtp)', sent: 'sent', fingerprint: 'SHA-256 fingerprint',
  subject: 'Subject', validUntil: 'Valid until', print: 'Print', csr: 'Certificate signing request', pem: 'Certificate (PEM)', roles: 'Roles', displayName: 'Display name',
  disabled: 'Disabled', lastLogin: 'Last login', newPassword: 'New password', time: 'Time', actor: 'Who', action: 'Action', object: 'What', outcome: 'Result',
  chainIntact: 'Audit chain intact', chainBroken: 'Audit chain broken at entry', memberHint: 'Switch your recording on or off for each group you belong to.',
  noGroups: 'Your account is not a member of any recording group.', loggedInAs: 'Logged in as', confirmDelete: 'Delete this?', error: 'Error',
  certHint: 'Compare this fingerprint with the one in a verification kit: only then does a kit prove anything.', directoryUser: 'Directory user',
  changePassword: 'Change password', currentPassword: 'Current password', version: 'Version',
  retention: 'Retention', keep: 'keep (never delete)', years: 'years', days: 'days', retainUntil: 'Kept until', holds: 'Legal holds', hold: 'Legal hold',
  addHold: 'Set a legal hold', reason: 'Reason', release: 'Release', releaseRequested: 'release requested by', released: 'released', recordingId: 'Recording ID',
  holdHint: 'A legal hold stops the deletion of every recording it matches (a recording, a number, a period, or all of these) until it is released.',
  twoPerson: 'Two-person rule: the release takes two admins, one asks and a second confirms.', exportZip: 'Export (ZIP)',
  exportHint: 'Export needs a number in the search field or a period.', deletedByRetention: 'Deleted by retention', number: 'Number',
};

export type Key = keyof typeof en;
type Dictionary = Record<Key, string>;

const de: Dictionary = {
  mode: 'Modus', modeSiprec: 'SIPREC', modeInline: 'In-line', webhooks: 'Webhooks', url: 'URL', secret: 'Geheimnis (leer: behalten, bzw. für ein neues erzeugen)',
  events: 'Ereignisse', pending: 'Ausstehend', deliveries: 'Zustellungen', secretOnce: 'Das erzeugte Geheimnis, nur jetzt angezeigt:',
  webhooksHint: 'Jedes Live-Ereignis einer Aufnahme wird als signierter JSON-POST gesendet (Header callseal-signature: t=…,v1=HMAC-SHA256 von "t.body"). Nur http- und https-URLs; Weiterleitungen werden nicht verfolgt.',
  endpoint: 'Endpunkt (https://...)', region: 'Region', bucket: 'Bucket', accessKeyId: 'Zugriffsschlüssel-ID', secretAccessKey: 'Geheimer Zugriffsschlüssel', pathStyle: 'Pfad-Adressierung',
  prefix: 'Schlüssel-Präfix', lockMode: 'Object-Lock-Modus', checksumSha256: 'Auch SHA-256-Prüfsummen senden (AWS S3)', signInKind: 'Anmeldung', tenant: 'Mandant (Verzeichnis-ID oder Domäne)',
  clientId: 'Anwendungs-ID (Client)', clientSecret: 'Geheimer Clientschlüssel', certificatePem: 'Zertifikat (PEM, statt eines Geheimnisses)', privateKeyPem: 'Privater Schlüssel des Zertifikats (PEM)',
  driveId: 'Laufwerks-ID', siteId: 'SharePoint-Website-ID', userId: 'Benutzer (ID oder UPN)', retentionLabel: 'Aufbewahrungsbezeichnung', authorityHost: 'Anmelde-Host', graphBaseUrl: 'Microsoft-Graph-URL',
  signIn: 'Anmelden',
  epoch: 'Kettenepoche', codec: 'Codec', chainLink: 'Kettenglied (Epoche:Nummer)', signature: 'Signatur', keySize: 'Schlüssel', connected: 'verbunden', disconnected: 'getrennt',
  tlsOnConnect: 'TLS von Anfang an (Port 465)', useFile: 'Konfigurationsdatei verwenden', source: 'Quelle', sourceUi: 'hier eingegeben', sourceFile: 'Konfigurationsdatei', passwordKept: 'leer: gespeichertes Passwort behalten',
  appTitle: 'callseal', login: 'Anmelden', logout: 'Abmelden', username: 'Benutzername', password: 'Passwort', wrongLogin: 'Benutzername oder Passwort falsch',
  language: 'Sprache', dashboard: 'Übersicht', live: 'Live', recordings: 'Aufzeichnungen', settings: 'Einstellungen', directory: 'Verzeichnis',
  exceptionLists: 'Ausnahmelisten', targets: 'Speicherziele', sqlLogs: 'SQL-Protokolle', alerts: 'E-Mail-Alarme', certificate: 'Zertifikat',
  accounts: 'Konten', audit: 'Prüfprotokoll', myGroups: 'Meine Aufzeichnungsgruppen', menu: 'Menü',
  sipListener: 'SIP-Empfang', recordingsToday: 'Aufzeichnungen heute', totalSealed: 'Versiegelt insgesamt', diskFree: 'Freier Speicher',
  outboxBacklog: 'Archiv-Rückstau', failingTargets: 'Gestörte Ziele', lastErrors: 'Letzte Fehler', none: 'keine', running: 'Laufende Aufzeichnungen',
  diskWarning: 'Der Speicherplatz wird knapp', caller: 'Anrufer', callee: 'Angerufener', setting: 'Einstellung', duration: 'Dauer', packets: 'Pakete', loss: 'Verlust',
  started: 'Beginn', noLive: 'Zurzeit wird kein Gespräch aufgezeichnet.', search: 'Suchen', searchText: 'Nummer, Name oder Call-ID', from: 'Von', to: 'Bis',
  direction: 'Richtung', any: 'alle', in: 'eingehend', out: 'ausgehend', internal: 'intern', unknown: 'unbekannt', results: 'Treffer',
  play: 'Abspielen', download: 'Herunterladen', kit: 'Prüfpaket (ZIP)', verify: 'Prüfen', verified: 'Geprüft: Hashes, Signatur und Protokolleintrag stimmen',
  notVerified: 'Prüfung fehlgeschlagen', interrupted: 'unterbrochen', archive: 'Archiv', local: 'Lokale Kopie', yes: 'ja', no: 'nein', files: 'Dateien',
  accesses: 'Zugriffe', close: 'Schließen', csvExport: 'Als CSV exportieren', name: 'Name', enabled: 'Aktiv', scope: 'Gilt für', explanation: 'Erläuterung',
  add: 'Hinzufügen', save: 'Speichern', cancel: 'Abbrechen', delete: 'Löschen', duplicate: 'Duplizieren', edit: 'Bearbeiten', up: 'Hoch', down: 'Runter', id: 'ID',
  channels: 'Kanäle', stopCode: 'Stopp-Code', exceptions: 'Ausnahmelisten', excludeInternal: 'Nicht für interne Gespräche', directCalls: 'Auch Direktanrufe an aktive Mitglieder',
  all: 'alle Gespräche', allUsers: 'alle Benutzer', groups: 'Gruppen', users: 'Benutzer', patterns: 'Nummernmuster', both: 'beide', saved: 'Gespeichert',
  extensions: 'Nebenstellen', directNumbers: 'Durchwahlen', mobileNumbers: 'Mobilnummern', numbers: 'Nummern', members: 'Mitglieder', active: 'aktiv', inactive: 'inaktiv',
  importCsv: 'CSV importieren', exportCsv: 'CSV exportieren', entries: 'Einträge', kind: 'Art', test: 'Testen', status: 'Status', pathTemplate: 'Ordnervorlage',
  host: 'Server', port: 'Port', share: 'Freigabe', folder: 'Ordner', hostKey: 'Host-Schlüssel (SHA256:...)', domain: 'Domäne', path: 'Pfad', createTable: 'Tabelle anlegen',
  database: 'Datenbank', dialect: 'Datenbanktyp', table: 'Tabelle', user: 'Benutzer', recipients: 'Empfänger', sender: 'Absender', smtpServer: 'SMTP-Server',
  sendTest: 'Testmail senden', notConfigured: 'nicht eingerichtet (siehe Konfigurationsdatei, alerts.smtp)', sent: 'gesendet', fingerprint: 'SHA-256-Fingerabdruck',
  subject: 'Inhaber', validUntil: 'Gültig bis', print: 'Drucken', csr: 'Zertifikatsanforderung (CSR)', pem: 'Zertifikat (PEM)', roles: 'Rollen', displayName: 'Anzeigename',
  disabled: 'Gesperrt', lastLogin: 'Letzte Anmeldung', newPassword: 'Neues Passwort', time: 'Zeit', actor: 'Wer', action: 'Aktion', object: 'Was', outcome: 'Ergebnis',
  chainIntact: 'Prüfprotokoll-Kette intakt', chainBroken: 'Prüfprotokoll-Kette gebrochen bei Eintrag', memberHint: 'Schalten Sie Ihre Aufzeichnung je Gruppe ein oder aus.',
  noGroups: 'Ihr Konto gehört zu keiner Aufzeichnungsgruppe.', loggedInAs: 'Angemeldet als', confirmDelete: 'Wirklich löschen?', error: 'Fehler',
  certHint: 'Vergleichen Sie diesen Fingerabdruck mit dem im Prüfpaket: nur dann beweist ein Prüfpaket etwas.', directoryUser: 'Verzeichnisbenutzer',
  changePassword: 'Passwort ändern', currentPassword: 'Aktuelles Passwort', version: 'Version',
  retention: 'Aufbewahrung', keep: 'behalten (nie löschen)', years: 'Jahre', days: 'Tage', retainUntil: 'Aufbewahrt bis', holds: 'Sperren (Legal Hold)', hold: 'Löschsperre',
  addHold: 'Löschsperre setzen', reason: 'Grund', release: 'Aufheben', releaseRequested: 'Aufhebung beantragt von', released: 'aufgehoben', recordingId: 'Aufnahme-ID',
  holdHint: 'Eine Löschsperre verhindert das Löschen jeder passenden Aufnahme (eine Aufnahme, eine Nummer, ein Zeitraum oder alles davon), bis sie aufgehoben wird.',
  twoPerson: 'Vier-Augen-Prinzip: zwei Administratoren heben auf, einer beantragt, ein zweiter bestätigt.', exportZip: 'Export (ZIP)',
  exportHint: 'Für den Export eine Nummer im Suchfeld oder einen Zeitraum angeben.', deletedByRetention: 'Nach Aufbewahrungsfrist gelöscht', number: 'Nummer',
};

const fr: Dictionary = {
  mode: 'Mode', modeSiprec: 'SIPREC', modeInline: 'En ligne', webhooks: 'Webhooks', url: 'URL', secret: 'Secret (vide : conserver, ou générer pour un nouveau)',
  events: 'Événements', pending: 'En attente', deliveries: 'Livraisons', secretOnce: 'Le secret généré, affiché seulement maintenant :',
  webhooksHint: 'Chaque événement d’enregistrement en direct est envoyé en POST JSON signé (en-tête callseal-signature : t=…,v1=HMAC-SHA256 de "t.body"). Seules les URL http et https ; les redirections ne sont pas suivies.',
  endpoint: 'Point de terminaison (https://...)', region: 'Région', bucket: 'Compartiment', accessKeyId: 'ID de clé d’accès', secretAccessKey: 'Clé d’accès secrète', pathStyle: 'Adressage par chemin',
  prefix: 'Préfixe des clés', lockMode: 'Mode Object Lock', checksumSha256: 'Envoyer aussi des sommes SHA-256 (AWS S3)', signInKind: 'Connexion', tenant: 'Locataire (ID d’annuaire ou domaine)',
  clientId: 'ID d’application (client)', clientSecret: 'Secret client', certificatePem: 'Certificat (PEM, au lieu d’un secret)', privateKeyPem: 'Clé privée du certificat (PEM)',
  driveId: 'ID du lecteur', siteId: 'ID du site SharePoint', userId: 'Utilisateur (ID ou UPN)', retentionLabel: 'Étiquette de rétention', authorityHost: 'Hôte de connexion', graphBaseUrl: 'URL Microsoft Graph',
  signIn: 'Se connecter',
  epoch: 'époque de la chaîne', codec: 'Codec', chainLink: 'Maillon de chaîne (époque:numéro)', signature: 'Signature', keySize: 'Clé', connected: 'connecté', disconnected: 'déconnecté',
  tlsOnConnect: 'TLS dès la connexion (port 465)', useFile: 'Utiliser le fichier de configuration', source: 'Source', sourceUi: 'saisi ici', sourceFile: 'fichier de configuration', passwordKept: 'vide : garder le mot de passe enregistré',
  appTitle: 'callseal', login: 'Se connecter', logout: 'Se déconnecter', username: 'Nom d’utilisateur', password: 'Mot de passe', wrongLogin: 'Nom d’utilisateur ou mot de passe incorrect',
  language: 'Langue', dashboard: 'Tableau de bord', live: 'En direct', recordings: 'Enregistrements', settings: 'Règles', directory: 'Annuaire',
  exceptionLists: 'Listes d’exceptions', targets: 'Cibles de stockage', sqlLogs: 'Journaux SQL', alerts: 'Alertes e-mail', certificate: 'Certificat',
  accounts: 'Comptes', audit: 'Journal d’audit', myGroups: 'Mes groupes d’enregistrement', menu: 'Menu',
  sipListener: 'Écoute SIP', recordingsToday: 'Enregistrements aujourd’hui', totalSealed: 'Scellés au total', diskFree: 'Espace disque libre',
  outboxBacklog: 'Archivage en attente', failingTargets: 'Cibles en échec', lastErrors: 'Dernières erreurs', none: 'aucune', running: 'Enregistrements en cours',
  diskWarning: 'L’espace disque s’épuise', caller: 'Appelant', callee: 'Appelé', setting: 'Règle', duration: 'Durée', packets: 'Paquets', loss: 'Perte',
  started: 'Début', noLive: 'Aucun appel n’est enregistré en ce moment.', search: 'Rechercher', searchText: 'Numéro, nom ou Call-ID', from: 'Du', to: 'Au',
  direction: 'Sens', any: 'tous', in: 'entrant', out: 'sortant', internal: 'interne', unknown: 'inconnu', results: 'résultats',
  play: 'Écouter', download: 'Télécharger', kit: 'Kit de vérification (ZIP)', verify: 'Vérifier', verified: 'Vérifié : empreintes, signature et journal concordent',
  notVerified: 'Échec de la vérification', interrupted: 'interrompu', archive: 'Archive', local: 'Copie locale', yes: 'oui', no: 'non', files: 'Fichiers',
  accesses: 'Accès', close: 'Fermer', csvExport: 'Exporter en CSV', name: 'Nom', enabled: 'Active', scope: 'S’applique à', explanation: 'Explication',
  add: 'Ajouter', save: 'Enregistrer', cancel: 'Annuler', delete: 'Supprimer', duplicate: 'Dupliquer', edit: 'Modifier', up: 'Monter', down: 'Descendre', id: 'ID',
  channels: 'Canaux', stopCode: 'Code d’arrêt', exceptions: 'Listes d’exceptions', excludeInternal: 'Pas pour les appels internes', directCalls: 'Aussi les appels directs aux membres actifs',
  all: 'tous les appels', allUsers: 'tous les utilisateurs', groups: 'groupes', users: 'utilisateurs', patterns: 'motifs de numéros', both: 'les deux', saved: 'Enregistré',
  extensions: 'Postes', directNumbers: 'Numéros directs', mobileNumbers: 'Numéros mobiles', numbers: 'Numéros', members: 'Membres', active: 'actif', inactive: 'inactif',
  importCsv: 'Importer CSV', exportCsv: 'Exporter CSV', entries: 'Entrées', kind: 'Type', test: 'Tester', status: 'État', pathTemplate: 'Modèle de dossier',
  host: 'Serveur', port: 'Port', share: 'Partage', folder: 'Dossier', hostKey: 'Clé d’hôte (SHA256:...)', domain: 'Domaine', path: 'Chemin', createTable: 'Créer la table',
  database: 'Base de données', dialect: 'Type de base', table: 'Table', user: 'Utilisateur', recipients: 'Destinataires', sender: 'Expéditeur', smtpServer: 'Serveur SMTP',
  sendTest: 'Envoyer un e-mail de test', notConfigured: 'non configuré (voir le fichier de configuration, alerts.smtp)', sent: 'envoyé', fingerprint: 'Empreinte SHA-256',
  subject: 'Sujet', validUntil: 'Valide jusqu’au', print: 'Imprimer', csr: 'Demande de signature (CSR)', pem: 'Certificat (PEM)', roles: 'Rôles', displayName: 'Nom affiché',
  disabled: 'Désactivé', lastLogin: 'Dernière connexion', newPassword: 'Nouveau mot de passe', time: 'Heure', actor: 'Qui', action: 'Action', object: 'Quoi', outcome: 'Résultat',
  chainIntact: 'Chaîne d’audit intacte', chainBroken: 'Chaîne d’audit rompue à l’entrée', memberHint: 'Activez ou désactivez votre enregistrement pour chaque groupe.',
  noGroups: 'Votre compte n’appartient à aucun groupe d’enregistrement.', loggedInAs: 'Connecté en tant que', confirmDelete: 'Supprimer ?', error: 'Erreur',
  certHint: 'Comparez cette empreinte avec celle d’un kit de vérification : c’est seulement alors qu’un kit prouve quelque chose.', directoryUser: 'Utilisateur de l’annuaire',
  changePassword: 'Changer le mot de passe', currentPassword: 'Mot de passe actuel', version: 'Version',
  retention: 'Conservation', keep: 'conserver (ne jamais supprimer)', years: 'ans', days: 'jours', retainUntil: 'Conservé jusqu\'au', holds: 'Gels juridiques', hold: 'Gel juridique',
  addHold: 'Poser un gel juridique', reason: 'Motif', release: 'Lever', releaseRequested: 'levée demandée par', released: 'levé', recordingId: 'ID de l\'enregistrement',
  holdHint: 'Un gel juridique empêche la suppression de chaque enregistrement qu\'il vise (un enregistrement, un numéro, une période, ou tout cela) jusqu\'à sa levée.',
  twoPerson: 'Règle des quatre yeux : deux administrateurs lèvent le gel, l\'un demande, un second confirme.', exportZip: 'Exporter (ZIP)',
  exportHint: 'L\'export demande un numéro dans le champ de recherche ou une période.', deletedByRetention: 'Supprimé après la durée de conservation', number: 'Numéro',
};

export const LANGUAGES = { en, de, fr } as const;
export type Lang = keyof typeof LANGUAGES;

/** The stored choice, else the browser's first supported language, else English. */
export function initialLang(): Lang {
  const stored = localStorage.getItem('callseal.lang');
  if (stored === 'en' || stored === 'de' || stored === 'fr') return stored;
  for (const l of navigator.languages) {
    const base = l.slice(0, 2).toLowerCase();
    if (base === 'de' || base === 'fr' || base === 'en') return base;
  }
  return 'en';
}

export const LangContext = createContext<Lang>('en');

/** The translation function of the current language. */
export function useT(): { t: (k: Key) => string; lang: Lang } {
  const lang = useContext(LangContext);
  return { t: (k) => LANGUAGES[lang][k], lang };
}
