// @hpseg/core's optional peers from the packed tarball, in plain Node: a missing tfjs-node(-gpu) gives
// E_BACKEND naming the npm command, and `auto` falls back to what is installed (here the cpu backend).
// pack-test install: @hpseg/core @tensorflow/tfjs-core @tensorflow/tfjs-backend-cpu
import { selectBackend } from '@hpseg/core';

for (const [choice, pkg] of [
  ['tensorflow', '@tensorflow/tfjs-node'],
  ['tensorflow-gpu', '@tensorflow/tfjs-node-gpu'],
]) {
  const error = await selectBackend(choice).then(
    () => null,
    (e) => e,
  );
  if (error?.code !== 'E_BACKEND' || !error.message.includes(`npm install ${pkg}`)) {
    console.error(`backend-optional-peers: expected E_BACKEND naming \`npm install ${pkg}\`, got`, error);
    process.exit(1);
  }
  console.log(`${choice}: ${error.message}`);
}
const auto = await selectBackend('auto');
if (auto !== 'cpu') {
  console.error(`backend-optional-peers: expected auto to pick cpu (the one installed), got ${auto}`);
  process.exit(1);
}
console.log(`auto: ${auto}`);
