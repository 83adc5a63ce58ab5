/**
 * Webhooks of the live recording events (H8): endpoints, signing, the durable delivery queue with
 * retries, and the feed from the calls' events. Nothing here touches SIP or media.
 */
export * from './signature.ts';
export * from './events.ts';
export * from './endpoints.ts';
export * from './post.ts';
export * from './dispatcher.ts';
export * from './feed.ts';
