/**
 * The bare Node ceiling: a process with one `dgram` socket per port that only counts packets.
 * Started by the benchmark with the same ports and traffic as callseal.
 */
import dgram from 'node:dgram';

const [minArg, countArg] = process.argv.slice(2);
const min = Number(minArg);
const count = Number(countArg);
let received = 0;
const socks: dgram.Socket[] = [];
let bound = 0;
for (let i = 0; i < count; i++) {
  const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 1024 * 1024 });
  s.on('message', () => { received++; });
  s.bind(min + 2 * i, '127.0.0.1', () => {
    bound++;
    if (bound === count) process.send?.({ op: 'ready' });
  });
  socks.push(s);
}
process.on('message', (m: { op: string }) => {
  if (m.op === 'count') process.send?.({ op: 'count', received });
  if (m.op === 'stop') {
    for (const s of socks) s.close();
    process.exit(0);
  }
});
