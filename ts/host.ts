/**
 * This host's name wherever contimg records who did something (queue claims, the owner marks of
 * staging directories): `CONTIMG_HOSTNAME` where set (a container whose host name is random, or
 * several simulated hosts on one machine in tests), else the system's.
 */
import os from 'node:os';

export function hostName(): string {
  return process.env.CONTIMG_HOSTNAME || os.hostname();
}
