/**
 * Reading a new user's password, or a token to revoke. Never from the command line (it would
 * land in the shell history and in `ps`): from the first line of standard input when it is a pipe
 * or a file, otherwise from a terminal prompt without echo (a new password twice).
 */
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { CliError } from './output.js';

export async function readNewPassword(input: NodeJS.ReadStream = process.stdin): Promise<string> {
  if (!input.isTTY) {
    const line = await readFirstLine(input);
    if (!line) {
      throw new CliError('no password on standard input: pass it as the first line (e.g. `printf "%s\\n" "$PASSWORD" | grantry user create ...`) or run in a terminal to be prompted');
    }
    return line;
  }
  const first = await promptHidden(input, 'Password: ', 'no password entered');
  const second = await promptHidden(input, 'Repeat the password: ', 'no password entered');
  if (first !== second) throw new CliError('the two passwords do not match');
  return first;
}

/**
 * A secret that is not new (e.g. a token to revoke): the first line of standard input when it is
 * a pipe or a file, otherwise typed once at a prompt, without echo. Undefined when empty.
 */
export async function readSecretLine(prompt: string, input: NodeJS.ReadStream = process.stdin): Promise<string | undefined> {
  const line = input.isTTY ? await promptHidden(input, prompt, 'nothing entered') : await readFirstLine(input);
  return line === undefined || line === '' ? undefined : line;
}

/** The first line of a stream (without its line ending), or undefined when it is empty. */
export async function readFirstLine(stream: NodeJS.ReadableStream): Promise<string | undefined> {
  let buffer = '';
  stream.setEncoding('utf8');
  for await (const chunk of stream) {
    buffer += chunk as string;
    const end = buffer.indexOf('\n');
    if (end >= 0) {
      buffer = buffer.slice(0, end);
      break; // leaving the loop destroys the stream: nothing else is read from it
    }
  }
  buffer = buffer.replace(/\r$/, '');
  return buffer === '' ? undefined : buffer;
}

/** Prompts on stderr (stdout may be JSON) and reads one line from the terminal without echo. */
function promptHidden(input: NodeJS.ReadStream, prompt: string, nothing: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let muted = false;
    let settled = false;
    // readline echoes what is typed to its output: give it one that swallows the echo.
    const output = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        if (!muted) process.stderr.write(chunk);
        callback();
      },
    });
    const rl = createInterface({ input, output, terminal: true });
    const finish = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      rl.close();
      process.stderr.write('\n');
      outcome();
    };
    rl.on('SIGINT', () => finish(() => reject(new CliError('cancelled', 'cancelled', 130))));
    // Ctrl-D before Enter.
    rl.on('close', () => finish(() => reject(new CliError(`cancelled: ${nothing}`, 'cancelled', 130))));
    process.stderr.write(prompt);
    muted = true;
    rl.question('', (answer) => finish(() => resolve(answer)));
  });
}
