/** A command's input is wrong (a flag, a file): main prints the message on one line and exits with code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}
