import { HapressError } from "../../errors.js";
import { statePaths } from "../../state/files.js";
import { requestSwitchover } from "../../state/switchover-client.js";
import { SwitchoverFiles } from "../../state/switchover-store.js";
import { sleep } from "../../util/process.js";
import { callRpc, SupervisorUnreachable } from "./rpc.js";

/**
 * A planned switchover of the local site: the request is written to the state folder and the
 * controller is nudged over its socket so it reads it at once (its rounds are 250 ms apart otherwise).
 * Resolves with the controller's last step; each step goes to `onStep` as it comes.
 */
export function switchoverLocalSite(
  stateDir: string,
  options: { to: string | null; deadlineMs: number; onStep: (message: string) => void },
): Promise<string> {
  const paths = statePaths(stateDir);
  return requestSwitchover(new SwitchoverFiles(paths.switchoverRequest, paths.switchoverProgress), {
    ...options,
    pollMs: 20,
    sleep,
    nudge: async () => {
      await callRpc(paths.controllerSocket, { method: "switchover-requested" }, 5000).catch(
        (error: unknown) => {
          if (error instanceof SupervisorUnreachable)
            throw new HapressError("the controller is not running: run 'hapress up'", { cause: error });
          throw error;
        },
      );
    },
  });
}
