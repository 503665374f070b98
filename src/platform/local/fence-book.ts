import { readFenced, setFenced } from "../../state/fenced.js";

/**
 * The pods the controller fenced (killed and held down until released), as the supervisor keeps
 * them: changed in memory at once (the reconcile loop sees a fence the moment it is asked) and in
 * `fenced.json` one write at a time; read back from the file each round, to take in fences the
 * controller wrote itself while no supervisor answered, never undoing a change of our own that a
 * read overlapped.
 */
export class FenceBook {
  private held = new Set<string>();
  /** Writes under way, and a counter bumped at each change: a read that saw either move is dropped. */
  private writes = 0;
  private version = 0;
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly file: string) {}

  has(pod: string): boolean {
    return this.held.has(pod);
  }

  change(pod: string, fenced: boolean): Promise<void> {
    this.writes += 1;
    this.version += 1;
    if (fenced) this.held.add(pod);
    else this.held.delete(pod);
    const write = this.chain.then(() => setFenced(this.file, pod, fenced).then(() => undefined));
    this.chain = write.catch(() => undefined);
    return write.finally(() => {
      this.writes -= 1;
      this.version += 1;
    });
  }

  async refresh(): Promise<void> {
    const version = this.version;
    if (this.writes > 0) return;
    const onDisk = await readFenced(this.file);
    if (this.writes === 0 && version === this.version) this.held = onDisk;
  }
}
