/**
 * A strict Python unpickler that executes nothing: it builds plain values (numbers, strings,
 * tuples, lists, dicts) and hands every global, call (REDUCE) and persistent id to the caller's
 * hooks, which decide what they mean or refuse. Opcodes of protocols 2–5 that `torch.save` and
 * plain data use are interpreted; anything else (INST, OBJ, NEWOBJ, EXT*, sets, ...) is refused.
 */
import { FileProblem } from '../../../protocol/errors';

/** An object the hooks create (e.g. a tensor record); the unpickler only passes it around. */
export abstract class PickleHostObject {}

export class PickleTuple {
  constructor(readonly items: readonly PickleValue[]) {}
}

export class PickleList {
  readonly items: PickleValue[] = [];
}

export type PickleKey = string | number | bigint | boolean | null;

export class PickleDict {
  readonly entries = new Map<PickleKey, PickleValue>();
  /** What BUILD set on it, e.g. the `_metadata` attribute of a PyTorch state dict. */
  state: PickleValue | undefined;
}

/** A global named by GLOBAL or STACK_GLOBAL, once the hooks accepted it. */
export class PickleGlobal {
  constructor(readonly module: string, readonly name: string) {}
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

export type PickleValue = null | boolean | number | bigint | string | Uint8Array | PickleTuple | PickleList | PickleDict | PickleGlobal | PickleHostObject;

export interface PickleHooks {
  /** Accepts a global (return a value standing for it) or throws. */
  global(module: string, name: string): PickleValue;
  /** What calling `callable(*args)` means; throws when it is not allowed. */
  reduce(callable: PickleValue, args: PickleTuple): PickleValue;
  persistentLoad(pid: PickleValue): PickleValue;
  /** BUILD on something other than a dict; throws when not allowed. */
  build?(target: PickleValue, state: PickleValue): void;
}

/** Readable opcode names for messages about opcodes we do not interpret. */
const UNSUPPORTED_OPCODES: Readonly<Record<number, string>> = {
  0x6f: 'OBJ', 0x81: 'NEWOBJ', 0x92: 'NEWOBJ_EX', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4',
  0x50: 'PERSID', 0x8f: 'EMPTY_SET', 0x90: 'ADDITEMS', 0x91: 'FROZENSET', 0x96: 'BYTEARRAY8',
  0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER', 0x49: 'INT', 0x4c: 'LONG', 0x46: 'FLOAT', 0x53: 'STRING',
  0x56: 'UNICODE', 0x70: 'PUT', 0x67: 'GET',
};

/**
 * Interprets `bytes` as a pickle and returns the value STOP leaves on the stack. `where` names the
 * pickle inside the file in messages (e.g. `archive/data.pkl`).
 */
export function unpickle(file: string, where: string, bytes: Uint8Array, hooks: PickleHooks): PickleValue {
  const fail = (problem: string): never => {
    throw new FileProblem(file, `${where}: ${problem}`);
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: PickleValue[] = [];
  /** Stack heights at each open MARK; values below the innermost one are out of reach until it closes. */
  const marks: number[] = [];
  const memo = new Map<number, PickleValue>();
  let at = 0;
  let opcodeAt = 0;

  const need = (count: number, what: string): number => {
    if (at + count > bytes.length) fail(`truncated at byte ${opcodeAt}: ${what} needs ${count} more bytes`);
    const start = at;
    at += count;
    return start;
  };
  const uint = (width: 1 | 2 | 4 | 8, what: string): number => {
    const start = need(width, what);
    if (width === 1) return view.getUint8(start);
    if (width === 2) return view.getUint16(start, true);
    if (width === 4) return view.getUint32(start, true);
    const value = view.getBigUint64(start, true);
    return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : fail(`a length of ${value} bytes at byte ${opcodeAt}`);
  };
  const raw = (length: number, what: string): Uint8Array => bytes.subarray(need(length, what), at);
  const text = (length: number, what: string, encoding: 'utf-8' | 'latin1' = 'utf-8'): string => {
    try {
      return new TextDecoder(encoding, { fatal: true }).decode(raw(length, what));
    } catch (error) {
      if (error instanceof FileProblem) throw error;
      return fail(`${what} at byte ${opcodeAt} is not valid ${encoding}`);
    }
  };
  const line = (what: string): string => {
    const end = bytes.indexOf(0x0a, at);
    if (end < 0) fail(`truncated at byte ${opcodeAt}: ${what} has no end of line`);
    return text(end - at + 1, what, 'latin1').slice(0, -1);
  };
  const reachable = (): number => stack.length - (marks.length > 0 ? marks[marks.length - 1] : 0);
  const pop = (): PickleValue => {
    if (reachable() <= 0) return fail(`opcode at byte ${opcodeAt} needs a value, but the stack is empty`);
    return stack.pop() as PickleValue;
  };
  const top = (): PickleValue => {
    if (reachable() <= 0) return fail(`opcode at byte ${opcodeAt} needs a value, but the stack is empty`);
    return stack[stack.length - 1];
  };
  const popMark = (): PickleValue[] => {
    const mark = marks.pop();
    if (mark === undefined) return fail(`opcode at byte ${opcodeAt} needs a MARK, but there is none`);
    return stack.splice(mark);
  };
  const push = (value: PickleValue): void => {
    stack.push(value);
  };
  const key = (value: PickleValue): PickleKey => {
    if (value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return value;
    return fail(`a dictionary key at byte ${opcodeAt} is ${describePickleValue(value)}; only strings and numbers are supported`);
  };
  const setItems = (target: PickleValue, items: readonly PickleValue[]): void => {
    if (!(target instanceof PickleDict)) fail(`SETITEM(S) at byte ${opcodeAt} targets ${describePickleValue(target)}, not a dict`);
    for (let i = 0; i + 1 < items.length; i += 2) (target as PickleDict).entries.set(key(items[i]), items[i + 1]);
    if (items.length % 2 !== 0) fail(`SETITEMS at byte ${opcodeAt} has an odd number of items`);
  };
  const append = (target: PickleValue, items: readonly PickleValue[]): void => {
    if (!(target instanceof PickleList)) fail(`APPEND(S) at byte ${opcodeAt} targets ${describePickleValue(target)}, not a list`);
    (target as PickleList).items.push(...items);
  };
  const memoGet = (index: number): PickleValue => (memo.has(index) ? (memo.get(index) as PickleValue) : fail(`memo entry ${index} is read at byte ${opcodeAt} before it is written`));
  const signed = (value: Uint8Array): number | bigint => {
    if (value.length === 0) return 0;
    let result = 0n;
    for (let i = value.length - 1; i >= 0; i--) result = (result << 8n) | BigInt(value[i]);
    if (value[value.length - 1] & 0x80) result -= 1n << BigInt(8 * value.length);
    return result >= BigInt(Number.MIN_SAFE_INTEGER) && result <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(result) : result;
  };

  while (at < bytes.length) {
    opcodeAt = at;
    const opcode = bytes[at++];
    switch (opcode) {
      case 0x80: { // PROTO
        const protocol = uint(1, 'PROTO');
        if (protocol > 5) fail(`pickle protocol ${protocol} is not supported (at most 5)`);
        break;
      }
      case 0x95: uint(8, 'FRAME'); break; // FRAME: a length hint only
      case 0x2e: { // STOP
        const result = pop();
        if (stack.length !== 0 || marks.length !== 0) fail('the pickle stops with values left on its stack');
        return result;
      }
      case 0x28: marks.push(stack.length); break; // MARK
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: push(top()); break; // DUP
      case 0x4e: push(null); break; // NONE
      case 0x88: push(true); break; // NEWTRUE
      case 0x89: push(false); break; // NEWFALSE
      case 0x4a: push(view.getInt32(need(4, 'BININT'), true)); break; // BININT
      case 0x4b: push(uint(1, 'BININT1')); break; // BININT1
      case 0x4d: push(uint(2, 'BININT2')); break; // BININT2
      case 0x8a: push(signed(raw(uint(1, 'LONG1'), 'LONG1'))); break; // LONG1
      case 0x8b: { // LONG4
        const length = view.getInt32(need(4, 'LONG4'), true);
        if (length < 0) fail(`LONG4 at byte ${opcodeAt} has a negative length`);
        push(signed(raw(length, 'LONG4')));
        break;
      }
      case 0x47: push(view.getFloat64(need(8, 'BINFLOAT'), false)); break; // BINFLOAT (big-endian)
      case 0x58: push(text(uint(4, 'BINUNICODE'), 'BINUNICODE')); break; // BINUNICODE
      case 0x8c: push(text(uint(1, 'SHORT_BINUNICODE'), 'SHORT_BINUNICODE')); break; // SHORT_BINUNICODE
      case 0x8d: push(text(uint(8, 'BINUNICODE8'), 'BINUNICODE8')); break; // BINUNICODE8
      case 0x54: push(text(uint(4, 'BINSTRING'), 'BINSTRING', 'latin1')); break; // BINSTRING (Python 2 str)
      case 0x55: push(text(uint(1, 'SHORT_BINSTRING'), 'SHORT_BINSTRING', 'latin1')); break; // SHORT_BINSTRING
      case 0x42: push(raw(uint(4, 'BINBYTES'), 'BINBYTES')); break; // BINBYTES
      case 0x43: push(raw(uint(1, 'SHORT_BINBYTES'), 'SHORT_BINBYTES')); break; // SHORT_BINBYTES
      case 0x8e: push(raw(uint(8, 'BINBYTES8'), 'BINBYTES8')); break; // BINBYTES8
      case 0x7d: push(new PickleDict()); break; // EMPTY_DICT
      case 0x64: { // DICT
        const dict = new PickleDict();
        setItems(dict, popMark());
        push(dict);
        break;
      }
      case 0x5d: push(new PickleList()); break; // EMPTY_LIST
      case 0x6c: { // LIST
        const list = new PickleList();
        list.items.push(...popMark());
        push(list);
        break;
      }
      case 0x29: push(new PickleTuple([])); break; // EMPTY_TUPLE
      case 0x74: push(new PickleTuple(popMark())); break; // TUPLE
      case 0x85: push(new PickleTuple([pop()])); break; // TUPLE1
      case 0x86: { // TUPLE2
        const second = pop();
        push(new PickleTuple([pop(), second]));
        break;
      }
      case 0x87: { // TUPLE3
        const third = pop();
        const second = pop();
        push(new PickleTuple([pop(), second, third]));
        break;
      }
      case 0x61: { // APPEND
        const value = pop();
        append(top(), [value]);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        append(top(), items);
        break;
      }
      case 0x73: { // SETITEM
        const value = pop();
        const itemKey = pop();
        setItems(top(), [itemKey, value]);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x71: memo.set(uint(1, 'BINPUT'), top()); break; // BINPUT
      case 0x72: memo.set(uint(4, 'LONG_BINPUT'), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: push(memoGet(uint(1, 'BINGET'))); break; // BINGET
      case 0x6a: push(memoGet(uint(4, 'LONG_BINGET'))); break; // LONG_BINGET
      case 0x63: { // GLOBAL
        const module = line('GLOBAL');
        push(hooks.global(module, line('GLOBAL')));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail(`STACK_GLOBAL at byte ${opcodeAt} needs two strings`);
        push(hooks.global(module as string, name as string));
        break;
      }
      case 0x69: { // INST names a global inline: refuse it as such before refusing the opcode
        hooks.global(line('INST'), line('INST'));
        fail(`opcode INST at byte ${opcodeAt} is not supported`);
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        const callable = pop();
        if (!(args instanceof PickleTuple)) fail(`REDUCE at byte ${opcodeAt} has ${describePickleValue(args)} as arguments, not a tuple`);
        push(hooks.reduce(callable, args as PickleTuple));
        break;
      }
      case 0x62: { // BUILD
        const state = pop();
        const target = top();
        if (target instanceof PickleDict) target.state = state;
        else if (hooks.build) hooks.build(target, state);
        else fail(`BUILD at byte ${opcodeAt} on ${describePickleValue(target)} is not supported`);
        break;
      }
      case 0x51: push(hooks.persistentLoad(pop())); break; // BINPERSID
      default: {
        const name = UNSUPPORTED_OPCODES[opcode];
        fail(`unsupported pickle opcode ${name ? `${name} ` : ''}(0x${opcode.toString(16).padStart(2, '0')}) at byte ${opcodeAt}`);
      }
    }
  }
  return fail('truncated: the pickle ends without STOP');
}

/** A short description of a value's kind for messages. */
export function describePickleValue(value: PickleValue | undefined): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'None';
  if (typeof value === 'string') return `the string '${value.length > 40 ? `${value.slice(0, 40)}…` : value}'`;
  if (typeof value === 'number' || typeof value === 'bigint') return `the number ${value}`;
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  if (value instanceof PickleTuple) return `a tuple of ${value.items.length}`;
  if (value instanceof PickleList) return `a list of ${value.items.length}`;
  if (value instanceof PickleDict) return `a dict of ${value.entries.size}`;
  if (value instanceof PickleGlobal) return `the global '${value.qualifiedName}'`;
  return `a ${value.constructor.name}`;
}
