/**
 * fsync of a file or a folder by path, so a rename or a new file survives a power loss.
 */
import { open } from 'node:fs/promises';

/** Flushes a file or folder to stable storage. */
export async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
