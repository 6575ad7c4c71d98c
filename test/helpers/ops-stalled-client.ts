// A client that opens a transaction, writes into it, says "ready" and then waits forever: the keepalive
// test freezes it with SIGSTOP, as a client whose machine died, to see that sessiond notices.
// Usage: node --import tsx test/helpers/ops-stalled-client.ts HOST:PORT NAMESPACE SESSION_ID
import { connectSessionClient } from "./ops-process.js";
import { op } from "./sessiond.js";

const [address, namespace, sessionId] = process.argv.slice(2);
const client = connectSessionClient(address!);
const tx = client.stream();
const begun = await tx.send(op("begin", { namespace, sessionId }));
const set = await tx.send(op("set", { package: "cart", data: { items: 1 } }));
process.stdout.write(`${JSON.stringify({ msg: "ready", begin: begun.result.case, set: set.result.case })}\n`);
setInterval(() => {}, 1 << 30);
