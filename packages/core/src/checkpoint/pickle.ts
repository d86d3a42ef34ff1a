import { HpError } from '../errors.js';

/**
 * A pickle virtual machine for the data-only subset that `torch.save` (protocol 2) and plain
 * Python containers emit. It never executes anything: globals are resolved by `hooks.findClass`,
 * which returns an inert stand-in or throws (`E_UNSAFE`); calls (`REDUCE`, `NEWOBJ`) go to
 * `hooks.call` with those stand-ins. Every read is bounds-checked; the loop only moves forward,
 * so hostile input ends in an `HpError`, never a hang.
 *
 * Value mapping: dict → Map (insertion order), list and tuple → array, int → number (bigint beyond
 * 2^53), float → number, str → string, bytes → Uint8Array, None → null, bool → boolean.
 */
export interface UnpickleHooks {
  /** Returns a stand-in for `module.name`, or throws `E_UNSAFE` to refuse it. */
  findClass(module: string, name: string, at: string): unknown;
  /** Resolves a persistent id (`BINPERSID`): torch uses it for tensor storages. */
  persistentLoad(pid: unknown, at: string): unknown;
  /** `REDUCE` / `NEWOBJ`: applies a stand-in from `findClass` to its arguments. */
  call(callable: unknown, args: unknown[], at: string): unknown;
  /** `BUILD`: sets `state` on `target`; returns the (possibly new) object. */
  build(target: unknown, state: unknown, at: string): unknown;
}

/** Opcodes a pickle may contain, with names for messages. */
const OPCODE_NAMES: Readonly<Record<number, string>> = {
  40: 'MARK',
  46: 'STOP',
  48: 'POP',
  49: 'POP_MARK',
  50: 'DUP',
  70: 'FLOAT',
  73: 'INT',
  74: 'BININT',
  75: 'BININT1',
  76: 'LONG',
  77: 'BININT2',
  78: 'NONE',
  80: 'PERSID',
  81: 'BINPERSID',
  82: 'REDUCE',
  83: 'STRING',
  84: 'BINSTRING',
  85: 'SHORT_BINSTRING',
  86: 'UNICODE',
  88: 'BINUNICODE',
  97: 'APPEND',
  98: 'BUILD',
  99: 'GLOBAL',
  100: 'DICT',
  125: 'EMPTY_DICT',
  101: 'APPENDS',
  103: 'GET',
  104: 'BINGET',
  105: 'INST',
  106: 'LONG_BINGET',
  108: 'LIST',
  93: 'EMPTY_LIST',
  111: 'OBJ',
  112: 'PUT',
  113: 'BINPUT',
  114: 'LONG_BINPUT',
  115: 'SETITEM',
  116: 'TUPLE',
  41: 'EMPTY_TUPLE',
  117: 'SETITEMS',
  71: 'BINFLOAT',
  128: 'PROTO',
  129: 'NEWOBJ',
  130: 'EXT1',
  131: 'EXT2',
  132: 'EXT4',
  133: 'TUPLE1',
  134: 'TUPLE2',
  135: 'TUPLE3',
  136: 'NEWTRUE',
  137: 'NEWFALSE',
  138: 'LONG1',
  139: 'LONG4',
  66: 'BINBYTES',
  67: 'SHORT_BINBYTES',
  140: 'SHORT_BINUNICODE',
  141: 'BINUNICODE8',
  142: 'BINBYTES8',
  143: 'EMPTY_SET',
  144: 'ADDITEMS',
  145: 'FROZENSET',
  146: 'NEWOBJ_EX',
  147: 'STACK_GLOBAL',
  148: 'MEMOIZE',
  149: 'FRAME',
  150: 'BYTEARRAY8',
  151: 'NEXT_BUFFER',
  152: 'READONLY_BUFFER',
};

const utf8 = new TextDecoder('utf-8', { fatal: true });
const latin1 = new TextDecoder('latin1');

/** Decodes a little-endian two's-complement integer (LONG1/LONG4). */
function decodeLong(bytes: Uint8Array): number | bigint {
  if (bytes.length === 0) return 0;
  if (bytes.length <= 6) {
    let v = 0;
    for (let i = bytes.length - 1; i >= 0; i--) v = v * 256 + bytes[i]!;
    if (bytes[bytes.length - 1]! & 0x80) v -= 2 ** (8 * bytes.length);
    return v;
  }
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]!);
  if (bytes[bytes.length - 1]! & 0x80) v -= 1n << BigInt(8 * bytes.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** Runs the pickle in `bytes` and returns the value left by `STOP`. `source` names it in messages. */
export function unpickle(bytes: Uint8Array, hooks: UnpickleHooks, fn: string, source: string): unknown {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.length;
  let pos = 0;
  let opAt = 0;
  let stack: unknown[] = [];
  const marks: unknown[][] = [];
  const memo = new Map<number, unknown>();

  const where = (): string => `byte ${opAt} of ${source}`;
  const fail = (what: string, expected: string, got: string): never => {
    throw new HpError('E_FORMAT', `${fn}: ${what} at ${where()}: expected ${expected}, got ${got}`, {
      details: { offset: opAt, source },
    });
  };
  const need = (k: number): number => {
    if (k < 0 || pos + k > n) fail('pickle is truncated', `${k} more bytes`, `${n - pos}`);
    const at = pos;
    pos += k;
    return at;
  };
  const u8 = (): number => bytes[need(1)]!;
  const u16 = (): number => view.getUint16(need(2), true);
  const u32 = (): number => view.getUint32(need(4), true);
  const u64 = (): number => {
    const at = need(8);
    const hi = view.getUint32(at + 4, true);
    if (hi >= 0x200000) fail('pickle length is too large', 'below 2^53', 'more');
    return hi * 2 ** 32 + view.getUint32(at, true);
  };
  const take = (k: number): Uint8Array => {
    const at = need(k);
    return bytes.subarray(at, at + k);
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail('pickle is truncated', 'a newline-terminated argument', 'end of data');
    const s = latin1.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const text = (k: number): string => {
    const raw = take(k);
    try {
      return utf8.decode(raw);
    } catch {
      return fail('pickle string is not valid UTF-8', 'UTF-8', 'invalid bytes');
    }
  };
  const pop = (): unknown => {
    if (stack.length === 0) fail('pickle stack underflow', 'a value on the stack', 'an empty stack');
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) fail('pickle stack underflow', 'a value on the stack', 'an empty stack');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const items = stack;
    const prev = marks.pop();
    if (prev === undefined) fail('pickle has no MARK', 'a MARK before this opcode', 'none');
    stack = prev!;
    return items;
  };
  const memoGet = (i: number): unknown => {
    if (!memo.has(i)) fail('pickle memo miss', `a stored memo entry ${i}`, 'none');
    return memo.get(i);
  };
  const memoPut = (i: number): void => {
    memo.set(i, top());
  };
  const asMap = (v: unknown): Map<unknown, unknown> => {
    if (!(v instanceof Map)) fail('pickle SETITEM target is not a dict', 'a dict', typeof v);
    return v as Map<unknown, unknown>;
  };
  const asList = (v: unknown): unknown[] => {
    if (!Array.isArray(v)) fail('pickle APPEND target is not a list', 'a list', typeof v);
    return v as unknown[];
  };
  const setItems = (target: Map<unknown, unknown>, items: unknown[]): void => {
    if (items.length % 2 !== 0)
      fail('pickle SETITEMS has an odd item count', 'key/value pairs', `${items.length} items`);
    for (let i = 0; i < items.length; i += 2) target.set(items[i], items[i + 1]);
  };
  const number = (s: string): number | bigint => {
    const t = s.trim().replace(/L$/, '');
    if (!/^[-+]?\d+$/.test(t))
      fail('pickle INT/LONG argument is not an integer', 'digits', JSON.stringify(s));
    const b = BigInt(t);
    return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
  };

  while (pos < n) {
    opAt = pos;
    const op = bytes[pos++]!;
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) fail('unsupported pickle protocol', 'at most 5', String(bytes[pos - 1]));
        break;
      case 0x95: // FRAME: framing is only a hint for buffered readers
        u64();
        break;
      case 0x2e: // STOP
        return pop();
      case 0x28: // MARK
        marks.push(stack);
        stack = [];
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x5d: // EMPTY_LIST
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x8f: // EMPTY_SET
        stack.push([]);
        break;
      case 0x64: {
        // DICT
        const m = new Map();
        setItems(m, popMark());
        stack.push(m);
        break;
      }
      case 0x6c: // LIST
      case 0x74: // TUPLE
      case 0x91: {
        // FROZENSET (popMark replaces `stack`, so take the items before pushing)
        const items = popMark();
        stack.push(items);
        break;
      }
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        stack.push([pop(), b]);
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        stack.push([pop(), b, c]);
        break;
      }
      case 0x58: // BINUNICODE
        stack.push(text(u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text(u8()));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(text(u64()));
        break;
      case 0x54: // BINSTRING (Python 2 str)
        stack.push(latin1.decode(take(view.getInt32(need(4), true))));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(latin1.decode(take(u8())));
        break;
      case 0x42: // BINBYTES
        stack.push(Uint8Array.from(take(u32())));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(Uint8Array.from(take(u8())));
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        stack.push(Uint8Array.from(take(u64())));
        break;
      case 0x71: // BINPUT
        memoPut(u8());
        break;
      case 0x72: // LONG_BINPUT
        memoPut(u32());
        break;
      case 0x70: // PUT
        memoPut(Number(number(line())));
        break;
      case 0x94: // MEMOIZE
        memoPut(memo.size);
        break;
      case 0x68: // BINGET
        stack.push(memoGet(u8()));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(memoGet(u32()));
        break;
      case 0x67: // GET
        stack.push(memoGet(Number(number(line()))));
        break;
      case 0x4a: // BININT
        stack.push(view.getInt32(need(4), true));
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(decodeLong(take(u8())));
        break;
      case 0x8b: {
        // LONG4
        const k = view.getInt32(need(4), true);
        if (k > 1 << 16) fail('pickle LONG4 is too long', 'at most 65536 bytes', `${k}`);
        stack.push(decodeLong(take(k)));
        break;
      }
      case 0x49: {
        // INT (text); protocol 0 writes True/False as I01/I00
        const s = line();
        stack.push(s === '01' ? true : s === '00' ? false : number(s));
        break;
      }
      case 0x4c: // LONG (text)
        stack.push(number(line()));
        break;
      case 0x47: // BINFLOAT (big-endian)
        stack.push(view.getFloat64(need(8), false));
        break;
      case 0x46: {
        // FLOAT (text)
        const s = line().trim();
        const v = Number(s);
        if (s === '' || (Number.isNaN(v) && !/^[-+]?nan$/i.test(s))) {
          fail('pickle FLOAT argument is not a number', 'a decimal number', JSON.stringify(s));
        }
        stack.push(v);
        break;
      }
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        asMap(top()).set(k, v);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(asMap(top()), items);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        asList(top()).push(v);
        break;
      }
      case 0x65: // APPENDS
      case 0x90: {
        // ADDITEMS (sets are read as arrays)
        const items = popMark();
        const list = asList(top());
        for (const item of items) list.push(item);
        break;
      }
      case 0x63: {
        // GLOBAL
        const module = line();
        const name = line();
        stack.push(hooks.findClass(module, name, where()));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') {
          fail(
            'pickle STACK_GLOBAL needs two strings',
            'module and name strings',
            `${typeof module}, ${typeof name}`,
          );
        }
        stack.push(hooks.findClass(module as string, name as string, where()));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const callable = pop();
        if (!Array.isArray(args)) fail('pickle REDUCE arguments are not a tuple', 'a tuple', typeof args);
        stack.push(hooks.call(callable, args as unknown[], where()));
        break;
      }
      case 0x81: {
        // NEWOBJ: cls.__new__(cls, *args)
        const args = pop();
        const cls = pop();
        if (!Array.isArray(args)) fail('pickle NEWOBJ arguments are not a tuple', 'a tuple', typeof args);
        stack.push(hooks.call(cls, args as unknown[], where()));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX: keyword arguments are not supported by any allowed class
        const kwargs = pop();
        const args = pop();
        const cls = pop();
        if (!Array.isArray(args)) fail('pickle NEWOBJ_EX arguments are not a tuple', 'a tuple', typeof args);
        if (!(kwargs instanceof Map) || kwargs.size > 0) {
          fail('pickle NEWOBJ_EX has keyword arguments', 'none', 'some');
        }
        stack.push(hooks.call(cls, args as unknown[], where()));
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop();
        const target = pop();
        stack.push(hooks.build(target, state, where()));
        break;
      }
      case 0x51: // BINPERSID
        stack.push(hooks.persistentLoad(pop(), where()));
        break;
      case 0x50: // PERSID
        stack.push(hooks.persistentLoad(line(), where()));
        break;
      default: {
        const name = OPCODE_NAMES[op];
        const hex = `0x${op.toString(16).padStart(2, '0')}`;
        if (name === undefined) {
          fail('not a pickle opcode', 'a pickle opcode', `byte ${hex} (corrupt data)`);
        }
        throw new HpError(
          'E_UNSAFE',
          `${fn}: refused pickle opcode ${name} (${hex}) at ${where()}: expected an opcode of the data-only subset torch.save emits, got ${name}. The file was not written by torch.save or asks for object construction hpseg does not perform`,
          { details: { opcode: name, offset: opAt, source } },
        );
      }
    }
  }
  return fail('pickle ended without STOP', 'a STOP opcode', 'end of data');
}
